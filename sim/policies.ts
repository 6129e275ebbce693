import { decideStep } from '../AutoScaler/src/decide';
import { DEFAULT_POOL_LABELS as POOL_LABELS, runnerCanTakeJob } from '../lib/labels';
import { applyJobEvent, jobEventFromWorkflowJob, type JobEvent, type JobRecord } from '../lib/ledger';
import { buildObservation, needsRunnerList, type Observation } from '../lib/policy';
import { jobsToRecheck, missedQueuedEvent, missedQueuedJobs, repairFromRemote, staleRegistrations, unregisteredToTerminate } from '../lib/reconcile-rules';
import { seededRandom, seedFrom } from './random';
import { peakConcurrency, type TraceJob } from './trace';
import type { World } from './world';

/**
 * The policies the simulator compares. Each sets itself up on a fresh World
 * (same trace, same model, same lost webhooks) and from then on only reacts:
 * to webhook deliveries, to its own timers, to its instances launching.
 */
export interface SimPolicy {
  name: string;
  description: string;
  setup(world: World, trace: readonly TraceJob[]): void;
}

const POOL = 'sim';

/**
 * Ours: the same decision code the Lambdas run. The job ledger follows the
 * pure `applyJobEvent` rule (the DynamoDB ledger's transition function), the
 * observation is Observe's (`needsRunnerList`, `buildObservation`: GitHub's
 * runner list only when the decision depends on it), the decision is `decideStep` (the Decide Lambda), and it is applied the
 * way ScaleOut/ScaleIn do (desired capacity; delete the registration first,
 * terminate only what GitHub let go). The 15-minute reconcile applies the
 * Reconcile step's own rules (lib/reconcile-rules.ts).
 */
export function autoscalerPolicy(): SimPolicy {
  return {
    name: 'autoscaler',
    description: 'this project: level-triggered target = busy + queued + headroom, ephemeral JIT runners, reconcile every period',
    setup(world) {
      const { settings, model } = world;
      const group = world.createFleet({ min: settings.floor, max: settings.max, onDemandBase: settings.floor, ephemeral: true });
      const ledger = new Map<number, JobRecord>();
      const open = new Set<number>();
      const counts = { queued: 0, inProgress: 0 };
      const deliveries = new Set<string>();
      const activity: Observation['activity'] = { version: 0, lastScaleOutAt: null, lastScaleInAt: null };

      const record = (event: JobEvent) => {
        const transition = applyJobEvent(ledger.get(event.jobId), event);
        if (!transition.changed) return;
        if (transition.previous === 'queued') counts.queued -= 1;
        if (transition.previous === 'in_progress') counts.inProgress -= 1;
        const status = transition.record.status;
        if (status === 'queued') counts.queued += 1;
        if (status === 'in_progress') counts.inProgress += 1;
        if (status === 'completed') open.delete(event.jobId);
        else open.add(event.jobId);
        ledger.set(event.jobId, transition.record);
      };

      // Observe, Decide and apply, as the state machine runs them (AutoScaler/src/observe.ts, decide.ts, scale-out.ts, scale-in.ts).
      const execute = async () => {
        const state = await group.describe();
        const now = world.clock.now();
        const runners = needsRunnerList({ now, group: state, ledger: counts, activity }, settings) ? await world.github.listRunners() : null;
        const observation = buildObservation({ now, group: state, runners, ledger: counts, activity }, settings.bootTimeoutSeconds);
        const decision = decideStep({ observation, settings });
        if (decision.action === 'scale_out') {
          activity.version += 1;
          activity.lastScaleOutAt = now;
          await group.setDesiredCapacity(decision.desired);
        } else if (decision.action === 'scale_in') {
          activity.version += 1;
          activity.lastScaleInAt = now;
          for (const victim of decision.victims) {
            if ((await world.github.deleteRunner(victim.runnerId)) === 'deleted') await group.terminateInstance(victim.instanceId, true);
          }
        }
      };

      // The Reconcile step's rules (lib/reconcile-rules.ts), applied to the in-memory ledger.
      const reconcile = async () => {
        const queuedAtGitHub = await world.github.listQueuedJobs();
        const openJobs = [...open].map((jobId) => ledger.get(jobId)!);
        for (const job of jobsToRecheck(openJobs, queuedAtGitHub)) {
          const repair = repairFromRemote(job, await world.github.getJob(job.repository, job.jobId), world.clock.now());
          if (repair) record(repair);
        }
        for (const remote of missedQueuedJobs(queuedAtGitHub, open, POOL_LABELS)) record(missedQueuedEvent(remote, POOL, world.clock.now()));
        const [state, runners] = await Promise.all([group.describe(), world.github.listRunners()]);
        for (const runner of staleRegistrations(runners, state, POOL_LABELS)) await world.github.deleteRunner(runner.id);
        for (const { instanceId, decrement } of unregisteredToTerminate(state, runners, world.clock.now(), settings.bootTimeoutSeconds)) {
          await group.terminateInstance(instanceId, decrement);
        }
      };

      // The rule's pattern: deliveries for labels this pool does not serve never start an execution.
      world.onWebhook((event) => {
        if (!runnerCanTakeJob(POOL_LABELS, event.labels)) return;
        world.at(world.now + model.executionSeconds * 1000, async () => {
          if (deliveries.has(event.deliveryId)) return;
          deliveries.add(event.deliveryId);
          record(jobEventFromWorkflowJob(event, POOL, world.clock.now()));
          await execute();
        });
      });
      world.every(model.reconcileSeconds * 1000, async () => {
        await reconcile();
        await execute();
      });
      // The Runners stack's launch hook: a JIT config per instance, then DescribeAutoScalingInstances + CompleteLifecycleAction.
      world.onLaunch(async (instanceId) => {
        await world.github.generateJitConfig({ name: instanceId, labels: [...POOL_LABELS], runnerGroupId: 1 });
        world.countScaleCall(2);
      });
      // The interruption function: an idle runner is deregistered before EC2 takes the machine.
      world.onInterruption(async (instanceId) => {
        const runner = (await world.github.listRunners()).find((r) => r.name === instanceId);
        if (runner && !runner.busy) await world.github.deleteRunner(runner.id);
      });
    },
  };
}

/** A fixed fleet sized to the trace's peak concurrency, persistent runners, never scaled. */
export function staticPeakPolicy(): SimPolicy {
  return {
    name: 'static-peak',
    description: 'a fixed fleet of persistent runners sized to the trace peak concurrency (floor on-demand, the rest spot)',
    setup(world, trace) {
      const size = Math.max(world.settings.floor, peakConcurrency(trace), 1);
      world.createFleet({ min: size, max: size, desired: size, onDemandBase: world.settings.floor, ephemeral: false });
    },
  };
}

/**
 * The original design's rule: +1 when queued runs exceed five times the
 * registered runners, -1 when queued runs are fewer than runners, one
 * cooldown for both, persistent runners, and Auto Scaling itself choosing
 * the instance to remove (no scale-in protection).
 */
export function seedPolicy(): SimPolicy {
  return {
    name: 'seed',
    description: 'the original rule: +1 if queued > 5 x runners, -1 if queued < runners, cooldown; persistent runners; the ASG picks victims',
    setup(world) {
      const { settings, model } = world;
      const group = world.createFleet({ min: settings.floor, max: settings.max, onDemandBase: settings.floor, ephemeral: false });
      const victimRandom = seededRandom(seedFrom('seed-victims', model.seed));
      const cooldownMs = settings.scaleInCooldownSeconds * 1000;
      let lastActionAt = -Infinity;
      const evaluate = async () => {
        if (world.now - lastActionAt < cooldownMs) return;
        const queued = (await world.github.listQueuedJobs()).filter((job) => runnerCanTakeJob(POOL_LABELS, job.labels)).length;
        const runners = (await world.github.listRunners()).filter((runner) => runner.status === 'online').length;
        const state = await group.describe();
        if (queued > 5 * runners && state.desired < state.max) {
          lastActionAt = world.now;
          await group.setDesiredCapacity(state.desired + 1);
        } else if (queued < runners && state.desired > state.min && state.instances.length > 0) {
          lastActionAt = world.now;
          // Default termination policy: which instance goes has nothing to do with whether it is busy.
          const victim = state.instances[Math.floor(victimRandom() * state.instances.length)];
          await group.terminateInstance(victim.instanceId, true);
        }
      };
      world.onWebhook((event) => {
        if (runnerCanTakeJob(POOL_LABELS, event.labels)) world.at(world.now + model.executionSeconds * 1000, evaluate);
      });
      world.every(model.reconcileSeconds * 1000, evaluate);
    },
  };
}

/**
 * One instance per queued webhook, after the anchor's queue delay, no floor,
 * no headroom (terraform-aws-github-runner's ephemeral mode with its
 * defaults); a scale-down pass removes idle runners past a minimum running
 * time. A lost `queued` webhook means one instance too few until the end.
 */
export function perJobPolicy(): SimPolicy {
  return {
    name: 'per-job',
    description: 'one ephemeral instance per queued webhook after a 30 s queue delay, no floor (the best-known Lambda-based anchor)',
    setup(world) {
      const { settings, model } = world;
      const group = world.createFleet({ min: 0, max: settings.max, desired: 0, onDemandBase: 0, ephemeral: true });
      const launchedAt = new Map<string, number>();
      const scaleUp = async () => {
        const state = await group.describe();
        if (state.instances.length >= state.max) {
          // At the maximum the event goes back to the queue and is retried after the delay.
          world.at(world.now + Math.max(1, model.perJobDelaySeconds) * 1000, scaleUp);
          return;
        }
        await group.setDesiredCapacity(state.desired + 1);
      };
      world.onWebhook((event) => {
        if (event.action !== 'queued' || !runnerCanTakeJob(POOL_LABELS, event.labels)) return;
        world.at(world.now + model.perJobDelaySeconds * 1000, scaleUp);
      });
      world.onLaunch(async (instanceId) => {
        launchedAt.set(instanceId, world.now);
        await world.github.generateJitConfig({ name: instanceId, labels: [...POOL_LABELS], runnerGroupId: 1 });
      });
      world.every(model.perJobScaleDownSeconds * 1000, async () => {
        const [state, runners] = await Promise.all([group.describe(), world.github.listRunners()]);
        const byName = new Map(runners.map((runner) => [runner.name, runner]));
        for (const instance of state.instances) {
          const runner = byName.get(instance.instanceId);
          const age = world.now - (launchedAt.get(instance.instanceId) ?? world.now);
          if (!runner || runner.busy || runner.status !== 'online' || age < model.perJobMinimumRunningSeconds * 1000) continue;
          if ((await world.github.deleteRunner(runner.id)) === 'deleted') await group.terminateInstance(instance.instanceId, true);
        }
      });
    },
  };
}

export const SIMULATED_POLICIES = [autoscalerPolicy, staticPeakPolicy, seedPolicy, perJobPolicy] as const;
