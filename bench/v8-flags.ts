/**
 * Imported first by every benchmark entry point, before any code is hot.
 *
 * Node 20.20.2 (V8 11.3) aborts with "Fatal error ... unreachable code" in
 * `Deoptimizer::DoComputeBuiltinContinuation` when an optimised function that TurboFan compiled
 * with an inlined JS→Wasm call is lazily deoptimised while the Wasm call is on the stack. The
 * Cedar calls (wasm-bindgen) hit this reproducibly in this benchmark (policy sizes 10, 100, then
 * 500 in one process: 5 crashes in 5 runs); with the inlining off, 3 of 3 runs completed. The
 * flag only changes how JS calls into Wasm (an extra wrapper frame per call, nanoseconds against
 * Cedar's ~100 µs and more per decision); Warden runs no Wasm and is unaffected.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--no-turbo-inline-js-wasm-calls');
