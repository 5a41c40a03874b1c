/**
 * `warden audit export` through the built binary on real database files: time, type and tenant
 * filters against the store's own query, stdout, refused arguments and paths (never a partial
 * file), and `--forward` back-filling a real receiver from the durable cursor.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import type { AuditEvent } from '../../src/core/audit/chain.js';
import { terminalProgress } from '../../src/cli/progress.js';
import { BIN, warden } from '../support/cli.js';
import type { CliRun } from '../support/cli.js';
import { closedPort } from '../support/ports.js';
import { seqs, startReceiver } from '../support/siem-receiver.js';
import type { Receiver } from '../support/siem-receiver.js';

/** Runs the binary without blocking this process, which hosts the receiver it talks to. */
function wardenAsync(...args: readonly string[]): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'warden-audit-export-'));
}

const BASE = Date.parse('2026-11-20T00:00:00.000Z');
const HOUR = 3_600_000;

/**
 * `count` events whose times are not monotonic in seq (as concurrent writers can produce), over
 * two types and two tenants.
 */
async function database(count: number): Promise<string> {
  const path = join(scratch(), 'w.db');
  const store = new SqliteStore({ path });
  await appendEvents(store, count, 0);
  await store.close();
  return path;
}

async function appendEvents(store: SqliteStore, count: number, offset: number): Promise<void> {
  await store.appendAudit(
    Array.from({ length: count }, (_, k) => {
      const i = k + offset;
      return {
        at: new Date(BASE + ((i * 7) % 30) * HOUR + i).toISOString(),
        type: i % 3 === 0 ? 'key.created' : 'policy.activated',
        tenant_id: i % 2 === 0 ? 'acme' : 'globex',
        trace_id: `trace-${String(i)}`,
        job_id: null,
        actor: 'admin',
        data: { i, text: 'a "quoted"\nline' },
      };
    }),
  );
}

async function storedEvents(path: string): Promise<AuditEvent[]> {
  const store = new SqliteStore({ path });
  try {
    return [...(await store.queryAudit({ limit: 100_000 }))];
  } finally {
    await store.close();
  }
}

function lines(events: readonly AuditEvent[]): string {
  return events.map((e) => `${JSON.stringify(e)}\n`).join('');
}

const receivers: Receiver[] = [];
after(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

describe('warden audit export --to', () => {
  let path = '';
  let all: AuditEvent[] = [];
  before(async () => {
    path = await database(60);
    all = await storedEvents(path);
  });

  it('writes exactly the events in [since, until), in seq order, as stored', () => {
    const dir = scratch();
    const out = join(dir, 'range.jsonl');
    const since = '2026-11-20T05:00:00Z';
    const until = '2026-11-20T17:00:00.000+00:00';
    const run = warden(
      'audit',
      'export',
      '--db',
      `sqlite:${path}`,
      '--to',
      out,
      '--since',
      since,
      '--until',
      until,
    );
    assert.equal(run.code, 0, run.stderr);
    const expected = all.filter(
      (e) => Date.parse(e.at) >= Date.parse(since) && Date.parse(e.at) < Date.parse(until),
    );
    assert.ok(expected.length > 5 && expected.length < all.length, 'a real subset');
    assert.equal(readFileSync(out, 'utf8'), lines(expected));
    assert.match(run.stdout, new RegExp(`^exported ${String(expected.length)} events to `, 'm'));
    assert.deepEqual(readdirSync(dir), ['range.jsonl'], 'no temporary file is left behind');
    assert.equal(run.stderr, '', 'no progress line when stderr is not a terminal');
  });

  it('an event exactly at --since is in, one exactly at --until is out', () => {
    const edge = all[10];
    assert.ok(edge);
    const out = join(scratch(), 'edge.jsonl');
    const from = warden(
      'audit',
      'export',
      '--db',
      `sqlite:${path}`,
      '--to',
      out,
      '--since',
      edge.at,
    );
    assert.equal(from.code, 0, from.stderr);
    assert.ok(readFileSync(out, 'utf8').includes(JSON.stringify(edge)));
    const before = warden(
      'audit',
      'export',
      '--db',
      `sqlite:${path}`,
      '--to',
      out,
      '--until',
      edge.at,
    );
    assert.equal(before.code, 0, before.stderr);
    assert.ok(!readFileSync(out, 'utf8').includes(JSON.stringify(edge)));
  });

  it('filters by --type and --tenant with the time range', () => {
    const out = join(scratch(), 'typed.jsonl');
    const run = warden(
      'audit',
      'export',
      '--db',
      `sqlite:${path}`,
      '--to',
      out,
      '--type',
      'key.created',
      '--tenant',
      'acme',
      '--since',
      '2026-11-20',
    );
    assert.equal(run.code, 0, run.stderr);
    const expected = all.filter((e) => e.type === 'key.created' && e.tenant_id === 'acme');
    assert.ok(expected.length > 0);
    assert.equal(readFileSync(out, 'utf8'), lines(expected));
  });

  it('--to - writes only the events to stdout and the summary to stderr', () => {
    const run = warden(
      'audit',
      'export',
      '--db',
      `sqlite:${path}`,
      '--to',
      '-',
      '--until',
      '2026-11-20T10:00:00Z',
    );
    assert.equal(run.code, 0, run.stderr);
    const expected = all.filter((e) => Date.parse(e.at) < Date.parse('2026-11-20T10:00:00Z'));
    assert.equal(run.stdout, lines(expected));
    assert.match(run.stderr, new RegExp(`exported ${String(expected.length)} events to stdout`));
  });

  it('refuses a bad time with exit 2 and says why, writing nothing', () => {
    const dir = scratch();
    const out = join(dir, 'x.jsonl');
    for (const [flag, value] of [
      ['--since', 'yesterday'],
      ['--since', '2026-02-30'],
      ['--until', '2026-11-21T10:00:00'],
      ['--until', '2026-11-21T25:00:00Z'],
    ] as const) {
      const run = warden('audit', 'export', '--db', `sqlite:${path}`, '--to', out, flag, value);
      assert.equal(run.code, 2, `${flag} ${value}`);
      assert.match(run.stderr, new RegExp(`warden: ${flag} "${value}" is not an ISO-8601 time`));
    }
    const reversed = warden(
      'audit',
      'export',
      '--db',
      `sqlite:${path}`,
      '--to',
      out,
      '--since',
      '2026-11-21',
      '--until',
      '2026-11-20',
    );
    assert.equal(reversed.code, 2);
    assert.match(reversed.stderr, /--until "2026-11-20" must be after --since/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('refuses an unwritable path with exit 2, leaving no file, partial or temporary', () => {
    const dir = scratch();
    const missing = warden(
      'audit',
      'export',
      '--db',
      `sqlite:${path}`,
      '--to',
      join(dir, 'no', 'such', 'x.jsonl'),
    );
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /warden: cannot write .*x\.jsonl: no such directory/);
    mkdirSync(join(dir, 'sub'));
    const directory = warden('audit', 'export', '--db', `sqlite:${path}`, '--to', join(dir, 'sub'));
    assert.equal(directory.code, 2);
    assert.match(directory.stderr, /cannot write .*sub: it is a directory/);
    assert.deepEqual(readdirSync(dir), ['sub']);
    assert.deepEqual(readdirSync(join(dir, 'sub')), []);
  });

  it('a failed export leaves the previous file under the final name untouched', () => {
    const dir = scratch();
    const out = join(dir, 'audit.jsonl');
    writeFileSync(out, 'previous export\n');
    const notADatabase = join(dir, 'w.db');
    writeFileSync(notADatabase, 'this is not a SQLite database, only text long enough to look\n');
    // The store cannot be opened: the export fails after its temporary file was created.
    const run = warden('audit', 'export', '--db', `sqlite:${notADatabase}`, '--to', out);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /warden: cannot open sqlite:.*w\.db: file is not a database/);
    assert.equal(readFileSync(out, 'utf8'), 'previous export\n');
    assert.deepEqual(readdirSync(dir).sort(), ['audit.jsonl', 'w.db']);
  });

  it('needs exactly one of --to and --forward, and keeps their options apart', () => {
    const db = `sqlite:${path}`;
    const neither = warden('audit', 'export', '--db', db);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /exactly one of --to FILE/);
    const both = warden(
      'audit',
      'export',
      '--db',
      db,
      '--to',
      '-',
      '--forward',
      'http://127.0.0.1:1/',
    );
    assert.equal(both.code, 2);
    const filtered = warden(
      'audit',
      'export',
      '--db',
      db,
      '--forward',
      'http://127.0.0.1:1/',
      '--since',
      '2026-11-20',
    );
    assert.equal(filtered.code, 2);
    assert.match(filtered.stderr, /--since cannot be used with --forward/);
    const header = warden('audit', 'export', '--db', db, '--to', '-', '--header', 'A: b');
    assert.equal(header.code, 2);
    assert.match(header.stderr, /--header can only be used with --forward/);
  });
});

describe('warden audit export --forward', () => {
  it('back-fills a receiver from the durable cursor; a second run sends nothing new', async () => {
    const path = await database(10);
    const r = await startReceiver();
    receivers.push(r);
    const args = ['audit', 'export', '--db', `sqlite:${path}`, '--forward', r.url];
    const first = await wardenAsync(
      ...args,
      '--header',
      'Authorization: Bearer t0ken',
      '--batch-size',
      '4',
    );
    assert.equal(first.code, 0, first.stderr);
    assert.match(
      first.stdout,
      /forwarded 10 events to http:\/\/127\.0\.0\.1:\d+: cursor "siem" at seq 10/,
    );
    assert.doesNotMatch(first.stdout + first.stderr, /t0ken|query-secret/);
    assert.deepEqual(r.acceptedSeqs(), seqs(10));
    assert.deepEqual(
      r.received.map((b) => b.headers['x-warden-batch']),
      ['1-4', '5-8', '9-10'],
    );
    assert.ok(r.received.every((b) => b.headers.authorization === 'Bearer t0ken'));
    assert.deepEqual(
      r.accepted().flatMap((b) => b.events),
      await storedEvents(path),
    );

    const second = await wardenAsync(...args);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /nothing new to forward: cursor "siem" at seq 10/);
    assert.equal(r.received.length, 3);

    const store = new SqliteStore({ path });
    await appendEvents(store, 3, 10);
    await store.close();
    const third = await wardenAsync(...args);
    assert.match(third.stdout, /forwarded 3 events/);
    assert.deepEqual(r.acceptedSeqs(), seqs(13));

    const other = await wardenAsync(...args, '--cursor', 'archive');
    assert.match(other.stdout, /forwarded 13 events .*cursor "archive" at seq 13/);
  });

  it('exits 1 when the receiver fails, keeping the cursor, and the next run delivers everything', async () => {
    const path = await database(5);
    const refused = `http://127.0.0.1:${String(await closedPort())}/ingest?token=query-secret`;
    const failed = await wardenAsync(
      'audit',
      'export',
      '--db',
      `sqlite:${path}`,
      '--forward',
      refused,
      '--header',
      'Authorization: Bearer t0ken',
    );
    assert.equal(failed.code, 1);
    assert.match(
      failed.stderr,
      /forwarding stopped after 0 events, cursor "siem" at seq 0: .*ECONNREFUSED.*run again/,
    );
    assert.doesNotMatch(failed.stderr, /t0ken|query-secret/);

    const r = await startReceiver();
    receivers.push(r);
    r.script(500);
    const five = await wardenAsync('audit', 'export', '--db', `sqlite:${path}`, '--forward', r.url);
    assert.equal(five.code, 1);
    assert.match(five.stderr, /answered 500/);
    const ok = await wardenAsync('audit', 'export', '--db', `sqlite:${path}`, '--forward', r.url);
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(r.acceptedSeqs(), seqs(5));
  });

  it('refuses a malformed header without echoing it, a bad URL and a bad batch size', () => {
    const db = `sqlite:${join(scratch(), 'w.db')}`;
    const header = warden(
      'audit',
      'export',
      '--db',
      db,
      '--forward',
      'http://127.0.0.1:1/',
      '--header',
      'Bearer s3cret',
    );
    assert.equal(header.code, 2);
    assert.match(header.stderr, /--header must be "Name: value"/);
    assert.doesNotMatch(header.stderr, /s3cret/);
    const url = warden('audit', 'export', '--db', db, '--forward', 'ftp://example.com/');
    assert.equal(url.code, 2);
    assert.match(url.stderr, /--forward: audit sink URL must be http\(s\)/);
    for (const size of ['0', '20000', 'many']) {
      const run = warden(
        'audit',
        'export',
        '--db',
        db,
        '--forward',
        'http://127.0.0.1:1/',
        '--batch-size',
        size,
      );
      assert.equal(run.code, 2, size);
      assert.match(run.stderr, /--batch-size/);
    }
  });
});

describe('progress line', () => {
  it('is drawn in place on a terminal, erased at the end, and silent on anything else', () => {
    const written: string[] = [];
    const stream = (isTTY: boolean) =>
      ({ isTTY, write: (text: string) => written.push(text) }) as unknown as NodeJS.WriteStream;
    const silent = terminalProgress('exporting', stream(false));
    silent.update(1, 2);
    silent.end();
    assert.deepEqual(written, []);
    const shown = terminalProgress('exporting', stream(true));
    shown.update(5, 20);
    shown.update(6, 20); // within the redraw interval: skipped
    shown.update(20, 20); // the last one is always drawn
    shown.end();
    assert.deepEqual(written, [
      '\r\x1b[Kexporting: 5/20 (25%)',
      '\r\x1b[Kexporting: 20/20 (100%)',
      '\r\x1b[K',
    ]);
  });
});
