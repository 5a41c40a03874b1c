/**
 * A small client for a running gateway's HTTP API (§12), for the CLI verbs that act through the
 * gateway rather than on the store file. Owns the base URL, the bearer key and JSON in and out,
 * and turns every way a call can fail (the error envelope, an unreachable gateway, a reply that is
 * not JSON) into a CliError. Knows nothing about individual endpoints.
 */
import { CliError, EXIT_FAILED, EXIT_USAGE } from './io.js';

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8081';

/** The gateway refused the call: its registered error code, status and details, kept for callers. */
export class GatewayError extends CliError {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    readonly details: Readonly<Record<string, unknown>>,
  ) {
    super(`${code}: ${message}`, EXIT_FAILED);
    this.name = 'GatewayError';
  }
}

export interface GatewayClientOptions {
  readonly url: string;
  /** An API key (`wdn_...`); absent or empty sends no Authorization header (dev mode). */
  readonly key?: string | undefined;
}

export type QueryValues = Readonly<Record<string, string | undefined>>;

export class GatewayClient {
  private readonly base: URL;
  private readonly key: string | undefined;

  constructor(options: GatewayClientOptions) {
    this.base = parseGatewayUrl(options.url);
    this.key = options.key === '' ? undefined : options.key;
  }

  get(path: string, query: QueryValues = {}): Promise<unknown> {
    return this.send('GET', path, query);
  }

  post(path: string, body?: unknown): Promise<unknown> {
    return this.send('POST', path, {}, body);
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    query: QueryValues,
    body?: unknown,
  ): Promise<unknown> {
    // Appended rather than resolved, so a gateway behind a path prefix keeps its prefix.
    const url = new URL(`${this.base.href.replace(/\/+$/, '')}${path}`);
    for (const [name, value] of Object.entries(query))
      if (value !== undefined) url.searchParams.set(name, value);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.key !== undefined) headers['authorization'] = `Bearer ${this.key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';

    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new CliError(
        `cannot reach the gateway at ${this.base.origin}: ${connectionProblem(error)} (is \`warden serve\` running? set --url or WARDEN_URL)`,
        EXIT_FAILED,
      );
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch {
      throw new CliError(
        `the gateway at ${this.base.origin} answered HTTP ${response.status} with a body that is not JSON`,
        EXIT_FAILED,
      );
    }
    if (!response.ok) throw gatewayError(response.status, parsed);
    return parsed;
  }
}

function parseGatewayUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new CliError(
      `--url "${text}" is not a URL (expected e.g. ${DEFAULT_GATEWAY_URL})`,
      EXIT_USAGE,
    );
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`--url "${text}" must be an http:// or https:// URL`, EXIT_USAGE);
  return url;
}

/** The envelope's code and message when the body is one (§12), else the bare status. */
function gatewayError(status: number, body: unknown): GatewayError {
  const error = isJsonObject(body) ? body['error'] : undefined;
  if (isJsonObject(error) && typeof error['code'] === 'string') {
    const message = typeof error['message'] === 'string' ? error['message'] : '';
    const details = isJsonObject(error['details']) ? error['details'] : {};
    return new GatewayError(error['code'], message, status, details);
  }
  return new GatewayError(
    `HTTP_${status}`,
    'the gateway answered without an error envelope',
    status,
    {},
  );
}

/** Why fetch failed, from undici's `cause` (e.g. ECONNREFUSED), in words a user can act on. */
function connectionProblem(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined;
  const code = isJsonObject(cause) && typeof cause['code'] === 'string' ? cause['code'] : undefined;
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
      return cause instanceof Error ? cause.message : String(error);
  }
}

/** A JSON object (not an array, not null), whose fields can be read by name. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
