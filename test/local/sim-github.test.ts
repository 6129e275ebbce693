import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Octokit } from '@octokit/rest';
import { verify } from '@octokit/webhooks-methods';
import { SimGitHub } from '../../local/sim-github';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

async function until<T>(probe: () => T | undefined | false, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('simulated GitHub, reached by the real Octokit client', () => {
  const secret = 'sim-secret';
  let sim: SimGitHub;
  let receiver: Server;
  let received: Received[];
  let exited: string[];
  let octokit: Octokit;

  beforeEach(async () => {
    received = [];
    exited = [];
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const { port } = receiver.address() as AddressInfo;
    sim = new SimGitHub({ org: 'acme', repos: ['app', 'lib'], webhookUrl: `http://127.0.0.1:${port}/webhook`, webhookSecret: secret, events: { runnerExited: (n) => void exited.push(n) } });
    const baseUrl = await sim.start();
    octokit = new Octokit({ baseUrl, auth: 'sim-token', log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } });
  });

  afterEach(async () => {
    await sim.stop();
    await new Promise<void>((r) => receiver.close(() => r()));
  });

  it('registers a JIT runner, routes a matching job to it, and sends signed queued/in_progress/completed webhooks', async () => {
    const jit = await octokit.request('POST /orgs/{org}/actions/runners/generate-jitconfig', {
      org: 'acme',
      name: 'i-0abc',
      runner_group_id: 1,
      labels: ['self-hosted', 'linux', 'x64'],
    });
    expect(jit.status).toBe(201);
    expect(jit.data.runner).toMatchObject({ name: 'i-0abc', status: 'offline', busy: false });
    expect(typeof jit.data.encoded_jit_config).toBe('string');

    const [job] = sim.queueJobs({ labels: ['self-hosted', 'Linux'], durationSeconds: 0.2 });
    // Not routed yet: the runner process has not connected.
    expect((await octokit.rest.actions.getJobForWorkflowRun({ owner: 'acme', repo: 'app', job_id: job.id })).data.status).toBe('queued');
    const queuedRuns = await octokit.rest.actions.listWorkflowRunsForRepo({ owner: 'acme', repo: 'app', status: 'queued' });
    expect(queuedRuns.data.workflow_runs.map((r) => r.id)).toEqual([job.runId]);
    const runJobs = await octokit.rest.actions.listJobsForWorkflowRun({ owner: 'acme', repo: 'app', run_id: job.runId });
    expect(runJobs.data.jobs.map((j) => j.id)).toEqual([job.id]);

    sim.connectRunner(jit.data.encoded_jit_config);
    expect(() => sim.connectRunner(jit.data.encoded_jit_config)).toThrow(/already used/);
    const busy = await octokit.rest.actions.listSelfHostedRunnersForOrg({ org: 'acme' });
    expect(busy.data.runners[0]).toMatchObject({ name: 'i-0abc', status: 'online', busy: true });
    // GitHub refuses to delete a busy runner.
    await expect(octokit.rest.actions.deleteSelfHostedRunnerFromOrg({ org: 'acme', runner_id: busy.data.runners[0].id })).rejects.toMatchObject({ status: 422 });

    await until(() => exited.length === 1 && received.length === 3, 'the job to finish and three webhooks');
    expect(exited).toEqual(['i-0abc']);
    const actions = received.map((r) => JSON.parse(r.body).action);
    expect(actions.sort()).toEqual(['completed', 'in_progress', 'queued']);
    for (const delivery of received) {
      expect(delivery.headers['x-github-event']).toBe('workflow_job');
      expect(delivery.headers['x-github-delivery']).toMatch(/^[0-9a-f-]{36}$/);
      expect(await verify(secret, delivery.body, String(delivery.headers['x-hub-signature-256']))).toBe(true);
      const payload = JSON.parse(delivery.body);
      expect(payload.workflow_job).toMatchObject({ id: job.id, run_id: job.runId, labels: ['self-hosted', 'linux'] });
      expect(payload.repository.full_name).toBe('acme/app');
      expect(payload.installation.id).toBe(sim.installationId);
    }
    const completed = received.map((r) => JSON.parse(r.body)).find((p) => p.action === 'completed');
    expect(completed.workflow_job).toMatchObject({ status: 'completed', conclusion: 'success', runner_name: 'i-0abc' });
    // The ephemeral registration is gone after its one job.
    expect((await octokit.rest.actions.listSelfHostedRunnersForOrg({ org: 'acme' })).data.total_count).toBe(0);

    const deliveries = await octokit.request('GET /orgs/{org}/hooks/{hook_id}/deliveries', { org: 'acme', hook_id: sim.hookId });
    expect(deliveries.data).toHaveLength(3);
    expect(deliveries.data.every((d: { status_code: number }) => d.status_code === 202)).toBe(true);
  });

  it('does not route a job to a runner that lacks one of its labels', async () => {
    const jit = await octokit.rest.actions.generateRunnerJitconfigForRepo({ owner: 'acme', repo: 'lib', name: 'i-0def', runner_group_id: 1, labels: ['self-hosted', 'linux'] });
    sim.connectRunner(jit.data.encoded_jit_config);
    sim.queueJobs({ labels: ['self-hosted', 'gpu'], durationSeconds: 1, count: 2 });
    await sim.settled();
    expect(sim.jobCounts()).toEqual({ queued: 2, inProgress: 0, completed: 0 });
    const runners = await octokit.rest.actions.listSelfHostedRunnersForRepo({ owner: 'acme', repo: 'lib' });
    expect(runners.data.runners[0]).toMatchObject({ status: 'online', busy: false });
    // An idle runner can be deleted.
    await octokit.rest.actions.deleteSelfHostedRunnerFromRepo({ owner: 'acme', repo: 'lib', runner_id: runners.data.runners[0].id });
    await expect(octokit.rest.actions.deleteSelfHostedRunnerFromRepo({ owner: 'acme', repo: 'lib', runner_id: runners.data.runners[0].id })).rejects.toMatchObject({ status: 404 });
  });

  it('rejects a duplicate runner name and requests outside its scope', async () => {
    await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: 'acme', name: 'i-1', runner_group_id: 1, labels: ['self-hosted'] });
    await expect(octokit.rest.actions.generateRunnerJitconfigForOrg({ org: 'acme', name: 'i-1', runner_group_id: 1, labels: ['self-hosted'] })).rejects.toMatchObject({ status: 409 });
    await expect(octokit.rest.actions.listSelfHostedRunnersForOrg({ org: 'other' })).rejects.toMatchObject({ status: 404 });
  });

  it('records a machine that vanished under a busy runner and fails its job', async () => {
    const jit = await octokit.rest.actions.generateRunnerJitconfigForOrg({ org: 'acme', name: 'i-2', runner_group_id: 1, labels: ['self-hosted'] });
    sim.connectRunner(jit.data.encoded_jit_config);
    const [job] = sim.queueJobs({ labels: ['self-hosted'], durationSeconds: 60 });
    sim.machineGone('i-2');
    expect(sim.machineTerminations).toEqual([{ runnerName: 'i-2', wasBusy: true, jobId: job.id }]);
    expect(sim.listJobs()[0]).toMatchObject({ status: 'completed', conclusion: 'failure' });
    expect(sim.runnerByName('i-2')).toMatchObject({ status: 'offline', busy: false });
  });
});
