/**
 * `npm run bench`: runs every benchmark in bench/ in one process and prints their reports.
 * Benchmarks measure and report (SPEC §18); they are never timed tests. A benchmark that cannot
 * produce a meaningful comparison (e.g. the engines disagree) throws, and the run exits non-zero.
 *
 *   npm run bench                                  # all of them, in order
 *   npm run bench -- decision-path                 # only the named ones
 *   npm run bench -- scanner                       # output scanners: MB/s and linearity
 *   npm run bench -- decision-path --duration 20   # decision-path: measured seconds per server
 *                                                  # (--warmup, --cpu-prof DIR likewise)
 */
// Must stay the first import: works around a V8 crash (see v8-flags.ts).
import './v8-flags.js';
import { parseArgs } from 'node:util';
import * as decisionPath from './decision-path.js';
import * as endToEnd from './end-to-end.js';
import { machine } from './machine.js';
import * as policyEval from './policy-eval.js';
import * as scanner from './scanner.js';

interface Benchmark {
  readonly name: string;
  /** Runs the benchmark and returns its printable report. */
  readonly run: () => string | Promise<string>;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    duration: { type: 'string' },
    warmup: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});

const BENCHMARKS: readonly Benchmark[] = [
  {
    name: 'policy-eval',
    run: () => policyEval.report(policyEval.run()),
  },
  {
    name: 'decision-path',
    run: async () => {
      const cpuProfileDir = values['cpu-prof'];
      return decisionPath.report(
        await decisionPath.run({
          durationSec: decisionPath.seconds(
            values.duration,
            '--duration',
            decisionPath.DEFAULT_DURATION_SEC,
          ),
          warmupSec: decisionPath.seconds(
            values.warmup,
            '--warmup',
            decisionPath.DEFAULT_WARMUP_SEC,
          ),
          ...(cpuProfileDir === undefined ? {} : { cpuProfileDir }),
        }),
      );
    },
  },
  {
    name: 'scanner',
    run: () => scanner.report(scanner.run()),
  },
  {
    name: 'end-to-end',
    run: async () =>
      endToEnd.report(
        await endToEnd.run({
          durationSec: decisionPath.seconds(
            values.duration,
            '--duration',
            endToEnd.DEFAULT_DURATION_SEC,
          ),
          warmupSec: decisionPath.seconds(values.warmup, '--warmup', endToEnd.DEFAULT_WARMUP_SEC),
        }),
      ),
  },
];

const unknown = positionals.filter((name) => !BENCHMARKS.some((b) => b.name === name));
if (unknown.length > 0) {
  process.stderr.write(
    `bench: no benchmark named ${unknown.join(', ')}; ` +
      `available: ${BENCHMARKS.map((b) => b.name).join(', ')}\n`,
  );
  process.exit(2);
}
const selected = BENCHMARKS.filter((b) => positionals.length === 0 || positionals.includes(b.name));

process.stdout.write(`${machine()}\n`);
for (const bench of selected) {
  const started = Date.now();
  const text = await bench.run();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`\n== ${bench.name} (${seconds} s) ==\n${text}\n`);
}
