/**
 * `warden keys create|list|revoke`: manage API keys in the store file, as the local operator
 * (whoever can write the database file already controls the gateway).
 */
import { nativeSha256 } from '../adapters/system/native-sha256.js';
import { createRandomIds } from '../adapters/system/random-ids.js';
import { systemClock } from '../adapters/system/system-clock.js';
import { KeyService, SYSTEM_PRINCIPAL } from '../app/keys.js';
import { openStore } from '../main/store-location.js';
import type { StoreLocation } from '../main/store-location.js';
import { WardenError } from '../core/errors.js';
import { ROLES } from '../core/model/principal.js';
import type { Role } from '../core/model/principal.js';
import { CliError, EXIT_FAILED, EXIT_OK } from './io.js';
import type { CliIo } from './io.js';

async function withKeys<T>(db: StoreLocation, run: (keys: KeyService) => Promise<T>): Promise<T> {
  const store = openStore(db);
  try {
    return await run(
      new KeyService({ store, clock: systemClock, ids: createRandomIds(), sha256: nativeSha256 }),
    );
  } catch (error) {
    if (error instanceof WardenError) throw new CliError(error.message, EXIT_FAILED);
    throw error;
  } finally {
    await store.close();
  }
}

function parseRoles(text: string): Role[] {
  const roles = text
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r !== '');
  const unknown = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
  if (roles.length === 0 || unknown.length > 0) {
    throw new CliError(
      `--roles must list some of: ${ROLES.join(', ')}${unknown.length > 0 ? ` (unknown: ${unknown.join(', ')})` : ''}`,
    );
  }
  return roles as Role[];
}

export async function keysCreateCommand(
  io: CliIo,
  options: {
    readonly db: StoreLocation;
    readonly name: string;
    readonly tenant: string;
    readonly roles: string;
  },
): Promise<number> {
  const roles = parseRoles(options.roles);
  const created = await withKeys(options.db, (keys) =>
    keys.create(SYSTEM_PRINCIPAL, { name: options.name, tenant: options.tenant, roles }),
  );
  io.out(
    `created ${created.id} (tenant ${created.tenant}, roles ${created.roles.join(',')}); the key is shown only now:`,
  );
  io.out(created.key);
  return EXIT_OK;
}

export async function keysListCommand(
  io: CliIo,
  options: { readonly db: StoreLocation },
): Promise<number> {
  const keys = await withKeys(options.db, (service) => service.list(SYSTEM_PRINCIPAL));
  for (const key of keys) {
    const state = key.revoked_at === null ? 'active' : `revoked ${key.revoked_at}`;
    io.out(`${key.id}  ${key.tenant}  ${key.roles.join(',')}  ${key.name}  ${state}`);
  }
  io.out(`${keys.length} keys`);
  return EXIT_OK;
}

export async function keysRevokeCommand(
  io: CliIo,
  id: string,
  options: { readonly db: StoreLocation },
): Promise<number> {
  const revoked = await withKeys(options.db, (keys) => keys.revoke(SYSTEM_PRINCIPAL, id));
  io.out(`revoked ${revoked.id}`);
  return EXIT_OK;
}
