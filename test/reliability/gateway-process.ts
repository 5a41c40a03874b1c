/**
 * A `warden serve` child process for reliability tests: start it on a database file, talk to it
 * over HTTP, kill it hard, and make sure none outlives the test.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { BIN } from '../support/cli.js';

export interface GatewayProcess {
  readonly child: ChildProcess;
  /** `http://127.0.0.1:PORT`, as printed by the gateway. */
  readonly address: string;
  /** Everything written to stderr so far (for failure messages). */
  stderr(): string;
}

const live = new Set<ChildProcess>();

/** Starts `warden serve --dev` on the database file and resolves once it listens. */
export function startGateway(dbPath: string, timeoutMs = 15_000): Promise<GatewayProcess> {
  const child = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--dev',
      '--policy',
      'examples/policies/seed.yaml',
      '--port',
      '0',
      '--db',
      `sqlite:${dbPath}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  child.once('exit', () => live.delete(child));
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`gateway did not listen within ${timeoutMs} ms: ${stdout} ${stderr}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /warden: listening on (http:\/\/[^\s]+:(\d+))/.exec(stdout);
      if (match?.[1] !== undefined && Number(match[2]) > 0) {
        clearTimeout(timer);
        resolve({ child, address: match[1], stderr: () => stderr });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited (${String(code ?? signal)}) before listening: ${stderr}`));
    });
  });
}

/** Sends `signal` and resolves once the process has exited. */
export async function stopGateway(
  gateway: GatewayProcess,
  signal: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { child } = gateway;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((done) => {
      child.once('exit', () => {
        done();
      });
    });
    child.kill(signal);
    await exited;
  }
  return { code: child.exitCode, signal: child.signalCode };
}

/** SIGKILLs every gateway still running; for `after` hooks, so a failing test leaves none. */
export function killLeftoverGateways(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}
