/**
 * The journey of issue #9, from outside the whole dev stack (`npm run dev`, started as the web
 * journey starts it) over HTTP and the /updates WebSocket only: a shopper signs up, uploads a
 * garment through the presigned POST, its segmentation outcome arrives on the socket and the
 * cleaned PNG downloads; a snap with a person photo and landmarks makes a person-mask job first,
 * then the try-on's progress and result arrive on the socket and the result PNG downloads. Then
 * a shop backend submits the same try-on as a structured CloudEvent with an API key, and the
 * shopper's socket sees it through. The dev segmenter is a tiny random SegFormer: its cut-outs
 * mean nothing, so only their form is checked (a PNG of the garment's size).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { astronautPath } from '@proteus/segment/test-photos';
import { type DevStack, startDevStack } from '@proteus/web/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, facingLandmarks, HttpError, isTerminal, type JobEvent, type Session, type SubmittedJob, signUp, Updates, uploadImage } from './client.ts';

const JOB_MS = 120_000;
let stack: DevStack;
let shopper: Session;
let updates: Updates;
let garmentPng: Uint8Array;
let personJpeg: Uint8Array;

beforeAll(async () => {
  stack = await startDevStack();
  garmentPng = readFileSync(astronautPath());
  // the person photo: the same portrait as a JPEG, as a phone camera would send it
  personJpeg = await sharp(garmentPng).jpeg({ quality: 85 }).toBuffer();
  shopper = await signUp(stack.url, 'journey');
  updates = await Updates.open(shopper);
}, 300_000);

afterAll(async () => {
  updates?.close();
  await stack?.stop();
}, 60_000);

async function download(url: string): Promise<Buffer> {
  const response = await fetch(url, { signal: AbortSignal.timeout(30_000) });
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

/** The socket's events of one job, in arrival order. */
const eventsOf = (jobId: string): JobEvent[] => updates.events.filter((e) => e.job_id === jobId);

describe('the journey, from outside the running stack', () => {
  let garmentKey: string;
  let vtonId = '';

  it(
    'uploads a garment, and the cleaned PNG of its segmentation arrives through the socket',
    async () => {
      garmentKey = await uploadImage(shopper, garmentPng, 'garment', 'image/png');
      expect(garmentKey).toMatch(new RegExp(`^users/${shopper.userId}/garment/`));

      const job = await call<SubmittedJob>(stack.url, 'POST', '/api/upload/cloth', { token: shopper.token, body: { key: garmentKey } });
      expect(job).toMatchObject({ status: 'queued', kind: 'segment' });
      const done = await updates.terminal(job.job_id, JOB_MS);
      expect(done).toMatchObject({ status: 'completed', userId: shopper.userId, kind: 'segment' });
      expect(done.result_url).toMatch(/^https?:\/\//);

      const png = await download(done.result_url as string);
      const meta = await sharp(png).metadata();
      expect(meta.format).toBe('png');
      const source = await sharp(garmentPng).metadata();
      expect([meta.width, meta.height]).toEqual([source.width, source.height]);

      // the job's status over HTTP agrees with the socket
      const status = await call<{ status: string; result_url: string | null }>(stack.url, 'GET', `/api/status/${job.job_id}`, { token: shopper.token });
      expect(status.status).toBe('completed');
      expect(status.result_url).toMatch(/^https?:\/\//);
      expect(done.job_id).toBe(job.job_id);
    },
    JOB_MS + 30_000,
  );

  it(
    'snaps a person photo with landmarks: a person-mask job, then progress and the try-on result on the socket; a second snap of the photo shares the mask',
    async () => {
      // everything from here on is this snap's (the garment's job has ended)
      const before = updates.events.length;
      const personKey = await uploadImage(shopper, personJpeg, 'person', 'image/jpeg');
      const job = await call<SubmittedJob>(stack.url, 'POST', '/api/snap', {
        token: shopper.token,
        body: { personKey, garmentKey, landmarks: facingLandmarks() },
        headers: { 'idempotency-key': randomUUID() },
      });
      expect(job).toMatchObject({ status: 'queued', kind: 'tryon', vton_id: expect.any(String) });
      // at once, before the mask is made: it waits for the same mask job
      const again = await call<SubmittedJob>(stack.url, 'POST', '/api/snap', {
        token: shopper.token,
        body: { personKey, garmentKey, landmarks: facingLandmarks(), seed: 2 },
      });
      const done = await updates.terminal(job.job_id, JOB_MS);
      expect(done).toMatchObject({ status: 'completed', kind: 'tryon', userId: shopper.userId });
      const doneAgain = await updates.terminal(again.job_id, JOB_MS);
      expect(doneAgain).toMatchObject({ status: 'completed', kind: 'tryon', userId: shopper.userId, vton_id: job.vton_id });

      const seen = eventsOf(job.job_id);
      const progress = seen.filter((e) => e.type === 'progress');
      expect(progress.length).toBeGreaterThan(0);
      expect(progress.every((e) => typeof e.step === 'number' && typeof e.steps === 'number' && (e.step as number) <= (e.steps as number))).toBe(true);
      // exactly one terminal event, and it comes last
      expect(seen.filter((e) => e.type === 'job' && (e.status === 'completed' || e.status === 'failed'))).toHaveLength(1);
      expect(seen.at(-1)).toBe(done);
      // engine auto and no mask: the api made one person-mask segmentation job, for both snaps, and its outcome reached the socket before either try-on's
      const [first, last] = [updates.events.indexOf(done), updates.events.indexOf(doneAgain)].sort((a, b) => a - b) as [number, number];
      const masks = updates.events.slice(before, last).filter((e) => e.kind === 'segment' && e.type === 'job' && isTerminal(e.status));
      expect(masks).toHaveLength(1);
      expect(updates.events.indexOf(masks[0] as JobEvent)).toBeLessThan(first);
      const listed = await call<{ job_id: string; kind: string }>(stack.url, 'GET', `/api/status/${masks[0]?.job_id}`, { token: shopper.token });
      expect(listed).toMatchObject({ kind: 'segment', job_id: masks[0]?.job_id });

      const png = await download(done.result_url as string);
      expect((await sharp(png).metadata()).format).toBe('png');
      vtonId = job.vton_id;
    },
    2 * JOB_MS + 30_000,
  );

  it(
    'takes the same try-on as a structured CloudEvent from a shop backend with an API key',
    async () => {
      const { key } = await call<{ key: string }>(stack.url, 'POST', '/api/api-keys', { token: shopper.token, body: { name: 'journey shop' } });
      expect(key).toMatch(/^prk_/);
      const personKey = await uploadImage(shopper, personJpeg, 'person', 'image/jpeg');
      const event = {
        specversion: '1.0',
        id: randomUUID(),
        source: 'https://shop.example.org/journey',
        type: 'dev.proteus.tryon.requested',
        time: new Date().toISOString(),
        datacontenttype: 'application/json',
        data: { jobId: randomUUID(), userId: shopper.userId, vtonId, personKey, garmentKey, landmarks: facingLandmarks(), seed: 7 },
      };
      const post = (token: string) =>
        call<{ results: { job_id?: string; status?: string; problem?: unknown }[] }>(stack.url, 'POST', '/api/cloudevents', {
          token,
          body: JSON.stringify(event),
          headers: { 'content-type': 'application/cloudevents+json' },
        });

      // a shopper's access token is not a key: refused
      const refused = await post(shopper.token).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(HttpError);
      expect((refused as HttpError).status).toBe(403);

      const answer = await post(key);
      expect(answer.results).toHaveLength(1);
      const jobId = answer.results[0]?.job_id as string;
      expect(answer.results[0]).toMatchObject({ status: 'queued', job_id: expect.any(String) });
      // a redelivery of the same event answers the same job
      expect((await post(key)).results[0]?.job_id).toBe(jobId);

      const done = await updates.terminal(jobId, JOB_MS);
      expect(done).toMatchObject({ status: 'completed', kind: 'tryon', userId: shopper.userId });
      expect(eventsOf(jobId).filter((e) => e.type === 'job' && (e.status === 'completed' || e.status === 'failed'))).toHaveLength(1);
      const png = await download(done.result_url as string);
      expect((await sharp(png).metadata()).format).toBe('png');
    },
    JOB_MS + 30_000,
  );
});
