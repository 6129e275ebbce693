import { PassThrough } from 'node:stream';
import { formatDuration, processOutput, table } from '../../cli/output';

function stream(isTTY: boolean): NodeJS.WriteStream & { text(): string } {
  const s = new PassThrough() as unknown as NodeJS.WriteStream & { text(): string };
  const chunks: string[] = [];
  (s as unknown as PassThrough).on('data', (c: Buffer) => chunks.push(c.toString()));
  (s as { isTTY?: boolean }).isTTY = isTTY;
  s.text = () => chunks.join('');
  return s;
}

describe('terminal output', () => {
  it('piped: no colour codes and no spinner frames, only the lines', async () => {
    const out = stream(false);
    const output = processOutput(out, stream(false));
    expect(output.tty).toBe(false);
    const value = await output.spin('slow call', async () => {
      await new Promise((r) => setTimeout(r, 200));
      return 42;
    });
    output.line(output.colors.red('FAIL  x'));
    await new Promise((r) => setImmediate(r));
    expect(value).toBe(42);
    expect(out.text()).toBe('FAIL  x\n');
  });

  it('formats durations and aligns columns', () => {
    expect([5, 95, 7300, 90000].map(formatDuration)).toEqual(['5s', '1m 35s', '2h 1m', '1d 1h']);
    expect(table([['a', 'bbb', 'c'], ['dddd', 'e', 'f']])).toEqual(['a     bbb  c', 'dddd  e    f']);
  });
});
