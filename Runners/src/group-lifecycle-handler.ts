import * as z from 'zod/mini';
import { responseFor, sendResponse, type CustomResourceRequest, type CustomResourceResponse } from './cfn-response';
import { deleteIntent, emptyGroup, SUSPENDED_PROCESSES, type GroupLifecyclePort, type StackStatusPort } from './group-lifecycle';

/**
 * The Runners stack's lifecycle custom resource (Custom::RunnerGroupLifecycle):
 * - Create, Update: suspend AZRebalance on the group;
 * - Delete during a stack deletion or the rollback of a failed creation: close
 *   the group, remove scale-in protection and terminate its instances, so that
 *   CloudFormation's deletion of the group (which comes right after: the
 *   resource depends on the group) finishes;
 * - any other Delete: leave the group alone (see deleteIntent).
 * It always answers CloudFormation, FAILED with the reason when something goes
 * wrong, and before the Lambda's own timeout, so no stack operation waits out
 * the resource's ServiceTimeout.
 */
export interface GroupLifecycleLogger {
  info(message: string, ...extra: Record<string, unknown>[]): void;
  warn(message: string, ...extra: Record<string, unknown>[]): void;
  error(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface GroupLifecycleDeps {
  group(groupName: string, launchHookName?: string): GroupLifecyclePort;
  stacks: StackStatusPort;
  logger: GroupLifecycleLogger;
  send?: (url: string, response: CustomResourceResponse) => Promise<void>;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Kept for the response PUT (and its retries) after the work. */
export const RESPONSE_MARGIN_MS = 20_000;
/** Without a Lambda context (tests, local runs). */
const DEFAULT_BUDGET_MS = 60_000;

const requestSchema = z.object({
  RequestType: z.enum(['Create', 'Update', 'Delete']),
  RequestId: z.string(),
  ResponseURL: z.string().check(z.minLength(1)),
  LogicalResourceId: z.string(),
  StackId: z.string(),
  PhysicalResourceId: z.optional(z.string()),
  ResourceProperties: z.looseObject({}),
});
const propertiesSchema = z.looseObject({
  AutoScalingGroupName: z.string().check(z.minLength(1), z.maxLength(255)),
  /** The group's launch lifecycle hook, whose held instances a deletion abandons. */
  LaunchHookName: z.optional(z.string().check(z.minLength(1), z.maxLength(255))),
});

type Outcome = { status: 'SUCCESS' | 'FAILED'; physicalResourceId: string; reason?: string; data?: Record<string, string> };

const describe = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

/** A client error other than throttling or contention will not go away by asking again. */
function isFinal(error: unknown): boolean {
  const { $fault, name } = error as { $fault?: string; name?: string };
  return $fault === 'client' && !/Throttl|ResourceContention|RequestLimitExceeded/.test(String(name));
}

export function createGroupLifecycleHandler(depsOrFactory: GroupLifecycleDeps | (() => GroupLifecycleDeps)) {
  let resolved: GroupLifecycleDeps | undefined;
  const depsOf = () => (resolved ??= typeof depsOrFactory === 'function' ? depsOrFactory() : depsOrFactory);

  return async (event: unknown, context?: { getRemainingTimeInMillis(): number }): Promise<CustomResourceResponse> => {
    const deps = depsOf();
    const now = deps.now ?? Date.now;
    const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    // Without a parseable request there is no ResponseURL to answer: Lambda records the error.
    const request = requestSchema.parse(event) as CustomResourceRequest;
    const deadline = now() + (context ? context.getRemainingTimeInMillis() - RESPONSE_MARGIN_MS : DEFAULT_BUDGET_MS);

    /** The SDK retries throttling and 5xx itself; this covers what is left within the deadline. */
    const retrying = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await fn();
        } catch (error) {
          const wait = 1_000 * 2 ** (attempt - 1);
          if (isFinal(error) || attempt >= 5 || now() + wait >= deadline) throw error;
          deps.logger.warn(`${what} failed; retrying`, { attempt, error: describe(error) });
          await sleep(wait);
        }
      }
    };

    const properties = propertiesSchema.safeParse(request.ResourceProperties);
    const groupName = properties.success ? properties.data.AutoScalingGroupName : undefined;
    // Stable across Update (a new id would make CloudFormation replace the resource and Delete the old one),
    // and given on a FAILED Create too: the rollback's Delete then carries it.
    const physicalResourceId = request.PhysicalResourceId ?? `lifecycle:${groupName ?? 'invalid'}`;

    const handle = async (): Promise<Outcome> => {
      if (!groupName) {
        // A Delete for a resource whose Create failed on its properties has nothing to undo.
        if (request.RequestType === 'Delete') return { status: 'SUCCESS', physicalResourceId };
        return { status: 'FAILED', physicalResourceId, reason: 'ResourceProperties.AutoScalingGroupName must name the runner group' };
      }
      const group = deps.group(groupName, properties.success ? properties.data.LaunchHookName : undefined);

      if (request.RequestType !== 'Delete') {
        if (!(await retrying('DescribeAutoScalingGroups', () => group.describe()))) {
          return { status: 'FAILED', physicalResourceId, reason: `Auto Scaling group ${groupName} does not exist` };
        }
        await retrying('SuspendProcesses', () => group.suspendProcesses(SUSPENDED_PROCESSES));
        deps.logger.info('processes suspended on the runner group', { groupName, processes: SUSPENDED_PROCESSES });
        return { status: 'SUCCESS', physicalResourceId, data: { SuspendedProcesses: SUSPENDED_PROCESSES.join(',') } };
      }

      const stackStatus = await retrying('DescribeStacks', () => deps.stacks.status(request.StackId));
      if (deleteIntent(stackStatus) === 'leave-group') {
        deps.logger.info('the resource goes but the group stays; nothing to do', { groupName, stackStatus });
        return { status: 'SUCCESS', physicalResourceId };
      }
      const started = now();
      const result = await emptyGroup(group, { deadline, now, sleep, log: (message, details) => deps.logger.info(message, { groupName, ...details }) });
      deps.logger.info('runner group emptied for its deletion', { groupName, stackStatus, ...result, seconds: Math.round((now() - started) / 1000) });
      if (result.outcome !== 'timed-out' || result.protectedLeft?.length === 0) return { status: 'SUCCESS', physicalResourceId };
      const what = result.protectedLeft
        ? `${result.protectedLeft.length} instance(s) of ${groupName} are still protected from scale-in or still launching (${result.protectedLeft.join(', ')})`
        : `could not describe the Auto Scaling group ${groupName}`;
      return {
        status: 'FAILED',
        physicalResourceId,
        reason: `${what}${result.lastError ? `; last error: ${result.lastError}` : ''}. Delete the stack again, or remove their scale-in protection and retry.`,
      };
    };

    let outcome: Outcome;
    try {
      outcome = await handle();
    } catch (error) {
      deps.logger.error('custom resource request failed', { requestType: request.RequestType, error: describe(error) });
      outcome = { status: 'FAILED', physicalResourceId, reason: describe(error) };
    }
    const response = responseFor(request, outcome);
    await (deps.send ?? ((url, body) => sendResponse(url, body, { sleep })))(request.ResponseURL, response);
    deps.logger.info('answered CloudFormation', { requestType: request.RequestType, status: response.Status, physicalResourceId: response.PhysicalResourceId });
    return response;
  };
}
