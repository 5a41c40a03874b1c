/**
 * A gateway HTTP server over an in-memory SQLite store, for inject() tests.
 */
import { readFileSync } from 'node:fs';
import { after } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { createRandomIds } from '../../src/adapters/system/random-ids.js';
import { nativeSha256 } from '../../src/adapters/system/native-sha256.js';
import { systemClock } from '../../src/adapters/system/system-clock.js';
import { ApprovalService } from '../../src/app/approvals.js';
import { AuditService } from '../../src/app/audit.js';
import { devAuthenticator } from '../../src/app/dev-authenticator.js';
import { JobService } from '../../src/app/jobs.js';
import { KeyService } from '../../src/app/keys.js';
import type { Principal } from '../../src/core/model/principal.js';
import { compilePolicy } from '../../src/core/policy/index.js';
import type { CompiledPolicy } from '../../src/core/policy/index.js';
import type { Authenticator } from '../../src/ports/authenticator.js';
import type { Clock } from '../../src/ports/clock.js';
import { buildServer } from '../../src/http/server.js';

export const seedPolicy = compilePolicy(readFileSync('examples/policies/seed.yaml', 'utf8'));

/** Fixed bearer tokens for role and tenant tests (`Bearer <id>`). */
const PRINCIPALS: readonly Principal[] = [
  { id: 'agent-acme', tenant: 'acme', roles: ['agent'] },
  { id: 'agent2-acme', tenant: 'acme', roles: ['agent'] },
  { id: 'approver-acme', tenant: 'acme', roles: ['approver'] },
  { id: 'approver2-acme', tenant: 'acme', roles: ['approver'] },
  { id: 'auditor-acme', tenant: 'acme', roles: ['auditor'] },
  { id: 'worker-acme', tenant: 'acme', roles: ['worker'] },
  { id: 'approver-globex', tenant: 'globex', roles: ['approver'] },
];
export const tokenAuthenticator: Authenticator = {
  authenticate: (header) =>
    Promise.resolve(PRINCIPALS.find((p) => header === `Bearer ${p.id}`) ?? null),
};
export const as = (id: string): { authorization: string } => ({ authorization: `Bearer ${id}` });

const opened: SqliteStore[] = [];
after(async () => {
  for (const store of opened) await store.close();
});

export interface TestServerOptions {
  readonly authenticator?: Authenticator;
  readonly policy?: CompiledPolicy;
  readonly clock?: Clock;
  readonly bodyLimit?: number;
  /** A database file, for tests that reach into it; in-memory by default. */
  readonly dbPath?: string;
}

export async function testServer(options: TestServerOptions = {}): Promise<FastifyInstance> {
  const store = new SqliteStore({ path: options.dbPath ?? ':memory:' });
  opened.push(store);
  const policy = options.policy ?? seedPolicy;
  const clock = options.clock ?? systemClock;
  const ids = createRandomIds();
  const jobs = new JobService({ store, clock, ids, policy: () => policy });
  const approvals = new ApprovalService({ store, clock, jobs, policy: () => policy });
  return buildServer({
    jobs,
    approvals,
    audit: new AuditService(store, nativeSha256),
    keys: new KeyService({ store, clock, ids, sha256: nativeSha256 }),
    authenticator: options.authenticator ?? devAuthenticator,
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
  });
}
