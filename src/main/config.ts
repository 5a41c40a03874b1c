/**
 * The server config file (`warden serve --config FILE`, YAML): the approval queue's bound and
 * sweep interval, and where approval notifications go. Validated strictly at the edge: unknown
 * keys and wrong types are errors, and every problem is reported at once with its path
 * (`notifications.webhooks[0].url: must be an http(s) URL`), so one edit fixes them all.
 * Parsing only; the composition root turns the result into adapters.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import type { EmailOptions } from '../adapters/notify/email.js';
import type { RequestLimits } from '../http/limits.js';
import { FAIL_OPEN_COMPONENTS } from '../ports/metrics.js';
import type { FailOpenComponent } from '../ports/metrics.js';
import type { RateLimits } from '../http/rate-limit.js';
import type { WebhookOptions } from '../adapters/notify/webhook.js';
import { DEFAULT_PUBLIC_URL, DEFAULT_RETRY } from '../app/notifications.js';
import type { RetrySettings } from '../app/notifications.js';

/** What a component's failure does to the action (§11): refuse it (`closed`) or let it through. */
export type FailMode = 'closed' | 'open';
/** Every component with a fail mode: the ones `warden_fail_open_total` counts. */
export const FAIL_MODE_COMPONENTS = FAIL_OPEN_COMPONENTS;
export type FailModeComponent = FailOpenComponent;

export interface FailModes {
  readonly modes: Readonly<Record<FailModeComponent, FailMode>>;
  /** The components whose mode the file states; the others are closed by default. */
  readonly declared: readonly FailModeComponent[];
}

export const DEFAULT_FAIL_MODES: FailModes = {
  modes: { store: 'closed', audit: 'closed', notifier: 'closed', evaluation: 'closed' },
  declared: [],
};

export interface AuditSettings {
  /** The Ed25519 key that signs checkpoints; beside the SQLite file when absent. */
  readonly signingKeyFile?: string;
  /** Where each checkpoint is also appended, outside the database; beside the key when absent. */
  readonly checkpointLogFile?: string;
  readonly checkpointEveryEvents?: number;
  readonly checkpointEveryMs?: number;
  /** Events older than this are pruned, at a signed checkpoint (default 400). */
  readonly retentionDays?: number;
  /** The SIEM forwarder; off when absent. */
  readonly forward?: {
    readonly url: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly batchSize?: number;
    readonly intervalMs?: number;
    readonly timeoutMs?: number;
    /** The durable cursor's name, shared with `warden audit export --forward --cursor`. */
    readonly cursor?: string;
  };
}

export interface ServerConfig {
  /** Request limits over the defaults (`src/http/limits.ts`, docs/limits.md). */
  readonly limits: Partial<RequestLimits>;
  /** The per-key rate limit: the default when absent, off when null (`rate_limit: off`). */
  readonly rateLimit?: RateLimits | null;
  readonly failModes: FailModes;
  /** How long evaluating a policy may take before the evaluation fail mode applies (ms). */
  readonly evaluationDeadlineMs?: number;
  readonly audit: AuditSettings;
  readonly approvals: {
    /** Pending approvals a tenant may hold; the gateway's default when absent. */
    readonly maxPendingPerTenant?: number;
    readonly sweepIntervalMs?: number;
  };
  readonly notifications: {
    readonly publicUrl: string;
    readonly retry: RetrySettings;
    readonly webhooks: readonly WebhookOptions[];
    readonly email: EmailOptions | null;
  };
}

/** What the gateway runs with when no file is given: default bounds, no notifiers. */
export const DEFAULT_SERVER_CONFIG: ServerConfig = {
  limits: {},
  failModes: DEFAULT_FAIL_MODES,
  audit: {},
  approvals: {},
  notifications: { publicUrl: DEFAULT_PUBLIC_URL, retry: DEFAULT_RETRY, webhooks: [], email: null },
};

/** The config file could not be read or is invalid; `problems` holds one line per problem. */
export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(
      `config file ${file}: ${String(problems.length)} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

/** The longest delay a Node.js timer accepts. */
const MAX_TIMER_MS = 2_147_483_647;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

type Plain = Readonly<Record<string, unknown>>;

/** Reads values at paths and collects every problem; never throws. */
class Checker {
  readonly problems: string[] = [];

  problem(path: string, message: string): void {
    this.problems.push(`${path === '' ? '(top level)' : path}: ${message}`);
  }

  /**
   * A mapping with only the allowed keys (any keys when `allowed` is null); null (reported)
   * when it is something else.
   */
  mapping(value: unknown, path: string, allowed: readonly string[] | null): Plain | null {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      this.problem(path, 'must be a mapping');
      return null;
    }
    const map = value as Plain;
    for (const key of Object.keys(map)) {
      if (allowed !== null && !allowed.includes(key)) {
        this.problem(join(path, key), `unknown key (expected one of: ${allowed.join(', ')})`);
      }
    }
    return map;
  }

  /** A mapping when present; absent (or null) is an empty one. */
  optionalMapping(value: unknown, path: string, allowed: readonly string[]): Plain | null {
    return value === undefined || value === null ? {} : this.mapping(value, path, allowed);
  }

  integer(value: unknown, path: string, min: number, max = MAX_TIMER_MS): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value)) {
      this.problem(path, 'must be an integer');
    } else if (value < min) {
      this.problem(path, `must be at least ${min}`);
    } else if (value > max) {
      this.problem(path, `must be at most ${max}`);
    } else {
      return value;
    }
    return undefined;
  }

  string(value: unknown, path: string): string | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') {
      this.problem(path, 'must be a non-empty string');
      return undefined;
    }
    return value;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') {
      this.problem(path, 'must be true or false');
      return undefined;
    }
    return value;
  }

  required<T>(value: T | undefined, raw: unknown, path: string): T | undefined {
    if (raw === undefined) this.problem(path, 'is required');
    return value;
  }

  url(value: unknown, path: string): string | undefined {
    if (value === undefined) return undefined;
    const text = typeof value === 'string' ? value : '';
    let parsed: URL | null = null;
    try {
      parsed = new URL(text);
    } catch {
      parsed = null;
    }
    if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
      this.problem(path, 'must be an http(s) URL');
      return undefined;
    }
    return text;
  }

  /** An address nodemailer accepts: `ops@example.com` or `Ops <ops@example.com>`. */
  address(value: unknown, path: string): string | undefined {
    const text = this.string(value, path);
    if (text !== undefined && !/^[^\s@<>]+@[^\s@<>]+$|<[^\s@<>]+@[^\s@<>]+>$/.test(text.trim())) {
      this.problem(path, 'must be an email address');
      return undefined;
    }
    return text;
  }
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function approvalsSection(check: Checker, raw: unknown): ServerConfig['approvals'] {
  const map = check.optionalMapping(raw, 'approvals', [
    'max_pending_per_tenant',
    'sweep_interval_ms',
  ]);
  if (map === null) return {};
  const maxPending = check.integer(
    map['max_pending_per_tenant'],
    'approvals.max_pending_per_tenant',
    1,
    Number.MAX_SAFE_INTEGER,
  );
  const sweep = check.integer(map['sweep_interval_ms'], 'approvals.sweep_interval_ms', 100);
  return {
    ...(maxPending === undefined ? {} : { maxPendingPerTenant: maxPending }),
    ...(sweep === undefined ? {} : { sweepIntervalMs: sweep }),
  };
}

const LIMIT_KEYS = [
  'body_bytes',
  'json_depth',
  'string_chars',
  'payload_bytes',
  'labels',
  'label_key_chars',
  'label_value_chars',
  'url_chars',
  'header_count',
  'header_bytes',
  'headers_timeout_ms',
  'request_timeout_ms',
  'idle_timeout_ms',
] as const satisfies readonly (keyof RequestLimits)[];

function limitsSection(check: Checker, raw: unknown): Partial<RequestLimits> {
  const map = check.optionalMapping(raw, 'limits', LIMIT_KEYS);
  if (map === null) return {};
  const limits: Partial<Record<keyof RequestLimits, number>> = {};
  for (const key of LIMIT_KEYS) {
    const value = check.integer(map[key], `limits.${key}`, 1, Number.MAX_SAFE_INTEGER);
    if (value !== undefined) limits[key] = value;
  }
  return limits;
}

function rateLimitSection(check: Checker, raw: unknown): RateLimits | null | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (raw === 'off' || raw === false) return null;
  const map = check.mapping(raw, 'rate_limit', ['requests_per_second', 'burst', 'max_keys']);
  if (map === null) return undefined;
  const rate = check.required(
    check.integer(map['requests_per_second'], 'rate_limit.requests_per_second', 1, 1_000_000),
    map['requests_per_second'],
    'rate_limit.requests_per_second',
  );
  const burst = check.required(
    check.integer(map['burst'], 'rate_limit.burst', 1, 10_000_000),
    map['burst'],
    'rate_limit.burst',
  );
  const maxKeys = check.integer(map['max_keys'], 'rate_limit.max_keys', 1, 10_000_000);
  if (rate === undefined || burst === undefined) return undefined;
  return {
    requests_per_second: rate,
    burst,
    ...(maxKeys === undefined ? {} : { max_keys: maxKeys }),
  };
}

function failModesSection(check: Checker, raw: unknown): FailModes {
  const map = check.optionalMapping(raw, 'fail_modes', FAIL_MODE_COMPONENTS);
  if (map === null) return DEFAULT_FAIL_MODES;
  const modes = { ...DEFAULT_FAIL_MODES.modes };
  const declared: FailModeComponent[] = [];
  for (const component of FAIL_MODE_COMPONENTS) {
    const value = map[component];
    if (value === undefined) continue;
    if (value !== 'closed' && value !== 'open') {
      check.problem(`fail_modes.${component}`, 'must be closed or open');
      continue;
    }
    modes[component] = value;
    declared.push(component);
  }
  return { modes, declared };
}

function evaluationSection(check: Checker, raw: unknown): number | undefined {
  const map = check.optionalMapping(raw, 'evaluation', ['deadline_ms']);
  if (map === null) return undefined;
  return check.integer(map['deadline_ms'], 'evaluation.deadline_ms', 1, 60_000);
}

function auditSection(check: Checker, raw: unknown): AuditSettings {
  const map = check.optionalMapping(raw, 'audit', [
    'signing_key_file',
    'checkpoint_log_file',
    'checkpoint_every_events',
    'checkpoint_every_ms',
    'retention_days',
    'forward',
  ]);
  if (map === null) return {};
  const keyFile = check.string(map['signing_key_file'], 'audit.signing_key_file');
  const logFile = check.string(map['checkpoint_log_file'], 'audit.checkpoint_log_file');
  const everyEvents = check.integer(
    map['checkpoint_every_events'],
    'audit.checkpoint_every_events',
    1,
    10_000_000,
  );
  const everyMs = check.integer(map['checkpoint_every_ms'], 'audit.checkpoint_every_ms', 100);
  const retention = check.integer(map['retention_days'], 'audit.retention_days', 1, 36_500);
  const forward = forwardSection(check, map['forward']);
  return {
    ...(keyFile === undefined ? {} : { signingKeyFile: keyFile }),
    ...(logFile === undefined ? {} : { checkpointLogFile: logFile }),
    ...(everyEvents === undefined ? {} : { checkpointEveryEvents: everyEvents }),
    ...(everyMs === undefined ? {} : { checkpointEveryMs: everyMs }),
    ...(retention === undefined ? {} : { retentionDays: retention }),
    ...(forward === undefined ? {} : { forward }),
  };
}

function forwardSection(check: Checker, raw: unknown): AuditSettings['forward'] {
  if (raw === undefined || raw === null) return undefined;
  const path = 'audit.forward';
  const map = check.mapping(raw, path, [
    'url',
    'headers',
    'batch_size',
    'interval_ms',
    'timeout_ms',
    'cursor',
  ]);
  if (map === null) return undefined;
  const url = check.required(check.url(map['url'], `${path}.url`), map['url'], `${path}.url`);
  const extra = headers(check, map['headers'], `${path}.headers`);
  const batch = check.integer(map['batch_size'], `${path}.batch_size`, 1, 10_000);
  const interval = check.integer(map['interval_ms'], `${path}.interval_ms`, 10);
  const timeout = check.integer(map['timeout_ms'], `${path}.timeout_ms`, 1);
  const cursor = check.string(map['cursor'], `${path}.cursor`);
  if (url === undefined) return undefined;
  return {
    url,
    ...(extra === undefined ? {} : { headers: extra }),
    ...(batch === undefined ? {} : { batchSize: batch }),
    ...(interval === undefined ? {} : { intervalMs: interval }),
    ...(timeout === undefined ? {} : { timeoutMs: timeout }),
    ...(cursor === undefined ? {} : { cursor }),
  };
}

function retrySection(check: Checker, raw: unknown): RetrySettings {
  const path = 'notifications.retry';
  const map = check.optionalMapping(raw, path, ['attempts', 'base_delay_ms']);
  if (map === null) return DEFAULT_RETRY;
  return {
    attempts: check.integer(map['attempts'], `${path}.attempts`, 1, 100) ?? DEFAULT_RETRY.attempts,
    baseDelayMs:
      check.integer(map['base_delay_ms'], `${path}.base_delay_ms`, 1) ?? DEFAULT_RETRY.baseDelayMs,
  };
}

function headers(check: Checker, raw: unknown, path: string): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  const map = check.mapping(raw, path, null);
  if (map === null) return undefined;
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(map)) {
    const at = `${path}.${name}`;
    if (!HEADER_NAME.test(name)) check.problem(at, 'is not a valid header name');
    else if (name.toLowerCase() === 'content-type') check.problem(at, 'is set by the format');
    else if (typeof value !== 'string') check.problem(at, 'must be a string');
    else if (/[\r\n\0]/.test(value)) check.problem(at, 'must be a single line');
    else result[name] = value;
  }
  return result;
}

function webhooksSection(check: Checker, raw: unknown): WebhookOptions[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    check.problem('notifications.webhooks', 'must be a list');
    return [];
  }
  const hooks: WebhookOptions[] = [];
  (raw as readonly unknown[]).forEach((entry, index) => {
    const path = `notifications.webhooks[${index}]`;
    const map = check.mapping(entry, path, ['url', 'format', 'headers', 'timeout_ms']);
    if (map === null) return;
    const url = check.required(check.url(map['url'], `${path}.url`), map['url'], `${path}.url`);
    const format = map['format'];
    if (format !== undefined && format !== 'json' && format !== 'slack') {
      check.problem(`${path}.format`, 'must be json or slack');
    }
    const extra = headers(check, map['headers'], `${path}.headers`);
    const timeout = check.integer(map['timeout_ms'], `${path}.timeout_ms`, 1);
    if (url === undefined) return;
    hooks.push({
      url,
      ...(format === 'json' || format === 'slack' ? { format } : {}),
      ...(extra === undefined ? {} : { headers: extra }),
      ...(timeout === undefined ? {} : { timeoutMs: timeout }),
    });
  });
  return hooks;
}

function emailSection(check: Checker, raw: unknown): EmailOptions | null {
  if (raw === undefined || raw === null) return null;
  const path = 'notifications.email';
  const map = check.mapping(raw, path, ['host', 'port', 'secure', 'user', 'pass', 'from', 'to']);
  if (map === null) return null;
  const at = (key: string): string => `${path}.${key}`;
  const host = check.required(check.string(map['host'], at('host')), map['host'], at('host'));
  const port = check.required(
    check.integer(map['port'], at('port'), 1, 65535),
    map['port'],
    at('port'),
  );
  const secure = check.boolean(map['secure'], at('secure'));
  const user = check.string(map['user'], at('user'));
  const pass = check.string(map['pass'], at('pass'));
  if ((map['user'] === undefined) !== (map['pass'] === undefined)) {
    check.problem(path, 'user and pass go together: give both or neither');
  }
  const from = check.required(check.address(map['from'], at('from')), map['from'], at('from'));
  const rawTo = map['to'];
  const to: string[] = [];
  if (rawTo === undefined) check.problem(at('to'), 'is required');
  else if (!Array.isArray(rawTo) || rawTo.length === 0) {
    check.problem(at('to'), 'must be a non-empty list of email addresses');
  } else {
    (rawTo as readonly unknown[]).forEach((entry, index) => {
      const address = check.address(entry, `${at('to')}[${index}]`);
      if (address !== undefined) to.push(address);
    });
  }
  if (host === undefined || port === undefined || from === undefined || to.length === 0) {
    return null;
  }
  return {
    host,
    port,
    from,
    to,
    ...(secure === undefined ? {} : { secure }),
    ...(user === undefined ? {} : { user }),
    ...(pass === undefined ? {} : { pass }),
  };
}

/** Validates a config document's text; throws ConfigError listing every problem. */
export function parseServerConfig(text: string, file: string): ServerConfig {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) {
    // The first line of yaml's message names the problem and its line and column.
    throw new ConfigError(
      file,
      doc.errors.map((e) => `YAML: ${(e.message.split('\n')[0] ?? e.message).replace(/:$/, '')}`),
    );
  }
  const check = new Checker();
  const root = check.optionalMapping(doc.toJS() as unknown, '', [
    'limits',
    'rate_limit',
    'fail_modes',
    'evaluation',
    'audit',
    'approvals',
    'notifications',
  ]);
  if (root === null) throw new ConfigError(file, check.problems);
  const limits = limitsSection(check, root['limits']);
  const rateLimit = rateLimitSection(check, root['rate_limit']);
  const failModes = failModesSection(check, root['fail_modes']);
  const deadline = evaluationSection(check, root['evaluation']);
  const audit = auditSection(check, root['audit']);
  const approvals = approvalsSection(check, root['approvals']);
  const section = check.optionalMapping(root['notifications'], 'notifications', [
    'public_url',
    'retry',
    'webhooks',
    'email',
  ]);
  const notes = section ?? {};
  const publicUrl = check.url(notes['public_url'], 'notifications.public_url');
  const config: ServerConfig = {
    limits,
    ...(rateLimit === undefined ? {} : { rateLimit }),
    failModes,
    ...(deadline === undefined ? {} : { evaluationDeadlineMs: deadline }),
    audit,
    approvals,
    notifications: {
      publicUrl: publicUrl ?? DEFAULT_PUBLIC_URL,
      retry: retrySection(check, notes['retry']),
      webhooks: webhooksSection(check, notes['webhooks']),
      email: emailSection(check, notes['email']),
    },
  };
  if (check.problems.length > 0) throw new ConfigError(file, check.problems);
  return config;
}

/** Reads and validates the config file; throws ConfigError when it cannot be read too. */
export function loadServerConfig(file: string): ServerConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : (error as Error).message;
    throw new ConfigError(file, [`cannot be read: ${reason}`]);
  }
  return parseServerConfig(text, file);
}
