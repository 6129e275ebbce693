import { benchIngress } from '../bench/ingress';
import { benchPipeline } from '../bench/pipeline';
import { runOrgScaleReconcile } from '../bench/org-scale';

/**
 * `npm run bench` is not part of the suite (its figures are measured, never asserted), but its code paths
 * take the same templates and handlers as the product: a template change once broke the ingress section
 * (the rule pattern's label import) while every test stayed green. These runs are tiny; they check that
 * each section still runs and counts what it says, not how fast.
 */
describe('npm run bench, in miniature', () => {
  it('ingress: signed webhooks through the handler reach the AutoScaler rule', async () => {
    const result = await benchIngress({ requests: 40, concurrency: 2 });
    expect(result.errors).toBe(0);
    expect(result.statusCounts).toEqual({ 202: 40 });
    expect(result.eventsMatched).toBe(40);
  }, 60000);

  it('pipeline: a small burst is recorded and covered', async () => {
    const result = await benchPipeline({ jobs: 5, concurrency: 5, timeoutMs: 30000 });
    expect(result.accepted).toBe(5);
    expect(result.executions.failed).toBe(0);
    expect(result.acceptedToScalingMs.covered).toBe(5);
  }, 60000);

  it('org scale: the reconcile finds every queued job of a small organisation', async () => {
    const result = await runOrgScaleReconcile({ repositories: 20, activeRepositories: 4, quietRepositories: 2, scheduledRepositories: 1, ledgerRepositories: 2, jobsPerRepository: 2 });
    expect(result.outcome).toBe('succeeded');
    expect(result.queuedJobs).toBe(8);
    expect(result.queuedFound).toBe(8);
  }, 60000);
});
