import fc from 'fast-check';
import { buildObservation, classifyFleet, compactFleet, decide, MAX_VICTIMS_PER_SCALE_IN, needsRunnerList, type FleetMember, type Observation } from '../lib/policy';
import type { GroupInstance, RunnerRegistration } from '../lib/ports';
import { DEFAULT_SETTINGS, type Settings } from '../lib/settings';

const NOW = Date.parse('2026-01-01T12:00:00Z');
const settings = (overrides: Partial<Settings> = {}): Settings => ({ ...DEFAULT_SETTINGS, ...overrides });

function member(id: string, state: FleetMember['state'], ageSeconds: number, market: FleetMember['market'] = 'spot', runnerId?: number): FleetMember {
  return {
    instanceId: id,
    market,
    launchedAt: NOW - ageSeconds * 1000,
    lifecycleState: 'InService',
    state,
    ...(state === 'idle' || state === 'busy' || state === 'offline' ? { runnerId: runnerId ?? Number(id.replace(/\D/g, '')) } : {}),
  };
}

function observation(partial: Partial<Observation> & { fleet?: FleetMember[] }): Observation {
  const fleet = partial.fleet ?? [];
  return {
    now: NOW,
    group: partial.group ?? { desired: fleet.length, min: 1, max: 10 },
    fleet,
    ledger: partial.ledger ?? { queued: 0, inProgress: 0 },
    activity: partial.activity ?? { version: 1, lastScaleOutAt: null, lastScaleInAt: null },
  };
}

describe('decide', () => {
  it('scales out to busy + queued + headroom', () => {
    const d = decide(observation({ fleet: [member('i-1', 'idle', 600, 'on-demand')], ledger: { queued: 5, inProgress: 0 } }), settings({ headroom: 1 }));
    expect(d).toMatchObject({ action: 'scale_out', current: 1, target: 6, desired: 6 });
  });

  it('counts booting instances as capacity on the way', () => {
    const fleet = [member('i-1', 'busy', 600), member('i-2', 'booting', 5), member('i-3', 'booting', 5)];
    const d = decide(observation({ fleet, ledger: { queued: 2, inProgress: 1 } }), settings());
    expect(d.action).toBe('none');
    expect(d.target).toBe(3);
  });

  it('does not count a job twice when its runner is busy before its in_progress event is recorded', () => {
    const fleet = [member('i-1', 'busy', 600), member('i-2', 'busy', 600), member('i-3', 'busy', 600)];
    const d = decide(observation({ fleet, ledger: { queued: 2, inProgress: 1 } }), settings());
    expect(d.counts).toMatchObject({ busy: 3, queued: 0 });
    expect(d).toMatchObject({ action: 'none', target: 3 });
  });

  it('trusts busy runners over the ledger when webhooks were lost', () => {
    const fleet = [member('i-1', 'busy', 600), member('i-2', 'busy', 600)];
    const d = decide(observation({ fleet, ledger: { queued: 1, inProgress: 0 } }), settings({ headroom: 0 }));
    expect(d.counts).toMatchObject({ busy: 2, queued: 0 });
    expect(d.target).toBe(2);
  });

  it('never goes above max nor below floor', () => {
    expect(decide(observation({ fleet: [member('i-1', 'idle', 60)], ledger: { queued: 500, inProgress: 0 } }), settings({ max: 7 })).desired).toBe(7);
    const idle = [member('i-1', 'idle', 900), member('i-2', 'idle', 800)];
    expect(decide(observation({ fleet: idle }), settings({ floor: 2, scaleInCooldownSeconds: 0 })).action).toBe('none');
  });

  it('scale-out is not held back by the scale-in cooldown', () => {
    const d = decide(
      observation({ fleet: [member('i-1', 'idle', 60)], ledger: { queued: 3, inProgress: 0 }, activity: { version: 3, lastScaleInAt: NOW - 1000, lastScaleOutAt: null } }),
      settings({ scaleInCooldownSeconds: 3600 }),
    );
    expect(d.action).toBe('scale_out');
  });

  it('holds scale-out during the scale-out cooldown', () => {
    const d = decide(
      observation({ fleet: [member('i-1', 'idle', 60)], ledger: { queued: 3, inProgress: 0 }, activity: { version: 3, lastScaleOutAt: NOW - 10_000 } }),
      settings({ scaleOutCooldownSeconds: 60 }),
    );
    expect(d.action).toBe('none');
    expect(d.reason).toMatch(/cooldown/);
  });

  it('scales in only idle runners, spot before on-demand, oldest first, after the cooldown', () => {
    const fleet = [
      member('i-1', 'idle', 3000, 'on-demand'),
      member('i-2', 'busy', 2000),
      member('i-3', 'idle', 1000),
      member('i-4', 'idle', 1500),
    ];
    const held = decide(observation({ fleet, ledger: { queued: 0, inProgress: 1 }, activity: { version: 1, lastScaleOutAt: NOW - 60_000 } }), settings());
    expect(held.action).toBe('none');
    const d = decide(observation({ fleet, ledger: { queued: 0, inProgress: 1 }, activity: { version: 1, lastScaleOutAt: NOW - 600_000 } }), settings());
    expect(d.action).toBe('scale_in');
    // the busy runner alone satisfies the floor of 1: every idle one goes, spot first, oldest first
    expect(d.victims.map((v) => v.instanceId)).toEqual(['i-4', 'i-3', 'i-1']);
    expect(d.desired).toBe(1);
  });

  it('can scale in when the group is at max', () => {
    const fleet = Array.from({ length: 5 }, (_, i) => member(`i-${i + 1}`, 'idle', 1000 + i));
    const d = decide(observation({ fleet, group: { desired: 5, min: 1, max: 5 } }), settings({ max: 5, scaleInCooldownSeconds: 0 }));
    expect(d.action).toBe('scale_in');
    expect(d.desired).toBe(1);
  });

  it('does nothing when above target but nobody is idle', () => {
    const fleet = [member('i-1', 'busy', 100), member('i-2', 'booting', 10), member('i-3', 'booting', 10)];
    const d = decide(observation({ fleet, ledger: { queued: 0, inProgress: 1 } }), settings({ scaleInCooldownSeconds: 0 }));
    expect(d.action).toBe('none');
  });
});

describe('classifyFleet', () => {
  it('joins instances with registrations by name and flags never-registered instances', () => {
    const fleet = classifyFleet(
      [
        { instanceId: 'i-a', lifecycleState: 'InService', market: 'spot', launchTime: new Date(NOW - 30_000).toISOString(), protectedFromScaleIn: true },
        { instanceId: 'i-b', lifecycleState: 'InService', market: 'spot', launchTime: new Date(NOW - 900_000).toISOString(), protectedFromScaleIn: true },
        { instanceId: 'i-c', lifecycleState: 'InService', market: 'on-demand', launchTime: new Date(NOW - 900_000).toISOString(), protectedFromScaleIn: true },
        { instanceId: 'i-d', lifecycleState: 'Terminating', market: 'spot', launchTime: new Date(NOW - 900_000).toISOString(), protectedFromScaleIn: true },
      ],
      [{ id: 7, name: 'i-c', status: 'online', busy: true, labels: [] }],
      NOW,
      600,
    );
    expect(fleet.map((m) => [m.instanceId, m.state])).toEqual([
      ['i-a', 'booting'],
      ['i-b', 'unregistered'],
      ['i-c', 'busy'],
    ]);
  });
});

describe('policy invariants (property-based)', () => {
  const stateArb = fc.constantFrom<FleetMember['state']>('booting', 'idle', 'busy', 'offline', 'unregistered');
  const fleetArb = fc.array(fc.tuple(stateArb, fc.integer({ min: 0, max: 7200 }), fc.boolean()), { maxLength: 30 }).map((rows) =>
    rows.map(([state, age, spot], i) => member(`i-${i + 1}`, state, age, spot ? 'spot' : 'on-demand', i + 1)),
  );
  const settingsArb = fc
    .record({ floor: fc.integer({ min: 0, max: 5 }), span: fc.integer({ min: 0, max: 40 }), headroom: fc.integer({ min: 0, max: 5 }), cool: fc.integer({ min: 0, max: 600 }) })
    .map(({ floor, span, headroom, cool }) => settings({ floor, max: Math.max(1, floor + span), headroom, scaleInCooldownSeconds: cool }));
  const obsArb = fc.record({
    fleet: fleetArb,
    queued: fc.integer({ min: 0, max: 100 }),
    inProgress: fc.integer({ min: 0, max: 100 }),
    extraDesired: fc.integer({ min: -3, max: 3 }),
    lastOut: fc.option(fc.integer({ min: 0, max: 3_600_000 })),
  }).map(({ fleet, queued, inProgress, extraDesired, lastOut }) =>
    observation({
      fleet,
      group: { desired: Math.max(0, fleet.length + extraDesired), min: 0, max: 100 },
      ledger: { queued, inProgress },
      activity: { version: 1, lastScaleOutAt: lastOut === null ? null : NOW - lastOut },
    }),
  );

  it('never targets above max or below floor, never picks a busy victim, never scales in below floor', () => {
    fc.assert(
      fc.property(obsArb, settingsArb, (obs, s) => {
        const d = decide(obs, s);
        expect(d.target).toBeGreaterThanOrEqual(s.floor);
        expect(d.target).toBeLessThanOrEqual(s.max);
        if (d.action === 'scale_out') expect(d.desired).toBeLessThanOrEqual(s.max);
        if (d.action === 'scale_in') {
          expect(d.desired).toBeGreaterThanOrEqual(s.floor);
          const idle = new Set(obs.fleet.filter((m) => m.state === 'idle').map((m) => m.instanceId));
          for (const victim of d.victims) expect(idle.has(victim.instanceId)).toBe(true);
          expect(new Set(d.victims.map((v) => v.instanceId)).size).toBe(d.victims.length);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('is idempotent on a repeated observation', () => {
    fc.assert(fc.property(obsArb, settingsArb, (obs, s) => expect(decide(obs, s)).toEqual(decide(structuredClone(obs), s))), { numRuns: 500 });
  });

  it('after a scale-out is applied, the same demand asks for nothing more', () => {
    fc.assert(
      fc.property(obsArb, settingsArb, (obs, s) => {
        const d = decide(obs, s);
        if (d.action !== 'scale_out') return;
        const booted = [...obs.fleet, ...Array.from({ length: d.desired - obs.group.desired }, (_, i) => member(`i-new-${i}`, 'booting', 0))];
        const again = decide({ ...obs, fleet: booted, group: { ...obs.group, desired: d.desired }, activity: { version: 2, lastScaleOutAt: null } }, s);
        expect(again.action).not.toBe('scale_out');
      }),
      { numRuns: 1000 },
    );
  });

  it('skipping the runner list never changes what happens: only scale-outs that runners could raise, never a scale-in', () => {
    fc.assert(
      fc.property(obsArb, settingsArb, (obs, s) => {
        if (needsRunnerList(obs, s)) return;
        const withRunners = decide(obs, s);
        // What Observe sees without GitHub's list: every instance booting.
        const ledgerOnly = decide({ ...obs, fleet: obs.fleet.map((m) => ({ ...m, state: 'booting' as const })) }, s);
        expect(withRunners.action).not.toBe('scale_in');
        expect(ledgerOnly.action).not.toBe('scale_in');
        // Never overshoots what the full view would ask for.
        expect(ledgerOnly.desired).toBeLessThanOrEqual(withRunners.desired);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('bounded observations (compactFleet)', () => {
  const stateArb = fc.constantFrom<FleetMember['state']>('booting', 'idle', 'busy', 'offline', 'unregistered');
  // Fleets up to three times the victim cap, so the bound itself is exercised.
  const bigFleetArb = fc
    .array(fc.tuple(stateArb, fc.integer({ min: 0, max: 7200 }), fc.boolean()), { maxLength: 3 * MAX_VICTIMS_PER_SCALE_IN })
    .map((rows) => rows.map(([state, age, spot], i) => member(`i-${i + 1}`, state, age, spot ? 'spot' : 'on-demand', i + 1)));

  it('decides exactly as on the whole fleet, whatever its size (property)', () => {
    fc.assert(
      fc.property(bigFleetArb, fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 3 }), (fleet, queued, floor) => {
        const whole = observation({ fleet, group: { desired: fleet.length, min: 0, max: 1000 }, ledger: { queued, inProgress: 0 } });
        const compact = { ...whole, ...compactFleet(fleet) };
        const s = settings({ floor, max: 1000, scaleInCooldownSeconds: 0 });
        expect(decide(compact, s)).toEqual(decide(whole, s));
        expect(compact.fleet.length).toBeLessThanOrEqual(MAX_VICTIMS_PER_SCALE_IN);
      }),
      { numRuns: 300 },
    );
  });

  it('removes at most MAX_VICTIMS_PER_SCALE_IN runners in one scale-in', () => {
    const idle = Array.from({ length: 700 }, (_, i) => member(`i-${i + 1}`, 'idle', 600 + i));
    const d = decide(observation({ fleet: idle, group: { desired: 700, min: 1, max: 1000 } }), settings({ floor: 1, max: 1000, scaleInCooldownSeconds: 0 }));
    expect(d).toMatchObject({ action: 'scale_in', target: 1, current: 700, desired: 700 - MAX_VICTIMS_PER_SCALE_IN });
    expect(d.victims).toHaveLength(MAX_VICTIMS_PER_SCALE_IN);
    // The oldest go first.
    expect(d.victims[0].instanceId).toBe('i-700');
  });

  it("keeps an execution's state far under Step Functions' 256 KB at the 10,000-instance max, all idle (the most members it carries)", () => {
    const instances: GroupInstance[] = Array.from({ length: 10_000 }, (_, i) => ({
      instanceId: `i-0${(0x1234567890abc + i).toString(16).padStart(16, '0')}`,
      lifecycleState: 'InService',
      market: i === 0 ? 'on-demand' : 'spot',
      launchTime: new Date(NOW - 3_600_000 + i).toISOString(),
      instanceType: 'm7g.large',
      protectedFromScaleIn: true,
    }));
    const runners: RunnerRegistration[] = instances.map((instance, i) => ({ id: 1_000_000 + i, name: instance.instanceId, status: 'online', busy: false, labels: ['self-hosted', 'linux', 'x64'] }));
    const s = settings({ floor: 1, max: 10_000, scaleInCooldownSeconds: 0 });
    const obs = buildObservation({ now: NOW, group: { name: 'runners', desired: 10_000, min: 1, max: 10_000, instances }, runners, ledger: { queued: 0, inProgress: 0 }, activity: { version: 9 } }, 600);
    const decision = decide(obs, s);
    expect(obs.fleetCounts.idle).toBe(10_000);
    expect(decision.victims).toHaveLength(MAX_VICTIMS_PER_SCALE_IN);
    // The state after Decide holds the settings, the observation and the decision (statemachine/autoscaler.asl.json).
    const state = { executionId: 'x'.repeat(120), trigger: 'reconcile', settings: { values: s, problems: [], version: 3 }, observation: obs, decision };
    const bytes = Buffer.byteLength(JSON.stringify(state));
    expect(bytes).toBeLessThan(64 * 1024);
  });
});

describe('needsRunnerList', () => {
  const base = observation({ group: { desired: 3, min: 1, max: 10 }, ledger: { queued: 0, inProgress: 3 }, activity: { version: 1, lastScaleOutAt: null, lastScaleInAt: null } });

  it('is not needed while the ledger alone asks for more than the group has (a burst of queued jobs)', () => {
    expect(needsRunnerList({ ...base, ledger: { queued: 5, inProgress: 3 } }, settings())).toBe(false);
  });

  it('is not needed while the scale-in cooldown holds', () => {
    expect(needsRunnerList({ ...base, activity: { version: 1, lastScaleOutAt: NOW - 10_000 } }, settings({ scaleInCooldownSeconds: 300 }))).toBe(false);
  });

  it('is needed to find idle runners once the cooldown has passed, and when demand equals capacity', () => {
    expect(needsRunnerList({ ...base, activity: { version: 1, lastScaleOutAt: NOW - 400_000 } }, settings({ scaleInCooldownSeconds: 300 }))).toBe(true);
    expect(needsRunnerList(base, settings())).toBe(true);
  });

  it('applies the group limits as Decide does: a ledger target above MaxSize is no reason to skip', () => {
    const atMax = { ...base, group: { desired: 4, min: 1, max: 4 }, ledger: { queued: 20, inProgress: 4 } };
    expect(needsRunnerList(atMax, settings({ max: 50 }))).toBe(true);
  });
});
