/**
 * The HTTP API (§12): builds a Fastify instance from its dependencies. No listening, no globals:
 * the composition root decides where it runs, tests drive it with `inject()`.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { Ajv } from 'ajv';
import Fastify from 'fastify';
import type { FastifyInstance } from 'fastify';
import type { AppServices } from '../app/app-services.js';
import type { Authenticator } from '../ports/authenticator.js';
import { installAuthentication } from './auth.js';
import { frameworkErrors, installErrorHandling } from './error-handler.js';
import { installJsonBodies } from './json-body.js';
import {
  installRequestLimits,
  jobBodyRules,
  resolveRequestLimits,
  serverOptions,
} from './limits.js';
import type { RequestLimits } from './limits.js';
import { DEFAULT_RATE_LIMITS, installRateLimit } from './rate-limit.js';
import type { RateLimits } from './rate-limit.js';
import { agentRoutes } from './routes/agents.js';
import { approvalRoutes } from './routes/approvals.js';
import { auditRoutes } from './routes/audit.js';
import { jobRoutes } from './routes/jobs.js';
import { keyRoutes } from './routes/keys.js';
import { policyRoutes } from './routes/policy.js';
import { governanceRoutes } from './routes/governance.js';
import { deadLetterRoutes, workRoutes } from './routes/work.js';
import { Decision, ErrorBody, JobResultView, JobView } from './schemas.js';

export interface ServerDeps extends AppServices {
  readonly authenticator: Authenticator;
  /** Rejects when the gateway cannot serve (the store does not answer); `/readyz` says 503. */
  readonly ready: () => Promise<void>;
  /** The Prometheus exposition served at `/metrics`. */
  readonly metrics: MetricsEndpoint;
  /**
   * Largest accepted body in bytes (default 1 MiB); `requestLimits.body_bytes` says the same and
   * wins when both are given.
   */
  readonly bodyLimit?: number;
  /** Bounds on each request; each one absent keeps its `DEFAULT_REQUEST_LIMITS` value. */
  readonly requestLimits?: Partial<RequestLimits>;
  /**
   * The rate limit per API key: `DEFAULT_RATE_LIMITS` when absent, none when null (an explicit
   * choice, e.g. for benchmarks).
   */
  readonly rateLimits?: RateLimits | null;
  /** A monotonic clock in milliseconds for the rate limiter (default `performance.now`). */
  readonly now?: () => number;
  /** Pino logger options, or false for none. */
  readonly logger?: boolean | Record<string, unknown>;
}

export interface MetricsEndpoint {
  text(): Promise<string>;
  readonly contentType: string;
}

/**
 * Bodies are validated strictly (no type coercion: `"prod"` is not `["prod"]`); query strings and
 * path parameters arrive as text, so only they are coerced to the declared types.
 */
function installValidation(app: FastifyInstance, limits: RequestLimits): void {
  const options = {
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
    strict: false,
  } as const;
  const strict = new Ajv({ ...options, coerceTypes: false });
  const coercing = new Ajv({ ...options, coerceTypes: 'array' });
  for (const schema of [Decision, JobResultView, JobView, ErrorBody]) {
    strict.addSchema(schema);
    coercing.addSchema(schema);
  }
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema),
  );
  // Only JSON bodies: drop Fastify's default text/plain parser so other types get a 415.
  app.removeContentTypeParser('text/plain');
  installJsonBodies(app, limits);
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const limits = resolveRequestLimits({
    ...(deps.bodyLimit === undefined ? {} : { body_bytes: deps.bodyLimit }),
    ...deps.requestLimits,
  });
  const app = Fastify({
    ...serverOptions(limits),
    logger: deps.logger ?? false,
    // Above every path parameter's schema limit, so the schema (not the router) says what is wrong.
    routerOptions: { maxParamLength: 512 },
    frameworkErrors,
  });
  installValidation(app, limits);
  installErrorHandling(app);
  // In this order: the cheap URL and header bounds, then who is calling, then how often.
  installRequestLimits(app, limits);
  installAuthentication(app, deps.authenticator);
  const rateLimits = deps.rateLimits === undefined ? DEFAULT_RATE_LIMITS : deps.rateLimits;
  if (rateLimits !== null) {
    installRateLimit(app, rateLimits, deps.now ?? (() => performance.now()));
  }
  app.addSchema(Decision);
  app.addSchema(JobResultView);
  app.addSchema(JobView);
  app.addSchema(ErrorBody);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Warden',
        version: '1',
        description: 'Governance gateway for autonomous AI agents',
      },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.get('/healthz', { schema: { hide: true } }, () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async () => {
    await deps.ready();
    return { status: 'ready' };
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(deps.metrics.contentType).send(await deps.metrics.text()),
  );
  app.get('/api/v1/openapi.json', { schema: { hide: true } }, () => app.swagger());
  const jobBody = jobBodyRules(limits);
  jobRoutes(app, deps.jobs, jobBody);
  approvalRoutes(app, deps.approvals);
  auditRoutes(app, deps.audit);
  keyRoutes(app, deps.keys);
  policyRoutes(app, deps.policy, deps.jobs, jobBody);
  agentRoutes(app, deps.agents);
  workRoutes(app, deps.work);
  deadLetterRoutes(app, deps.deadLetters);
  governanceRoutes(app, deps.checklist);
  await app.ready();
  return app;
}
