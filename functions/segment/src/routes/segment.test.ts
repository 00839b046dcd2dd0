/**
 * POST /segment: image bytes in, PNG out, as curl sends them (`--data-binary @photo.jpg`).
 */
import { readFileSync } from 'node:fs';
import { createObjectStorage } from '@proteus/common/storage';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type TestWorld, testWorld } from '../../test/deps.ts';
import { createApp, type SegmentDeps } from '../app.ts';

const PROBLEMS = 'https://proteus.dev/problems/';
let w: TestWorld;
let astronaut: Buffer;
let jpeg: Buffer;

beforeAll(async () => {
  w = await testWorld();
  astronaut = readFileSync(inject('astronaut'));
  jpeg = await sharp(astronaut).jpeg({ quality: 90 }).toBuffer();
}, 60_000);
afterAll(() => w?.close());

const send = (deps: SegmentDeps, body: RequestInit['body'], query = '', contentType = 'image/jpeg') =>
  createApp(deps).request(`/segment${query}`, { method: 'POST', headers: { 'content-type': contentType }, body });

async function expectProblem(response: Response, status: number, slug: string) {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toBe('application/problem+json');
  const body = (await response.json()) as { type: string; status: number; detail?: string; instance?: string; errors?: { path: string }[] };
  expect(body).toMatchObject({ type: PROBLEMS + slug, status, instance: '/segment' });
  return body;
}

describe('POST /segment', () => {
  it('answers the garment as a transparent PNG, naming the crop and the model', async () => {
    const response = await send(w.deps(), jpeg);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(response.headers.get('x-proteus-model')).toBe('proteus/segformer-b2-clothes-tiny fp32');
    const [x, y, width, height] = response.headers.get('x-proteus-crop')!.split(',').map(Number);
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect(meta).toMatchObject({ format: 'png', width, height, channels: 4, hasAlpha: true });
    expect(meta.exif).toBeUndefined();
    expect(x! + width!).toBeLessThanOrEqual(512);
    expect(y! + height!).toBeLessThanOrEqual(512);
  });

  it('takes PNG and any content type: the bytes decide', async () => {
    expect((await send(w.deps(), astronaut, '', 'application/octet-stream')).status).toBe(200);
  });

  it('answers the person mask with ?purpose=person-mask', async () => {
    const response = await send(w.deps(), astronaut, '?purpose=person-mask');
    expect(response.status).toBe(200);
    expect(await sharp(Buffer.from(await response.arrayBuffer())).metadata()).toMatchObject({ format: 'png', width: 512, height: 512, channels: 1 });
    expect(response.headers.get('x-proteus-crop')).toBeNull();
  });

  it('keeps the classes asked for: no scarf in this photo is 422 no-garment, never an empty PNG', async () => {
    const problem = await expectProblem(await send(w.deps(), astronaut, '?classes=17'), 422, 'no-garment');
    expect(problem.detail).toMatch(/^found 0 pixels of Scarf in 512x512/);
  });

  it.each([
    ['nothing', Buffer.alloc(0), 400, 'image-empty', 'the image has 0 bytes'],
    ['text', Buffer.from('{"not": "an image"}'), 415, 'not-an-image', 'the first bytes are not those of a JPEG, PNG or WebP image'],
    ['half a JPEG', undefined, 422, 'image-truncated', undefined],
  ] as const)('refuses %s', async (_what, body, status, slug, detail) => {
    const problem = await expectProblem(await send(w.deps(), body ?? jpeg.subarray(0, jpeg.length >> 1)), status, slug);
    if (detail) expect(problem.detail).toBe(detail);
  });

  it('refuses more pixels than the limit from the header: 422 image-too-many-pixels', async () => {
    const problem = await expectProblem(await send(w.deps({ limits: { maxBytes: 2_000_000, maxPixels: 100_000 } }), jpeg), 422, 'image-too-many-pixels');
    expect(problem.detail).toBe('512x512 = 262144 pixels, at most 100000');
  });

  it('refuses more bytes than the limit as they arrive: 413 image-too-large', async () => {
    const deps = w.deps({ limits: { maxBytes: 10_000, maxPixels: 4_000_000 } });
    await expectProblem(await send(deps, jpeg), 413, 'image-too-large');
    // chunked, without a content-length to trust
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < jpeg.length; i += 4096) controller.enqueue(jpeg.subarray(i, i + 4096));
        controller.close();
      },
    });
    const chunked = await createApp(deps).request('/segment', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    await expectProblem(chunked, 413, 'image-too-large');
  });

  it.each([
    ['?purpose=dress', 'purpose'],
    ['?classes=11', 'classes'],
    ['?classes=', 'classes'],
  ])('refuses a bad query (%s): 400 naming the parameter', async (query, field) => {
    const problem = await expectProblem(await send(w.deps(), jpeg, query), 400, 'invalid-request');
    expect(problem.errors?.map((e) => e.path)).toEqual([field]);
  });

  it('answers 503 busy with Retry-After when the queue is full', async () => {
    const deps = w.deps({ concurrency: 1, maxWaiting: 0 });
    let release!: () => void;
    const occupied = deps.segmentation.gate.run(() => new Promise<void>((r) => (release = r)));
    const response = await send(deps, jpeg);
    expect(response.headers.get('retry-after')).toBe('1');
    await expectProblem(response, 503, 'busy');
    release();
    await occupied;
    const text = await (await createApp(deps).request('/metrics')).text();
    expect(text).toContain('proteus_segment_outcomes_total{via="http",purpose="garment",outcome="busy"} 1');
  });

  it('counts outcomes and latency in /metrics, and the model load time', async () => {
    const deps = w.deps();
    await send(deps, jpeg);
    await send(deps, Buffer.from('nope'));
    const text = await (await createApp(deps).request('/metrics')).text();
    expect(text).toContain('proteus_segment_outcomes_total{via="http",purpose="garment",outcome="completed"} 1');
    expect(text).toContain('proteus_segment_outcomes_total{via="http",purpose="garment",outcome="not-an-image"} 1');
    expect(text).toMatch(/proteus_segment_seconds_count\{via="http",purpose="garment"\} 1/);
    expect(text).toMatch(/proteus_segment_model_load_seconds\{model="proteus\/segformer-b2-clothes-tiny",dtype="fp32",fallback="false"\} \d/);
  });
});

describe('GET /health', () => {
  it('is ok against the real Redis and bucket, and names the model', async () => {
    const response = await createApp(w.deps()).request('/health');
    expect(response.status).toBe(200);
    const report = (await response.json()) as { checks: { model: { detail: string } } };
    expect(report).toMatchObject({
      status: 'ok',
      part: 'segment',
      checks: { redis: { status: 'ok' }, objectStorage: { status: 'ok' }, model: { status: 'ok' } },
    });
    expect(report.checks.model.detail).toMatch(/^proteus\/segformer-b2-clothes-tiny fp32, loaded in \d+\.\d\d s$/);
  });

  it('is 503 when object storage refuses the keys', async () => {
    const refused = createObjectStorage({ ...w.bucket.server, bucket: w.bucket.bucket, secretAccessKey: 'wrong-secret' });
    try {
      const response = await createApp(w.deps({}, { storage: refused })).request('/health');
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ status: 'error', checks: { redis: { status: 'ok' }, objectStorage: { status: 'error' } } });
    } finally {
      refused.close();
    }
  });

  it('answers other paths with a 404 problem', async () => {
    const response = await createApp(w.deps()).request('/segment/x', { method: 'POST' });
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
  });
});
