import { startLocalStack, type LocalStack } from '../../local/stack';
import { describeWithAutoScaler, getState, queueJobs, until } from './support';

/**
 * The end-to-end scenario on the real pipeline: signed webhooks from
 * the simulated GitHub, the real webhook handler, the template's rules, the
 * real ASL file and Task handlers, dynalite, the simulated fleet.
 */
describeWithAutoScaler('local stack, end to end', () => {
  const served = ['self-hosted', 'linux', 'x64'];
  const settings = { floor: 1, max: 6, headroom: 1, scaleOutCooldownSeconds: 0, scaleInCooldownSeconds: 2, labels: served };
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startLocalStack({ port: 0, bootSeconds: 0.3, reconcileSeconds: 1, logLevel: 'SILENT', settings, sampleMs: 200 });
  }, 30000);

  afterAll(async () => {
    await stack?.stop();
  });

  it('scales out for served jobs only, never above max, runs every job, and returns to the floor without killing a busy runner', async () => {
    // The floor instance boots and registers.
    await until(async () => (await getState(stack.urls.state)).instances.some((i) => i.status === 'idle'), 'the floor runner to be idle');
    const before = await getState(stack.urls.state);
    expect(before.desiredCapacity).toBe(1);
    expect(before.instances).toHaveLength(1);
    expect(before.instances[0].market).toBe('on-demand');

    // Sample the group while the burst runs (the fleet also records every desired capacity it was set to).
    const desiredSamples: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        desiredSamples.push((await stack.scalingGroup.describe()).desired);
        await new Promise((r) => setTimeout(r, 25));
      }
    })();

    const servedResponse = await queueJobs(stack.urls.simJobs, { labels: served, durationSeconds: 1.5, count: 8 });
    expect(servedResponse.status).toBe(201);
    const unservedResponse = await queueJobs(stack.urls.simJobs, { labels: ['self-hosted', 'gpu'], durationSeconds: 1, count: 2 });
    const unservedIds = ((await unservedResponse.json()) as { queued: Array<{ id: number }> }).queued.map((j) => j.id);
    expect(unservedIds).toHaveLength(2);

    const expectedPeak = Math.min(settings.max, 8 + settings.headroom);
    await until(async () => (await getState(stack.urls.state)).desiredCapacity === expectedPeak, `desired capacity to reach ${expectedPeak}`, 15000);

    // Every served job completes.
    await until(
      () => stack.sim.listJobs().filter((j) => j.labels.includes('x64') && j.status === 'completed').length === 8,
      'all 8 served jobs to complete',
      30000,
    );

    // Back to the floor after the scale-in cooldown.
    await until(async () => {
      const state = await getState(stack.urls.state);
      return state.desiredCapacity === settings.floor && state.instances.length === settings.floor && state.instances.every((i) => i.status === 'idle');
    }, 'capacity to return to the floor', 30000);
    sampling = false;
    await sampler;

    // Never above max.
    expect(Math.max(...desiredSamples)).toBeLessThanOrEqual(settings.max);
    expect(Math.max(...stack.fleet!.desiredHistory)).toBe(expectedPeak);
    expect(stack.fleet!.peakInstances).toBeLessThanOrEqual(settings.max);

    // The unserved jobs started nothing: still queued, never on a runner, never on the bus.
    const unserved = stack.sim.listJobs().filter((j) => unservedIds.includes(j.id));
    expect(unserved.map((j) => [j.status, j.runnerName])).toEqual([
      ['queued', null],
      ['queued', null],
    ]);
    const triggers = stack.bus.executions.map((e) => e.trigger);
    for (const id of unservedIds) expect(triggers.some((t) => t.includes(`job ${id}`))).toBe(false);
    const unservedDeliveries = stack.sim.listDeliveries().filter((d) => unservedIds.includes(d.jobId));
    expect(unservedDeliveries.map((d) => d.statusCode)).toEqual([202, 202]);

    // No busy runner was terminated: the simulated GitHub saw every vanished machine idle, and every job succeeded.
    expect(stack.sim.machineTerminations.filter((t) => t.wasBusy)).toEqual([]);
    const servedJobs = stack.sim.listJobs().filter((j) => j.labels.includes('x64'));
    expect(servedJobs.every((j) => j.conclusion === 'success')).toBe(true);
    // The autoscaler did remove idle runners (scale-in), and instances that ran a job left by themselves.
    expect(stack.fleet!.terminations.some((t) => t.by === 'self')).toBe(true);

    const after = await getState(stack.urls.state);
    expect(after.jobs).toEqual({ queued: 2, inProgress: 0, completed: 8 });
    expect(after.executions.failed).toBe(0);
    expect(after.lastDecision).not.toBeNull();
    expect(after.series.length).toBeGreaterThan(5);
  }, 90000);
});
