/**
 * Prometheus metrics of the arbitrator (`GET /metrics`): how ticks ended, which metrics were
 * missing or malformed, policy changes, and the inputs and outputs of the last decision.
 */
import { keys } from '@proteus/eventing';
import { Counter, Gauge, Registry } from 'prom-client';

export function createArbitratorMetrics(registry = new Registry()) {
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
  return {
    registry,
    ticks: new Counter({
      name: 'proteus_arbitrator_ticks_total',
      help: 'Ticks handled: decided (config written), kept (metrics unavailable: the last good policy stays)',
      labelNames: ['outcome'] as const,
      registers: [registry],
    }),
    metricErrors: new Counter({
      name: 'proteus_arbitrator_metric_errors_total',
      help: 'Missing or malformed metrics (fatal for the tick) and malformed entries left out, by metric',
      labelNames: ['metric', 'fatal'] as const,
      registers: [registry],
    }),
    changes: new Counter({
      name: 'proteus_arbitrator_policy_changes_total',
      help: 'Policy changes (dev.proteus.policy.changed emitted), by the new mode',
      labelNames: ['mode'] as const,
      registers: [registry],
    }),
    batchSize: gauge('proteus_arbitrator_batch_size', `${keys.config.batchSize} as last written`),
    degraded: gauge('proteus_arbitrator_degraded_mode', `${keys.config.degradedMode} as last written (1 = 512 px)`),
    queueDepth: gauge('proteus_arbitrator_queue_depth', 'Lag plus pending of the weavers group on queue:jobs'),
    avgWait: gauge('proteus_arbitrator_avg_wait_seconds', 'Mean wait of the recent completions'),
    oldestWait: gauge('proteus_arbitrator_oldest_wait_seconds', 'Age of the oldest job no worker has picked up'),
    arrivalRate: gauge('proteus_arbitrator_arrival_rate', 'Jobs enqueued per second over the rate window'),
    workers: gauge('proteus_arbitrator_workers', 'Workers alive (heartbeat keys)'),
    expectedLatency: gauge('proteus_arbitrator_expected_latency_seconds', 'Adaptive: the expected enqueue-to-result time of the chosen configuration'),
  };
}

export type ArbitratorMetrics = ReturnType<typeof createArbitratorMetrics>;
