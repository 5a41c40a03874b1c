/**
 * The `warden` command tree. Each verb lives in its own module and returns an exit code; this
 * file parses arguments and maps failures to messages. No side effects on import.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseStoreLocation } from '../main/store-location.js';
import type { StoreLocation } from '../main/store-location.js';
import { auditExportCommand, auditVerifyCommand } from './audit-commands.js';
import { keysCreateCommand, keysListCommand, keysRevokeCommand } from './key-commands.js';
import { serveCommand } from './serve-command.js';
import {
  diffCommand,
  evalCommand,
  explainCommand,
  lintCommand,
  testCommand,
} from './policy-commands.js';
import { CliError, EXIT_USAGE, processIo } from './io.js';
import type { CliIo } from './io.js';

const DEFAULT_STORE = 'sqlite:.warden/warden.db';

/** `--db`, parsed when the arguments are read, so a bad value is a usage error before any work. */
function dbOption(): Option {
  return new Option('--db <url>', 'store: sqlite:PATH')
    .argParser((url: string) => {
      try {
        return parseStoreLocation(url);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message);
      }
    })
    .default(parseStoreLocation(DEFAULT_STORE), DEFAULT_STORE);
}

export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  /** Wraps a verb: its result is the exit code; a CliError becomes a message and its code. */
  const run =
    <A extends unknown[]>(action: (...args: A) => number | Promise<number>) =>
    async (...args: A): Promise<void> => {
      try {
        setExit(await action(...args));
      } catch (error) {
        if (!(error instanceof CliError)) throw error;
        io.err(`warden: ${error.message}`);
        setExit(error.exitCode);
      }
    };

  const program = new Command('warden')
    .description('Warden: a governance gateway for autonomous AI agents')
    .showHelpAfterError()
    .exitOverride();
  program.configureOutput({
    writeOut: (s) => {
      io.out(s.trimEnd());
    },
    writeErr: (s) => {
      io.err(s.trimEnd());
    },
  });

  const policy = program.command('policy').description('check, test and explain policy files');
  policy
    .command('lint')
    .description('validate policy files; prints every problem as file:line:col')
    .argument('<files...>', 'policy YAML files')
    .action(run((files: string[]) => lintCommand(io, files)));
  policy
    .command('test')
    .description('run policy test cases; prints failing cases and "N passed, N failed"')
    .argument('<cases...>', 'case files (YAML with a top-level cases: list)')
    .option('--policy <file>', 'policy to test (default: the case file\'s "policy:" path)')
    .option('-v, --verbose', 'print every case, not only failures')
    .action(
      run((cases: string[], options: { policy?: string; verbose?: boolean }) =>
        testCommand(io, cases, options),
      ),
    );
  const evalOptions = (command: Command): Command =>
    command
      .requiredOption('--policy <file>', 'policy YAML file')
      .requiredOption('--request <file>', 'request JSON file (job fields of the spec, §3)')
      .option('--agent <file>', 'agent profile JSON file')
      .option('--now <iso>', 'decision time (ISO-8601)')
      .option('--counters <json>', 'throttle counters, e.g. {"rule-id": 20}');
  evalOptions(
    policy.command('eval').description('print the decision for one request as JSON'),
  ).action(run((options: Parameters<typeof evalCommand>[1]) => evalCommand(io, options)));
  evalOptions(
    policy.command('explain').description('show, rule by rule, why a request gets its decision'),
  ).action(run((options: Parameters<typeof explainCommand>[1]) => explainCommand(io, options)));
  policy
    .command('diff')
    .description('list the cases whose decision changes between two policies')
    .argument('<old>', 'current policy')
    .argument('<new>', 'proposed policy')
    .requiredOption('--cases <file>', 'case file whose requests are compared')
    .option('--exit-code', 'exit 1 when any decision changes')
    .action(
      run((oldPath: string, newPath: string, options: { cases: string; exitCode?: boolean }) =>
        diffCommand(io, oldPath, newPath, options),
      ),
    );
  const audit = program.command('audit').description('verify and export the audit trail');
  audit
    .command('verify')
    .description('check the hash chain; prints the first bad sequence number, exit 1 if broken')
    .addOption(dbOption())
    .action(run((options: { db: StoreLocation }) => auditVerifyCommand(io, options)));
  audit
    .command('export')
    .description('write audit events as JSON Lines')
    .requiredOption('--to <file>', 'output file (.jsonl)')
    .option('--since <iso>', 'only events at or after this time')
    .addOption(dbOption())
    .action(
      run((options: { db: StoreLocation; to: string; since?: string }) =>
        auditExportCommand(io, options),
      ),
    );
  const keys = program.command('keys').description('manage API keys in the store');
  keys
    .command('create')
    .description('create a key; prints the secret once')
    .requiredOption('--name <name>', 'what the key is for')
    .requiredOption('--tenant <tenant>', 'tenant id, or * for all tenants')
    .requiredOption('--roles <roles>', 'comma-separated: agent, worker, approver, admin, auditor')
    .addOption(dbOption())
    .action(
      run((options: { db: StoreLocation; name: string; tenant: string; roles: string }) =>
        keysCreateCommand(io, options),
      ),
    );
  keys
    .command('list')
    .description('list keys (never their secrets)')
    .addOption(dbOption())
    .action(run((options: { db: StoreLocation }) => keysListCommand(io, options)));
  keys
    .command('revoke')
    .description('revoke a key by id')
    .argument('<id>', 'key id (key_...)')
    .addOption(dbOption())
    .action(
      run((id: string, options: { db: StoreLocation }) => keysRevokeCommand(io, id, options)),
    );
  program
    .command('serve')
    .description('run the gateway')
    .option('--dev', 'no API keys, principal "dev" with all roles (loopback only)')
    .option('--policy <file>', 'policy YAML file', 'examples/policies/seed.yaml')
    .option('--port <port>', 'port to listen on', '8081')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .addOption(dbOption())
    .option(
      '--synchronous <mode>',
      'SQLite durability: NORMAL (process crash) or FULL (power loss)',
    )
    .action(
      run(async (options: Parameters<typeof serveCommand>[1]) => {
        const gateway = await serveCommand(io, options);
        // Serve until asked to stop, then close cleanly: exit code 0.
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await gateway.close();
        return 0;
      }),
    );
  return program;
}

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    const code = (error as { exitCode?: unknown }).exitCode;
    if (typeof code === 'number') return code === 0 ? 0 : EXIT_USAGE;
    throw error;
  }
  return exitCode;
}
