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
import { agentRoutes } from './routes/agents.js';
import { approvalRoutes } from './routes/approvals.js';
import { auditRoutes } from './routes/audit.js';
import { jobRoutes } from './routes/jobs.js';
import { keyRoutes } from './routes/keys.js';
import { policyRoutes } from './routes/policy.js';
import { deadLetterRoutes, workRoutes } from './routes/work.js';
import { Decision, ErrorBody, JobResultView, JobView } from './schemas.js';

export interface ServerDeps extends AppServices {
  readonly authenticator: Authenticator;
  /** Rejects when the gateway cannot serve (the store does not answer); `/readyz` says 503. */
  readonly ready: () => Promise<void>;
  /** The Prometheus exposition served at `/metrics`. */
  readonly metrics: MetricsEndpoint;
  /** Largest accepted body in bytes (default 1 MiB). */
  readonly bodyLimit?: number;
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
function installValidation(app: FastifyInstance): void {
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
  installJsonBodies(app);
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: deps.bodyLimit ?? 1024 * 1024,
    logger: deps.logger ?? false,
    // Above every path parameter's schema limit, so the schema (not the router) says what is wrong.
    routerOptions: { maxParamLength: 512 },
    frameworkErrors,
  });
  installValidation(app);
  installErrorHandling(app);
  installAuthentication(app, deps.authenticator);
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
  jobRoutes(app, deps.jobs);
  approvalRoutes(app, deps.approvals);
  auditRoutes(app, deps.audit);
  keyRoutes(app, deps.keys);
  policyRoutes(app, deps.policy, deps.jobs);
  agentRoutes(app, deps.agents);
  workRoutes(app, deps.work);
  deadLetterRoutes(app, deps.deadLetters);
  await app.ready();
  return app;
}
