import { join } from 'node:path';
import { DEFAULT_REDELIVERY, DEFAULT_SCAN } from '../../lib/adapters/github';
import { loadTemplate } from '../../lib/cfn-template';
import { ledgerRepositories } from '../../AutoScaler/src/reconcile-discovery';
import { RECONCILE_LAMBDA_TIMEOUT_SECONDS } from '../../bench/org-scale';

/**
 * The search's budgets are sized from the Reconcile Lambda's timeout: search and redelivery (each with
 * the 2 s its requests in flight get to finish) must leave at least half the timeout for the rest of the
 * step (ledger re-checks 8 at a time, the runner list, clean-ups), and the step must end before the
 * Task's own timeout in the state machine.
 */
it('the search and redelivery budgets leave half the Reconcile Lambda timeout to the rest of the step', () => {
  const template = loadTemplate(join(__dirname, '..', '..', 'AutoScaler', 'template.yaml'));
  const timeoutMs = Number((template.Resources.ReconcileFunction.Properties as { Timeout: number }).Timeout) * 1000;
  expect(timeoutMs).toBe(RECONCILE_LAMBDA_TIMEOUT_SECONDS * 1000);
  const discoveryMs = DEFAULT_SCAN.timeBudgetMs + 2_000 + DEFAULT_REDELIVERY.timeBudgetMs + 2_000;
  expect(timeoutMs - discoveryMs).toBeGreaterThanOrEqual(timeoutMs / 2 - 5_000);
  expect(discoveryMs).toBeLessThan(timeoutMs);
  // The call budget of one period, four periods an hour at the 15-minute default: under a third of the smallest installation budget (5,000/h).
  expect(4 * (DEFAULT_SCAN.callBudget + DEFAULT_REDELIVERY.maxPages + DEFAULT_REDELIVERY.maxRedeliveries)).toBeLessThan(5_000 / 3);
});

it('searches first the repositories with the most queued ledger jobs, then those with jobs in progress', () => {
  const job = (repository: string, status: 'queued' | 'in_progress') => ({ repository, status });
  expect(ledgerRepositories([job('a/x', 'in_progress'), job('a/y', 'queued'), job('a/z', 'queued'), job('a/z', 'queued'), job('a/x', 'in_progress'), job('', 'queued')])).toEqual(['a/z', 'a/y', 'a/x']);
});
