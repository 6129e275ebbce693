import * as z from 'zod/mini';
import type { GitHubPort } from '../../lib/ports';
import { instanceArn, partitionOf, type LaunchAction, type LifecyclePort, type RunnerConfigStore } from './aws';
import type { Counter } from './metrics';

/**
 * The launch lifecycle hook's function. An instance of the runner group is in
 * Pending:Wait; this function asks GitHub for a just-in-time runner config
 * named after the instance, stores it for that instance only, and lets the
 * launch continue. Any failure abandons the launch (the group replaces the
 * instance), is logged and counted; the config itself is never logged.
 */
export const LAUNCH_DETAIL_TYPE = 'EC2 Instance-launch Lifecycle Action';

const launchEventSchema = z.object({
  'detail-type': z.literal(LAUNCH_DETAIL_TYPE),
  account: z.string().check(z.regex(/^\d{12}$/)),
  region: z.string().check(z.minLength(1)),
  detail: z.object({
    LifecycleActionToken: z.string().check(z.minLength(1)),
    AutoScalingGroupName: z.string().check(z.minLength(1)),
    LifecycleHookName: z.string().check(z.minLength(1)),
    EC2InstanceId: z.string().check(z.regex(/^i-[0-9a-f]{8,17}$/)),
    LifecycleTransition: z.literal('autoscaling:EC2_INSTANCE_LAUNCHING'),
  }),
});

export interface LaunchRequest extends LaunchAction {
  instanceArn: string;
}

/** Pure: the launch action an EventBridge event describes, or the reason it is not one. */
export function parseLaunchEvent(event: unknown): { ok: true; launch: LaunchRequest } | { ok: false; reason: string } {
  const parsed = launchEventSchema.safeParse(event);
  if (!parsed.success) {
    return { ok: false, reason: parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ') };
  }
  const { detail, account, region } = parsed.data;
  return {
    ok: true,
    launch: {
      groupName: detail.AutoScalingGroupName,
      hookName: detail.LifecycleHookName,
      token: detail.LifecycleActionToken,
      instanceId: detail.EC2InstanceId,
      instanceArn: instanceArn(partitionOf(region), region, account, detail.EC2InstanceId),
    },
  };
}

export interface JitLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface JitConfigDeps {
  groupName: string;
  runnerGroupId: number;
  github: () => Promise<GitHubPort> | GitHubPort;
  /** The pool's runner labels (settings item, or the stack's defaults). */
  labels: () => Promise<string[]>;
  store: RunnerConfigStore;
  lifecycle: LifecyclePort;
  metrics: Counter;
  logger: JitLogger;
}

/** States in which the launch action is still open (Pending may show briefly before Pending:Wait). */
const STILL_LAUNCHING = new Set(['Pending', 'Pending:Wait']);

export type JitOutcome = 'continued' | 'abandoned' | 'ignored' | 'already_handled';

/** An error's message, with anything secret we know of cut out. */
export function describeError(error: unknown, secrets: Array<string | undefined> = []): string {
  let text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  for (const secret of secrets) if (secret) text = text.split(secret).join('[redacted]');
  return text.slice(0, 500);
}

export function createJitConfigHandler(depsOrFactory: JitConfigDeps | (() => JitConfigDeps)) {
  let resolved: JitConfigDeps | undefined;
  const depsOf = () => (resolved ??= typeof depsOrFactory === 'function' ? depsOrFactory() : depsOrFactory);

  return async (event: unknown): Promise<{ outcome: JitOutcome; instanceId?: string }> => {
    const deps = depsOf();
    const parsed = parseLaunchEvent(event);
    if (!parsed.ok) {
      // Without a valid token nothing can be completed; the hook's timeout abandons the launch.
      deps.logger.error('not a launch lifecycle event; ignored', { reason: parsed.reason });
      deps.metrics.count('JitConfigFailed', { Reason: 'bad_event' });
      return { outcome: 'ignored' };
    }
    const { launch } = parsed;
    const context = { instanceId: launch.instanceId, group: launch.groupName };
    if (launch.groupName !== deps.groupName) {
      deps.logger.warn('launch of another group; ignored', context);
      return { outcome: 'ignored', instanceId: launch.instanceId };
    }
    // EventBridge delivers at least once: a redelivery for an instance that
    // already left Pending:Wait must not register a second runner for it.
    const membership = await deps.lifecycle.membership(launch.instanceId);
    if (membership && !STILL_LAUNCHING.has(membership.lifecycleState)) {
      deps.logger.info('launch already handled', { ...context, lifecycleState: membership.lifecycleState });
      return { outcome: 'already_handled', instanceId: launch.instanceId };
    }

    let config: string | undefined;
    let runnerId: number | undefined;
    let stored = false;
    let github: GitHubPort | undefined;
    try {
      const labels = await deps.labels();
      github = await deps.github();
      const jit = await github.generateJitConfig({ name: launch.instanceId, labels, runnerGroupId: deps.runnerGroupId, workFolder: '_work' });
      config = jit.encodedJitConfig;
      runnerId = jit.runnerId;
      const { name, tier } = await deps.store.put(launch.instanceId, launch.instanceArn, config);
      stored = true;
      await deps.lifecycle.complete(launch, 'CONTINUE');
      deps.metrics.count('JitConfigCreated', { Tier: tier });
      deps.logger.info('runner config stored; launch continues', { ...context, runnerId, parameter: name, tier, labels });
      return { outcome: 'continued', instanceId: launch.instanceId };
    } catch (error) {
      deps.logger.error('could not prepare the runner; abandoning the launch', { ...context, runnerId, error: describeError(error, [config]) });
      deps.metrics.count('JitConfigFailed', { Reason: 'error' });
      // Best effort: leave neither a config nor a registration that no machine will use.
      if (stored) await deps.store.remove(launch.instanceId).catch(() => undefined);
      if (runnerId !== undefined && github) await github.deleteRunner(runnerId).catch(() => undefined);
      // If this throws too, Lambda retries the event; the hook's DefaultResult ABANDON is the last line.
      await deps.lifecycle.complete(launch, 'ABANDON');
      return { outcome: 'abandoned', instanceId: launch.instanceId };
    }
  };
}
