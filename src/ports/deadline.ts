/**
 * Cutting off synchronous work that runs too long (§11, evaluation deadline). A policy condition
 * can be written to cost far more than the request is worth (nested comprehensions over a long
 * list); it must end in a decision, not hold the event loop.
 */

/** The work ran past its deadline and was stopped; nothing it would have returned exists. */
export class DeadlineExceeded extends Error {
  constructor(readonly deadlineMs: number) {
    super(`evaluation exceeded its ${String(deadlineMs)} ms deadline`);
    this.name = 'DeadlineExceeded';
  }
}

export interface DeadlineRunner {
  /**
   * Runs `work` and returns its result, or throws DeadlineExceeded once it has run `ms`
   * milliseconds: the work is interrupted, not left running. `work` must leave no shared state
   * half-changed when interrupted at any point.
   */
  within<T>(ms: number, work: () => T): T;
}
