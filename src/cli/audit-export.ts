/**
 * `warden audit export`: the audit trail straight from the store, so it works with the gateway
 * down. Either to a JSON Lines file (or stdout), one event per line exactly as stored, in seq
 * order, filtered by time, type and tenant; or (`--forward URL`) to a SIEM through the same
 * forwarder and durable cursor the gateway uses, until caught up.
 *
 * INVARIANT: a file export is written to a temporary file in the target's directory and renamed
 * over the target only once complete, so a failed export never leaves a partial file under the
 * final name.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { httpAuditSink, jsonLines } from '../adapters/siem/http-sink.js';
import { systemClock } from '../adapters/system/system-clock.js';
import { AuditForwarder, DEFAULT_FORWARD_CURSOR } from '../app/audit-forwarder.js';
import type { AuditEvent } from '../core/audit/chain.js';
import type { AuditSink } from '../ports/audit-sink.js';
import { openStore } from '../main/store-location.js';
import type { StoreLocation } from '../main/store-location.js';
import type { Store } from '../ports/store.js';
import { CliError, EXIT_FAILED, EXIT_OK, parseCount } from './io.js';
import type { CliIo } from './io.js';
import { terminalProgress } from './progress.js';
import type { Progress } from './progress.js';

/** Events read per store query: keyset paging on seq, so each page costs the same. */
const EXPORT_PAGE = 5000;
const MAX_BATCH_SIZE = 10_000;

export interface AuditExportOptions {
  readonly db: StoreLocation;
  /** Output file, or `-` for stdout. */
  readonly to?: string;
  /** Inclusive lower bound on `at` (ISO-8601). */
  readonly since?: string;
  /** Exclusive upper bound on `at` (ISO-8601). */
  readonly until?: string;
  readonly type?: string;
  readonly tenant?: string;
  /** Forward to this http(s) URL instead of writing a file. */
  readonly forward?: string;
  /** `Name: value`, repeatable, for `--forward`. */
  readonly header?: readonly string[];
  readonly cursor?: string;
  readonly batchSize?: string;
  readonly timeoutMs?: string;
}

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;

/**
 * An ISO-8601 date (`2026-11-21`, midnight UTC) or date-time with a zone (`...T10:00:00Z`,
 * `...T10:00+01:00`) as epoch ms. A time without a zone is refused: it would silently depend on
 * the machine's time zone. Impossible dates (February 30) are refused, not rolled over.
 */
export function parseIsoTime(text: string, flag: string): number {
  const match = ISO_TIME.exec(text);
  const fail = (): never => {
    throw new CliError(
      `${flag} "${text}" is not an ISO-8601 time (e.g. 2026-11-21 or 2026-11-21T10:00:00Z)`,
    );
  };
  if (match === null) return fail();
  if (text.includes('T') && !/(?:Z|[+-]\d{2}:\d{2})$/.test(text)) return fail();
  // Groups that did not take part are undefined at run time, whatever the type says.
  const groups = match.slice(1) as (string | undefined)[];
  const [year, month, day, hour, minute, second, offsetHour, offsetMinute] = groups.map((part) =>
    part === undefined ? 0 : Number(part),
  );
  const daysInMonth = new Date(Date.UTC(year ?? 0, month ?? 0, 0)).getUTCDate();
  const valid =
    (month ?? 0) >= 1 &&
    (month ?? 0) <= 12 &&
    (day ?? 0) >= 1 &&
    (day ?? 0) <= daysInMonth &&
    (hour ?? 0) <= 23 &&
    (minute ?? 0) <= 59 &&
    (second ?? 0) <= 59 &&
    (offsetHour ?? 0) <= 23 &&
    (offsetMinute ?? 0) <= 59;
  const ms = Date.parse(text);
  if (!valid || Number.isNaN(ms)) return fail();
  return ms;
}

/** `Name: value` → [name, value]. The value is never echoed: it is often a token. */
export function parseHeader(text: string): [string, string] {
  const colon = text.indexOf(':');
  const name = colon < 0 ? '' : text.slice(0, colon).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new CliError('--header must be "Name: value" with a valid header name');
  }
  return [name, text.slice(colon + 1).trim()];
}

const FILE_ONLY = ['since', 'until', 'type', 'tenant'] as const;
const FORWARD_ONLY = ['header', 'cursor', 'batchSize', 'timeoutMs'] as const;
const FLAG: Record<(typeof FILE_ONLY)[number] | (typeof FORWARD_ONLY)[number], string> = {
  since: '--since',
  until: '--until',
  type: '--type',
  tenant: '--tenant',
  header: '--header',
  cursor: '--cursor',
  batchSize: '--batch-size',
  timeoutMs: '--timeout-ms',
};

export async function auditExportCommand(
  io: CliIo,
  options: AuditExportOptions,
  progress?: Progress,
): Promise<number> {
  if ((options.to === undefined) === (options.forward === undefined)) {
    throw new CliError('give exactly one of --to FILE (or --to -) and --forward URL');
  }
  if (options.forward !== undefined) {
    const misplaced = FILE_ONLY.filter((key) => options[key] !== undefined).map((k) => FLAG[k]);
    if (misplaced.length > 0) {
      throw new CliError(
        `${misplaced.join(', ')} cannot be used with --forward: it sends the whole trail after its cursor`,
      );
    }
    return forward(io, options, options.forward, progress ?? terminalProgress('forwarding'));
  }
  const misplaced = FORWARD_ONLY.filter((key) => options[key] !== undefined).map((k) => FLAG[k]);
  if (misplaced.length > 0) {
    throw new CliError(`${misplaced.join(', ')} can only be used with --forward`);
  }
  return exportFile(io, options, options.to ?? '-', progress ?? terminalProgress('exporting'));
}

interface Range {
  readonly since: number | null;
  readonly until: number | null;
}

function rangeOf(options: AuditExportOptions): Range {
  const since = options.since === undefined ? null : parseIsoTime(options.since, '--since');
  const until = options.until === undefined ? null : parseIsoTime(options.until, '--until');
  if (since !== null && until !== null && until <= since) {
    throw new CliError(`--until "${String(options.until)}" must be after --since`);
  }
  return { since, until };
}

function inRange(event: AuditEvent, range: Range): boolean {
  const at = Date.parse(event.at);
  return (range.since === null || at >= range.since) && (range.until === null || at < range.until);
}

/** Opens the store, or says which one could not be opened and why. */
function openReadable(location: StoreLocation): ReturnType<typeof openStore> {
  try {
    return openStore(location);
  } catch (error) {
    throw new CliError(`cannot open ${location.url}: ${(error as Error).message}`);
  }
}

/** Why a path cannot be written, in words. */
function writeFailure(path: string, error: unknown): CliError {
  const code = (error as NodeJS.ErrnoException).code;
  const reason =
    code === 'ENOENT'
      ? 'no such directory'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'ENOSPC'
            ? 'no space left on the device'
            : (error as Error).message;
  return new CliError(`cannot write ${path}: ${reason}`);
}

/** A temporary file next to `path` (same file system, so the final rename is atomic). */
async function openTemporary(path: string): Promise<{ handle: FileHandle; temporary: string }> {
  const target = await stat(path).catch(() => null);
  if (target?.isDirectory() === true) throw writeFailure(path, { code: 'EISDIR' });
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${String(process.pid)}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    // 0o600: the trail carries payloads and actors; the operator widens access on purpose.
    return { handle: await open(temporary, 'wx', 0o600), temporary };
  } catch (error) {
    throw writeFailure(path, error);
  }
}

async function exportFile(
  io: CliIo,
  options: AuditExportOptions,
  to: string,
  progress: Progress,
): Promise<number> {
  const range = rangeOf(options);
  const file = to === '-' ? null : await openTemporary(to);
  const writing = <T>(step: Promise<T>): Promise<T> =>
    step.catch((error: unknown) => {
      throw writeFailure(to, error);
    });
  let written = 0;
  try {
    const store = openReadable(options.db);
    try {
      written = await eachEvent(store, options, range, progress, async (events) => {
        if (file === null) for (const event of events) io.out(JSON.stringify(event));
        else await writing(file.handle.write(jsonLines(events)));
      });
    } finally {
      progress.end();
      await store.close();
    }
    if (file !== null) {
      await writing(file.handle.sync());
      await writing(file.handle.close());
      await writing(rename(file.temporary, to));
    }
  } catch (error) {
    if (file !== null) {
      await file.handle.close().catch(() => undefined);
      await unlink(file.temporary).catch(() => undefined);
    }
    throw error;
  }
  const summary = `exported ${String(written)} events to ${to === '-' ? 'stdout' : to}`;
  // With --to -, stdout is the data.
  if (to === '-') io.err(summary);
  else io.out(summary);
  return EXIT_OK;
}

/**
 * Pages through the trail in seq order (keyset on seq: linear in the trail's length), hands each
 * page's matching events to `sink`, and resolves with how many matched. Time is filtered here:
 * `at` is not guaranteed to be monotonic in seq, so no page can be skipped on time alone.
 */
async function eachEvent(
  store: Store,
  options: AuditExportOptions,
  range: Range,
  progress: Progress,
  sink: (events: readonly AuditEvent[]) => Promise<void>,
): Promise<number> {
  const head = (await store.auditHead())?.seq ?? 0;
  let after = 0;
  let matched = 0;
  for (;;) {
    const page = await store.queryAudit({
      after_seq: after,
      limit: EXPORT_PAGE,
      ...(options.type === undefined ? {} : { type: options.type }),
      ...(options.tenant === undefined ? {} : { tenant_id: options.tenant }),
    });
    const kept = page.filter((event) => event.seq <= head && inRange(event, range));
    if (kept.length > 0) await sink(kept);
    matched += kept.length;
    const last = page.at(-1);
    progress.update(Math.min(last?.seq ?? head, head), head);
    // Events appended after the export started are left for the next export.
    if (page.length < EXPORT_PAGE || last === undefined || last.seq >= head) return matched;
    after = last.seq;
  }
}

function cliSink(
  url: string,
  headers: Readonly<Record<string, string>>,
  timeoutMs: number | undefined,
): AuditSink {
  try {
    return httpAuditSink({ url, headers, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  } catch (error) {
    throw new CliError(`--forward: ${(error as Error).message}`);
  }
}

async function forward(
  io: CliIo,
  options: AuditExportOptions,
  url: string,
  progress: Progress,
): Promise<number> {
  const headers = Object.fromEntries((options.header ?? []).map(parseHeader));
  const batchSize =
    options.batchSize === undefined ? undefined : parseCount(options.batchSize, '--batch-size', 1);
  // One batch is held in memory and sent as one request.
  if (batchSize !== undefined && batchSize > MAX_BATCH_SIZE) {
    throw new CliError(`--batch-size must be at most ${String(MAX_BATCH_SIZE)}`);
  }
  const timeoutMs =
    options.timeoutMs === undefined ? undefined : parseCount(options.timeoutMs, '--timeout-ms', 1);
  const cursorName = options.cursor ?? DEFAULT_FORWARD_CURSOR;
  if (cursorName === '') throw new CliError('--cursor must not be empty');
  const sink = cliSink(url, headers, timeoutMs);
  const store = openReadable(options.db);
  try {
    const start = await store.auditCursor(cursorName);
    const head = (await store.auditHead())?.seq ?? 0;
    let sent = 0;
    const forwarder = new AuditForwarder({
      store,
      sink,
      clock: systemClock,
      cursor: cursorName,
      ...(batchSize === undefined ? {} : { batchSize }),
      monitor: {
        delivered: (events) => {
          sent += events;
          progress.update(sent, Math.max(sent, head - start));
        },
      },
    });
    let failure: unknown = null;
    try {
      await forwarder.forwardOnce();
    } catch (error) {
      failure = error;
    } finally {
      progress.end();
    }
    const cursor = await store.auditCursor(cursorName);
    if (failure !== null) {
      throw new CliError(
        `forwarding stopped after ${String(sent)} events, cursor "${cursorName}" at seq ` +
          `${String(cursor)}: ${(failure as Error).message}; run again to continue from there`,
        EXIT_FAILED,
      );
    }
    io.out(
      sent === 0
        ? `nothing new to forward: cursor "${cursorName}" at seq ${String(cursor)}`
        : `forwarded ${String(sent)} events to ${new URL(url).origin}: cursor "${cursorName}" at seq ${String(cursor)}`,
    );
    return EXIT_OK;
  } finally {
    await store.close();
  }
}
