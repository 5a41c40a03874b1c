/**
 * The job hash (§3): binds approvals and dispatch to exactly what will run. Lowercase hex SHA-256
 * of the RFC 8785 canonical JSON of the action's identity; absent optional fields are omitted.
 */
import { WardenError } from '../errors.js';
import { canonicalJson } from '../hash/jcs.js';
import { sha256Hex } from '../hash/sha256.js';
import { DEFAULT_TENANT } from '../model/request.js';
import type { JobRequest } from '../model/request.js';
import type { JobRecord } from './job.js';

/** The fields the hash covers: everything that changes what the action does or who asks. */
export function jobHashInput(job: JobRequest): Record<string, unknown> {
  const input: Record<string, unknown> = {
    topic: job.topic,
    tenant_id: job.tenant_id ?? DEFAULT_TENANT,
    risk_tags: [...new Set(job.risk_tags ?? [])].sort(),
    labels: job.labels ?? {},
  };
  if (job.agent_id !== undefined) input['agent_id'] = job.agent_id;
  if (job.principal !== undefined) input['principal'] = job.principal;
  if (job.payload !== undefined) input['payload'] = job.payload;
  return input;
}

/**
 * Any SHA-256 gives the same hash; the gateway passes the native one for speed.
 * Throws WARDEN_VALIDATION for a request JSON cannot carry exactly: a number such as `1e999`
 * parses to Infinity, which has no canonical form, so no hash could bind it.
 */
export function jobHash(job: JobRequest, sha256: (text: string) => string = sha256Hex): string {
  let canonical: string;
  try {
    canonical = canonicalJson(jobHashInput(job));
  } catch (error) {
    throw new WardenError(
      'WARDEN_VALIDATION',
      'the request holds a number outside the range JSON can carry exactly (such as 1e999); send it as a string',
      { reason: error instanceof Error ? error.message : String(error) },
    );
  }
  return sha256(canonical);
}

/** The request a stored job stands for: what its hash is recomputed from, and re-evaluated. */
export function requestOfJob(job: JobRecord): JobRequest {
  return {
    topic: job.topic,
    tenant_id: job.tenant_id,
    principal: job.principal,
    risk_tags: job.risk_tags,
    labels: job.labels,
    dispatch: job.dispatch,
    ...(job.agent_id === null ? {} : { agent_id: job.agent_id }),
    ...(job.payload === undefined ? {} : { payload: job.payload }),
  };
}

/** Whether a stored job still hashes to the hash it was decided (and approved) under. */
export function bindingHolds(job: JobRecord, sha256?: (text: string) => string): boolean {
  try {
    return jobHash(requestOfJob(job), sha256) === job.job_hash;
  } catch {
    return false;
  }
}
