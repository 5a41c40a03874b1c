/**
 * `warden audit verify|export`: read the audit trail straight from the store, so the chain can
 * be checked and exported even when the gateway is down.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { nativeSha256 } from '../adapters/system/native-sha256.js';
import { AuditService } from '../app/audit.js';
import { openStore } from '../main/store-location.js';
import type { StoreLocation } from '../main/store-location.js';
import type { Principal } from '../core/model/principal.js';
import { CliError, EXIT_FAILED, EXIT_OK } from './io.js';
import type { CliIo } from './io.js';

/** The local operator: whoever can read the database file can read the whole trail. */
const OPERATOR: Principal = { id: 'cli', tenant: '*', roles: ['auditor'] };
const EXPORT_PAGE = 5000;

export async function auditVerifyCommand(
  io: CliIo,
  options: { readonly db: StoreLocation },
): Promise<number> {
  const store = openStore(options.db);
  try {
    const result = await new AuditService(store, nativeSha256).verify(OPERATOR);
    if (result.ok) {
      io.out(`OK: ${result.count} events, chain intact`);
      return EXIT_OK;
    }
    io.out(
      `BROKEN at seq ${String(result.first_bad_seq)}: ${result.reason} (${result.count} events verified before it)`,
    );
    return EXIT_FAILED;
  } finally {
    await store.close();
  }
}

export async function auditExportCommand(
  io: CliIo,
  options: { readonly db: StoreLocation; readonly to: string; readonly since?: string },
): Promise<number> {
  if (options.since !== undefined && Number.isNaN(Date.parse(options.since))) {
    throw new CliError(`--since "${options.since}" is not an ISO-8601 time`);
  }
  const store = openStore(options.db);
  const out = createWriteStream(options.to, { flags: 'w' });
  let written = 0;
  try {
    let after = 0;
    for (;;) {
      const page = await store.queryAudit({ after_seq: after, limit: EXPORT_PAGE });
      for (const event of page) {
        if (options.since !== undefined && Date.parse(event.at) < Date.parse(options.since))
          continue;
        if (!out.write(`${JSON.stringify(event)}\n`)) await once(out, 'drain');
        written++;
      }
      const last = page.at(-1);
      if (page.length < EXPORT_PAGE || last === undefined) break;
      after = last.seq;
    }
  } finally {
    out.end();
    await once(out, 'finish');
    await store.close();
  }
  io.out(`exported ${written} events to ${options.to}`);
  return EXIT_OK;
}
