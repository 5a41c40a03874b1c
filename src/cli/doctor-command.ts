/**
 * `warden doctor`: the governance checklist of a running gateway (§11), as a report a person
 * reads, or as JSON. Exits 0 when every check passes, 1 when one fails.
 */
import type { ChecklistReport } from '../app/checklist.js';
import { GatewayClient } from './http-client.js';
import { EXIT_FAILED, EXIT_OK } from './io.js';
import type { CliIo } from './io.js';
import type { GatewayOptions } from './job-commands.js';

export async function doctorCommand(io: CliIo, options: GatewayOptions): Promise<number> {
  const client = new GatewayClient({ url: options.url, key: options.key });
  const report = (await client.get('/api/v1/governance/checklist')) as ChecklistReport;
  if (options.json === true) io.out(JSON.stringify(report, null, 2));
  else {
    io.out(`Governance checklist of ${options.url} at ${report.checked_at}`);
    for (const check of report.checks) {
      io.out(`  ${check.pass ? 'PASS' : 'FAIL'}  ${check.title}`);
      io.out(`        ${check.detail}`);
    }
    const passed = report.checks.filter((check) => check.pass).length;
    io.out(`${String(passed)} of ${String(report.checks.length)} checks pass`);
  }
  return report.ok ? EXIT_OK : EXIT_FAILED;
}
