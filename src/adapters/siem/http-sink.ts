/**
 * HTTP audit sink: one POST per batch, the events as JSON Lines exactly as stored (one event per
 * line, in seq order), to a SIEM collector or any HTTP receiver. A batch that times out, cannot
 * connect, is redirected or gets a non-2xx answer rejects; the sink never retries itself (the
 * forwarder does, from its durable cursor).
 *
 * INVARIANT: configured header values (tokens) and the URL's path and query never appear in an
 * error message; only the origin does.
 */
import type { AuditEvent } from '../../core/audit/chain.js';
import { batchKey } from '../../ports/audit-sink.js';
import type { AuditSink } from '../../ports/audit-sink.js';

export interface HttpSinkOptions {
  /** http(s) URL the batches are POSTed to. */
  readonly url: string;
  /** Extra request headers, e.g. `Authorization`. Never logged. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Per batch, connecting and reading the answer included (default 10 s). */
  readonly timeoutMs?: number;
}

export const DEFAULT_SINK_TIMEOUT_MS = 10_000;

/** Headers the sink sets itself; a configured header of the same name is replaced. */
export const BATCH_HEADER = 'x-warden-batch';
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const JSON_LINES = 'application/x-ndjson';

/** The request body: one event per line, each line ending in `\n`. */
export function jsonLines(batch: readonly AuditEvent[]): string {
  let body = '';
  for (const event of batch) body += `${JSON.stringify(event)}\n`;
  return body;
}

/** Why fetch failed, in words: fetch's own message ("fetch failed") hides it in `cause`. */
function failureOf(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') {
    return `no answer within ${String(timeoutMs)} ms`;
  }
  if (error instanceof Error && error.name === 'AbortError') return 'aborted';
  const cause = error instanceof Error ? error.cause : undefined;
  if (cause instanceof Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    return code === undefined ? cause.message : `${code} ${cause.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Throws when `url` is not an absolute http(s) URL, naming only what is wrong. */
function originOf(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('audit sink URL is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`audit sink URL must be http(s), not ${parsed.protocol}`);
  }
  return parsed.origin;
}

export function httpAuditSink(options: HttpSinkOptions): AuditSink {
  const timeoutMs = options.timeoutMs ?? DEFAULT_SINK_TIMEOUT_MS;
  const origin = originOf(options.url);
  // Validated once, here: a bad header name or value is a configuration error, not a failed send.
  const configured = new Headers();
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    try {
      configured.set(name, value);
    } catch {
      // fetch's own message would quote the value, which may be a token.
      throw new Error(`audit sink header "${name}": invalid name or value`);
    }
  }
  for (const name of ['content-type', BATCH_HEADER, IDEMPOTENCY_HEADER]) configured.delete(name);
  return {
    async send(batch, signal) {
      const key = batchKey(batch);
      const headers = new Headers(configured);
      headers.set('content-type', JSON_LINES);
      headers.set(IDEMPOTENCY_HEADER, key);
      headers.set(BATCH_HEADER, key);
      const timeout = AbortSignal.timeout(timeoutMs);
      let response: Response;
      try {
        response = await fetch(options.url, {
          method: 'POST',
          headers,
          body: jsonLines(batch),
          signal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
          // A redirect could send the trail (and the token) somewhere not configured.
          redirect: 'error',
        });
      } catch (error) {
        throw new Error(`audit sink ${origin}: batch ${key}: ${failureOf(error, timeoutMs)}`, {
          cause: error,
        });
      }
      // The answer is not used; releasing it frees the connection for the next batch.
      await response.body?.cancel();
      if (!response.ok) {
        throw new Error(`audit sink ${origin}: batch ${key}: answered ${String(response.status)}`);
      }
    },
  };
}
