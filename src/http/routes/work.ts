/**
 * Work endpoints (§7, §8, §12): workers lease jobs, heartbeat and report results; inline callers
 * claim their cleared jobs; approvers release or discard quarantined outputs; the dead-letter
 * list and its retries. Thin: parse, call the use case, shape the response.
 */
import type { FastifyInstance } from 'fastify';
import type { DeadLetterService } from '../../app/dead-letters.js';
import { DEFAULT_LEASE_SEC } from '../../app/work.js';
import type { WorkService } from '../../app/work.js';
import { principalOf } from '../auth.js';
import { submitView } from './jobs.js';
import {
  ClaimBody,
  DeadLetterList,
  DeadLetterResponse,
  ErrorBody,
  HeartbeatBody,
  HeartbeatResponse,
  JobParams,
  JobView,
  LeaseBody,
  LeaseResponse,
  NoteBody,
  PageQuery,
  ResultBody,
  SubmitResponse,
} from '../schemas.js';

const errors = { '4xx': ErrorBody, '5xx': ErrorBody } as const;

export function workRoutes(app: FastifyInstance, work: WorkService): void {
  app.post<{ Body: LeaseBody }>(
    '/api/v1/workers/lease',
    {
      schema: {
        summary: 'Lease jobs by topic glob, waiting up to `wait` seconds for one',
        description:
          'Each leased job carries its constraints and deadline. Heartbeat before `lease_expires_at` ' +
          '(POST /jobs/{job_id}/heartbeat); an expired lease returns the job to the queue and counts ' +
          'an attempt. Report with POST /jobs/{job_id}/result and the lease id.',
        tags: ['workers'],
        body: LeaseBody,
        response: { 200: LeaseResponse, ...errors },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      // A client that goes away stops its wait, so its jobs are not leased to nobody.
      const gone = new AbortController();
      request.raw.once('close', () => {
        gone.abort();
      });
      const { topics, wait, max, lease_sec: leaseSec } = request.body;
      const items = await work.lease(principal, {
        topics,
        wait_sec: wait ?? 0,
        max: max ?? 1,
        lease_sec: leaseSec ?? DEFAULT_LEASE_SEC,
        signal: gone.signal,
      });
      return { items };
    },
  );

  app.post<{ Params: JobParams; Body: HeartbeatBody }>(
    '/api/v1/jobs/:job_id/heartbeat',
    {
      schema: {
        summary: 'Extend a lease; `cancel: true` tells the worker to stop',
        tags: ['workers'],
        params: JobParams,
        body: HeartbeatBody,
        response: { 200: HeartbeatResponse, ...errors },
      },
    },
    async (request) => {
      const { lease_id: leaseId, lease_sec: leaseSec } = request.body;
      return work.heartbeat(
        request.params.job_id,
        principalOf(request),
        leaseId,
        leaseSec ?? DEFAULT_LEASE_SEC,
      );
    },
  );

  app.post<{ Params: JobParams; Body: ResultBody }>(
    '/api/v1/jobs/:job_id/result',
    {
      schema: {
        summary: 'Report an outcome: output safety runs, then the job reaches its next state',
        description:
          'A failure is retried while `max_retries` allows (bus jobs), then dead-lettered. A success ' +
          'is checked against `max_output_bytes` and the output rules: the stored (and returned) ' +
          'output is redacted where a rule says so; `quarantine` holds it for an approver; `block` ' +
          'fails the job.',
        tags: ['jobs', 'workers'],
        params: JobParams,
        body: ResultBody,
        response: { 200: JobView, ...errors },
      },
      // The output is what the action produced: bounded by the body limit and the job's
      // `max_output_bytes`, not by the per-string limit, so a long output does not strand the job.
      config: { longStrings: true },
    },
    async (request) => {
      const { status, output, error, retryable, lease_id: leaseId } = request.body;
      return work.report(request.params.job_id, principalOf(request), {
        status,
        ...(output === undefined ? {} : { output }),
        ...(error === undefined ? {} : { error }),
        ...(retryable === undefined ? {} : { retryable }),
        ...(leaseId === undefined ? {} : { lease_id: leaseId }),
      });
    },
  );

  app.post<{ Params: JobParams; Body: ClaimBody }>(
    '/api/v1/jobs/:job_id/claim',
    {
      schema: {
        summary: 'Inline mode: start running a cleared job (send the job hash you were given)',
        tags: ['jobs'],
        params: JobParams,
        body: ClaimBody,
        response: { 200: JobView, ...errors },
      },
    },
    async (request) =>
      work.claim(request.params.job_id, principalOf(request), request.body.job_hash),
  );

  for (const [action, release] of [
    ['release', true],
    ['discard', false],
  ] as const) {
    app.post<{ Params: JobParams; Body: NoteBody }>(
      `/api/v1/jobs/:job_id/${action}`,
      {
        schema: {
          summary: release
            ? 'Release a quarantined output: the job SUCCEEDS with it'
            : 'Discard a quarantined output: the job FAILS and the output is dropped',
          tags: ['jobs', 'approvals'],
          params: JobParams,
          body: NoteBody,
          response: { 200: JobView, ...errors },
        },
      },
      async (request) =>
        work.resolveQuarantine(
          request.params.job_id,
          principalOf(request),
          release,
          request.body.note ?? '',
        ),
    );
  }
}

export function deadLetterRoutes(app: FastifyInstance, deadLetters: DeadLetterService): void {
  app.get<{ Querystring: { cursor?: string; limit?: number } }>(
    '/api/v1/dead-letters',
    {
      schema: {
        summary: 'Jobs whose attempts ran out, with all their governance metadata',
        tags: ['jobs'],
        querystring: PageQuery(64),
        response: { 200: DeadLetterList, ...errors },
      },
    },
    async (request) => {
      const { cursor, limit } = request.query;
      return deadLetters.list(principalOf(request), {
        limit: limit ?? 50,
        ...(cursor === undefined ? {} : { cursor }),
      });
    },
  );

  app.get<{ Params: JobParams }>(
    '/api/v1/dead-letters/:job_id',
    {
      schema: {
        summary: 'One dead letter',
        tags: ['jobs'],
        params: JobParams,
        response: { 200: DeadLetterResponse, ...errors },
      },
    },
    async (request) => deadLetters.get(request.params.job_id, principalOf(request)),
  );

  app.post<{ Params: JobParams }>(
    '/api/v1/dead-letters/:job_id/retry',
    {
      schema: {
        summary: 'Retry a dead letter: a new job with the same request, decided by policy again',
        tags: ['jobs'],
        params: JobParams,
        response: { 201: SubmitResponse, ...errors },
      },
    },
    async (request, reply) => {
      const job = await deadLetters.retry(request.params.job_id, principalOf(request));
      return reply.code(201).send(submitView(job));
    },
  );
}
