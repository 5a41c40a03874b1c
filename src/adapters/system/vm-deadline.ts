/**
 * A DeadlineRunner over node:vm: `runInContext` with a timeout starts a watchdog that terminates
 * the running JavaScript, including functions of the main realm called from the script, once the
 * timeout passes. The watchdog costs a thread start per call (tens of microseconds), so callers
 * use it only for work that can run long.
 */
import { createContext, Script } from 'node:vm';
import { DeadlineExceeded } from '../../ports/deadline.js';
import type { DeadlineRunner } from '../../ports/deadline.js';

export function vmDeadlineRunner(): DeadlineRunner {
  const slot: { work: () => unknown } = { work: () => undefined };
  const context = createContext({ slot });
  const script = new Script('slot.work()');
  return {
    within<T>(ms: number, work: () => T): T {
      slot.work = work;
      try {
        return script.runInContext(context, { timeout: ms }) as T;
      } catch (error) {
        if ((error as { code?: unknown } | null)?.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') {
          throw new DeadlineExceeded(ms);
        }
        throw error;
      } finally {
        slot.work = () => undefined;
      }
    },
  };
}
