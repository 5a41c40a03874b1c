/**
 * NATS for tests: unique stream names on the shared server, clean-up, and a nats-server of a
 * test's own that it can kill and restart on the same port and store directory.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { closedPort } from './ports.js';
import { reachable } from './services.js';

export const NATS_HOST = '127.0.0.1';
export const NATS_PORT = 4222;
export const NATS_URL = `nats://${NATS_HOST}:${NATS_PORT}`;
export const NATS_SERVER = '/usr/sbin/nats-server';

/** A stream name and subject prefix no other run uses. */
export function uniqueNames(): { stream: string; subjectPrefix: string } {
  const id = randomUUID().replaceAll('-', '').slice(0, 16);
  return { stream: `WARDEN_TEST_${id}`, subjectPrefix: `warden-test.${id}` };
}

export async function deleteStreams(url: string, streams: readonly string[]): Promise<void> {
  if (streams.length === 0) return;
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    for (const stream of streams) await jsm.streams.delete(stream).catch(() => false);
  } finally {
    await nc.close();
  }
}

/** A nats-server of this test's own, restartable on the same port and store directory. */
export class OwnNatsServer {
  private child: ChildProcess | null = null;
  private constructor(
    readonly port: number,
    private readonly storeDir: string,
  ) {}

  static async start(): Promise<OwnNatsServer> {
    const server = new OwnNatsServer(
      await closedPort(),
      mkdtempSync(join(tmpdir(), 'warden-nats-')),
    );
    await server.restart();
    return server;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async restart(): Promise<void> {
    const args = ['-a', '127.0.0.1', '-p', String(this.port), '-js', '-sd', this.storeDir];
    this.child = spawn(NATS_SERVER, args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await reachable('127.0.0.1', this.port))) {
      if (Date.now() > deadline) throw new Error(`nats-server did not start on ${this.port}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Kills the server outright: what it acknowledged must survive that. */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (child === null || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
