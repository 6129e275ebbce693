import * as z from 'zod';

/**
 * What the simulator assumes about AWS and GitHub. Every field is a flag of
 * `npm run simulate`; defaults are the issue's (and the public price list's:
 * m7g.large-class on-demand vs a typical spot price, us-east-1).
 */
export const simModelSchema = z.object({
  /** Launch to registered runner. */
  bootSeconds: z.number().nonnegative().default(45),
  /** Each boot takes bootSeconds ± up to this much (uniform). */
  bootJitterSeconds: z.number().nonnegative().default(5),
  /** EC2 bills per second with a one-minute minimum. */
  minBillingSeconds: z.number().nonnegative().default(60),
  onDemandPricePerHour: z.number().nonnegative().default(0.0832),
  spotPricePerHour: z.number().nonnegative().default(0.0312),
  /** Reclaims per spot instance-hour (Poisson). */
  spotInterruptionRatePerHour: z.number().nonnegative().default(0),
  /** Mean delay from GitHub to our webhook endpoint; each delivery takes 0.5x..1.5x of it. */
  webhookDelaySeconds: z.number().nonnegative().default(1),
  /** Share of webhook deliveries GitHub never makes (0..1); only the reconcile repairs them. */
  webhookLossRate: z.number().min(0).max(1).default(0),
  reconcileSeconds: z.number().positive().default(900),
  /** Webhook accepted to scaling call: EventBridge + one Express execution. */
  executionSeconds: z.number().nonnegative().default(0.5),
  /**
   * The per-job anchor's queue delay before it launches (terraform-aws-github-runner's
   * `delay_webhook_event`, default 30 s), and its scale-down period and minimum running time.
   */
  perJobDelaySeconds: z.number().nonnegative().default(30),
  perJobScaleDownSeconds: z.number().positive().default(300),
  perJobMinimumRunningSeconds: z.number().nonnegative().default(300),
  /** GitHub cancels a job left queued this long. */
  queueTimeoutSeconds: z.number().positive().default(24 * 3600),
  /** Chart resolution. */
  sampleSeconds: z.number().positive().default(60),
  seed: z.number().int().default(1),
});

export type SimModel = z.output<typeof simModelSchema>;

export const DEFAULT_MODEL: SimModel = simModelSchema.parse({});

export function resolveModel(overrides: Partial<Record<keyof SimModel, unknown>>): SimModel {
  const parsed = simModelSchema.safeParse(overrides);
  if (!parsed.success) {
    throw new Error(`invalid simulation model: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  return parsed.data;
}

/** The command-line flag of each model field (npm run simulate; the README lists them with their defaults). */
export const MODEL_FLAGS: Array<{ flag: string; key: keyof SimModel; help: string }> = [
  { flag: '--boot-seconds <s>', key: 'bootSeconds', help: 'instance launch to registered runner' },
  { flag: '--boot-jitter-seconds <s>', key: 'bootJitterSeconds', help: 'each boot is boot ± up to this (uniform)' },
  { flag: '--min-billing-seconds <s>', key: 'minBillingSeconds', help: 'EC2 minimum billed time per instance' },
  { flag: '--on-demand-price <usd>', key: 'onDemandPricePerHour', help: 'USD per on-demand instance-hour' },
  { flag: '--spot-price <usd>', key: 'spotPricePerHour', help: 'USD per spot instance-hour' },
  { flag: '--spot-interruption-rate <n>', key: 'spotInterruptionRatePerHour', help: 'reclaims per spot instance-hour' },
  { flag: '--webhook-delay-seconds <s>', key: 'webhookDelaySeconds', help: 'mean GitHub-to-us delivery delay' },
  { flag: '--webhook-loss-rate <0..1>', key: 'webhookLossRate', help: 'share of deliveries GitHub never makes' },
  { flag: '--reconcile-seconds <s>', key: 'reconcileSeconds', help: 'reconcile schedule period' },
  { flag: '--execution-seconds <s>', key: 'executionSeconds', help: 'webhook to scaling call (one Express execution)' },
  { flag: '--per-job-delay-seconds <s>', key: 'perJobDelaySeconds', help: "the per-job anchor's queue delay" },
  { flag: '--queue-timeout-seconds <s>', key: 'queueTimeoutSeconds', help: 'GitHub cancels a job queued this long' },
  { flag: '--sample-seconds <s>', key: 'sampleSeconds', help: 'chart resolution' },
  { flag: '--seed <n>', key: 'seed', help: 'random seed (jitter, losses, interruptions)' },
];
