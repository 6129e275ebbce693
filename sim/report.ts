import type { PolicyResult, SimulationResult } from './simulate';
import type { Sample } from './world';

/**
 * What a user reads after `npm run simulate -- --out DIR`: a table of the
 * policies side by side, and for each policy a chart of queued jobs, busy
 * runners and capacity over the run (SVG, no dependencies, opens anywhere).
 */
export const RESULT_COLUMNS: Array<{ key: keyof PolicyResult; title: string }> = [
  { key: 'jobs', title: 'jobs' },
  { key: 'p50WaitSeconds', title: 'p50 wait s' },
  { key: 'p95WaitSeconds', title: 'p95 wait s' },
  { key: 'maxWaitSeconds', title: 'max wait s' },
  { key: 'instanceHours', title: 'instance-h' },
  { key: 'spotInstanceHours', title: 'spot h' },
  { key: 'onDemandInstanceHours', title: 'on-demand h' },
  { key: 'costUsd', title: 'cost USD' },
  { key: 'costRatioToOracle', title: 'cost ÷ oracle' },
  { key: 'busyTerminations', title: 'busy killed' },
  { key: 'failedJobs', title: 'failed jobs' },
  { key: 'cancelledJobs', title: 'cancelled' },
  { key: 'scaleApiCalls', title: 'scaling API calls' },
  { key: 'githubApiCalls', title: 'GitHub API calls' },
];

export function markdownTable(policies: Record<string, PolicyResult>, columns = RESULT_COLUMNS): string {
  const header = `| policy | ${columns.map((c) => c.title).join(' | ')} |`;
  const rule = `|---|${columns.map(() => '---:').join('|')}|`;
  const rows = Object.entries(policies).map(([name, result]) => `| ${name} | ${columns.map((c) => String(result[c.key])).join(' | ')} |`);
  return [header, rule, ...rows].join('\n');
}

const SERIES: Array<{ key: keyof Omit<Sample, 't'>; label: string; color: string }> = [
  { key: 'queued', label: 'queued jobs', color: '#d9480f' },
  { key: 'busy', label: 'busy runners', color: '#2f9e44' },
  { key: 'capacity', label: 'capacity (instances)', color: '#1c7ed6' },
];

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

/** Keeps a chart light: at most `points` samples, each bucket keeping its maxima (peaks must stay visible). */
export function downsample(samples: readonly Sample[], points = 800): Sample[] {
  if (samples.length <= points) return [...samples];
  const size = Math.ceil(samples.length / points);
  const out: Sample[] = [];
  for (let i = 0; i < samples.length; i += size) {
    const bucket = samples.slice(i, i + size);
    out.push({
      t: bucket[0].t,
      queued: Math.max(...bucket.map((s) => s.queued)),
      busy: Math.max(...bucket.map((s) => s.busy)),
      capacity: Math.max(...bucket.map((s) => s.capacity)),
    });
  }
  return out;
}

export function chartSvg(title: string, samples: readonly Sample[], width = 900, height = 300): string {
  const points = downsample(samples);
  const pad = { left: 48, right: 16, top: 28, bottom: 36 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const tMax = Math.max(1, ...points.map((p) => p.t));
  const yMax = Math.max(1, ...points.flatMap((p) => [p.queued, p.busy, p.capacity]));
  const x = (t: number) => pad.left + (t / tMax) * plotW;
  const y = (v: number) => pad.top + plotH - (v / yMax) * plotH;
  const lines = SERIES.map(
    (series) =>
      `<polyline fill="none" stroke="${series.color}" stroke-width="1.5" points="${points.map((p) => `${x(p.t).toFixed(1)},${y(p[series.key]).toFixed(1)}`).join(' ')}"/>`,
  );
  const hours = tMax / 3600;
  const tickStep = hours > 48 ? 12 : hours > 12 ? 3 : hours > 3 ? 1 : 0.25;
  const ticks: string[] = [];
  for (let h = 0; h <= hours + 1e-9; h += tickStep) {
    ticks.push(`<text x="${x(h * 3600).toFixed(1)}" y="${height - 14}" font-size="11" text-anchor="middle">${Number(h.toFixed(2))}h</text>`);
  }
  const legend = SERIES.map(
    (series, i) =>
      `<rect x="${pad.left + i * 170}" y="8" width="12" height="3" fill="${series.color}"/><text x="${pad.left + i * 170 + 16}" y="13" font-size="11">${series.label}</text>`,
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<title>${escapeXml(title)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<line x1="${pad.left}" y1="${pad.top + plotH}" x2="${pad.left + plotW}" y2="${pad.top + plotH}" stroke="#999"/>`,
    `<line x1="${pad.left}" y1="${pad.top}" x2="${pad.left}" y2="${pad.top + plotH}" stroke="#999"/>`,
    `<text x="${pad.left - 6}" y="${pad.top + 4}" font-size="11" text-anchor="end">${yMax}</text>`,
    `<text x="${pad.left - 6}" y="${pad.top + plotH}" font-size="11" text-anchor="end">0</text>`,
    `<text x="${width - pad.right}" y="13" font-size="12" text-anchor="end">${escapeXml(title)}</text>`,
    ...legend,
    ...ticks,
    ...lines,
    `</svg>`,
  ].join('\n');
}

export function reportMarkdown(traceName: string, result: SimulationResult, chartFiles: Record<string, string>): string {
  const { model, settings } = result;
  const lines = [
    `# Simulation: ${traceName}`,
    '',
    `Jobs: ${result.policies.oracle?.jobs ?? 0} served by the pool${result.unservedJobs ? `, ${result.unservedJobs} with labels the pool does not serve (skipped)` : ''}. Simulated in ${result.elapsedMs} ms.`,
    '',
    markdownTable(result.policies),
    '',
    '## Model',
    '',
    `boot ${model.bootSeconds} s ± ${model.bootJitterSeconds} s, billing per second with a ${model.minBillingSeconds} s minimum, on-demand ${model.onDemandPricePerHour} USD/h, spot ${model.spotPricePerHour} USD/h, ` +
      `spot interruptions ${model.spotInterruptionRatePerHour}/instance-hour, webhook delay ~${model.webhookDelaySeconds} s, webhook loss ${model.webhookLossRate * 100} %, ` +
      `reconcile every ${model.reconcileSeconds} s, execution ${model.executionSeconds} s, per-job queue delay ${model.perJobDelaySeconds} s, seed ${model.seed}.`,
    '',
    `Settings: ${JSON.stringify(settings)}`,
    ...(result.settingsProblems.length ? ['', 'Settings problems (fell back as the Lambdas do):', ...result.settingsProblems.map((p) => `- ${p.message}`)] : []),
    '',
    '## Over time',
    '',
    ...Object.entries(chartFiles).flatMap(([policy, file]) => [`### ${policy}`, '', `![${policy}](${file})`, '']),
  ];
  return lines.join('\n');
}
