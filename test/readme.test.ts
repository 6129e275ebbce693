import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../cli/main';
import { memoryOutput } from '../cli/output';
import { loadTemplate } from '../lib/cfn-template';
import { EVENT_SOURCE, WORKFLOW_JOB_DETAIL_TYPE } from '../lib/event-names';
import { workflowJobEventSchema } from '../lib/events';
import { DEFAULT_SETTINGS, SETTINGS_REFERENCE, settingsFields } from '../lib/settings';
import { README_END, README_START, renderBenchmarks, type BenchResults } from '../bench/render';
import { DEFAULT_MODEL, MODEL_FLAGS } from '../sim/model';

/**
 * The README is the front door: these tests fail when it disagrees with the
 * code (settings, template parameters, event contract, CLI commands, npm
 * scripts, links), so it cannot silently go stale.
 */
const ROOT = join(__dirname, '..');
const README = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** The body of a `##`/`###` section, up to the next heading of the same or a higher level. */
function section(title: string): string {
  const lines = README.split('\n');
  // Lines inside fenced code blocks (shell comments start with "# ") are not headings.
  let fenced = false;
  const heading = lines.map((line) => {
    if (line.startsWith('```')) fenced = !fenced;
    return !fenced && /^#+ /.test(line) ? line.match(/^#+/)![0].length : 0;
  });
  const start = lines.findIndex((line, i) => heading[i] >= 2 && heading[i] <= 3 && line.replace(/^#+ /, '') === title);
  if (start < 0) throw new Error(`README has no section "${title}"`);
  const end = heading.findIndex((level, i) => i > start && level > 0 && level <= heading[start]);
  return lines.slice(start + 1, end < 0 ? undefined : end).join('\n');
}

/** Rows of the first markdown table in `text` whose header starts with `firstHeader`, as arrays of trimmed cells. */
function table(text: string, firstHeader: string): string[][] {
  const lines = text.split('\n');
  const header = lines.findIndex((line) => new RegExp(`^\\|\\s*${firstHeader}\\s*\\|`).test(line));
  if (header < 0) throw new Error(`no table with first column "${firstHeader}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(line.slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim()));
  }
  return rows;
}

const code = (cell: string) => /^`([^`]*)`$/.exec(cell)?.[1];

describe('README settings reference', () => {
  const rows = table(section('Settings reference'), 'name');

  it('lists every setting of lib/settings.ts, once, in the schema order', () => {
    expect(rows.map((row) => code(row[0]))).toEqual(Object.keys(settingsFields));
  });

  it.each(Object.keys(settingsFields) as (keyof typeof SETTINGS_REFERENCE)[])('%s: default, range and effect match DEFAULT_SETTINGS and SETTINGS_REFERENCE', (key) => {
    const row = rows.find((r) => code(r[0]) === key)!;
    const value = DEFAULT_SETTINGS[key];
    expect(code(row[1])).toBe(Array.isArray(value) ? value.join(',') : String(value));
    expect(row[2]).toBe(SETTINGS_REFERENCE[key].range);
    expect(row[3]).toBe(SETTINGS_REFERENCE[key].effect);
  });
});

describe('README template parameter tables', () => {
  it.each(['Infrastructure', 'Runners', 'AutoScaler'])('%s: every parameter of the template, with its default', (stack) => {
    const parameters = loadTemplate(join(ROOT, stack, 'template.yaml')).Parameters as Record<string, { Default?: unknown }>;
    const rows = table(section(`${stack} parameters`), 'name');
    expect(rows.map((row) => code(row[0]))).toEqual(Object.keys(parameters));
    for (const row of rows) {
      const parameter = parameters[code(row[0])!];
      const expected =
        parameter.Default === undefined ? '(required)' : parameter.Default === '' ? '(empty)' : `\`${Array.isArray(parameter.Default) ? parameter.Default.join(',') : String(parameter.Default)}\``;
      expect(`${code(row[0])}: ${row[1]}`).toBe(`${code(row[0])}: ${expected}`);
      expect(row[2].length).toBeGreaterThan(10); // a meaning, not an empty cell
    }
  });

  it('gives the deploy order the templates\' imports require: Infrastructure, then Runners, then AutoScaler', () => {
    const autoscaler = readFileSync(join(ROOT, 'AutoScaler', 'template.yaml'), 'utf8');
    const runners = readFileSync(join(ROOT, 'Runners', 'template.yaml'), 'utf8');
    expect(autoscaler).toMatch(/\$\{RunnersStackName\}-AutoScalingGroupName/);
    expect(autoscaler).toMatch(/\$\{InfrastructureStackName\}-EventBusName/);
    expect(runners).toMatch(/\$\{InfrastructureStackName\}-GitHubCredentialsParameterName/);
    expect(runners).not.toMatch(/AutoScalerStackName|-TableName'/);
    const deploy = section('Deploy');
    const order = ['cd Infrastructure && sam deploy --guided', 'cd ../Runners     && sam deploy --guided', 'cd ../AutoScaler  && sam deploy --guided'].map((line) => deploy.indexOf(line));
    expect(order.every((index) => index >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });
});

describe('README event contract', () => {
  const contract = section('Event contract');

  it('names the source and detail-type the webhook puts on the bus', () => {
    const envelope = Object.fromEntries(table(contract, 'envelope').map((row) => [code(row[0]), row[1]]));
    expect(envelope.source).toContain(`\`${EVENT_SOURCE}\``);
    expect(envelope['detail-type']).toContain(`\`${WORKFLOW_JOB_DETAIL_TYPE}\``);
  });

  it('lists exactly the fields of the slim event schema', () => {
    const documented = table(contract, 'detail field').flatMap((row) => [...row[0].matchAll(/`([^`]+)`/g)].map((m) => m[1]));
    expect(documented.sort()).toEqual(Object.keys(workflowJobEventSchema.shape).sort());
  });
});

describe('README commands and links', () => {
  it('documents every CLI command with an example', () => {
    const program = buildProgram(memoryOutput(), {}, () => undefined);
    const leaves: string[] = [];
    const walk = (command: Command, prefix: string[]) => {
      for (const sub of command.commands) {
        if (sub.commands.length) walk(sub, [...prefix, sub.name()]);
        else leaves.push([...prefix, sub.name()].join(' '));
      }
    };
    walk(program, []);
    const rows = table(section('Operator CLI'), 'command');
    const documented = rows.map((row) => code(row[0])!.replace(/ key=value \.\.\.$/, ''));
    expect(documented.sort()).toEqual(leaves.sort());
    for (const row of rows) expect(row[2]).toMatch(new RegExp(`^\`npx runner-autoscaler .*${code(row[0])!.split(' ')[0]}`));
  });

  it('uses only npm scripts that package.json defines', () => {
    const scripts = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts);
    const used = [...README.matchAll(/npm run ([a-z:-]+)/g)].map((m) => m[1]);
    expect(used.length).toBeGreaterThan(0);
    for (const script of used) expect(scripts).toContain(script);
  });

  it('links only to files that exist', () => {
    const links = [...README.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)].map((m) => m[1]).filter((target) => !/^https?:/.test(target));
    expect(links).toEqual(expect.arrayContaining(['docs/screenshot.png', 'Runners/LIFECYCLE.md', 'SECURITY.md', 'docs/local-mode.md', 'docs/cli.md']));
    for (const target of links) expect(`${target}: ${existsSync(join(ROOT, target))}`).toBe(`${target}: true`);
  });

  it('links to anchors that exist in the linked docs', () => {
    const slug = (heading: string) => heading.toLowerCase().replace(/[`*]/g, '').replace(/[^a-z0-9 _-]/g, '').trim().replace(/ /g, '-');
    for (const [, target, anchor] of README.matchAll(/\]\(([^)#\s]+\.md)#([^)]+)\)/g)) {
      const headings = readFileSync(join(ROOT, target), 'utf8').split('\n').filter((l) => /^#+ /.test(l)).map((l) => slug(l.replace(/^#+ /, '')));
      expect(`${target}#${anchor}: ${headings.includes(anchor)}`).toBe(`${target}#${anchor}: true`);
    }
  });

  it('shows exactly the latest bench/results.json in its Benchmarks section', () => {
    const results = JSON.parse(readFileSync(join(ROOT, 'bench', 'results.json'), 'utf8')) as BenchResults;
    const body = section('Benchmarks');
    const generated = body.slice(body.indexOf(README_START) + README_START.length, body.indexOf(README_END)).trim();
    expect(generated).toBe(renderBenchmarks(results).trim());
  });

  it('documents every simulator model flag with its default, and every policy', () => {
    const text = section('Simulate your workload');
    for (const { flag, key } of MODEL_FLAGS) expect(text).toContain(`\`${flag.split(' ')[0]} ${DEFAULT_MODEL[key]}\``);
    for (const policy of ['autoscaler', 'static-peak', 'seed', 'per-job', 'oracle']) expect(text).toContain(`| \`${policy}\` |`);
  });

  it('points its Reliability section at the suites\' own write-up', () => {
    expect(section('Reliability')).toContain('(docs/reliability.md)');
  });

  it('describes the files it names under Architecture', () => {
    for (const row of table(section('Architecture'), 'folder')) {
      const folder = code(row[0])!;
      expect(`${folder}: ${existsSync(join(ROOT, folder))}`).toBe(`${folder}: true`);
    }
    expect(existsSync(join(ROOT, dirname('statemachine/autoscaler.asl.json'), 'autoscaler.asl.json'))).toBe(true);
  });
});
