#!/usr/bin/env node
// Copies Runners/bootstrap/runner-bootstrap.sh into the launch template's user
// data in Runners/template.yaml (between the BEGIN/END marker comments), so
// the script stays a readable, shellcheck-ed file and the template deploys
// without a build step. test/runners/template.test.ts fails when they differ.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const templatePath = join(here, '..', 'template.yaml');
const script = readFileSync(join(here, 'runner-bootstrap.sh'), 'utf8');

const lines = readFileSync(templatePath, 'utf8').split('\n');
const begin = lines.findIndex((line) => line.trim() === '# BEGIN runner-bootstrap.sh');
const end = lines.findIndex((line) => line.trim() === '# END runner-bootstrap.sh');
if (begin < 0 || end < begin) throw new Error('markers "# BEGIN/END runner-bootstrap.sh" not found in Runners/template.yaml');
const indent = lines[begin].slice(0, lines[begin].indexOf('#'));
const body = script
  .replace(/\n$/, '')
  .split('\n')
  .map((line) => (line ? `${indent}  ${line}` : ''));
const embedded = [lines[begin], `${indent}- |`, ...body, lines[end]];
writeFileSync(templatePath, [...lines.slice(0, begin), ...embedded, ...lines.slice(end + 1)].join('\n'));
console.log(`embedded ${script.length} bytes of runner-bootstrap.sh into Runners/template.yaml`);
