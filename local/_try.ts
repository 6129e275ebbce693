import '../lib/polyfills';
import './esm-interop';
import { startLocalStack } from './stack';
(async () => {
  const stack = await startLocalStack({ port: 0, bootSeconds: 0.3, reconcileSeconds: 1, autoScalerTemplate: '/tmp/as/template.yaml', logLevel: 'WARN', settings: { floor: 1, max: 6, headroom: 1, scaleInCooldownSeconds: 2 } });
  console.log(stack.urls);
  const show = async () => { const s = await stack.state(); console.log(new Date().toISOString().slice(17,23), 'desired', s.desiredCapacity, 'inst', s.instances.map(i => i.status[0] + i.market[0]).join(''), 'jobs', JSON.stringify(s.jobs), 'exec', JSON.stringify(s.executions), s.lastDecision?.action, s.lastDecision?.reason, s.lastDecision?.error ?? ''); };
  await new Promise(r => setTimeout(r, 1500)); await show();
  stack.sim.queueJobs({ labels: ['self-hosted','linux','x64'], durationSeconds: 1.5, count: 8 });
  stack.sim.queueJobs({ labels: ['self-hosted','gpu'], durationSeconds: 1, count: 2 });
  for (let i = 0; i < 16; i++) { await new Promise(r => setTimeout(r, 700)); await show(); }
  const failed = stack.bus.executions.filter(e => e.status === 'FAILED'); console.log('failed', failed.slice(0,3));
  console.log('terminations', stack.sim.machineTerminations, stack.fleet?.terminations.map(t => t.by + t.decrement));
  await stack.stop(); console.log('stopped');
})().catch(e => { console.error('ERR', e); process.exit(1); });
