import { jobEventFromWorkflowJob, readJob, recordJobEvent } from '../../../lib/ledger';
import { DEFAULT_SETTINGS } from '../../../lib/settings';
import { writeSettings } from '../../../lib/settings-store';
import type { BundleCases } from '../support/cases';
import type { BundleWorld } from '../support/world';
import { activityItem, workflowJobEnvelope } from './autoscaler-store';

/**
 * The AutoScaler steps that act on the fleet: Observe, ScaleOut, ScaleIn and
 * Reconcile, against moto's Auto Scaling and EC2, dynalite and the simulated
 * GitHub. A case that changes capacity has its own group and pool.
 */

/** Registers a runner at the simulated GitHub as jit-config would; `online` starts its process (it then takes a queued job it can run). */
export async function registerRunner(
  world: BundleWorld,
  name: string,
  online: boolean,
  labels = ['self-hosted', 'linux', 'x64'],
): Promise<number> {
  const response = await fetch(`${world.sim.url}/orgs/${world.sim.org}/actions/runners/generate-jitconfig`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name, runner_group_id: 1, labels }),
  });
  const body = (await response.json()) as { runner: { id: number }; encoded_jit_config: string };
  if (online) world.sim.connectRunner(body.encoded_jit_config);
  return body.runner.id;
}

const counts = { queued: 0, busy: 0, idle: 0, booting: 0, offline: 0, unregistered: 0 };
const decision = (
  action: 'scale_out' | 'scale_in',
  current: number,
  desired: number,
  victims: Array<{ instanceId: string; runnerId: number }> = [],
) => ({
  action,
  current,
  target: desired,
  desired,
  victims,
  reason: 'bundle test',
  counts,
});

export const cases: BundleCases = {
  'AutoScaler/observe': [
    {
      name: "demand from the ledger, the group from Auto Scaling with EC2's markets, and its runner from GitHub (PAT from SSM)",
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const pool = 'b-observe';
        const [instanceId] = (await world.groupState()).instances;
        await registerRunner(world, instanceId, true);
        const before = world.github.requests.length;
        const run = await world.invoke(
          'AutoScaler/observe',
          { executionId: 'ob-1', settings: DEFAULT_SETTINGS, attempt: 0 },
          { POOL: pool },
        );
        expect(run.error).toBeUndefined();
        expect(run.result).toMatchObject({
          group: { desired: 1, min: 1, max: 4 },
          ledger: { queued: 0, inProgress: 0 },
          activity: { version: 0 },
          fleetCounts: { idle: 1 },
        });
        expect((run.result as { fleet: Array<Record<string, unknown>> }).fleet).toEqual([
          expect.objectContaining({ instanceId, state: 'idle', market: 'on-demand' }),
        ]);
        const listed = world.github.requests
          .slice(before)
          .filter((r) => r.method === 'GET' && r.path === `/orgs/${world.sim.org}/actions/runners`);
        expect(listed.length).toBeGreaterThan(0);
        expect(listed.every((r) => r.authorization === 'token ghp_bundletestpat')).toBe(true);
        expect(
          world.aws.calls.some(
            (c) => c.service === 'ec2' && c.action === 'DescribeInstances' && c.status === 200,
          ),
        ).toBe(true);
      },
    },
  ],

  'AutoScaler/scale-out': [
    {
      name: 'claims the activity version and sets the desired capacity; a second execution on the same version loses the conditional write and is covered',
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const pool = 'b-scale-out';
        const group = 'b-scale-out';
        await world.createGroup(group, 1);
        const env = { POOL: pool, AUTO_SCALING_GROUP_NAME: group };
        const first = await world.invoke(
          'AutoScaler/scale-out',
          { executionId: 'so-1', observedVersion: 0, decision: decision('scale_out', 1, 3) },
          env,
        );
        expect(first.result).toEqual({
          action: 'scale_out',
          applied: true,
          stale: false,
          desired: 3,
          version: 1,
        });
        expect((await world.groupState(group)).desired).toBe(3);
        const late = await world.invoke(
          'AutoScaler/scale-out',
          { executionId: 'so-2', observedVersion: 0, decision: decision('scale_out', 1, 2) },
          env,
        );
        expect(late.result).toMatchObject({ action: 'scale_out', applied: false, covered: true, version: 1 });
        expect((await world.groupState(group)).desired).toBe(3);
      },
    },
    {
      // The build unregisters ScalingActivityInProgressFault: the error then arrives as the base exception named
      // by its wire code, ScalingActivityInProgress (not ...Fault), and errors.ts must still know it is transient.
      name: 'Auto Scaling refuses SetDesiredCapacity with ScalingActivityInProgress (its class unregistered by the build): the step fails as a TransientError, which the state machine retries',
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const group = 'b-scale-out-busy';
        await world.createGroup(group, 1);
        world.aws.injectError({
          service: 'autoscaling',
          action: 'SetDesiredCapacity',
          status: 400,
          code: 'ScalingActivityInProgress',
          message: 'Scaling activity is in progress',
          bodyIncludes: group,
        });
        const run = await world.invoke(
          'AutoScaler/scale-out',
          { executionId: 'so-3', observedVersion: 0, decision: decision('scale_out', 1, 2) },
          { POOL: group, AUTO_SCALING_GROUP_NAME: group },
        );
        expect(run.error).toMatchObject({ name: 'TransientError', causeName: 'ScalingActivityInProgress' });
        expect(
          world.aws.calls
            .filter((c) => c.action === 'SetDesiredCapacity' && c.body.includes(group))
            .map((c) => c.status),
        ).toEqual([400]);
        expect((await world.groupState(group)).desired).toBe(1);
      },
    },
  ],

  'AutoScaler/scale-in': [
    {
      name: 'deletes the idle victim at GitHub and only then terminates it (desired decremented); the busy victim GitHub refuses (422) is kept',
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const group = 'b-scale-in';
        const [busy, idle] = await world.createGroup(group, 2);
        // Labels only this case uses: the job can go to the busy runner alone, and the idle one takes nothing.
        world.sim.queueJobs({ labels: ['self-hosted', 'scale-in'], durationSeconds: 3600 });
        const busyRunner = await registerRunner(world, busy, true, [
          'self-hosted',
          'linux',
          'x64',
          'scale-in',
        ]);
        expect(world.sim.runnerByName(busy)?.busy).toBe(true);
        const idleRunner = await registerRunner(world, idle, true, [
          'self-hosted',
          'linux',
          'x64',
          'scale-in-idle',
        ]);
        const victims = [
          { instanceId: busy, runnerId: busyRunner },
          { instanceId: idle, runnerId: idleRunner },
        ];
        const run = await world.invoke(
          'AutoScaler/scale-in',
          { executionId: 'si-1', observedVersion: 0, decision: decision('scale_in', 2, 0, victims) },
          { POOL: group, AUTO_SCALING_GROUP_NAME: group },
        );
        expect(run.result).toMatchObject({
          action: 'scale_in',
          applied: true,
          terminated: [idle],
          skipped: [{ instanceId: busy, reason: 'runner is busy at GitHub' }],
          version: 1,
        });
        expect(world.sim.runnerByName(idle)).toBeUndefined();
        expect(world.sim.runnerByName(busy)?.busy).toBe(true);
        const after = await world.groupState(group);
        expect(after.desired).toBe(1);
        expect(
          world.aws.calls
            .filter((c) => c.action === 'TerminateInstanceInAutoScalingGroup')
            .map((c) => new URLSearchParams(c.body).get('InstanceId')),
        ).toEqual([idle]);
        expect(await activityItem(world, group)).toMatchObject({ version: 1 });
      },
    },
  ],

  'AutoScaler/reconcile': [
    {
      name: 'a queued job GitHub knows and the ledger missed (a lost webhook) is added to the ledger',
      plugins: ['sdk-schema-shaking'],
      async run(world) {
        const pool = 'b-reconcile';
        const group = 'b-reconcile';
        await world.createGroup(group, 1);
        // A label no runner of the other cases has: the simulated GitHub leaves the job queued.
        await writeSettings(world.dynamo.doc, world.tableName, pool, DEFAULT_SETTINGS, 0);
        const [lost] = world.sim.queueJobs({ labels: ['self-hosted', 'reconcile'], durationSeconds: 60 });
        // One job the ledger did see, so the run also reads open jobs back.
        await recordJobEvent(
          world.dynamo.doc,
          world.tableName,
          jobEventFromWorkflowJob(
            workflowJobEnvelope(72001, 'b-reconcile-1').detail as never,
            pool,
            Date.now(),
          ),
        );
        const run = await world.invoke(
          'AutoScaler/reconcile',
          { executionId: 'rc-1' },
          // The pool's labels come from the Infrastructure export (RUNNER_LABELS), here with one no other case serves.
          { POOL: pool, AUTO_SCALING_GROUP_NAME: group, RUNNER_LABELS: 'self-hosted,linux,x64,reconcile' },
        );
        expect(run.error).toBeUndefined();
        expect(run.result).toMatchObject({ addedJobs: [lost.id] });
        expect(await readJob(world.dynamo.doc, world.tableName, lost.id)).toMatchObject({
          status: 'queued',
          pool,
        });
        expect(await activityItem(world, pool)).toHaveProperty('lastReconcileAt');
      },
    },
  ],
};
