/**
 * The policy: a pure function from queue metrics to batch size, resolution and mode. This is
 * the original design's table; issue #7 adds hysteresis and the adaptive mode.
 */
export type Mode = 'VIP' | 'ECONOMY' | 'SURGE';

export interface QueueMetrics {
  /** group lag plus pending on queue:jobs */
  queueDepth: number;
  /** average wait of jobs, ms */
  avgWaitMs: number;
}

export interface Policy {
  batchSize: number;
  degraded: boolean;
  mode: Mode;
  reason: string;
}

export interface PolicyConfig {
  vipMaxDepth: number;
  economyMaxDepth: number;
  degradedWaitMs: number;
}

export const defaultPolicyConfig: PolicyConfig = { vipMaxDepth: 10, economyMaxDepth: 50, degradedWaitMs: 10_000 };

export function decidePolicy(metrics: QueueMetrics, _previous: Policy | undefined, config: PolicyConfig = defaultPolicyConfig): Policy {
  const { queueDepth, avgWaitMs } = metrics;
  const degraded = avgWaitMs > config.degradedWaitMs;
  const wait = degraded ? `; avg wait ${Math.round(avgWaitMs)} ms > ${config.degradedWaitMs} ms: 512 px` : '';
  if (queueDepth <= config.vipMaxDepth) {
    return { batchSize: 1, degraded, mode: 'VIP', reason: `queue depth ${queueDepth} <= ${config.vipMaxDepth}${wait}` };
  }
  if (queueDepth <= config.economyMaxDepth) {
    return { batchSize: 4, degraded, mode: 'ECONOMY', reason: `queue depth ${queueDepth} <= ${config.economyMaxDepth}${wait}` };
  }
  return { batchSize: 8, degraded, mode: 'SURGE', reason: `queue depth ${queueDepth} > ${config.economyMaxDepth}${wait}` };
}
