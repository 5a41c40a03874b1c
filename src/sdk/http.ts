/**
 * The SDK's HTTP transport to a gateway (§12): base URL, bearer key, JSON in and out, a timeout
 * per call, and the two ways a call fails kept apart. A refusal from the gateway (its error
 * envelope) is a `WardenApiError`; a gateway that could not be reached or did not answer in time
 * is a `WardenUnreachable`. Callers decide what each means (retry, fail mode); this module never
 * retries and knows no endpoint.
 */

/** A `fetch` compatible with the global one; injectable for tests and custom agents. */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/** The gateway answered with an error: its registered code (`WARDEN_*`), status and details. */
export class WardenApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Readonly<Record<string, unknown>> = {},
  ) {
    super(`${code}: ${message}`);
    this.name = 'WardenApiError';
  }
}

/** The gateway could not be reached, or did not answer within the call's timeout. */
export class WardenUnreachable extends Error {
  constructor(
    message: string,
    readonly timedOut: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'WardenUnreachable';
  }
}

export interface HttpOptions {
  /** Gateway base URL, e.g. `http://127.0.0.1:8081`; a path prefix is kept. */
  readonly url: string;
  /** API key sent as `Authorization: Bearer <key>`; absent for a dev-mode gateway. */
  readonly key?: string | undefined;
  readonly fetch?: FetchLike | undefined;
  /** Default timeout of a call, in ms (default 30 000; 0: none, the caller bounds its waits). */
  readonly timeoutMs?: number | undefined;
}

export interface CallOptions {
  readonly timeoutMs?: number;
  /** Ends the call early; the call then rejects with this signal's reason. */
  readonly signal?: AbortSignal;
  readonly query?: Readonly<Record<string, string>>;
}

const DEFAULT_TIMEOUT_MS = 30_000;

/** The code of a `WardenApiError` for an answer that is not JSON, whatever its status. */
export const NOT_JSON = 'HTTP_BAD_BODY';

export class WardenHttp {
  private readonly base: string;
  private readonly key: string | undefined;
  private readonly fetch: FetchLike;
  private readonly timeoutMs: number;

  constructor(options: HttpOptions) {
    const url = new URL(options.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(`gateway url must be http:// or https://, got "${options.url}"`);
    this.base = url.href.replace(/\/+$/, '');
    this.key = options.key === '' ? undefined : options.key;
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  get<T>(path: string, options: CallOptions = {}): Promise<T> {
    return this.call<T>('GET', path, undefined, options);
  }

  post<T>(path: string, body: unknown, options: CallOptions = {}): Promise<T> {
    return this.call<T>('POST', path, body, options);
  }

  /**
   * One call. The answer is typed by the caller: the gateway validates its responses against its
   * own schemas (src/http/schemas.ts), which is the contract these types mirror.
   */
  async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    options: CallOptions = {},
  ): Promise<T> {
    const url = new URL(`${this.base}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {}))
      url.searchParams.set(name, value);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.key !== undefined) headers['authorization'] = `Bearer ${this.key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [timeout, options.signal].filter((s) => s !== undefined);
    const signal = signals.length <= 1 ? signals[0] : AbortSignal.any(signals);

    let text: string;
    let status: number;
    try {
      const response = await this.fetch(url, {
        method,
        headers,
        ...(signal === undefined ? {} : { signal }),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      status = response.status;
      text = await response.text();
    } catch (error) {
      // The caller's own abort is not the gateway's fault: surface its reason unchanged.
      if (options.signal?.aborted === true) throw options.signal.reason;
      if (timeout?.aborted === true) {
        throw new WardenUnreachable(
          `the gateway at ${url.origin} did not answer ${method} ${path} within ${String(timeoutMs)} ms`,
          true,
          { cause: error },
        );
      }
      throw new WardenUnreachable(
        `cannot reach the gateway at ${url.origin}: ${problemOf(error)}`,
        false,
        { cause: error },
      );
    }
    const parsed = parseJson(text);
    if (parsed === undefined) {
      throw new WardenApiError(
        status,
        NOT_JSON,
        `HTTP ${String(status)} with a body that is not JSON`,
      );
    }
    if (status >= 200 && status < 300) return parsed as T;
    throw apiError(status, parsed);
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The envelope `{"error": {code, message, details}}` (§12), or the bare status without one. */
function apiError(status: number, body: unknown): WardenApiError {
  const error = isObject(body) ? body['error'] : undefined;
  if (isObject(error) && typeof error['code'] === 'string') {
    return new WardenApiError(
      status,
      error['code'],
      typeof error['message'] === 'string' ? error['message'] : '',
      isObject(error['details']) ? error['details'] : {},
    );
  }
  return new WardenApiError(status, `HTTP_${String(status)}`, 'no error envelope in the answer');
}

/**
 * Why fetch failed, from undici's `cause` (ECONNREFUSED, ...), in words a user can act on.
 * Exported for the CLI, which words its own messages around it.
 */
export function problemOf(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = isObject(cause) && typeof cause['code'] === 'string' ? cause['code'] : undefined;
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return 'connection timed out';
    default:
      if (code !== undefined) return code;
      if (cause instanceof Error) return cause.message;
      return error instanceof Error ? error.message : String(error);
  }
}
