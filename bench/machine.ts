/** A one-line description of the machine a benchmark ran on, for its report. */
import { cpus, loadavg, totalmem } from 'node:os';

export function machine(): string {
  const cpu = cpus();
  return (
    `node ${process.version}, ${process.platform}/${process.arch}, ${cpu.length} CPUs ` +
    `(${cpu[0]?.model.trim() ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`
  );
}
