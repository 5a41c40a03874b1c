#!/usr/bin/env node
/** Entry point of the `warden` binary. */
import { processIo } from './io.js';
import { main } from './program.js';

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    processIo.err(
      `warden: internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    process.exitCode = 70;
  },
);
