#!/usr/bin/env node
'use strict';
// The operator CLI is TypeScript; tsx compiles it on load, so a checkout needs no build step.
require('tsx/cjs');

// The AWS SDK warns on every run under Node 20 that future releases need Node 22; an operator's
// terminal is the wrong place for it. Every other warning is still printed.
process.removeAllListeners('warning');
process.on('warning', (warning) => {
  if (warning && /NodeVersionSupportWarning/.test(`${warning.name} ${warning.message}`)) return;
  process.stderr.write(`${warning && warning.stack ? warning.stack : String(warning)}\n`);
});
const { run } = require('./main.ts');

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`runner-autoscaler: ${error && error.message ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
