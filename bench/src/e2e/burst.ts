/**
 * Shoppers for the load and chaos commands: each signs up, holds its /updates socket and its own
 * verified person and garment photos; `offer` submits warp try-ons at a set rate, round robin
 * over them, and `settle` waits for every job's terminal event and counts what each owner saw:
 * delivered, failed, lost (no terminal event), duplicated (more than one), and strays (a
 * terminal event of a job nobody here submitted).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { astronautPath } from '@proteus/segment/test-photos';
import sharp from 'sharp';
import { call, facingLandmarks, isTerminal, type Session, type SubmittedJob, signUp, Updates, uploadImage } from './client.ts';

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
        const job = await call<SubmittedJob>(shopper.session.url, 'POST', '/api/catvton/transferOutfit', {
          token: shopper.session.token,
          body: { personKey: shopper.personKey, garmentKey: shopper.garmentKey, landmarks: facingLandmarks(), engine: 'warp', seed: i },
          headers: { 'idempotency-key': randomUUID() },
        });
        sent.push({ jobId: job.job_id, shopper, sentAt, acceptedAt: performance.now() });
      } catch (error) {
        rejected.push((error as Error).message);
      }
    }),
  );
  return { sent, rejected };
}

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
  const terminalCount = new Map<string, number>();
  let strays = 0;
  let failed = 0;
  for (const shopper of all) {
    for (const e of shopper.updates.events) {
      if (e.type !== 'job' || !isTerminal(e.status) || e.kind !== 'tryon') continue;
      if (!mine.has(e.job_id)) continue;
      terminalCount.set(e.job_id, (terminalCount.get(e.job_id) ?? 0) + 1);
      if (e.status === 'failed' && terminalCount.get(e.job_id) === 1) failed++;
    }
  }
  for (const shopper of all) {
    const own = new Set(sent.filter((s) => s.shopper === shopper).map((s) => s.jobId));
    for (const e of shopper.updates.events) if (e.type === 'job' && isTerminal(e.status) && mine.has(e.job_id) && !own.has(e.job_id)) strays++;
  }
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
    lost: sent.filter((s) => !terminalCount.has(s.jobId)).length,
    duplicated: [...terminalCount.values()].filter((n) => n > 1).length,
    strays,
    latencies,
    seconds: (lastArrival - firstSent) / 1000,
    rejected,
  };
}

export const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
export const ms = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} ms` : 'n/a');
