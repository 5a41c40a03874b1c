/**
 * `warden serve`: run the gateway. Dev mode (no keys, principal `dev` with every role) is refused
 * unless the address is loopback, and announced loudly when on.
 */
import { isIP } from 'node:net';
import { AuditKeyError } from '../adapters/system/ed25519-key.js';
import { ConfigError, loadServerConfig } from '../main/config.js';
import type { ServerConfig } from '../main/config.js';
import { startGateway } from '../main/gateway.js';
import {
  DEFAULT_LOG_LEVEL,
  gatewayLoggerOptions,
  isLogLevel,
  redactText,
} from '../main/logging.js';
import type { BusLocation } from '../main/bus-location.js';
import type { StoreLocation } from '../main/store-location.js';
import { CliError, EXIT_USAGE } from './io.js';
import type { CliIo } from './io.js';

export interface ServeOptions {
  readonly dev?: boolean;
  readonly policy: string;
  readonly port: string;
  readonly host: string;
  readonly db: StoreLocation;
  readonly bus: BusLocation;
  readonly synchronous?: string;
  /** Server config file (YAML): approval queue bounds and notifications. */
  readonly config?: string;
  /** JSON log level (`--log-level` / `WARDEN_LOG_LEVEL`); `silent` turns the logs off. */
  readonly logLevel?: string;
}

/** The config file's settings, or a usage error listing every problem in it. */
function serverConfig(file: string): ServerConfig {
  try {
    return loadServerConfig(file);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(error.message, EXIT_USAGE);
    throw error;
  }
}

/** One line saying where notices go, without the secrets a webhook URL may carry. */
function notificationsSummary(config: ServerConfig): string {
  const { webhooks, email } = config.notifications;
  const targets = [
    ...webhooks.map((hook) => `webhook ${new URL(hook.url).origin}`),
    ...(email === null ? [] : [`email to ${email.to.join(', ')}`]),
  ];
  return targets.length === 0 ? 'none' : targets.join('; ');
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

export async function serveCommand(
  io: CliIo,
  options: ServeOptions,
): Promise<{ close(): Promise<void> }> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new CliError(`--port ${options.port} is not a port`, EXIT_USAGE);
  const dev = options.dev === true;
  if (dev && !isLoopback(options.host)) {
    throw new CliError(
      `--dev turns authentication off, so it only listens on loopback; refusing --host ${options.host}`,
      EXIT_USAGE,
    );
  }
  if (
    options.synchronous !== undefined &&
    options.synchronous !== 'NORMAL' &&
    options.synchronous !== 'FULL'
  ) {
    throw new CliError('--synchronous must be NORMAL or FULL', EXIT_USAGE);
  }
  const logLevel = options.logLevel ?? DEFAULT_LOG_LEVEL;
  if (!isLogLevel(logLevel)) {
    throw new CliError(
      `--log-level ${logLevel} is not a level: use fatal, error, warn, info, debug, trace or silent`,
      EXIT_USAGE,
    );
  }
  // Read before anything is opened, so a bad file stops the start with every problem listed.
  const config = options.config === undefined ? undefined : serverConfig(options.config);
  // A signing key that cannot be used (e.g. readable by others) is a usage error, like a bad config.
  const gateway = await startGateway({
    policyFile: options.policy,
    store: options.db,
    bus: options.bus,
    dev,
    ...(options.synchronous === undefined ? {} : { synchronous: options.synchronous }),
    logger: gatewayLoggerOptions({ level: logLevel }),
    // The human notices below carry the same text as their log lines, so the same masking.
    onPolicyReload: (message) => {
      io.err(`warden: ${redactText(message)}`);
    },
    ...(config === undefined ? {} : { serverConfig: config }),
    onNotificationFailure: (message) => {
      io.err(`warden: ${redactText(message)}`);
    },
  }).catch((error: unknown) => {
    if (error instanceof AuditKeyError) throw new CliError(error.message, EXIT_USAGE);
    throw error;
  });
  const address = await gateway.server.listen({ port, host: options.host });
  if (dev)
    io.err(
      'warden: WARNING: dev mode: no API keys; every request acts as principal "dev" with all roles',
    );
  if (gateway.bootstrapKey !== null) {
    io.out(
      `warden: first start: created admin key ${gateway.bootstrapKey.id}; it is shown only now:`,
    );
    io.out(`warden: ${gateway.bootstrapKey.key}`);
  }
  if (config !== undefined) {
    io.out(
      `warden: config ${options.config ?? ''}: notifications: ${notificationsSummary(config)}`,
    );
  }
  io.out(
    `warden: listening on ${address} (policy ${options.policy}, store ${options.db.url}, bus ${options.bus.kind === 'memory' ? 'memory' : options.bus.url})`,
  );
  return gateway;
}
