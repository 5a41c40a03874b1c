/**
 * The checkpoint witness as a JSON Lines file (one signed checkpoint per line), kept outside the
 * database, by default beside the signing key. Appends are flushed (fsync) before they count.
 *
 * A line that does not parse as a checkpoint (a write torn by a crash) is skipped when reading:
 * losing it is no worse than the line never having been written, and anyone able to corrupt it
 * could as well delete it. A line that parses is checked in full (signature, event hash) by
 * verification, so a forged one is never trusted.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { AuditCheckpoint } from '../../core/audit/checkpoint.js';
import type { CheckpointWitness } from '../../ports/checkpoint-witness.js';

function isCheckpoint(value: unknown): value is AuditCheckpoint {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(v['seq']) &&
    typeof v['hash'] === 'string' &&
    typeof v['at'] === 'string' &&
    typeof v['key_id'] === 'string' &&
    typeof v['signature'] === 'string'
  );
}

function parseLine(line: string): AuditCheckpoint | null {
  try {
    const value: unknown = JSON.parse(line);
    if (!isCheckpoint(value)) return null;
    const { seq, hash, at, key_id, signature } = value;
    return { seq, hash, at, key_id, signature };
  } catch {
    return null;
  }
}

export function witnessFile(path: string): CheckpointWitness {
  return {
    location: path,
    async append(checkpoint) {
      const { seq, hash, at, key_id, signature } = checkpoint;
      const handle = await open(path, 'a+', 0o600);
      try {
        // After a torn write the file may not end in a newline; start a fresh line so the new
        // checkpoint never merges with the fragment.
        const { size } = await handle.stat();
        let lead = '';
        if (size > 0) {
          const last = Buffer.alloc(1);
          await handle.read(last, 0, 1, size - 1);
          if (last[0] !== 0x0a) lead = '\n';
        }
        await handle.appendFile(
          `${lead}${JSON.stringify({ seq, hash, at, key_id, signature })}\n`,
          'utf8',
        );
        await handle.sync();
      } finally {
        await handle.close();
      }
    },
    async read(afterSeq = 0) {
      // Line by line: the file grows by one line per checkpoint and is never trimmed, so only
      // the checkpoints asked for are kept in memory.
      const input = createReadStream(path, { encoding: 'utf8' });
      const checkpoints: AuditCheckpoint[] = [];
      try {
        for await (const line of createInterface({ input, crlfDelay: Infinity })) {
          if (line.trim() === '') continue;
          const checkpoint = parseLine(line);
          if (checkpoint !== null && checkpoint.seq > afterSeq) checkpoints.push(checkpoint);
        }
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      } finally {
        input.destroy();
      }
      return checkpoints;
    },
  };
}
