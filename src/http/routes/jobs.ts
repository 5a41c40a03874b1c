/**
 * `/api/v1/jobs`: submit, read, list, cancel. Thin: parse, authorise by role, call the use case,
 * shape the response.
 */
import type { FastifyInstance } from 'fastify';
import type { JobService } from '../../app/jobs.js';
import type { JobRecord } from '../../core/jobs/job.js';
import type { JobBodyRules } from '../limits.js';
import {
  ErrorBody,
  JobGetQuery,
  JobList,
  JobListQuery,
  JobParams,
  JobView,
  SubmitResponse,
} from '../schemas.js';
import type { JobSubmitBody } from '../schemas.js';
import { requireRole } from '../../core/model/principal.js';
import { principalOf } from '../auth.js';

export function submitView(job: JobRecord): Record<string, unknown> {
  return {
    job_id: job.job_id,
    trace_id: job.trace_id,
    state: job.state,
    job_hash: job.job_hash,
    decision: job.decision,
  };
}

export function jobRoutes(app: FastifyInstance, jobs: JobService, jobBody: JobBodyRules): void {
  app.post<{ Body: JobSubmitBody }>(
    '/api/v1/jobs',
    {
      schema: {
        summary: 'Submit an action; it is decided and recorded before the response',
        tags: ['jobs'],
        body: jobBody.schema,
        response: { 200: SubmitResponse, 201: SubmitResponse, '4xx': ErrorBody, '5xx': ErrorBody },
      },
      preHandler: jobBody.preHandler,
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireRole(principal, 'agent', 'admin');
      const traceparent = request.headers['traceparent'];
      const result = await jobs.submit(
        request.body,
        principal,
        typeof traceparent === 'string' ? traceparent : undefined,
      );
      if (result.fail_open !== undefined) {
        return reply.code(201).send({ ...submitView(result.job), fail_open: result.fail_open });
      }
      return reply.code(result.created ? 201 : 200).send(submitView(result.job));
    },
  );

  app.get<{ Params: JobParams; Querystring: JobGetQuery }>(
    '/api/v1/jobs/:job_id',
    {
      schema: {
        summary: 'One job: state, decision, constraints',
        description:
          'With `wait_for=terminal&wait=N`, answers once the job is terminal or after N seconds, ' +
          'whichever comes first; the state tells which.',
        tags: ['jobs'],
        params: JobParams,
        querystring: JobGetQuery,
        response: { 200: JobView, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, 'agent', 'approver', 'auditor', 'admin');
      const { wait_for: waitFor, wait } = request.query;
      if (waitFor === 'terminal' && wait !== undefined && wait > 0) {
        return jobs.waitForTerminal(request.params.job_id, principal, wait);
      }
      return jobs.get(request.params.job_id, principal);
    },
  );

  app.get<{ Querystring: JobListQuery }>(
    '/api/v1/jobs',
    {
      schema: {
        summary: 'List jobs, oldest first, with filters and a cursor',
        tags: ['jobs'],
        querystring: JobListQuery,
        response: { 200: JobList, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, 'agent', 'auditor', 'admin');
      const { state, topic, cursor, limit } = request.query;
      return jobs.list(principal, {
        limit: limit ?? 50,
        ...(state === undefined ? {} : { state }),
        ...(topic === undefined ? {} : { topic }),
        ...(cursor === undefined ? {} : { cursor }),
      });
    },
  );

  app.post<{ Params: JobParams }>(
    '/api/v1/jobs/:job_id/cancel',
    {
      schema: {
        summary: 'Cancel a job that has not finished',
        tags: ['jobs'],
        params: JobParams,
        response: { 200: JobView, '4xx': ErrorBody, '5xx': ErrorBody },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      requireRole(principal, 'agent', 'admin');
      return jobs.cancel(request.params.job_id, principal);
    },
  );
}
