/** Whether a benchmark module was started directly (`npx tsx bench/<name>.ts`), not imported. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export function isMain(moduleUrl: string): boolean {
  const entry = process.argv[1];
  return entry !== undefined && resolve(entry) === fileURLToPath(moduleUrl);
}
