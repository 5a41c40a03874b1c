/**
 * `warden jobs submit|get|list|cancel`: act on jobs through a running gateway over HTTP, as an
 * agent or operator holding an API key would. Unlike `keys` and `audit`, these never open the
 * store file: a job exists only once the gateway has decided and recorded it (§3).
 *
 * Flags are checked here, before any request, so a typo is a usage error (exit 2) rather than a
 * round trip; everything else about the request is validated by the gateway, the one authority.
 */
import { text } from 'node:stream/consumers';
import type { JobPage } from '../app/jobs.js';
import type { JobRecord } from '../core/jobs/job.js';
import { JOB_STATES } from '../core/jobs/states.js';
import type { Decision } from '../core/model/decision.js';
import { GatewayClient, isJsonObject } from './http-client.js';
import { CliError, EXIT_OK, parseCount, readJson } from './io.js';
import type { CliIo } from './io.js';

/** Options shared by every `jobs` verb. */
export interface GatewayOptions {
  readonly url: string;
  readonly key?: string;
  /** Print the gateway's JSON response instead of a summary. */
  readonly json?: boolean;
}

export interface SubmitOptions extends GatewayOptions {
  readonly topic?: string;
  readonly tenant?: string;
  readonly agent?: string;
  readonly riskTag?: readonly string[];
  readonly label?: readonly string[];
  readonly payload?: string;
  readonly idempotencyKey?: string;
  readonly traceId?: string;
  readonly inline?: boolean;
}

export interface GetOptions extends GatewayOptions {
  readonly wait?: string;
}

export interface ListOptions extends GatewayOptions {
  readonly state?: string;
  readonly topic?: string;
  readonly cursor?: string;
  readonly limit?: string;
}

/** What `POST /jobs` answers (§12); the other verbs answer whole jobs. */
type SubmitView = Pick<JobRecord, 'job_id' | 'trace_id' | 'state' | 'job_hash' | 'decision'>;

/** `source` is a request JSON file, `-` for stdin, or absent when flags say everything. */
export async function jobsSubmitCommand(
  io: CliIo,
  source: string | undefined,
  options: SubmitOptions,
): Promise<number> {
  // Flags are parsed first, so a mistyped flag is reported without waiting on stdin.
  const flags = parseRequestFlags(options);
  const fromSource = source === undefined ? {} : await readRequest(source);
  const request = mergeRequest(fromSource, flags);
  // The gateway's response schema (src/http/schemas.ts) is the contract these casts rely on.
  const submitted = (await client(options).post('/api/v1/jobs', request)) as SubmitView;
  if (options.json === true) printJson(io, submitted);
  else printJob(io, submitted);
  // A DENIED (or throttled, or held) job is a decision, not a failure (§12).
  return EXIT_OK;
}

export async function jobsGetCommand(
  io: CliIo,
  jobId: string,
  options: GetOptions,
): Promise<number> {
  const query =
    options.wait === undefined
      ? {}
      : { wait_for: 'terminal', wait: String(parseCount(options.wait, '--wait', 0)) };
  const job = (await client(options).get(jobPath(jobId), query)) as JobRecord;
  if (options.json === true) printJson(io, job);
  else printJob(io, job);
  return EXIT_OK;
}

export async function jobsListCommand(io: CliIo, options: ListOptions): Promise<number> {
  const query = {
    state: options.state === undefined ? undefined : parseState(options.state),
    topic: options.topic,
    cursor: options.cursor,
    limit:
      options.limit === undefined ? undefined : String(parseCount(options.limit, '--limit', 1)),
  };
  const page = (await client(options).get('/api/v1/jobs', query)) as JobPage;
  if (options.json === true) {
    printJson(io, page);
    return EXIT_OK;
  }
  for (const job of page.items) {
    io.out(
      `${job.job_id}  ${job.state}  ${job.decision.type}  ${ruleOf(job.decision)}  ${job.topic}`,
    );
  }
  io.out(`${page.items.length} jobs, next cursor: ${page.next_cursor ?? 'none'}`);
  return EXIT_OK;
}

export async function jobsCancelCommand(
  io: CliIo,
  jobId: string,
  options: GatewayOptions,
): Promise<number> {
  const job = (await client(options).post(`${jobPath(jobId)}/cancel`)) as JobRecord;
  if (options.json === true) printJson(io, job);
  else printJob(io, job);
  return EXIT_OK;
}

function client(options: GatewayOptions): GatewayClient {
  return new GatewayClient({ url: options.url, key: options.key });
}

function jobPath(jobId: string): string {
  return `/api/v1/jobs/${encodeURIComponent(jobId)}`;
}

async function readRequest(source: string): Promise<Record<string, unknown>> {
  const where = source === '-' ? 'request on stdin' : `request file ${source}`;
  const parsed =
    source === '-' ? parseJson(await text(process.stdin), where) : readJson(source, 'request file');
  if (!isJsonObject(parsed)) throw new CliError(`${where} must be a JSON object`);
  return parsed;
}

/** What the submit flags say, parsed; applied on top of the request file by `mergeRequest`. */
interface RequestFlags {
  readonly fields: Readonly<Record<string, unknown>>;
  readonly riskTags: readonly string[] | undefined;
  readonly labels: Readonly<Record<string, string>> | undefined;
}

function parseRequestFlags(options: SubmitOptions): RequestFlags {
  const fields: Record<string, unknown> = {};
  const given: Readonly<Record<string, string | undefined>> = {
    topic: options.topic,
    tenant_id: options.tenant,
    agent_id: options.agent,
    idempotency_key: options.idempotencyKey,
    trace_id: options.traceId,
  };
  for (const [field, value] of Object.entries(given))
    if (value !== undefined) fields[field] = value;
  if (options.payload !== undefined) fields['payload'] = parseJson(options.payload, '--payload');
  if (options.inline === true) fields['dispatch'] = 'inline';
  return {
    fields,
    riskTags: options.riskTag,
    labels:
      options.label === undefined ? undefined : Object.fromEntries(options.label.map(parseLabel)),
  };
}

/**
 * Flags override the request's fields; `--label` and `--risk-tag` add to the request's labels and
 * tags instead of replacing them, as the gateway itself only ever adds tags (§3).
 */
function mergeRequest(
  fromSource: Readonly<Record<string, unknown>>,
  flags: RequestFlags,
): Record<string, unknown> {
  const request: Record<string, unknown> = { ...fromSource, ...flags.fields };
  if (flags.riskTags !== undefined) {
    const fileTags: readonly unknown[] = Array.isArray(fromSource['risk_tags'])
      ? fromSource['risk_tags']
      : [];
    request['risk_tags'] = [...new Set([...fileTags, ...flags.riskTags])];
  }
  if (flags.labels !== undefined) {
    const fileLabels = isJsonObject(fromSource['labels']) ? fromSource['labels'] : {};
    request['labels'] = { ...fileLabels, ...flags.labels };
  }
  if (request['topic'] === undefined)
    throw new CliError('a job needs a topic: pass --topic, or a request file with "topic"');
  return request;
}

function parseLabel(text: string): [string, string] {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new CliError(`--label "${text}" must be key=value, e.g. mcp.action=write`);
  return [text.slice(0, equals), text.slice(equals + 1)];
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new CliError(`${what} is not valid JSON: ${(error as Error).message}`);
  }
}

function parseState(text: string): string {
  const state = text.toUpperCase();
  if (!(JOB_STATES as readonly string[]).includes(state))
    throw new CliError(`--state "${text}" is not a job state; one of: ${JOB_STATES.join(', ')}`);
  return state;
}

function ruleOf(decision: Decision): string {
  return decision.rule_id ?? '(default)';
}

function printJob(io: CliIo, job: SubmitView | JobRecord): void {
  io.out(`job ${job.job_id}  ${job.state}`);
  if ('topic' in job) {
    io.out(`topic ${job.topic}  tenant ${job.tenant_id}  agent ${job.agent_id ?? '-'}`);
  }
  io.out(`decision ${job.decision.type}  rule ${ruleOf(job.decision)}`);
  io.out(`reason: ${job.decision.reason}`);
  io.out(`trace ${job.trace_id}`);
}

function printJson(io: CliIo, body: unknown): void {
  io.out(JSON.stringify(body, null, 2));
}
