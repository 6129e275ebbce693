import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * External tools (moto_server, cfn-lint, shellcheck) are on CI machines, under
 * the pyenv Python. Tests that need them skip with a visible reason elsewhere.
 */
export function findTool(name: string): string | null {
  const candidates = [join(homedir(), '.pyenv', 'shims', name), `/usr/local/bin/${name}`, `/usr/bin/${name}`];
  try {
    const found = execFileSync('bash', ['-lc', `command -v ${name}`], { encoding: 'utf8' }).trim();
    if (found) candidates.unshift(found);
  } catch {
    /* not on PATH */
  }
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    // moto_server has no --version; --help exits 0 for every tool here.
    for (const probe of ['--version', '--help']) {
      try {
        execFileSync(candidate, [probe], { stdio: 'ignore', timeout: 20000 });
        return candidate;
      } catch {
        /* a pyenv shim for a tool that is not installed in the active version */
      }
    }
  }
  return null;
}

/** `describe` that skips, saying why, when a tool is missing. */
export function describeWithTool(tool: string, title: string, body: (toolPath: string) => void): void {
  const path = findTool(tool);
  if (!path) {
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED "${title}": ${tool} is not installed on this machine (it is on CI machines)`);
    describe.skip(`${title} [skipped: ${tool} not installed]`, () => {
      it('needs ' + tool, () => undefined);
    });
    return;
  }
  describe(title, () => body(path));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface MotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts a private moto_server on a free loopback port. */
export async function startMoto(motoPath: string): Promise<MotoServer> {
  const port = await freePort();
  const child: ChildProcess = spawn(motoPath, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30000;
  for (;;) {
    try {
      const response = await fetch(`${endpoint}/moto-api/`);
      if (response.status < 500) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error('moto_server did not start within 30 s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Credentials for emulators: never real ones. */
export const FAKE_AWS = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' },
} as const;
