/** The arbitrator's settings, from the environment (.env.example lists each with its default). */
import { env } from '@proteus/common';
import { z } from 'zod';
import type { MetricsOptions } from './metrics.ts';
import { defaultPolicyConfig as d, type PolicyConfig, strategies } from './policy.ts';

const wholeNumber = () =>
  z.coerce.number({ error: 'expected a whole number' }).int({ error: 'expected a whole number' }).min(0, { error: 'expected 0 or more' });
const fraction = (fallback: number) =>
  z.coerce
    .number({ error: 'expected a number' })
    .gt(0, { error: 'expected a number above 0 and at most 1' })
    .max(1, { error: 'expected a number above 0 and at most 1' })
    .default(fallback);
const boolean = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { error: 'expected true or false' })
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');

export const arbitratorConfigSchema = z
  .object({
    PORT: env.port(8083),
    HOST: env.host(),
    REDIS_URL: env.redisUrl(),
    POLICY_STRATEGY: z.enum(strategies, { error: `expected ${strategies.join(' or ')}` }).default(d.strategy),
    POLICY_VIP_MAX_DEPTH: env.positiveInt(d.vipMaxDepth),
    POLICY_ECONOMY_MAX_DEPTH: env.positiveInt(d.economyMaxDepth),
    POLICY_DEGRADED_WAIT_MS: env.positiveInt(d.degradedWaitMs),
    // unset: derived from the table's thresholds (returnThresholds)
    POLICY_VIP_RETURN_DEPTH: wholeNumber().optional(),
    POLICY_ECONOMY_RETURN_DEPTH: wholeNumber().optional(),
    POLICY_NORMAL_RETURN_WAIT_MS: wholeNumber().optional(),
    POLICY_HOLD_MS: wholeNumber().default(d.holdMs),
    POLICY_TARGET_LATENCY_MS: env.positiveInt(d.targetLatencyMs),
    POLICY_MAX_BATCH_SIZE: env.positiveInt(d.maxBatchSize).pipe(z.number().max(64, { error: 'expected at most 64' })),
    POLICY_MAX_REPLICAS: env.positiveInt(d.maxReplicas).pipe(z.number().max(1000, { error: 'expected at most 1000' })),
    POLICY_BATCH_WINDOW_MS: wholeNumber().default(d.batchWindowMs),
    POLICY_MAX_UTILIZATION: fraction(d.maxUtilization),
    POLICY_DEGRADED_SPEEDUP: z.coerce.number({ error: 'expected a number' }).min(1, { error: 'expected a number of at least 1' }).default(d.degradedSpeedup),
    POLICY_ALLOW_DEGRADED: boolean(d.allowDegraded),
    POLICY_RATE_WINDOW_MS: env.positiveInt(120_000),
    POLICY_WAIT_WINDOW_MS: env.positiveInt(60_000),
    POLICY_WAIT_SAMPLES: env.positiveInt(200).pipe(z.number().max(10_000, { error: 'expected at most 10000' })),
    LOG_LEVEL: env.logLevel(),
  })
  .superRefine((c, ctx) => {
    const check = (name: keyof typeof c, what: string, ok: boolean) => {
      if (!ok) ctx.addIssue({ code: 'custom', path: [name], message: what });
    };
    check('POLICY_ECONOMY_MAX_DEPTH', 'expected a depth above POLICY_VIP_MAX_DEPTH', c.POLICY_ECONOMY_MAX_DEPTH > c.POLICY_VIP_MAX_DEPTH);
    if (c.POLICY_ECONOMY_MAX_DEPTH <= c.POLICY_VIP_MAX_DEPTH) return;
    const r = returnThresholds(c);
    check('POLICY_VIP_RETURN_DEPTH', 'expected a depth at most POLICY_VIP_MAX_DEPTH', r.vipReturnDepth <= c.POLICY_VIP_MAX_DEPTH);
    check(
      'POLICY_ECONOMY_RETURN_DEPTH',
      'expected a depth above POLICY_VIP_RETURN_DEPTH and at most POLICY_ECONOMY_MAX_DEPTH',
      r.economyReturnDepth > r.vipReturnDepth && r.economyReturnDepth <= c.POLICY_ECONOMY_MAX_DEPTH,
    );
    check('POLICY_NORMAL_RETURN_WAIT_MS', 'expected a wait at most POLICY_DEGRADED_WAIT_MS', r.normalReturnWaitMs <= c.POLICY_DEGRADED_WAIT_MS);
  });

interface Thresholds {
  POLICY_VIP_MAX_DEPTH: number;
  POLICY_ECONOMY_MAX_DEPTH: number;
  POLICY_DEGRADED_WAIT_MS: number;
  POLICY_VIP_RETURN_DEPTH?: number | undefined;
  POLICY_ECONOMY_RETURN_DEPTH?: number | undefined;
  POLICY_NORMAL_RETURN_WAIT_MS?: number | undefined;
}

/**
 * The way-down thresholds, where unset: half the VIP depth, 60% of the ECONOMY depth (but above
 * the VIP return depth), half the degraded wait. With the table's defaults: 5, 30 and 5000 ms.
 */
export function returnThresholds(c: Thresholds) {
  const vipReturnDepth = c.POLICY_VIP_RETURN_DEPTH ?? Math.floor(c.POLICY_VIP_MAX_DEPTH / 2);
  return {
    vipReturnDepth,
    economyReturnDepth: c.POLICY_ECONOMY_RETURN_DEPTH ?? Math.max(vipReturnDepth + 1, Math.floor(c.POLICY_ECONOMY_MAX_DEPTH * 0.6)),
    normalReturnWaitMs: c.POLICY_NORMAL_RETURN_WAIT_MS ?? Math.floor(c.POLICY_DEGRADED_WAIT_MS / 2),
  };
}

export type ArbitratorConfig = z.infer<typeof arbitratorConfigSchema>;

export function policyConfigOf(c: ArbitratorConfig): PolicyConfig {
  return {
    strategy: c.POLICY_STRATEGY,
    vipMaxDepth: c.POLICY_VIP_MAX_DEPTH,
    economyMaxDepth: c.POLICY_ECONOMY_MAX_DEPTH,
    degradedWaitMs: c.POLICY_DEGRADED_WAIT_MS,
    ...returnThresholds(c),
    holdMs: c.POLICY_HOLD_MS,
    targetLatencyMs: c.POLICY_TARGET_LATENCY_MS,
    maxBatchSize: c.POLICY_MAX_BATCH_SIZE,
    maxReplicas: c.POLICY_MAX_REPLICAS,
    batchWindowMs: c.POLICY_BATCH_WINDOW_MS,
    maxUtilization: c.POLICY_MAX_UTILIZATION,
    degradedSpeedup: c.POLICY_DEGRADED_SPEEDUP,
    allowDegraded: c.POLICY_ALLOW_DEGRADED,
  };
}

export function metricsOptionsOf(c: ArbitratorConfig): MetricsOptions {
  return { rateWindowMs: c.POLICY_RATE_WINDOW_MS, waitWindowMs: c.POLICY_WAIT_WINDOW_MS, waitSamples: c.POLICY_WAIT_SAMPLES };
}
