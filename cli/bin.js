#!/usr/bin/env node
'use strict';
// The operator CLI is TypeScript; tsx compiles it on load, so a checkout needs no build step.
require('tsx/cjs');
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
