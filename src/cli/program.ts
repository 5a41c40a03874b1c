/**
 * The `warden` command tree. Each verb lives in its own module and returns an exit code; this
 * file parses arguments and maps failures to messages. No side effects on import.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { parseBusLocation } from '../main/bus-location.js';
import { DEFAULT_LOG_LEVEL, LOG_LEVELS } from '../main/logging.js';
import { parseStoreLocation } from '../main/store-location.js';
import type { StoreLocation } from '../main/store-location.js';
import { approvalsListCommand, approvalsResolveCommand } from './approval-commands.js';
import type { ApprovalsListOptions, ResolveOptions } from './approval-commands.js';
import { auditExportCommand, auditPublicKeyCommand, auditVerifyCommand } from './audit-commands.js';
import type { AuditVerifyOptions } from './audit-commands.js';
import type { AuditExportOptions } from './audit-export.js';
import { DEFAULT_GATEWAY_URL } from './http-client.js';
import {
  jobsCancelCommand,
  jobsGetCommand,
  jobsListCommand,
  jobsSubmitCommand,
} from './job-commands.js';
import type { GatewayOptions, GetOptions, ListOptions, SubmitOptions } from './job-commands.js';
import { doctorCommand } from './doctor-command.js';
import { keysCreateCommand, keysListCommand, keysRevokeCommand } from './key-commands.js';
import { serveCommand } from './serve-command.js';
import { workerCommand } from './worker-command.js';
import type { WorkerCommandOptions } from './worker-command.js';
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

/** `--bus`, parsed when the arguments are read, like `--db`. */
function busOption(): Option {
  return new Option(
    '--bus <url>',
    'where allowed jobs are dispatched: memory, or nats://HOST:PORT[?stream=NAME&prefix=P]',
  )
    .default(parseBusLocation('memory'), 'memory')
    .argParser((value: string) => {
      try {
        return parseBusLocation(value);
      } catch (error) {
        throw new InvalidArgumentError((error as Error).message);
      }
    });
}

/** Collects a repeatable option's values in the order given. */
function repeatable(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Where the gateway is and which key to present: the options of every verb that calls it. */
function gatewayOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--url <url>', 'gateway base URL').env('WARDEN_URL').default(DEFAULT_GATEWAY_URL),
    )
    .addOption(
      new Option('--key <key>', 'API key (wdn_...); none is needed by a dev-mode gateway').env(
        'WARDEN_KEY',
      ),
    )
    .option('--json', "print the gateway's JSON response instead of a summary");
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
    .description(
      'check the hash chain and its signed checkpoints; prints the first bad sequence number, ' +
        'exit 1 if broken or if checkpoints cannot be checked',
    )
    .addOption(dbOption())
    .addOption(
      new Option(
        '--key <file>',
        'audit signing key whose public half checks the checkpoints (default: audit-signing.key beside the database)',
      ).conflicts('publicKey'),
    )
    .option('--public-key <file>', 'PEM public key to check the checkpoints with')
    .option(
      '--checkpoints <file>',
      'checkpoint witness file (default: audit-checkpoints.jsonl beside the key)',
    )
    .option('--skip-checkpoints', 'check the hash chain alone, ignoring signed checkpoints')
    .action(run((options: AuditVerifyOptions) => auditVerifyCommand(io, options)));
  audit
    .command('public-key')
    .description("print the audit signing key's public half (PEM), for auditors")
    .option('--key <file>', 'audit signing key (default: audit-signing.key beside the database)')
    .addOption(dbOption())
    .action(
      run((options: { db: StoreLocation; key?: string }) => auditPublicKeyCommand(io, options)),
    );
  audit
    .command('export')
    .description(
      'write audit events as JSON Lines in seq order (--to), or forward them to a SIEM over ' +
        'HTTP from a durable cursor until caught up (--forward)',
    )
    .option('--to <file>', 'output file (.jsonl), written whole or not at all; - for stdout')
    .option('--since <iso>', 'only events at or after this time (ISO-8601)')
    .option('--until <iso>', 'only events before this time (ISO-8601)')
    .option('--type <type>', 'only events of this type, e.g. job.decided')
    .option('--tenant <tenant>', 'only events of this tenant')
    .option('--forward <url>', 'POST batches of JSON Lines to this http(s) URL')
    .option(
      '--header <header>',
      "'Name: value' sent with --forward; repeat for several",
      repeatable,
    )
    .option('--cursor <name>', 'durable cursor --forward resumes from (default: siem)')
    .option('--batch-size <n>', 'events per --forward request (default 500)')
    .option('--timeout-ms <n>', 'per --forward request (default 10000)')
    .addOption(dbOption())
    .action(run((options: AuditExportOptions) => auditExportCommand(io, options)));
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
  const jobs = program
    .command('jobs')
    .description('submit, read, list and cancel jobs through a running gateway');
  gatewayOptions(
    jobs
      .command('submit')
      .description('submit a job; exits 0 whenever the gateway decided it, DENIED included')
      .argument('[request]', 'request JSON file (job fields of the spec, §3), or - for stdin')
      .option('--topic <topic>', 'action name, e.g. job.mcp-bridge.write.update_ticket')
      .option('--tenant <tenant>', 'tenant id')
      .option('--agent <agent>', 'id of the agent acting')
      .option('--risk-tag <tag>', 'risk tag; repeat for several', repeatable)
      .option('--label <key=value>', 'label; repeat for several', repeatable)
      .option('--payload <json>', "the action's arguments, as JSON")
      .option('--idempotency-key <key>', 'same key and content give the same job')
      .option('--trace-id <id>', 'trace id (else generated by the gateway)')
      .option('--inline', 'dispatch inline: the caller runs the job once cleared'),
  ).action(
    run((request: string | undefined, options: SubmitOptions) =>
      jobsSubmitCommand(io, request, options),
    ),
  );
  gatewayOptions(
    jobs
      .command('get')
      .description('show one job: state, decision, rule, reason')
      .argument('<job_id>', 'job id')
      .option('--wait <seconds>', 'wait up to this long for the job to reach a terminal state'),
  ).action(run((jobId: string, options: GetOptions) => jobsGetCommand(io, jobId, options)));
  gatewayOptions(
    jobs
      .command('list')
      .description('list jobs, oldest first, one line each, then the next cursor')
      .option('--state <state>', 'only jobs in this state, e.g. APPROVAL_REQUIRED')
      .option('--topic <topic>', 'only jobs with this topic')
      .option('--cursor <cursor>', 'continue after this cursor (from the previous page)')
      .option('--limit <n>', 'jobs per page (gateway default 50)'),
  ).action(run((options: ListOptions) => jobsListCommand(io, options)));
  gatewayOptions(
    jobs
      .command('cancel')
      .description('cancel a job that has not finished')
      .argument('<job_id>', 'job id'),
  ).action(run((jobId: string, options: GatewayOptions) => jobsCancelCommand(io, jobId, options)));
  const approvals = program
    .command('approvals')
    .description(
      'review, approve and reject actions waiting for a human, through a running gateway',
    );
  gatewayOptions(
    approvals
      .command('list')
      .description('list pending approvals, oldest first, then the next cursor if there is one')
      .option('--all', 'include resolved and expired approvals')
      .option('--topic <topic>', 'only approvals with this topic')
      .option('--agent <agent>', 'only approvals for this agent id')
      .option('--tenant <tenant>', 'only approvals of this tenant')
      .option('--cursor <cursor>', 'continue after this cursor (from the previous page)')
      .option('--limit <n>', 'approvals per page (gateway default 50)'),
  ).action(run((options: ApprovalsListOptions) => approvalsListCommand(io, options)));
  for (const decision of ['approve', 'reject'] as const) {
    gatewayOptions(
      approvals
        .command(decision)
        .description(
          `show what would run, ask for confirmation, then ${decision}` +
            (decision === 'approve' ? ' (bound to the job hash shown)' : ''),
        )
        .argument('<job_id>', 'job id')
        .option('--note <text>', 'note recorded with the resolution')
        .option('-y, --yes', 'do not ask; required when stdin is not a terminal'),
    ).action(
      run((jobId: string, options: ResolveOptions) =>
        approvalsResolveCommand(io, decision, jobId, options),
      ),
    );
  }
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
    .option('--config <file>', 'server config YAML: approval queue bounds and notifications')
    .addOption(busOption())
    .addOption(
      new Option('--log-level <level>', 'JSON logs on stdout, secrets redacted; silent: none')
        .choices(LOG_LEVELS)
        .env('WARDEN_LOG_LEVEL')
        .default(DEFAULT_LOG_LEVEL),
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
  gatewayOptions(
    program
      .command('doctor')
      .description(
        'the governance checklist of a running gateway: every dispatch calls policy, approval ' +
          'queue bounded, fail mode explicit, audit queryable and verified; exits 1 if one fails',
      ),
  ).action(run((options: GatewayOptions) => doctorCommand(io, options)));
  program
    .command('worker')
    .description(
      'run CMD for each leased job: payload JSON on stdin, output from stdout; path and host ' +
        'constraints are checked against the arguments first',
    )
    .usage('--topics <glob...> [options] -- CMD [ARGS...]')
    .requiredOption('--topics <glob...>', 'topic globs to lease (* within a segment, ** across)')
    .addOption(
      new Option('--url <url>', 'gateway base URL').env('WARDEN_URL').default(DEFAULT_GATEWAY_URL),
    )
    .addOption(new Option('--key <key>', 'API key with the worker role').env('WARDEN_KEY'))
    .option('--concurrency <n>', 'jobs run at once', '1')
    .option('--lease-sec <n>', 'lease length in seconds; heartbeats every third of it', '30')
    .argument('<command...>', 'the command and its arguments, after --')
    .action(
      run((command: string[], options: WorkerCommandOptions) =>
        workerCommand(io, command, options),
      ),
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
