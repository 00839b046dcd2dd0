/**
 * Prometheus metrics of the segment function (`GET /metrics`): how long a segmentation takes
 * (whole, and the model's forward pass alone), how long the model took to load, and how every
 * request ended, by entry point and purpose.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type Via = 'http' | 'event';

export function createSegmentMetrics(registry = new Registry()) {
  const seconds = [0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10];
  return {
    registry,
    latency: new Histogram({
      name: 'proteus_segment_seconds',
      help: 'Time to segment one image (read, decode, inference, post-processing, encode; for events also the upload), by entry point and purpose',
      labelNames: ['via', 'purpose'] as const,
      buckets: seconds,
      registers: [registry],
    }),
    inference: new Histogram({
      name: 'proteus_segment_inference_seconds',
      help: 'SegFormer preprocessing and forward pass alone',
      buckets: seconds,
      registers: [registry],
    }),
    outcomes: new Counter({
      name: 'proteus_segment_outcomes_total',
      help: 'Segmentations by entry point, purpose and outcome (completed, a rejection reason, busy, error)',
      labelNames: ['via', 'purpose', 'outcome'] as const,
      registers: [registry],
    }),
    modelLoad: new Gauge({
      name: 'proteus_segment_model_load_seconds',
      help: 'Time the model took to load and warm up, by model id and weights (fp32, q8); fallback=true for the tiny random model',
      labelNames: ['model', 'dtype', 'fallback'] as const,
      registers: [registry],
    }),
  };
}

export type SegmentMetrics = ReturnType<typeof createSegmentMetrics>;
