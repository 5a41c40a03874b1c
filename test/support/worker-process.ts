/**
 * Child processes for worker tests (the SDK worker, `warden worker`): started with tsx, their
 * output kept, and stopped with SIGTERM (SIGKILL if they linger) so no test leaves one behind.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';

export interface RunningChild {
  readonly process: ChildProcessWithoutNullStreams;
  /** stdout and stderr so far, for assertion messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null when killed). */
  stop(graceMs?: number): Promise<number | null>;
}

/** Environment without the developer's WARDEN_* variables. */
export const cleanEnv: Readonly<Record<string, string | undefined>> = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('WARDEN_')),
);

/** `node --import tsx <args>` with `env` added to a clean environment. */
export function startTsx(
  args: readonly string[],
  env: Readonly<Record<string, string>> = {},
): RunningChild {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    env: { ...cleanEnv, ...env },
  });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const closed = new Promise<number | null>((resolve) => {
    child.once('close', (code) => {
      resolve(code);
    });
  });
  return {
    process: child,
    output: () => output,
    stop: async (graceMs = 5000) => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        const code = await closed;
        clearTimeout(timer);
        return code;
      }
      return closed;
    },
  };
}

/** Resolves once `check` holds, polling; fails with `what` after `timeoutMs`. */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Whether a process with this pid still exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
