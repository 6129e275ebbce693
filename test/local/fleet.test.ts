import { SimulatedFleet, ValidationError, type FleetInstance } from '../../local/fleet';

function manualClock(start = Date.parse('2026-01-01T00:00:00Z')) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('SimulatedFleet (an Auto Scaling Group as the autoscaler sees it)', () => {
  it('launches to the floor at creation, on-demand, booting until the boot delay has passed', async () => {
    const clock = manualClock();
    const booted: string[] = [];
    const fleet = new SimulatedFleet({ min: 1, max: 5, onDemandBase: 1, bootMs: 10000, clock, hooks: { instanceBooted: (i) => void booted.push(i.instanceId) } });
    let state = await fleet.describe();
    expect(state).toMatchObject({ desired: 1, min: 1, max: 5 });
    expect(state.instances).toHaveLength(1);
    expect(state.instances[0]).toMatchObject({ lifecycleState: 'Pending', market: 'on-demand', protectedFromScaleIn: true });
    clock.advance(9999);
    fleet.tick();
    expect((await fleet.describe()).instances[0].lifecycleState).toBe('Pending');
    clock.advance(1);
    fleet.tick();
    await Promise.resolve();
    state = await fleet.describe();
    expect(state.instances[0].lifecycleState).toBe('InService');
    await new Promise((r) => setImmediate(r));
    expect(booted).toEqual([state.instances[0].instanceId]);
  });

  it('puts the first onDemandBase instances on-demand and the rest on spot', async () => {
    const fleet = new SimulatedFleet({ min: 2, max: 10, onDemandBase: 2, bootMs: 0, clock: manualClock() });
    await fleet.setDesiredCapacity(5);
    const markets = (await fleet.describe()).instances.map((i) => i.market);
    expect(markets.filter((m) => m === 'on-demand')).toHaveLength(2);
    expect(markets.filter((m) => m === 'spot')).toHaveLength(3);
  });

  it('refuses a desired capacity outside [min, max] and changes nothing', async () => {
    const fleet = new SimulatedFleet({ min: 1, max: 3, onDemandBase: 1, bootMs: 0, clock: manualClock() });
    await expect(fleet.setDesiredCapacity(4)).rejects.toThrow(ValidationError);
    await expect(fleet.setDesiredCapacity(0)).rejects.toThrow(/below min value 1 or above max value 3/);
    const state = await fleet.describe();
    expect(state.desired).toBe(1);
    expect(state.instances).toHaveLength(1);
  });

  it('never picks a victim itself: lowering desired capacity terminates nothing', async () => {
    const fleet = new SimulatedFleet({ min: 1, max: 5, onDemandBase: 1, bootMs: 0, clock: manualClock() });
    await fleet.setDesiredCapacity(4);
    await fleet.setDesiredCapacity(1);
    const state = await fleet.describe();
    expect(state.desired).toBe(1);
    expect(state.instances).toHaveLength(4);
    expect(fleet.terminations).toHaveLength(0);
  });

  it('terminates with decrement, refuses to go below min, and replaces an instance terminated without decrement', async () => {
    const terminated: FleetInstance[] = [];
    const fleet = new SimulatedFleet({ min: 1, max: 5, onDemandBase: 1, bootMs: 0, clock: manualClock(), hooks: { instanceTerminated: (i) => void terminated.push(i) } });
    await fleet.setDesiredCapacity(2);
    const [first, second] = (await fleet.describe()).instances;
    await fleet.terminateInstance(second.instanceId, true);
    expect((await fleet.describe()).desired).toBe(1);
    await expect(fleet.terminateInstance(first.instanceId, true)).rejects.toThrow(/min size constraint/);
    expect((await fleet.describe()).instances.map((i) => i.instanceId)).toEqual([first.instanceId]);
    await fleet.terminateInstance(first.instanceId, false);
    const after = await fleet.describe();
    expect(after.desired).toBe(1);
    expect(after.instances).toHaveLength(1);
    expect(after.instances[0].instanceId).not.toBe(first.instanceId);
    expect(after.instances[0].market).toBe('on-demand');
    expect(terminated.map((i) => i.instanceId)).toEqual([second.instanceId, first.instanceId]);
    await expect(fleet.terminateInstance('i-missing', true)).rejects.toThrow(/Instance Id not found/);
  });

  it('an instance whose runner finished leaves with decrement, or without it at the floor', async () => {
    const fleet = new SimulatedFleet({ min: 1, max: 5, onDemandBase: 1, bootMs: 0, clock: manualClock() });
    await fleet.setDesiredCapacity(2);
    const [first, second] = (await fleet.describe()).instances;
    fleet.instanceFinished(second.instanceId);
    expect((await fleet.describe()).desired).toBe(1);
    fleet.instanceFinished(first.instanceId);
    const state = await fleet.describe();
    expect(state.desired).toBe(1);
    expect(state.instances).toHaveLength(1);
    expect(fleet.terminations.map((t) => [t.by, t.decrement])).toEqual([
      ['self', true],
      ['self', false],
    ]);
  });
});
