/**
 * `warden approvals list|approve|reject`: the human side of approvals (§5), through a running
 * gateway over HTTP, as an approver holding an API key would. Like `jobs`, these never open the
 * store file: who may resolve what, quorum, expiry and the job-hash binding are the gateway's to
 * decide; this module only shows the approval and asks.
 *
 * INVARIANT: approve and reject send nothing until the approval, as the gateway returned it, has
 * been printed and a human answered yes (or passed --yes). Approve sends back the job hash that was
 * printed, so the gateway refuses (409 WARDEN_JOB_HASH_MISMATCH) a job that is not the one shown.
 */
import { createInterface } from 'node:readline/promises';
import type { ApprovalPage, ApprovalView } from '../app/approvals.js';
import type { ResolutionDecision } from '../core/approvals/approval.js';
import { GatewayClient } from './http-client.js';
import { CliError, EXIT_FAILED, EXIT_OK, parseCount } from './io.js';
import type { CliIo } from './io.js';
import type { GatewayOptions } from './job-commands.js';

export interface ApprovalsListOptions extends GatewayOptions {
  /** Include resolved and expired approvals, not only pending ones. */
  readonly all?: boolean;
  readonly topic?: string;
  readonly agent?: string;
  readonly tenant?: string;
  readonly cursor?: string;
  readonly limit?: string;
}

export interface ResolveOptions extends GatewayOptions {
  readonly note?: string;
  /** Resolve without asking: the only way to resolve when stdin is not a terminal. */
  readonly yes?: boolean;
}

/** Where a human confirms a resolution; injectable so the prompt can be driven in-process. */
export interface Confirmation {
  /** Whether anyone can answer: a prompt on a pipe would read the script's input, or hang. */
  readonly interactive: boolean;
  /** Asks `question`; true only for an explicit yes. */
  ask(question: string): Promise<boolean>;
}

/** The terminal: read from stdin, prompt on stderr so stdout stays the command's output. */
export const terminalConfirmation: Confirmation = {
  get interactive(): boolean {
    // isTTY is typed as always present, but is undefined when stdin is a pipe or a file.
    return (process.stdin.isTTY as boolean | undefined) === true;
  },
  async ask(question: string): Promise<boolean> {
    const terminal = createInterface({ input: process.stdin, output: process.stderr });
    try {
      // Ctrl-C and Ctrl-D close the interface without an answer, which must count as a no.
      const closed = new Promise<null>((resolve) => {
        terminal.once('close', () => {
          resolve(null);
        });
      });
      const answer = await Promise.race([terminal.question(question), closed]);
      return answer !== null && /^y(es)?$/i.test(answer.trim());
    } finally {
      terminal.close();
    }
  },
};

export async function approvalsListCommand(
  io: CliIo,
  options: ApprovalsListOptions,
): Promise<number> {
  const query = {
    include_resolved: options.all === true ? 'true' : undefined,
    topic: options.topic,
    agent_id: options.agent,
    tenant_id: options.tenant,
    cursor: options.cursor,
    limit:
      options.limit === undefined ? undefined : String(parseCount(options.limit, '--limit', 1)),
  };
  // The gateway's response schema (src/http/routes/approvals.ts) is the contract this cast relies on.
  const page = (await client(options).get('/api/v1/approvals', query)) as ApprovalPage;
  if (options.json === true) {
    io.out(JSON.stringify(page, null, 2));
    return EXIT_OK;
  }
  if (page.items.length === 0) {
    io.out(options.all === true ? 'no approvals' : 'no pending approvals');
  } else {
    printTable(io, page.items, Date.now());
  }
  if (page.next_cursor !== null) io.out(`next cursor: ${page.next_cursor}`);
  return EXIT_OK;
}

/**
 * Shows the approval, asks, then approves or rejects it. An approval that is no longer pending is
 * not asked about: the gateway cannot change it, so the request only fetches its 409 and status.
 */
export async function approvalsResolveCommand(
  io: CliIo,
  decision: ResolutionDecision,
  jobId: string,
  options: ResolveOptions,
  confirmation: Confirmation = terminalConfirmation,
): Promise<number> {
  // Checked before any request: a script without --yes must fail at once, never wait on a prompt.
  if (options.yes !== true && !confirmation.interactive) {
    throw new CliError(
      `${decision} asks for confirmation, but stdin is not a terminal: run it in a terminal, or pass --yes to ${decision} without asking`,
    );
  }
  const gateway = client(options);
  const path = `/api/v1/approvals/${encodeURIComponent(jobId)}`;
  const approval = (await gateway.get(path)) as ApprovalView;
  // With --json, stdout carries only the gateway's answer; the human still sees what they resolve.
  const show = (line: string): void => {
    if (options.json === true) io.err(line);
    else io.out(line);
  };
  for (const line of describeApproval(approval, Date.now())) show(line);

  if (approval.status === 'PENDING' && options.yes !== true) {
    const question = `${decision === 'approve' ? 'Approve' : 'Reject'} this action? [y/N] `;
    if (!(await confirmation.ask(question))) {
      throw new CliError('aborted: nothing was sent to the gateway', EXIT_FAILED);
    }
  }
  const note = options.note === undefined ? {} : { note: options.note };
  const body = decision === 'approve' ? { ...note, job_hash: approval.job_hash } : note;
  const resolved = (await gateway.post(`${path}/${decision}`, body)) as ApprovalView;
  if (options.json === true) io.out(JSON.stringify(resolved, null, 2));
  else printOutcome(io, resolved);
  return EXIT_OK;
}

function client(options: GatewayOptions): GatewayClient {
  return new GatewayClient({ url: options.url, key: options.key });
}

const COLUMNS = [
  'JOB ID',
  'AGE',
  'EXPIRES',
  'TOPIC',
  'AGENT',
  'RULE',
  'REQUESTED BY',
  'STATUS',
] as const;

function printTable(io: CliIo, items: readonly ApprovalView[], now: number): void {
  const rows = items.map((a) => [
    shown(a.job_id),
    span(now - Date.parse(a.requested_at)),
    // Only a pending approval still has a deadline that matters.
    a.status === 'PENDING' ? relative(a.expires_at, now) : '-',
    shown(a.topic),
    shown(a.agent_id ?? '-'),
    shown(a.rule_id ?? '(default)'),
    shown(a.requested_by),
    a.status,
  ]);
  const table = [[...COLUMNS], ...rows];
  const widths = COLUMNS.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  for (const row of table) {
    io.out(
      row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  '),
    );
  }
}

/** Everything the approval binds to, so the human resolves exactly what would run. */
function describeApproval(a: ApprovalView, now: number): string[] {
  const approved = approverCount(a);
  const lines = [
    `approval ${shown(a.job_id)}  ${a.status}`,
    `topic         ${shown(a.topic)}`,
    `tenant        ${shown(a.tenant_id)}`,
    `agent         ${shown(a.agent_id ?? '-')}`,
    `requested by  ${shown(a.requested_by)} at ${a.requested_at} (${relative(a.requested_at, now)})`,
    `rule          ${shown(a.rule_id ?? '(default)')}`,
    `reason        ${shown(a.reason)}`,
    `expires       ${a.expires_at} (${relative(a.expires_at, now)})`,
    `quorum        ${a.quorum} approver(s) of role ${a.approver_roles.map(shown).join(' or ')}; ${approved} approved so far`,
  ];
  if (a.closed_reason !== null) lines.push(`closed        ${shown(a.closed_reason)}`);
  for (const r of a.resolutions) {
    const note = r.note === '' ? '' : `: ${shown(r.note)}`;
    lines.push(`  ${r.decision} by ${shown(r.by)} at ${r.at}${note}`);
  }
  lines.push(
    `risk tags     ${a.risk_tags.length === 0 ? '-' : a.risk_tags.map(shown).join(', ')}`,
    `labels        ${formatLabels(a.labels)}`,
  );
  if (a.payload === undefined) lines.push('payload       (none)');
  else lines.push('payload:', ...escapeInvisible(JSON.stringify(a.payload, null, 2)).split('\n'));
  lines.push(`job hash      ${a.job_hash}`, `policy        ${a.policy_snapshot}`);
  return lines;
}

function printOutcome(io: CliIo, a: ApprovalView): void {
  io.out(`approval ${shown(a.job_id)}  ${a.status}`);
  if (a.status === 'PENDING') {
    // A quorum above one: this approval counted, and the action waits for the others.
    io.out(`recorded: ${approverCount(a)} of ${a.quorum} approver(s) so far`);
  } else if (a.closed_reason !== null) {
    io.out(shown(a.closed_reason));
  }
}

function approverCount(a: ApprovalView): number {
  return new Set(a.resolutions.filter((r) => r.decision === 'approve').map((r) => r.by)).size;
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '-';
  return entries.map(([key, value]) => `${shown(key)}=${shown(value)}`).join(', ');
}

/** "in 59m" or "3m ago", from now. */
function relative(iso: string, now: number): string {
  const delta = Date.parse(iso) - now;
  return delta >= 0 ? `in ${span(delta)}` : `${span(-delta)} ago`;
}

/** A duration in its largest whole unit: 45s, 12m, 3h, 2d. */
function span(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h` : `${Math.floor(hours / 24)}d`;
}

/**
 * Characters JSON leaves raw that a terminal acts on or reorders instead of showing: DEL and the
 * C1 controls (CSI is one), bidirectional overrides and isolates, and line separators.
 */
const INVISIBLE = /[\u007f-\u009f\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

function escapeInvisible(json: string): string {
  return json.replace(
    new RegExp(INVISIBLE, 'g'),
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Agent-supplied text as it can safely reach a terminal. Labels, notes and ids come from agents
 * and other users; a control sequence in them could redraw the prompt so the human approves
 * something other than what they read. Such text is shown JSON-quoted, every character visible.
 */
function shown(text: string): string {
  let unsafe = INVISIBLE.test(text);
  // C0 controls (ESC among them) are left to a loop: a regex naming them trips no-control-regex.
  for (let i = 0; i < text.length && !unsafe; i++) unsafe = text.charCodeAt(i) < 0x20;
  return unsafe ? escapeInvisible(JSON.stringify(text)) : text;
}
