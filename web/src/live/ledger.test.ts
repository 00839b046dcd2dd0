import { describe, expect, it } from 'vitest';
import type { JobUpdate, JobView } from '../api/types.ts';
import { mergeUpdate, mergeView, parseUpdate } from './ledger.ts';

const update = (over: Partial<JobUpdate>): JobUpdate => ({
  type: 'job',
  userId: 'u1',
  job_id: 'j1',
  status: 'queued',
  result_url: null,
  kind: 'tryon',
  vton_id: 'v1',
  ...over,
});
const view = (over: Partial<JobView>): JobView => ({
  job_id: 'j1',
  status: 'queued',
  kind: 'tryon',
  vton_id: 'v1',
  result_url: null,
  error: null,
  engine: null,
  resolution: null,
  waiting_for: null,
  enqueued_at: '2026-01-01T00:00:00.000Z',
  finished_at: null,
  updated_at: '2026-01-01T00:00:00.000Z',
  ...over,
});

describe('the job ledger', () => {
  it('follows a job through progress to its result', () => {
    let s = mergeUpdate(undefined, update({}));
    s = mergeUpdate(s, update({ type: 'progress', status: 'running', step: 5, steps: 50 }));
    expect(s).toMatchObject({ status: 'running', step: 5, steps: 50 });
    s = mergeUpdate(s, update({ status: 'completed', result_url: 'http://s3/r.png', engine: 'warp', resolution: '512x512' }));
    expect(s).toMatchObject({ status: 'completed', result_url: 'http://s3/r.png', engine: 'warp', resolution: '512x512', step: 5 });
  });

  it('keeps a finished job finished when a late progress message arrives', () => {
    const done = mergeUpdate(undefined, update({ status: 'completed', result_url: 'http://s3/r.png' }));
    const late = mergeUpdate(done, update({ type: 'progress', status: 'running', step: 40, steps: 50 }));
    expect(late.status).toBe('completed');
    expect(late.result_url).toBe('http://s3/r.png');
  });

  it('keeps the first outcome: a failure after a completion changes nothing (and the other way round)', () => {
    const done = mergeUpdate(undefined, update({ status: 'completed', result_url: 'http://s3/r.png' }));
    expect(mergeUpdate(done, update({ status: 'failed', error: 'boom' }))).toMatchObject({ status: 'completed', error: null });
    const failed = mergeUpdate(undefined, update({ status: 'failed', error: 'no torso' }));
    expect(mergeView(failed, view({ status: 'completed', result_url: 'http://s3/x.png' }))).toMatchObject({
      status: 'failed',
      error: 'no torso',
      result_url: null,
    });
  });

  it('never moves progress back (messages out of order)', () => {
    let s = mergeUpdate(undefined, update({ type: 'progress', status: 'running', step: 30, steps: 50 }));
    s = mergeUpdate(s, update({ type: 'progress', status: 'running', step: 10, steps: 50 }));
    expect(s.step).toBe(30);
  });

  it('takes a finished job from a resync when its messages were missed, and a fresh URL from a newer view', () => {
    const queued = mergeUpdate(undefined, update({}));
    const synced = mergeView(queued, view({ status: 'completed', result_url: 'http://s3/r.png?sig=1', updated_at: '2026-01-01T00:01:00.000Z' }));
    expect(synced).toMatchObject({ status: 'completed', result_url: 'http://s3/r.png?sig=1' });
    expect(mergeView(synced, view({ status: 'completed', result_url: 'http://s3/r.png?sig=2' })).result_url).toBe('http://s3/r.png?sig=2');
  });

  it('is the same whichever of a message and a view comes first', () => {
    const u = update({ status: 'completed', result_url: 'http://s3/r.png' });
    const v = view({ status: 'running', waiting_for: null });
    const a = mergeView(mergeUpdate(undefined, u), v);
    const b = mergeUpdate(mergeView(undefined, v), u);
    expect(a.status).toBe(b.status);
    expect(a.result_url).toBe(b.result_url);
  });
});

describe('parseUpdate (messages from the socket)', () => {
  it('reads a job update', () => {
    expect(parseUpdate(JSON.stringify(update({ status: 'running', type: 'progress', step: 1, steps: 2 })))).toMatchObject({ job_id: 'j1', step: 1 });
  });

  it.each([
    ['hello', '{"type":"hello","authenticated":false}'],
    ['ready', '{"type":"ready","userId":"u1"}'],
    ['not JSON', 'not json'],
    ['a binary frame', new ArrayBuffer(4)],
    ['a JSON array', '[1,2]'],
    ['no job id', '{"type":"job","status":"queued","result_url":null}'],
    ['an unknown status', '{"type":"job","job_id":"j","status":"exploded","result_url":null}'],
    ['a result URL that is not a string', '{"type":"job","job_id":"j","status":"completed","result_url":42}'],
    ['a step that is not a number', '{"type":"progress","job_id":"j","status":"running","result_url":null,"step":"5"}'],
  ])('ignores %s', (_, data) => {
    expect(parseUpdate(data)).toBeUndefined();
  });
});
