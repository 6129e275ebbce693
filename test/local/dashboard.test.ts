import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { startLocalStack, type LocalStack } from '../../local/stack';
import { describeWithAutoScaler, getState, queueJobs, until } from './support';

/** The dashboard in a real headless Chromium (Debian's `chromium`); skips, saying why, where it is absent. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

if (!existsSync(CHROMIUM)) {
  // eslint-disable-next-line no-console
  console.warn(`SKIPPED "dashboard in headless Chromium": ${CHROMIUM} is not installed (apt-get install -y chromium)`);
  describe.skip('dashboard in headless Chromium [skipped: /usr/bin/chromium not installed]', () => {
    it('needs chromium', () => undefined);
  });
} else {
  describeWithAutoScaler('dashboard in headless Chromium', () => {
    let stack: LocalStack;
    let browser: Browser;

    beforeAll(async () => {
      stack = await startLocalStack({
        port: 0,
        bootSeconds: 0.5,
        reconcileSeconds: 1,
        logLevel: 'SILENT',
        sampleMs: 250,
        settings: { floor: 1, max: 8, headroom: 1, scaleInCooldownSeconds: 3 },
      });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    }, 60000);

    afterAll(async () => {
      await browser?.close();
      await stack?.stop();
    });

    it('loads without console errors and its chart follows a burst of jobs', async () => {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      const problems: string[] = [];
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      page.on('pageerror', (error) => problems.push(error.message));

      await page.goto(stack.urls.dashboard);
      await page.waitForSelector('#chart path[data-series="desired"]', { state: 'attached' });
      await until(async () => (await page.textContent('#instances'))?.includes('idle'), 'the floor instance to show as idle');
      const desiredPathBefore = await page.getAttribute('#chart path[data-series="desired"]', 'd');
      expect(await page.textContent('#s-desired')).toBe('1');

      expect((await queueJobs(stack.urls.simJobs, { labels: ['self-hosted', 'linux', 'x64'], durationSeconds: 8, count: 5 })).status).toBe(201);
      // The chart, the counters and the instance list follow the scale-out.
      await until(async () => (await page.textContent('#s-desired')) === '6', 'the dashboard to show desired 6');
      await until(async () => Number(await page.textContent('#s-busy')) > 0, 'busy runners on the dashboard');
      // The counters come from the state, the chart from the sampler's series: the next sample shows the step.
      const desiredYs = async () =>
        new Set(((await page.getAttribute('#chart path[data-series="desired"]', 'd')) ?? '').split(/[ML]/).filter(Boolean).map((p) => Number(p.trim().split(' ')[1])));
      await until(async () => (await desiredYs()).size > 1, 'the chart\'s desired line to move');
      const desiredPathAfter = await page.getAttribute('#chart path[data-series="desired"]', 'd');
      expect(desiredPathAfter).not.toBe(desiredPathBefore);
      expect(await page.locator('#instances tr').count()).toBeGreaterThan(1);
      expect(await page.locator('#decisions td.a-scale_out').count()).toBeGreaterThan(0);
      expect(await page.textContent('#settings')).toContain('scaleInCooldownSeconds');

      // The picture for the docs, mid-burst with every job on a runner: refreshed only on request
      // (UPDATE_SCREENSHOT=1 npx jest test/local/dashboard), so a test run leaves the checkout as it found it.
      await until(async () => Number(await page.textContent('#s-busy')) >= 4, 'at least four busy runners on the dashboard');
      if (process.env.UPDATE_SCREENSHOT === '1') await page.screenshot({ path: join(__dirname, '..', '..', 'docs', 'screenshot.png') });
      await until(async () => (await getState(stack.urls.state)).jobs.completed === 5, 'the jobs to complete', 40000);
      await until(async () => (await page.textContent('#s-completed')) === '5', 'the dashboard to count 5 completed jobs');
      expect(problems).toEqual([]);
      await page.close();
    }, 60000);
  });
}
