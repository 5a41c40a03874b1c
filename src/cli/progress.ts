/**
 * A one-line progress display for long CLI work (§16), redrawn in place on a terminal's stderr.
 * Silent when stderr is not a terminal, so piped and scripted runs see only their results.
 */

export interface Progress {
  /** `done` of `total` units; redrawn at most every `REDRAW_MS`. */
  update(done: number, total: number): void;
  /** Erases the line, before the command prints its result. */
  end(): void;
}

const REDRAW_MS = 200;

export const NO_PROGRESS: Progress = { update: () => undefined, end: () => undefined };

/** A progress line on `stream` labelled `label`, or nothing when `stream` is not a terminal. */
export function terminalProgress(
  label: string,
  stream: NodeJS.WriteStream = process.stderr,
): Progress {
  if (!stream.isTTY) return NO_PROGRESS;
  let drawn = false;
  let last = 0;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - last < REDRAW_MS && done < total) return;
      last = now;
      const percent = total > 0 ? Math.min(100, Math.floor((done / total) * 100)) : 100;
      stream.write(`\r\x1b[K${label}: ${String(done)}/${String(total)} (${String(percent)}%)`);
      drawn = true;
    },
    end() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
