import { describe, expect, it } from 'vitest';
import { durationMs } from './stream-source.ts';
import { type Delivery, streamRoutes } from './topology.ts';

/** How long a route keeps retrying an event its sink refuses before dead-lettering it (the backoffs alone). */
const patienceMs = (d: Delivery) =>
  Array.from({ length: d.retry }, (_, i) => (d.backoffPolicy === 'linear' ? durationMs(d.backoffDelay) * (i + 1) : durationMs(d.backoffDelay) * 2 ** i)).reduce(
    (a, b) => a + b,
    0,
  );

describe('topology', () => {
  it('lets the lifecycle route ride out an api or database outage of minutes: a dead-lettered lifecycle event is an outcome its owner never sees', () => {
    const lifecycle = streamRoutes.find((r) => r.name === 'lifecycle');
    expect(lifecycle?.onDeadLetter).toBeUndefined();
    // bench e2e:chaos stops PostgreSQL for 10 s; the default 5 retries gave up after about 6 s
    expect(patienceMs(lifecycle?.delivery as Delivery)).toBeGreaterThan(180_000);
  });
});
