/**
 * The gateway's JSON logs (SPEC §14): the pino options handed to Fastify's `logger`, and the
 * redaction that keeps secrets out of every line.
 *
 * Owns what a line may say about a request (method, url, status, response time, request id,
 * principal id: never headers, never bodies), which field names count as secrets, and how
 * secrets in free text are masked. It does not decide what is logged or when; callers do.
 *
 * Redaction runs in layers, each covering what the one before cannot see:
 *  1. serializers choose the fields of requests, replies and errors, with their text masked;
 *  2. `formatters.log` censors secret-named fields at any depth, and turns errors nested
 *     anywhere into their masked form, before pino serializes anything;
 *  3. `redact` paths censor credential headers and secret-named fields at the depths the
 *     gateway logs, after the serializers (a serializer that starts logging headers is covered);
 *  4. `hooks.streamWrite` runs `redactText` over every string of the finished line: messages,
 *     printf arguments, and text pino composes itself (an error's message as the log message).
 * INVARIANT: every string in a line that leaves the logger has been through `redactText`.
 */
import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import { DETECTORS, scanText } from '../core/scan/detectors.js';
import type { OutputFinding } from '../core/scan/output.js';
import { redactionMarker } from '../core/scan/output.js';
import { authenticatedAs } from '../http/auth.js';

/** Levels `--log-level` / `WARDEN_LOG_LEVEL` accept; `silent` turns logging off. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

/** What replaces the value of a secret field, header or query parameter. */
export const CENSOR = '[REDACTED]';
/** What replaces the password of credentials in a URL (`scheme://user:***@host`). */
export const URL_PASSWORD_MASK = '***';

export function isLogLevel(text: string): text is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text);
}

/**
 * Field names whose values are secrets, compared lower-cased without separators (`api_key`,
 * `apiKey` and `x-api-key` all end in `apikey`). Errs on the side of censoring: a log line
 * loses an `idempotency_key`, never leaks a `client_secret`.
 */
const SECRET_NAME =
  /(?:key|token|secret|passw(?:or)?d|pass|pwd|authorization|cookie|credentials?)$|secret|password/;

export function isSecretField(name: string): boolean {
  return SECRET_NAME.test(name.toLowerCase().replace(/[^a-z0-9]/g, ''));
}

/** The secret field names `redact` censors by path (`isSecretField` matches them all). */
const REDACTED_FIELDS = [
  'authorization',
  'cookie',
  'password',
  'passwd',
  'pass',
  'secret',
  'client_secret',
  'token',
  'access_token',
  'refresh_token',
  'key',
  'api_key',
  'apiKey',
  'private_key',
] as const;

/**
 * pino `redact` paths: the credential headers wherever a request's headers could be logged, and
 * the secret-named fields at the levels the gateway logs them: a line's own fields and an
 * error's. Explicit paths only, and none under `res`: pino copies every logged value that a path
 * reaches (about 15 µs a line), wildcards reach all of them, and `formatters.log` already
 * censors these names at any depth before the serializers, which add no secrets.
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-api-key"]',
  ...REDACTED_FIELDS.flatMap((field) => [field, `err.${field}`]),
];

// Patterns for free text. Every quantifier that could run long is bounded or anchored on a
// literal, so masking stays linear in the text whatever a client put in a URL or a message.
/** API key secrets (`wdn_` + 43 base64url characters); a wrong or truncated one too. */
const API_KEY = /wdn_[A-Za-z0-9_-]+/g;
const BEARER = /\bBearer\s+[A-Za-z0-9._~+/=-]+/g;
const URL_CREDENTIALS =
  /\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s:/?#@"'<>]{0,256}):([^\s/?#@"'<>]{1,256})@/gi;
/** `name=value` in a query string or free text; masked when `name` is a secret field name. */
const NAME_EQUALS = /(^|[?&;,\s(])([A-Za-z0-9_.[\]-]{1,64})=([^&#;,\s"'<>)]*)/g;
/** `"name": "value"` in JSON quoted inside text (a body in an error message). */
const JSON_MEMBER = /"([A-Za-z0-9_.-]{1,64})"(\s{0,8}:\s{0,8})"((?:[^"\\]|\\.){0,4096})"/g;
const PRIVATE_KEY_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----/g;

/**
 * Literals one of which any text `redactText` changes contains, compared lower-cased: the secret
 * detectors' own hints, and what each pattern above needs (`=` for parameters, `"` for JSON
 * members, `@` for URL credentials). A detector without hints would make every text a candidate.
 */
const SECRET_DETECTORS = DETECTORS.filter((d) => d.category === 'secrets');
const SCAN_EVERYTHING = SECRET_DETECTORS.some((d) => d.hints.length === 0);
const DETECTOR_HINTS = [...new Set(SECRET_DETECTORS.flatMap((d) => d.hints))];
const TEXT_HINTS = ['wdn_', 'bearer', '=', '"', '@', ...DETECTOR_HINTS];
/**
 * The same for a finished JSON line, whose every string is quoted: a `"` inside one of them is
 * escaped. pino escapes nothing else a hint contains (only quotes, backslashes and control
 * characters), so a hint in a string is a hint in the line.
 */
const LINE_HINTS = TEXT_HINTS.map((hint) => (hint === '"' ? '\\"' : hint));

/** Lower-cased as the detectors fold text for their hints (RE2 also folds U+017F to `s`). */
function fold(text: string): string {
  return text.toLowerCase().replaceAll('\u017f', 's');
}

function mayHold(text: string, hints: readonly string[]): boolean {
  if (SCAN_EVERYTHING) return true;
  const folded = fold(text);
  return hints.some((hint) => folded.includes(hint));
}

interface Span {
  readonly start: number;
  readonly end: number;
  readonly kind: string;
}

/**
 * Where the secrets the output scanners know are in `text`. A private key is masked from its
 * header to its footer (or to the end of the text when the footer is missing), since the
 * detector only marks the header and the key is the body.
 */
function secretSpans(text: string): Span[] {
  const spans: Span[] = [];
  let covered = 0;
  for (const finding of scanText(text, ['secrets'])) {
    if (finding.start < covered) continue;
    let end = finding.end;
    if (finding.kind === 'private_key') {
      PRIVATE_KEY_END.lastIndex = end;
      const footer = PRIVATE_KEY_END.exec(text);
      end = footer === null ? text.length : footer.index + footer[0].length;
    }
    spans.push({ start: finding.start, end, kind: finding.kind });
    covered = end;
  }
  return spans;
}

function maskSpans(text: string, spans: readonly Span[]): string {
  if (spans.length === 0) return text;
  const parts: string[] = [];
  let at = 0;
  for (const span of spans) {
    parts.push(text.slice(at, span.start), redactionMarker(span.kind));
    at = span.end;
  }
  parts.push(text.slice(at));
  return parts.join('');
}

/**
 * `text` with its secrets masked: API keys (`[REDACTED:api_key]`), `Bearer` tokens, URL
 * passwords (`scheme://user:***@host`), values of secret-named parameters and JSON members
 * (`token=[REDACTED]`), and everything the output scanners' secret detectors find (AWS keys,
 * private key blocks, GitHub/Slack/OpenAI tokens, JWTs...) as `[REDACTED:<kind>]`.
 * Idempotent: masked text is left as it is.
 */
export function redactText(text: string): string {
  if (!mayHold(text, TEXT_HINTS)) return text;
  return maskSpans(text, secretSpans(text))
    .replace(API_KEY, redactionMarker('api_key'))
    .replace(BEARER, `Bearer ${CENSOR}`)
    .replace(URL_CREDENTIALS, `$1$2:${URL_PASSWORD_MASK}@`)
    .replace(NAME_EQUALS, (match: string, before: string, name: string) =>
      isSecretField(name) ? `${before}${name}=${CENSOR}` : match,
    )
    .replace(JSON_MEMBER, (match: string, name: string, colon: string) =>
      isSecretField(name) ? `"${name}"${colon}"${CENSOR}"` : match,
    );
}

/** One JSON string literal, escapes included. */
const JSON_STRING = /"(?:[^"\\]|\\.)*"/g;

/**
 * A finished JSON log line with `redactText` applied to each of its strings (keys and values),
 * decoded first so a pattern sees the text and not its escapes; the line stays valid JSON.
 */
export function redactLine(line: string): string {
  if (!mayHold(line, LINE_HINTS)) return line;
  return line.replace(JSON_STRING, (literal) => {
    const text = literal.includes('\\') ? (JSON.parse(literal) as string) : literal.slice(1, -1);
    const masked = redactText(text);
    return masked === text ? literal : JSON.stringify(masked);
  });
}

/** How far `formatters.log` follows nested objects and error causes. */
const MAX_DEPTH = 8;

/** An error as a log line shows it: its type, masked message and stack, code, and cause. */
function errorFields(
  error: Error,
  depth = 0,
): { type: string; message: string; stack: string; [key: string]: unknown } {
  const code = (error as { code?: unknown }).code;
  return {
    type: error.name,
    message: redactText(error.message),
    stack: redactText(error.stack ?? ''),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
    ...(error.cause instanceof Error && depth < MAX_DEPTH
      ? { cause: errorFields(error.cause, depth + 1) }
      : {}),
  };
}

/**
 * The `err` serializer. `formatters.log` has already turned a logged error into its fields
 * (it runs first), so a value that is no longer an Error is passed through as it is.
 */
function loggedError(error: unknown): ReturnType<typeof errorFields> {
  return error instanceof Error ? errorFields(error) : (error as ReturnType<typeof errorFields>);
}

/**
 * A copy of a logged value with secret-named fields censored and errors in their masked form.
 * Only plain objects and arrays are followed: other objects (a Fastify request or reply) are
 * left to their serializers. Strings are masked later, in the finished line.
 */
function scrub(value: unknown, depth: number): unknown {
  if (value instanceof Error) return errorFields(value);
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) return '[Truncated]';
  if (Array.isArray(value)) return value.map((item: unknown) => scrub(item, depth + 1));
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return value;
  const copy: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(value)) {
    copy[name] = isSecretField(name) ? CENSOR : scrub(field, depth + 1);
  }
  return copy;
}

/** What a request line says about the request: never its headers or body. */
function requestFields(request: FastifyRequest): Record<string, unknown> {
  const principal = authenticatedAs(request);
  return {
    method: request.method,
    url: redactText(request.url),
    ...(principal === undefined ? {} : { principal: principal.id }),
  };
}

/**
 * Fastify logs `{res: reply, responseTime}` when a request completes (and, while closing,
 * `{res: {statusCode: 503}}` with no request), so the reply's line also names the request.
 */
function replyFields(reply: {
  readonly statusCode: number;
  readonly request?: FastifyRequest;
}): Record<string, unknown> {
  return {
    ...(reply.request === undefined ? {} : requestFields(reply.request)),
    statusCode: reply.statusCode,
  };
}

/** A scanner finding as it may be logged: where it is, never the matched text. */
export interface LoggedFinding {
  readonly rule_id: string;
  readonly scanner: string;
  readonly kind: string;
  readonly path: string;
  readonly start: number;
  readonly end: number;
}

export function findingForLog(finding: OutputFinding): LoggedFinding {
  const { rule_id, scanner, kind, path, start, end } = finding;
  return { rule_id, scanner, kind, path, start, end };
}

export interface LoggerSettings {
  readonly level: LogLevel;
  /** Where lines go; stdout when absent (tests pass an in-memory stream). */
  readonly stream?: { write(line: string): void };
}

/**
 * Fastify's logger options (its own, such as serializers and stream, and pino's), also usable
 * where the composition root takes a plain record of options.
 */
export type GatewayLoggerOptions = Exclude<FastifyServerOptions['logger'], boolean | undefined> &
  Record<string, unknown>;

/**
 * Fastify's `logger` option for the gateway: JSON lines at `level` with the redaction above;
 * `false` (no logger at all) for `silent`.
 */
export function gatewayLoggerOptions(settings: LoggerSettings): GatewayLoggerOptions | false {
  if (settings.level === 'silent') return false;
  return {
    level: settings.level,
    ...(settings.stream === undefined ? {} : { stream: settings.stream }),
    serializers: {
      req: requestFields,
      res: replyFields,
      err: loggedError,
    },
    redact: { paths: [...REDACT_PATHS], censor: CENSOR },
    formatters: {
      log: (object) => scrub(object, 0) as Record<string, unknown>,
    },
    hooks: { streamWrite: redactLine },
  };
}
