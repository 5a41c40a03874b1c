/**
 * A real HTTP receiver on loopback standing in for a SIEM collector: it records every request
 * (headers, body, the events in it) and answers as scripted, one behaviour per request.
 */
import { createServer } from 'node:http';
import type { IncomingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AuditEvent } from '../../src/core/audit/chain.js';

/** A status to answer with, or `hang`: read the request, never answer. */
export type Behaviour = number | 'hang';

export interface ReceivedBatch {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly events: readonly AuditEvent[];
  /** The status answered, or null when the request was left hanging. */
  readonly status: number | null;
}

export interface Receiver {
  readonly url: string;
  readonly port: number;
  /** Every request, in arrival order, failed ones included. */
  readonly received: ReceivedBatch[];
  /** Requests answered 2xx: what the receiver accepted. */
  accepted(): ReceivedBatch[];
  /** The seqs accepted, in order, repeats included. */
  acceptedSeqs(): number[];
  /**
   * The seqs accepted after dropping repeated batches by `Idempotency-Key`, as a receiver that
   * honours it would store them.
   */
  dedupedSeqs(): number[];
  /** Behaviours for the next requests, in order; after them, `fallback`. */
  script(...behaviours: Behaviour[]): void;
  /** Holds each answer until `count` requests have arrived, then answers them all. */
  holdUntil(count: number): void;
  close(): Promise<void>;
}

function parseLines(body: string): AuditEvent[] {
  return body
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as AuditEvent);
}

/** Starts a receiver; `port` 0 picks a free one (pass a closed receiver's port to reopen it). */
export async function startReceiver(port = 0, fallback: Behaviour = 200): Promise<Receiver> {
  const received: ReceivedBatch[] = [];
  const behaviours: Behaviour[] = [];
  let hold: { count: number; waiting: (() => void)[] } | null = null;
  const server: Server = createServer((request, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const behaviour = behaviours.shift() ?? fallback;
      const status = behaviour === 'hang' ? null : behaviour;
      received.push({ headers: request.headers, body, events: parseLines(body), status });
      if (status === null) return;
      const answer = (): void => {
        response.writeHead(status).end();
      };
      if (hold === null) {
        answer();
        return;
      }
      hold.waiting.push(answer);
      if (hold.waiting.length >= hold.count) {
        const all = hold.waiting;
        hold = null;
        for (const waiting of all) waiting();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  const accepted = (): ReceivedBatch[] =>
    received.filter((r) => r.status !== null && r.status >= 200 && r.status < 300);
  return {
    url: `http://127.0.0.1:${String(bound)}/ingest?token=query-secret`,
    port: bound,
    received,
    accepted,
    acceptedSeqs: () => accepted().flatMap((r) => r.events.map((e) => e.seq)),
    dedupedSeqs() {
      const seen = new Set<string>();
      return accepted()
        .filter((r) => {
          const key = String(r.headers['idempotency-key']);
          if (seen.has(key)) return false;
          seen.add(key);
          return true;
        })
        .flatMap((r) => r.events.map((e) => e.seq));
    },
    script(...next) {
      behaviours.push(...next);
    },
    holdUntil(count) {
      hold = { count, waiting: [] };
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** 1..n */
export function seqs(n: number, from = 1): number[] {
  return Array.from({ length: n - from + 1 }, (_, i) => from + i);
}
