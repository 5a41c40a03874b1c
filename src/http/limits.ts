/**
 * Request limits (§11 "bad input"): how big, deep, long and slow a request may be. Each limit is
 * refused with a 4xx and a registered code before the request costs anything downstream; the
 * table of limits, defaults and codes is docs/limits.md.
 *
 * Owns the values, their defaults and the checks made on the connection and the URL. The body
 * checks live where the body is read: the JSON pass (json-body.ts: depth, string length), the
 * schemas (labels) and the job routes (payload size).
 */
import type { ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type {
  ConnectionError,
  FastifyInstance,
  FastifyRequest,
  preHandlerHookHandler,
} from 'fastify';
import { errorEnvelope, WardenError } from '../core/errors.js';
import { jobSubmitBody } from './schemas.js';

/**
 * Every bound on one request. All are positive integers; pass a subset to `buildServer` and the
 * rest keep their defaults (`DEFAULT_REQUEST_LIMITS`).
 */
export interface RequestLimits {
  /** Largest body, in bytes. Over it: 413 `WARDEN_BODY_TOO_LARGE`. */
  readonly body_bytes: number;
  /** Deepest nesting of objects and arrays in a JSON body. Over it: 400 `WARDEN_VALIDATION`. */
  readonly json_depth: number;
  /**
   * Longest string, value or object key, anywhere in a JSON body, in UTF-16 code units. Over it:
   * 400 `WARDEN_VALIDATION`. Not applied to a policy's `source` or to a worker's result `output`,
   * which the body limit bounds.
   */
  readonly string_chars: number;
  /** Largest job `payload`, serialized as JSON, in UTF-8 bytes. Over it: 413 `WARDEN_BODY_TOO_LARGE`. */
  readonly payload_bytes: number;
  /** Most labels on a job. Over it: 400 `WARDEN_VALIDATION`. */
  readonly labels: number;
  /** Longest label key, in characters. Over it: 400 `WARDEN_VALIDATION`. */
  readonly label_key_chars: number;
  /** Longest label value, in characters. Over it: 400 `WARDEN_VALIDATION`. */
  readonly label_value_chars: number;
  /** Longest URL (path and query string), in characters. Over it: 400 `WARDEN_VALIDATION`. */
  readonly url_chars: number;
  /** Most header fields on a request. Over it: 400 `WARDEN_VALIDATION`. */
  readonly header_count: number;
  /** Largest request head (request line and headers), in bytes. Over it: 400 `WARDEN_VALIDATION`. */
  readonly header_bytes: number;
  /**
   * Time a client has to send the complete request head, from its first byte. Over it: 408 and
   * the connection is closed (slow-header attacks).
   */
  readonly headers_timeout_ms: number;
  /**
   * Time a client has to send the complete request, head and body. Over it: 408 and the
   * connection is closed (slow-body attacks). At least `headers_timeout_ms`.
   */
  readonly request_timeout_ms: number;
  /**
   * A connection on which nothing moves either way for this long is closed. Above the longest
   * long-poll (60 s), so a waiting request is never cut.
   */
  readonly idle_timeout_ms: number;
}

export const DEFAULT_REQUEST_LIMITS: RequestLimits = Object.freeze({
  body_bytes: 1024 * 1024,
  json_depth: 64,
  string_chars: 64 * 1024,
  payload_bytes: 256 * 1024,
  labels: 64,
  label_key_chars: 128,
  label_value_chars: 256,
  url_chars: 4096,
  header_count: 100,
  header_bytes: 16 * 1024,
  headers_timeout_ms: 10_000,
  request_timeout_ms: 30_000,
  idle_timeout_ms: 120_000,
});

/** The defaults overridden by `overrides`; throws a RangeError naming each value that cannot work. */
export function resolveRequestLimits(overrides: Partial<RequestLimits> = {}): RequestLimits {
  const limits: RequestLimits = { ...DEFAULT_REQUEST_LIMITS, ...overrides };
  const problems = Object.entries(limits)
    .filter(([, value]) => !(Number.isSafeInteger(value) && value > 0))
    .map(([name, value]) => `${name} must be a positive integer, got ${String(value)}`);
  if (limits.headers_timeout_ms > limits.request_timeout_ms) {
    problems.push('headers_timeout_ms must not exceed request_timeout_ms');
  }
  if (problems.length > 0) throw new RangeError(`request limits: ${problems.join('; ')}`);
  return Object.freeze(limits);
}

/**
 * How often Node looks for connections past their header or request deadline: a quarter of the
 * shorter deadline, so a slow client is cut within 125% of it, and at most once a second.
 */
function checkingIntervalMs(limits: RequestLimits): number {
  const shorter = Math.min(limits.headers_timeout_ms, limits.request_timeout_ms);
  return Math.max(1, Math.min(1000, Math.floor(shorter / 4)));
}

/** The Fastify and Node server options that enforce the limits on the connection. */
export interface ConnectionOptions {
  readonly bodyLimit: number;
  readonly requestTimeout: number;
  readonly connectionTimeout: number;
  readonly http: ServerOptions;
  readonly clientErrorHandler: (error: ConnectionError, socket: Socket) => void;
}

export function serverOptions(limits: RequestLimits): ConnectionOptions {
  return {
    bodyLimit: limits.body_bytes,
    requestTimeout: limits.request_timeout_ms,
    connectionTimeout: limits.idle_timeout_ms,
    http: {
      maxHeaderSize: limits.header_bytes,
      headersTimeout: limits.headers_timeout_ms,
      requestTimeout: limits.request_timeout_ms,
      connectionsCheckingInterval: checkingIntervalMs(limits),
    },
    clientErrorHandler: connectionErrors(limits),
  };
}

/** A raw HTTP/1.1 answer on a socket no request object exists for, then the socket is closed. */
function answerOnSocket(socket: Socket, status: number, reason: string, error: WardenError): void {
  if (socket.writable) {
    const body = JSON.stringify(errorEnvelope(error));
    socket.write(
      `HTTP/1.1 ${String(status)} ${reason}\r\nConnection: close\r\n` +
        `Content-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${String(Buffer.byteLength(body))}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/**
 * Failures Node reports before there is a request: a client too slow with its head or body, a
 * head over `header_bytes`, bytes that are not HTTP. Answered with the §12 envelope; the
 * connection is closed either way.
 */
function connectionErrors(limits: RequestLimits): (error: ConnectionError, socket: Socket) => void {
  return (error, socket) => {
    const code = (error as { code?: unknown }).code;
    if (code === 'ECONNRESET' || socket.destroyed) return;
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      // 408 carries its HTTP meaning (send again); the registry has no code of its own for it,
      // so the envelope says what happened under the validation code.
      answerOnSocket(
        socket,
        408,
        'Request Timeout',
        new WardenError(
          'WARDEN_VALIDATION',
          `the request was not received in time: the head within ${String(limits.headers_timeout_ms)} ms, ` +
            `the whole request within ${String(limits.request_timeout_ms)} ms; send it faster`,
          {
            headers_timeout_ms: limits.headers_timeout_ms,
            request_timeout_ms: limits.request_timeout_ms,
          },
        ),
      );
    } else if (code === 'HPE_HEADER_OVERFLOW') {
      answerOnSocket(socket, 400, 'Bad Request', headersTooLarge(limits));
    } else {
      answerOnSocket(
        socket,
        400,
        'Bad Request',
        new WardenError('WARDEN_VALIDATION', 'the request is not valid HTTP/1.1'),
      );
    }
  };
}

function headersTooLarge(limits: RequestLimits): WardenError {
  return new WardenError(
    'WARDEN_VALIDATION',
    `the request line and headers exceed ${String(limits.header_bytes)} bytes; send fewer or shorter headers`,
    { limit: limits.header_bytes },
  );
}

/**
 * The URL and header checks, first of all hooks (before authentication, so an oversized request
 * costs no key lookup). On a socket Node already enforces `header_bytes`; the check here also
 * covers `inject()` and proxies that hand over larger heads.
 */
export function installRequestLimits(app: FastifyInstance, limits: RequestLimits): void {
  // Node keeps at most this many headers and drops the rest silently; one more than the limit
  // lets the hook below see that the limit was passed and refuse instead.
  app.server.maxHeadersCount = limits.header_count + 1;
  app.addHook('onRequest', (request, _reply, done) => {
    const refused = refusal(request, limits);
    if (refused === null) done();
    else done(refused);
  });
}

function refusal(request: FastifyRequest, limits: RequestLimits): WardenError | null {
  const url = request.raw.url ?? request.url;
  if (url.length > limits.url_chars) {
    return new WardenError(
      'WARDEN_VALIDATION',
      `the URL is ${String(url.length)} characters; the limit is ${String(limits.url_chars)}: ` +
        'send long values in a JSON body',
      { limit: limits.url_chars, length: url.length },
    );
  }
  const raw = request.raw.rawHeaders;
  const count = raw.length / 2;
  if (count > limits.header_count) {
    return new WardenError(
      'WARDEN_VALIDATION',
      `the request has more than ${String(limits.header_count)} header fields; send fewer`,
      { limit: limits.header_count },
    );
  }
  // The request line, then `name: value\r\n` per field.
  let bytes = (request.raw.method ?? '').length + url.length + 11;
  for (const part of raw) bytes += Buffer.byteLength(part) + 2;
  if (bytes > limits.header_bytes) return headersTooLarge(limits);
  return null;
}

/** What the routes that take a job body (submit, evaluate) check it with. */
export interface JobBodyRules {
  /** The schema, with the label bounds; one object, shared by every route that takes a job. */
  readonly schema: ReturnType<typeof jobSubmitBody>;
  /** The payload bound, after the schema check. */
  readonly preHandler: preHandlerHookHandler;
}

export function jobBodyRules(limits: RequestLimits): JobBodyRules {
  return { schema: jobSubmitBody(limits), preHandler: payloadLimit(limits) };
}

/**
 * The job payload bound: the payload's size as JSON, in UTF-8 bytes. Runs after the schema
 * check, so the body is a job.
 */
function payloadLimit(limits: RequestLimits): preHandlerHookHandler {
  return (request, _reply, done) => {
    const body = request.body as { payload?: unknown } | undefined;
    const payload = body?.payload;
    if (payload === undefined) {
      done();
      return;
    }
    const size = Buffer.byteLength(JSON.stringify(payload));
    if (size > limits.payload_bytes) {
      done(
        new WardenError(
          'WARDEN_BODY_TOO_LARGE',
          `the job payload is ${String(size)} bytes as JSON; the limit is ${String(limits.payload_bytes)}: ` +
            'send a reference to large data instead of the data',
          { path: 'body/payload', limit: limits.payload_bytes, size },
        ),
      );
      return;
    }
    done();
  };
}
