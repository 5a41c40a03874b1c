/**
 * `warden serve` as a process: listens, decides over real HTTP, refuses dev mode off loopback,
 * stops on SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { isLoopback } from '../../src/cli/serve-command.js';
import { BIN, warden } from '../support/cli.js';

/** Starts `warden serve` and resolves once it listens, with everything it printed so far. */
async function startServe(
  args: readonly string[],
): Promise<{ child: ChildProcessWithoutNullStreams; address: string; stdout: string }> {
  const child = spawn(process.execPath, [BIN, 'serve', ...args]);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolveStart, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(stdout);
      if (match?.[1] !== undefined) resolveStart({ child, address: match[1], stdout });
    });
    child.once('exit', (code) => {
      reject(new Error(`exited with ${String(code)}: ${stderr}`));
    });
  });
}

async function stop(child: ChildProcessWithoutNullStreams): Promise<void> {
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}

describe('warden serve', () => {
  it('outside dev mode: prints a bootstrap admin key once and requires keys', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'warden-serve-')), 'w.db');
    const first = await startServe(['--port', '0', '--db', `sqlite:${db}`]);
    const key = /^warden: (wdn_\S+)$/m.exec(first.stdout)?.[1];
    try {
      assert.ok(key !== undefined, first.stdout);
      const job = { topic: 'job.mcp-bridge.read.x' };
      const post = (headers: Record<string, string>) =>
        fetch(`${first.address}/api/v1/jobs`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...headers },
          body: JSON.stringify(job),
        });
      assert.equal((await post({})).status, 401);
      assert.equal((await post({ authorization: 'Bearer wdn_wrong' })).status, 401);
      assert.equal((await post({ authorization: `Bearer ${key}` })).status, 201);
    } finally {
      await stop(first.child);
    }
    const second = await startServe(['--port', '0', '--db', `sqlite:${db}`]);
    await stop(second.child);
    assert.doesNotMatch(second.stdout, /wdn_/);
  });

  it('serves the decision path over HTTP in dev mode and stops on SIGTERM', async () => {
    const db = join(mkdtempSync(join(tmpdir(), 'warden-serve-')), 'w.db');
    const child = spawn(
      process.execPath,
      [BIN, 'serve', '--dev', '--port', '0', '--db', `sqlite:${db}`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const address = await new Promise<string>((resolveAddress, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const match = /listening on (http:\/\/\S+)/.exec(out);
        if (match?.[1] !== undefined) resolveAddress(match[1]);
      });
      child.once('exit', (code) => {
        reject(new Error(`exited with ${String(code)}: ${stderr}`));
      });
    });
    try {
      // stdout and stderr are separate pipes: the warning may arrive just after the address.
      const warned = Date.now() + 5000;
      while (!/WARNING: dev mode/.test(stderr) && Date.now() < warned) await delay(10);
      assert.match(stderr, /WARNING: dev mode/);
      const res = await fetch(`${address}/api/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          topic: 'job.mcp-bridge.write.update_ticket',
          tenant_id: 'default',
          risk_tags: ['prod'],
        }),
      });
      assert.equal(res.status, 201);
      const body = (await res.json()) as { state: string; decision: { rule_id: string } };
      assert.equal(body.state, 'APPROVAL_REQUIRED');
      assert.equal(body.decision.rule_id, 'require-approval-prod-write');
    } finally {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
    }
    assert.equal(child.exitCode, 0);
  });

  it('refuses dev mode on a non-loopback address', () => {
    const result = warden('serve', '--dev', '--host', '0.0.0.0', '--port', '0');
    assert.equal(result.code, 2);
    assert.match(result.stderr, /only listens on loopback/);
  });

  it('recognises loopback addresses', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1'])
      assert.equal(isLoopback(host), true, host);
    for (const host of ['0.0.0.0', '10.0.0.1', '::', 'example.com'])
      assert.equal(isLoopback(host), false, host);
  });
});
