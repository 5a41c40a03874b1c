/**
 * Terminal I/O for CLI commands, injected so commands can be driven in-process by tests.
 * Also the one place that turns a command failure into an exit code and a message.
 */
import { readFileSync } from 'node:fs';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

export const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Exit codes: 0 success, 1 the check failed (policy invalid, cases failed), 2 bad usage or input. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A failure with a message for the user and the exit code it maps to. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason =
      (error as NodeJS.ErrnoException).code === 'ENOENT'
        ? 'no such file'
        : (error as Error).message;
    throw new CliError(`cannot read ${what} ${path}: ${reason}`);
  }
}

export function readJson(path: string, what: string): unknown {
  const text = readText(path, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError(`${what} ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** A whole-number option (`--limit 50`), refused with a usage error below `minimum`. */
export function parseCount(text: string, flag: string, minimum: number): number {
  const count = Number(text);
  if (!/^\d+$/.test(text) || count < minimum)
    throw new CliError(`${flag} "${text}" must be a whole number of at least ${String(minimum)}`);
  return count;
}
