/**
 * Hot reload (§4): watches the policy file and activates each new version. The directory is
 * watched rather than the file, because editors and deploy tools often replace a file by
 * renaming a new one over it, which ends a watch on the old file.
 */
import { readFile } from 'node:fs/promises';
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { PolicyService } from '../app/policy.js';
import { WardenError } from '../core/errors.js';

/** Changes arrive as bursts of events (truncate, write, rename); act once the burst settles. */
const SETTLE_MS = 100;

export interface PolicyWatcher {
  close(): void;
}

export function watchPolicyFile(
  file: string,
  policy: PolicyService,
  report: (message: string) => void,
): PolicyWatcher {
  const name = basename(file);
  let timer: NodeJS.Timeout | undefined;
  let reloading = Promise.resolve();

  const reload = async (): Promise<void> => {
    let source: string;
    try {
      source = await readFile(file, 'utf8');
    } catch (error) {
      // Mid-replacement the file may be briefly absent; the next event brings it back.
      report(
        `policy file ${file} is unreadable (${(error as Error).message}); keeping the active policy`,
      );
      return;
    }
    try {
      const { changed, policy: active } = await policy.reloadFile(source, file);
      if (changed) report(`policy reloaded from ${file}: snapshot ${active.snapshot}`);
    } catch (error) {
      const detail = error instanceof WardenError ? error.message : String(error);
      report(`policy file ${file} refused; the active policy keeps serving: ${detail}`);
    }
  };

  const watcher: FSWatcher = watch(dirname(file), (_event, changed) => {
    if (changed !== null && changed !== name) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      reloading = reloading.then(reload);
    }, SETTLE_MS);
  });
  // A watch error (the directory went away) must not crash the gateway; the policy keeps serving.
  watcher.on('error', (error) => {
    report(`policy watch stopped: ${error.message}`);
  });
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
