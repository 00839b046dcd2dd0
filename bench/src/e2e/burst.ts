/**
 * Shoppers for the load and chaos commands: each signs up, holds its /updates socket and its own
 * verified person and garment photos; `offer` submits warp try-ons at a set rate, round robin
 * over them, and `settle` waits for every job's terminal event and counts what each owner saw:
 * delivered, failed, lost (no terminal event), duplicated, and strays (a terminal event of a
 * job nobody here submitted). A client keys outcomes by job id, as the web app does, so a job is
 * duplicated when its terminal statuses disagree, or when one connection of its owner's socket
 * delivered it twice; the same outcome once on the socket and once read back by a resync is not.
 * `flood` submits a large burst as fast as the api takes it, a bounded number of POSTs in flight.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { astronautPath } from '@proteus/segment/test-photos';
import sharp from 'sharp';
import { call, facingLandmarks, isTerminal, type JobEvent, type Session, type SubmittedJob, signUp, Updates, uploadImage } from './client.ts';

export interface Shopper {
  session: Session;
  updates: Updates;
  personKey: string;
  garmentKey: string;
}

export interface Sent {
  jobId: string;
  shopper: Shopper;
  sentAt: number;
  acceptedAt: number;
}

export interface Tally {
  jobs: number;
  completed: number;
  failed: number;
  lost: number;
  duplicated: number;
  strays: number;
  /** ms from the POST to the terminal event on the owner's socket, sorted */
  latencies: number[];
  /** first POST to last terminal event */
  seconds: number;
  rejected: number;
}

async function inParallel<T>(n: number, width: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      for (let i = next++; i < n; i = next++) out[i] = await work(i);
    }),
  );
  return out;
}

/** `count` shoppers, each with a socket and a 192x256 person JPEG and garment PNG of their own. */
export async function shoppers(url: string, count: number): Promise<Shopper[]> {
  const photo = readFileSync(astronautPath());
  const person = await sharp(photo).resize(192, 256).jpeg({ quality: 85 }).toBuffer();
  const garment = await sharp(photo).resize(192, 256).png().toBuffer();
  return inParallel(count, 8, async (i) => {
    const session = await signUp(url, `load-${i}`);
    const updates = await Updates.open(session);
    const personKey = await uploadImage(session, person, 'person', 'image/jpeg');
    const garmentKey = await uploadImage(session, garment, 'garment', 'image/png');
    return { session, updates, personKey, garmentKey };
  });
}

/** `jobs` warp try-ons at `rate` per second, round robin over the shoppers; a refused POST counts as rejected. */
export async function offer(all: Shopper[], jobs: number, rate: number, first = 0): Promise<{ sent: Sent[]; rejected: string[] }> {
  const sent: Sent[] = [];
  const rejected: string[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: jobs }, async (_, i) => {
      const wait = t0 + (i * 1000) / rate - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const shopper = all[(first + i) % all.length] as Shopper;
      const sentAt = performance.now();
      try {
        const job = await submit(shopper, i);
        sent.push({ jobId: job.job_id, shopper, sentAt, acceptedAt: performance.now() });
      } catch (error) {
        rejected.push((error as Error).message);
      }
    }),
  );
  return { sent, rejected };
}

/**
 * `jobs` warp try-ons as fast as the api accepts them, at most `width` POSTs in flight (an
 * unbounded burst of 10,000 would only measure the client's sockets); answers the offered rate.
 */
export async function flood(all: Shopper[], jobs: number, width: number, first = 0): Promise<{ sent: Sent[]; rejected: string[]; perSecond: number }> {
  const sent: Sent[] = [];
  const rejected: string[] = [];
  const t0 = performance.now();
  await inParallel(jobs, width, async (i) => {
    const shopper = all[(first + i) % all.length] as Shopper;
    const sentAt = performance.now();
    try {
      const job = await submit(shopper, first + i);
      sent.push({ jobId: job.job_id, shopper, sentAt, acceptedAt: performance.now() });
    } catch (error) {
      rejected.push((error as Error).message);
    }
  });
  return { sent, rejected, perSecond: jobs / ((performance.now() - t0) / 1000) };
}

const submit = (shopper: Shopper, seed: number) =>
  call<SubmittedJob>(shopper.session.url, 'POST', '/api/catvton/transferOutfit', {
    token: shopper.session.token,
    body: { personKey: shopper.personKey, garmentKey: shopper.garmentKey, landmarks: facingLandmarks(), engine: 'warp', seed },
    headers: { 'idempotency-key': randomUUID() },
  });

/** Waits (at most `timeoutMs`) for every sent job's terminal event, then counts what the owners saw. */
export async function settle(all: Shopper[], sent: Sent[], rejected: number, timeoutMs: number): Promise<Tally> {
  const arrival = new Map<string, number>();
  await Promise.all(
    sent.map(async (s) => {
      try {
        const event = await s.shopper.updates.terminal(s.jobId, timeoutMs);
        arrival.set(s.jobId, s.shopper.updates.arrivedAt.get(event) as number);
      } catch {
        // counted as lost below
      }
    }),
  );
  // a duplicate would arrive after the first: give one more second for any
  await new Promise((r) => setTimeout(r, 1000));
  const mine = new Set(sent.map((s) => s.jobId));
  const terminals = new Map<string, JobEvent[]>();
  let strays = 0;
  for (const shopper of all) {
    const own = new Set(sent.filter((s) => s.shopper === shopper).map((s) => s.jobId));
    for (const e of shopper.updates.events) {
      if (e.type !== 'job' || !isTerminal(e.status) || !mine.has(e.job_id)) continue;
      if (!own.has(e.job_id)) strays++;
      else terminals.set(e.job_id, [...(terminals.get(e.job_id) ?? []), e]);
    }
  }
  const failed = [...terminals.values()].filter((events) => events[0]?.status === 'failed').length;
  const latencies = sent
    .filter((s) => arrival.has(s.jobId))
    .map((s) => (arrival.get(s.jobId) as number) - s.sentAt)
    .sort((a, b) => a - b);
  const firstSent = Math.min(...sent.map((s) => s.sentAt));
  const lastArrival = Math.max(...arrival.values());
  return {
    jobs: sent.length,
    completed: arrival.size - failed,
    failed,
    lost: sent.filter((s) => !terminals.has(s.jobId)).length,
    duplicated: [...terminals.values()].filter(duplicated).length,
    strays,
    latencies,
    seconds: (lastArrival - firstSent) / 1000,
    rejected,
  };
}

/** Terminal events of one job that a client keying by job id could not reconcile: statuses that disagree, or two over one connection. */
export function duplicated(events: JobEvent[]): boolean {
  if (new Set(events.map((e) => e.status)).size > 1) return true;
  const overSocket = events.filter((e) => !e.viaResync).map((e) => e.connection ?? 0);
  return new Set(overSocket).size < overSocket.length;
}

export const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
export const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a');
