/**
 * Where dispatched jobs go (`--bus`): `memory`, the in-process queue (the default), or
 * `nats://HOST:PORT`, NATS JetStream, with optional `?stream=NAME&prefix=SUBJECT.PREFIX` so
 * several gateways (or test runs) can share one server without sharing work.
 */
import { JetStreamDispatcher } from '../adapters/nats/jetstream-dispatcher.js';
import { InProcessDispatcher } from '../adapters/queue/in-process-dispatcher.js';
import type { Dispatcher } from '../ports/dispatcher.js';

export type BusLocation =
  | { readonly kind: 'memory' }
  | {
      readonly kind: 'nats';
      readonly servers: string;
      readonly stream?: string;
      readonly subjectPrefix?: string;
      /** The text it was parsed from, for messages. */
      readonly url: string;
    };

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Parses `memory` or `nats://host:port[?stream=..&prefix=..]`; throws with what is accepted. */
export function parseBusLocation(text: string): BusLocation {
  if (text === 'memory') return { kind: 'memory' };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`unsupported bus "${text}": use memory or nats://HOST:PORT`);
  }
  if (url.protocol !== 'nats:' || url.hostname === '') {
    throw new Error(`unsupported bus "${text}": use memory or nats://HOST:PORT`);
  }
  const stream = url.searchParams.get('stream');
  const prefix = url.searchParams.get('prefix');
  for (const key of url.searchParams.keys()) {
    if (key !== 'stream' && key !== 'prefix') {
      throw new Error(`unknown bus option "${key}" in "${text}": use stream= and prefix=`);
    }
  }
  if (stream !== null && !NAME.test(stream)) {
    throw new Error(`bus stream "${stream}" must be 1-64 letters, digits, _ or -`);
  }
  if (prefix !== null && !PREFIX.test(prefix)) {
    throw new Error(
      `bus prefix "${prefix}" must be dot-separated words of letters, digits, _ or -`,
    );
  }
  return {
    kind: 'nats',
    servers: `${url.hostname}:${url.port === '' ? '4222' : url.port}`,
    ...(stream === null ? {} : { stream }),
    ...(prefix === null ? {} : { subjectPrefix: prefix }),
    url: text,
  };
}

export async function openDispatcher(location: BusLocation): Promise<Dispatcher> {
  if (location.kind === 'memory') return new InProcessDispatcher();
  return JetStreamDispatcher.connect({
    servers: location.servers,
    ...(location.stream === undefined ? {} : { stream: location.stream }),
    ...(location.subjectPrefix === undefined ? {} : { subjectPrefix: location.subjectPrefix }),
  });
}
