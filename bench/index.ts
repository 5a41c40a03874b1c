/**
 * `npm run bench`: runs every benchmark in bench/ in one process and prints their reports.
 * Benchmarks measure and report (SPEC §18); they are never timed tests. A benchmark that cannot
 * produce a meaningful comparison (e.g. the engines disagree) throws, and the run exits non-zero.
 */
// Must stay the first import: works around a V8 crash (see v8-flags.ts).
import './v8-flags.js';
import { machine } from './machine.js';
import * as policyEval from './policy-eval.js';

interface Benchmark {
  readonly name: string;
  /** Runs the benchmark and returns its printable report. */
  readonly run: () => string;
}

const BENCHMARKS: readonly Benchmark[] = [
  {
    name: 'policy-eval',
    run: () => policyEval.report(policyEval.run()),
  },
];

process.stdout.write(`${machine()}\n`);
for (const bench of BENCHMARKS) {
  const started = Date.now();
  const text = bench.run();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stdout.write(`\n== ${bench.name} (${seconds} s) ==\n${text}\n`);
}
