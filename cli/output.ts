import pc from 'picocolors';

/**
 * Where a command writes. Commands return their exit code and write through
 * this, so tests call them in-process and see exactly what an operator sees.
 * Colour and the spinner exist only on a terminal: piped output is plain text
 * that grep and CI logs can read.
 */
export interface Output {
  readonly tty: boolean;
  line(text?: string): void;
  error(text: string): void;
  /** Runs a slow call, with a spinner on a terminal. */
  spin<T>(label: string, work: () => Promise<T>): Promise<T>;
  readonly colors: Colors;
}

export interface Colors {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const plain: Colors = { bold: (t) => t, dim: (t) => t, red: (t) => t, green: (t) => t, yellow: (t) => t, cyan: (t) => t };
const coloured: Colors = { bold: pc.bold, dim: pc.dim, red: pc.red, green: pc.green, yellow: pc.yellow, cyan: pc.cyan };

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export function processOutput(stdout: NodeJS.WriteStream = process.stdout, stderr: NodeJS.WriteStream = process.stderr): Output {
  // picocolors already honours NO_COLOR / FORCE_COLOR; colour only when stdout is a terminal too.
  const tty = Boolean(stdout.isTTY) && pc.isColorSupported;
  return {
    tty,
    colors: tty ? coloured : plain,
    line: (text = '') => void stdout.write(`${text}\n`),
    error: (text) => void stderr.write(`${text}\n`),
    async spin(label, work) {
      if (!tty) return work();
      let frame = 0;
      const timer = setInterval(() => stdout.write(`\r${pc.cyan(FRAMES[frame++ % FRAMES.length])} ${label}`), 80);
      try {
        return await work();
      } finally {
        clearInterval(timer);
        stdout.write(`\r\x1b[2K`);
      }
    },
  };
}

/** Collects output in memory (tests, and `--json` assembly). */
export function memoryOutput(): Output & { lines: string[]; errors: string[]; text(): string } {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    tty: false,
    colors: plain,
    lines,
    errors,
    line: (text = '') => void lines.push(...text.split('\n')),
    error: (text) => void errors.push(...text.split('\n')),
    spin: (_label, work) => work(),
    text: () => [...lines, ...errors].join('\n'),
  };
}

/** Left-aligned columns; width from the widest cell (colour codes are added after padding). */
export function table(rows: string[][], colour?: Array<((text: string) => string) | undefined>): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => {
        const padded = i === row.length - 1 ? cell : cell.padEnd(widths[i]);
        return colour?.[i] ? colour[i]!(padded) : padded;
      })
      .join('  ')
      .trimEnd(),
  );
}

/** 95 -> "1m 35s", 7300 -> "2h 1m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'n/a';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

export function formatValue(value: unknown): string {
  if (value === undefined) return '(not set)';
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}
