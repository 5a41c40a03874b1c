/**
 * A small client for a running gateway's HTTP API (§12), for the CLI verbs that act through the
 * gateway rather than on the store file: the SDK's transport (`sdk/http.ts`) without a timeout,
 * with every way a call can fail (the error envelope, an unreachable gateway, a reply that is not
 * JSON) turned into a CliError. Knows nothing about individual endpoints.
 */
import { NOT_JSON, problemOf, WardenApiError, WardenHttp, WardenUnreachable } from '../sdk/http.js';
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
  private readonly http: WardenHttp;
  private readonly origin: string;

  constructor(options: GatewayClientOptions) {
    const url = parseGatewayUrl(options.url);
    this.origin = url.origin;
    // No timeout: a CLI call waits as long as the user asked (`--wait`), like curl.
    this.http = new WardenHttp({ url: url.href, key: options.key, timeoutMs: 0 });
  }

  get(path: string, query: QueryValues = {}): Promise<unknown> {
    const defined = Object.entries(query).filter(
      (entry): entry is [string, string] => entry[1] !== undefined,
    );
    return this.send(this.http.get(path, { query: Object.fromEntries(defined) }));
  }

  post(path: string, body?: unknown): Promise<unknown> {
    return this.send(this.http.post(path, body));
  }

  /** The SDK transport's two failures, as the CLI reports them (exit 1). */
  private async send(call: Promise<unknown>): Promise<unknown> {
    try {
      return await call;
    } catch (error) {
      if (error instanceof WardenUnreachable) {
        throw new CliError(
          `cannot reach the gateway at ${this.origin}: ${problemOf(error.cause)} (is \`warden serve\` running? set --url or WARDEN_URL)`,
          EXIT_FAILED,
        );
      }
      if (error instanceof WardenApiError) {
        if (error.code === NOT_JSON) {
          throw new CliError(
            `the gateway at ${this.origin} answered HTTP ${String(error.status)} with a body that is not JSON`,
            EXIT_FAILED,
          );
        }
        const message = error.message.slice(`${error.code}: `.length);
        throw new GatewayError(error.code, message, error.status, error.details);
      }
      throw error;
    }
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

/** A JSON object (not an array, not null), whose fields can be read by name. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
