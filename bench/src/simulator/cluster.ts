/**
 * The discrete-event simulation of one trace under one policy: arrivals on queue:jobs, GPU worker
 * pods that batch like gpu-worker/proteus_worker/runtime.py, the arbitrator ticking every 500 ms
 * with the real `decidePolicy` on metrics measured as metrics.ts measures them, and KEDA + HPA
 * scaling the worker Deployment on the group's lag.
 *
 * The worker (per ready pod): each turn it reads the policy; runs a due batch (a shape group that
 * is full, else one whose first job was read a batch window ago, oldest first); else reads up to
 * 2 x batch size - held jobs. A job's resolution is fixed when it is read (degraded mode changes
 * the shape at admission, as the real worker does). A batch of k jobs runs for the profile's S(k)
 * with +-`jitter` (normal, clipped) noise. A pod being removed finishes its batch, hands its held
 * jobs back to the head of the queue and goes.
 *
 * KEDA + HPA: every `kedaPollS` the lag (entries not yet delivered: what `redis-streams` with
 * `lagCount` reads) gives desired = ceil(lag / lagTarget), clamped to [min, max], unchanged within
 * the HPA's 10% tolerance. Up at once; down only to the highest desired count of the last
 * `scaleDownWindowS` (the HPA's stabilization window), starting pods first, then the newest. A new
 * pod serves `podStartS` after it is created (scheduling, image, model load) and is billed from
 * creation to removal (a GPU node per pod, billed while the pod exists).
 */
import { decidePolicy, type Policy, type PolicyConfig, type PolicyMetrics } from '@proteus/arbitrator/policy';
import { Heap } from './heap.ts';
import type { SimProfile } from './profile.ts';
import { Rng } from './rng.ts';

export interface SimOptions {
  tickS: number;
  kedaPollS: number;
  lagTarget: number;
  minReplicas: number;
  maxReplicas: number;
  podStartS: number;
  scaleDownWindowS: number;
  hpaTolerance: number;
  batchWindowS: number;
  /** relative standard deviation of a batch's run time */
  jitter: number;
  /** the timeseries keeps a sample this often */
  sampleEveryS: number;
  /** mean-wait window and sample cap, arrival-rate window: as the arbitrator's defaults */
  waitWindowS: number;
  waitSamples: number;
  rateWindowS: number;
  seed: number;
}

export const defaultSimOptions: SimOptions = {
  tickS: 0.5,
  kedaPollS: 30,
  lagTarget: 10,
  minReplicas: 1,
  maxReplicas: 5,
  podStartS: 90,
  scaleDownWindowS: 300,
  hpaTolerance: 0.1,
  batchWindowS: 0.5,
  jitter: 0.05,
  sampleEveryS: 10,
  waitWindowS: 60,
  waitSamples: 200,
  rateWindowS: 120,
  seed: 7,
};

/** A fixed config (no arbitrator), or the real decidePolicy with a config. */
export type PolicyUnderTest = { name: string; fixed: { batchSize: number; degraded: boolean } } | { name: string; config: PolicyConfig };

export interface Sample {
  t: number;
  queueDepth: number;
  readyPods: number;
  pods: number;
  batchSize: number;
  degraded: boolean;
  /** p95 latency of the jobs finished in the last minute, s; NaN when none */
  p95S: number;
}

export interface SimResult {
  policy: string;
  jobs: number;
  /** enqueue to result, s, sorted */
  latencies: Float64Array;
  degradedJobs: number;
  /** pod lifetime, billed */
  gpuHours: number;
  /** time a GPU ran batches */
  busyGpuHours: number;
  policyChanges: number;
  maxPods: number;
  endS: number;
  samples: Sample[];
}

interface Job {
  arrival: number;
  readAt: number;
  degraded: boolean;
  start: number;
  end: number;
}

interface Pod {
  created: number;
  readyAt: number;
  state: 'starting' | 'ready' | 'stopping' | 'gone';
  held: Job[];
  running: Job[] | undefined;
  windowAt: number | undefined;
  goneAt: number | undefined;
}

type EventBody = { kind: 'arrival' | 'tick' | 'keda' | 'sample' } | { kind: 'ready' | 'done' | 'window'; pod: Pod };
type Event = { t: number; seq: number } & EventBody;

export function simulate(
  arrivalTimes: readonly number[],
  durationS: number,
  policy: PolicyUnderTest,
  profile: SimProfile,
  options: SimOptions,
  /** sees every decision (debugging, tests) */
  onDecision?: (metrics: PolicyMetrics, policy: Policy) => void,
): SimResult {
  const rng = new Rng(options.seed);
  const events = new Heap<Event>((a, b) => a.t < b.t || (a.t === b.t && a.seq < b.seq));
  let seq = 0;
  const at = (t: number, event: EventBody) => events.push({ ...event, t, seq: seq++ });

  const queue: Job[] = [];
  const pods: Pod[] = [];
  const done: Job[] = [];
  const arrivedAt: number[] = [];
  let arrived = 0;
  let busyS = 0;
  let config = 'fixed' in policy ? { ...policy.fixed } : { batchSize: 1, degraded: false };
  let previous: Policy | undefined;
  let changes = 0;
  let maxPods = 0;
  const desiredHistory: { t: number; desired: number }[] = [];
  const samples: Sample[] = [];

  const live = () => pods.filter((p) => p.state !== 'gone');
  const addPod = (now: number, ready: boolean) => {
    const pod: Pod = {
      created: now,
      readyAt: ready ? now : now + options.podStartS,
      state: ready ? 'ready' : 'starting',
      held: [],
      running: undefined,
      windowAt: undefined,
      goneAt: undefined,
    };
    pods.push(pod);
    if (!ready) at(pod.readyAt, { kind: 'ready', pod });
    maxPods = Math.max(maxPods, live().length);
  };
  const remove = (pod: Pod, now: number) => {
    queue.unshift(...pod.held);
    pod.held = [];
    pod.state = 'gone';
    pod.goneAt = now;
    for (const other of pods) serve(other, now);
  };

  function takeDue(pod: Pod, now: number): Job[] | undefined {
    const groups = new Map<boolean, Job[]>();
    for (const job of pod.held) groups.set(job.degraded, [...(groups.get(job.degraded) ?? []), job]);
    const ordered = [...groups.values()].sort((a, b) => a[0]!.readAt - b[0]!.readAt);
    const chosen = ordered.find((g) => g.length >= config.batchSize) ?? ordered.find((g) => now - g[0]!.readAt >= options.batchWindowS - 1e-9);
    if (!chosen) return undefined;
    const batch = chosen.slice(0, config.batchSize);
    pod.held = pod.held.filter((j) => !batch.includes(j));
    return batch;
  }

  function serve(pod: Pod, now: number): void {
    if (pod.running || (pod.state !== 'ready' && pod.state !== 'stopping')) return;
    if (pod.state === 'stopping') {
      remove(pod, now);
      return;
    }
    let batch = takeDue(pod, now);
    if (!batch) {
      const room = Math.max(0, 2 * config.batchSize - pod.held.length);
      for (const job of queue.splice(0, room)) {
        job.readAt = now;
        job.degraded = config.degraded;
        pod.held.push(job);
      }
      batch = takeDue(pod, now);
    }
    if (batch) {
      const seconds = profile.seconds(batch.length, batch[0]!.degraded) * Math.max(0.5, 1 + options.jitter * rng.normal());
      for (const job of batch) job.start = now;
      pod.running = batch;
      busyS += seconds;
      at(now + seconds, { kind: 'done', pod });
      return;
    }
    const first = pod.held.reduce((min, j) => Math.min(min, j.readAt), Number.POSITIVE_INFINITY);
    const due = first + options.batchWindowS;
    if (Number.isFinite(due) && (pod.windowAt === undefined || due < pod.windowAt)) {
      pod.windowAt = due;
      at(due, { kind: 'window', pod });
    }
  }

  function metrics(now: number): PolicyMetrics {
    const pending = pods.reduce((n, p) => n + p.held.length + (p.running?.length ?? 0), 0);
    const recent: number[] = [];
    for (let i = done.length - 1; i >= 0 && recent.length < options.waitSamples; i--) {
      const job = done[i]!;
      if (job.end < now - options.waitWindowS) break;
      recent.push((job.start - job.arrival) * 1000);
    }
    let inWindow = 0;
    for (let i = arrivedAt.length - 1; i >= 0 && arrivedAt[i]! > now - options.rateWindowS; i--) inWindow++;
    return {
      at: Math.round(now * 1000),
      queueDepth: queue.length + pending,
      avgWaitMs: recent.length ? Math.round(recent.reduce((a, b) => a + b, 0) / recent.length) : 0,
      completions: recent.length,
      oldestWaitMs: queue.length ? Math.round((now - Math.min(...queue.slice(0, 8).map((j) => j.arrival))) * 1000) : 0,
      arrivalRate: inWindow / options.rateWindowS,
      workers: pods.filter((p) => p.state === 'ready' || p.state === 'stopping').length,
      profile: profile.entries,
    };
  }

  function keda(now: number): void {
    const lag = queue.length;
    const current = pods.filter((p) => p.state === 'starting' || p.state === 'ready').length;
    const ratio = lag / (options.lagTarget * current);
    const raw = Math.abs(ratio - 1) <= options.hpaTolerance ? current : Math.ceil(lag / options.lagTarget);
    const desired = Math.min(options.maxReplicas, Math.max(options.minReplicas, raw));
    desiredHistory.push({ t: now, desired });
    while (desiredHistory[0]!.t < now - options.scaleDownWindowS) desiredHistory.shift();
    if (desired > current) {
      for (let i = current; i < desired; i++) addPod(now, false);
      return;
    }
    const stabilized = Math.max(...desiredHistory.map((h) => h.desired));
    let excess = current - stabilized;
    if (excess <= 0) return;
    const order = pods
      .filter((p) => p.state === 'starting' || p.state === 'ready')
      .sort((a, b) => Number(b.state === 'starting') - Number(a.state === 'starting') || b.created - a.created);
    for (const pod of order) {
      if (excess-- <= 0) break;
      if (pod.state === 'starting') {
        pod.state = 'gone';
        pod.goneAt = now;
      } else {
        pod.state = 'stopping';
        serve(pod, now);
      }
    }
  }

  function sample(now: number): void {
    const recent: number[] = [];
    for (let i = done.length - 1; i >= 0 && done[i]!.end > now - 60; i--) recent.push(done[i]!.end - done[i]!.arrival);
    recent.sort((a, b) => a - b);
    samples.push({
      t: now,
      queueDepth: queue.length + pods.reduce((n, p) => n + p.held.length + (p.running?.length ?? 0), 0),
      readyPods: pods.filter((p) => p.state === 'ready').length,
      pods: live().length,
      batchSize: config.batchSize,
      degraded: config.degraded,
      p95S: recent.length ? recent[Math.min(recent.length - 1, Math.ceil(0.95 * recent.length) - 1)]! : Number.NaN,
    });
  }

  for (let i = 0; i < options.minReplicas; i++) addPod(0, true);
  for (const t of arrivalTimes) at(t, { kind: 'arrival' });
  at(0, { kind: 'tick' });
  at(0, { kind: 'keda' });
  at(0, { kind: 'sample' });

  let now = 0;
  for (;;) {
    const event = events.pop();
    if (!event) break;
    now = event.t;
    const finished = done.length === arrivalTimes.length;
    if (finished && now >= durationS && (event.kind === 'tick' || event.kind === 'keda' || event.kind === 'sample')) break;
    switch (event.kind) {
      case 'arrival':
        queue.push({ arrival: now, readAt: 0, degraded: false, start: 0, end: 0 });
        arrivedAt.push(now);
        arrived++;
        for (const pod of pods) serve(pod, now);
        break;
      case 'ready':
        if (event.pod.state === 'starting') {
          event.pod.state = 'ready';
          serve(event.pod, now);
        }
        break;
      case 'done': {
        const pod = event.pod;
        for (const job of pod.running ?? []) {
          job.end = now;
          done.push(job);
        }
        pod.running = undefined;
        serve(pod, now);
        break;
      }
      case 'window':
        if (event.pod.windowAt === now) {
          event.pod.windowAt = undefined;
          serve(event.pod, now);
        }
        break;
      case 'tick':
        if (!('fixed' in policy)) {
          const measured = metrics(now);
          const decided = decidePolicy(measured, previous, policy.config);
          onDecision?.(measured, decided);
          if (!previous || decided.batchSize !== previous.batchSize || decided.degraded !== previous.degraded) changes++;
          previous = decided;
          config = { batchSize: decided.batchSize, degraded: decided.degraded };
          for (const pod of pods) serve(pod, now);
        }
        at(now + options.tickS, { kind: 'tick' });
        break;
      case 'keda':
        keda(now);
        at(now + options.kedaPollS, { kind: 'keda' });
        break;
      case 'sample':
        sample(now);
        at(now + options.sampleEveryS, { kind: 'sample' });
        break;
    }
  }
  const endS = Math.max(now, durationS);
  const podSeconds = pods.reduce((s, p) => s + ((p.goneAt ?? endS) - p.created), 0);
  const latencies = Float64Array.from(done.map((j) => j.end - j.arrival)).sort();
  if (arrived !== done.length) throw new Error(`${policy.name}: ${arrived - done.length} jobs never finished`);
  return {
    policy: policy.name,
    jobs: done.length,
    latencies,
    degradedJobs: done.filter((j) => j.degraded).length,
    gpuHours: podSeconds / 3600,
    busyGpuHours: busyS / 3600,
    policyChanges: changes,
    maxPods,
    endS,
    samples,
  };
}
