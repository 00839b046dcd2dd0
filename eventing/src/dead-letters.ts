/**
 * Dead letters: reading `queue:dead` and re-driving an entry to the stream it came from. The
 * stream source writes each dead letter with the original entry's raw `event` text and why it
 * was parked; re-driving appends that text unchanged, so the event keeps its id and consumers
 * deduplicate a re-driven event that had in fact been handled.
 */
import { readFileSync } from 'node:fs';
import { type Redis, ReplyError } from 'ioredis';
import { parseEvent } from './events.ts';
import { entryField, streams } from './keys.ts';

/** One entry of the dead-letter stream, read leniently: older entries lack group, route and at. */
export interface DeadLetter {
  /** the dead entry's id in the dead-letter stream */
  id: string;
  /** when it was dead-lettered (ISO); from the entry id when the entry has no `at` */
  at: string;
  reason: string;
  /** the stream the event came from */
  stream: string;
  group: string | undefined;
  route: string | undefined;
  /** the original entry's id in `stream` */
  entry: string | undefined;
  /** the sink's last HTTP status; undefined when none answered */
  status: number | undefined;
  attempts: number;
  /** the CloudEvent's type and id when `event` is JSON that has them */
  type: string | undefined;
  eventId: string | undefined;
  /** the original entry's raw text; empty when it had none */
  event: string;
}

export interface Redriven {
  deadId: string;
  stream: string;
  newId: string;
}

export interface Skipped {
  deadId: string;
  stream: string;
  reason: string;
}

/** A dead letter that cannot be re-driven; `reason` says why. */
export class RedriveError extends Error {
  constructor(
    readonly deadId: string,
    readonly reason: string,
  ) {
    super(`dead letter ${deadId}: ${reason}`);
    this.name = 'RedriveError';
  }
}

/** The streams a dead letter may go back to: the ones a stream source reads, never the dead-letter stream itself. */
const redrivable: readonly string[] = Object.values(streams).filter((s) => s !== streams.dead);

const streamId = /^\d+-\d+$/;
const page = 100;

/** The re-drive script (lua/redrive.lua): KEYS dead stream, target stream; ARGV dead id, entry field. */
export const redriveScript = readFileSync(new URL('./lua/redrive.lua', import.meta.url), 'utf8');

type RedisWithRedrive = Redis & { proteusRedrive(dead: string, target: string, deadId: string, field: string): Promise<string> };

/** defineCommand runs the script by EVALSHA and falls back to EVAL when Redis does not know it yet. */
function withRedrive(redis: Redis): RedisWithRedrive {
  if (!('proteusRedrive' in redis)) redis.defineCommand('proteusRedrive', { numberOfKeys: 2, lua: redriveScript });
  return redis as RedisWithRedrive;
}

function toDeadLetter(id: string, flat: string[]): DeadLetter {
  const fields = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) fields.set(flat[i]!, flat[i + 1]!);
  const text = (name: string) => fields.get(name) || undefined;
  const event = fields.get(entryField) ?? '';
  let type: string | undefined;
  let eventId: string | undefined;
  try {
    const parsed = JSON.parse(event) as { type?: unknown; id?: unknown } | null;
    if (typeof parsed?.type === 'string') type = parsed.type;
    if (typeof parsed?.id === 'string') eventId = parsed.id;
  } catch {
    // a malformed entry: it has no type to show
  }
  const status = Number.parseInt(fields.get('status') ?? '', 10);
  const attempts = Number.parseInt(fields.get('attempts') ?? '', 10);
  return {
    id,
    at: text('at') ?? new Date(Number(id.split('-')[0])).toISOString(),
    reason: fields.get('reason') ?? '',
    stream: fields.get('stream') ?? '',
    group: text('group'),
    route: text('route'),
    entry: text('entry'),
    status: Number.isFinite(status) ? status : undefined,
    attempts: Number.isFinite(attempts) ? attempts : 0,
    type,
    eventId,
    event,
  };
}

/** Every dead letter from `from` (inclusive) up to `to` (inclusive), oldest first, read a page at a time. */
async function* scan(redis: Redis, from = '-', to = '+'): AsyncGenerator<DeadLetter> {
  let start = from;
  for (;;) {
    const entries = (await redis.xrange(streams.dead, start, to, 'COUNT', page)) as [string, string[]][];
    for (const [id, flat] of entries) yield toDeadLetter(id, flat);
    if (entries.length < page) return;
    start = `(${entries[entries.length - 1]![0]}`;
  }
}

function checkStreamId(name: string, value: string): void {
  if (!streamId.test(value)) throw new RangeError(`${name} ${JSON.stringify(value)} is not a stream entry id like 1718000000000-0`);
}

/** Dead letters, oldest first: those of `stream` only when given, at most `limit` (default 100), starting at id `from`. */
export async function listDeadLetters(
  redis: Redis,
  { stream, limit = 100, from }: { stream?: string; limit?: number; from?: string } = {},
): Promise<DeadLetter[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`limit ${limit} must be a whole number of at least 1`);
  if (from !== undefined) checkStreamId('from', from);
  const found: DeadLetter[] = [];
  for await (const letter of scan(redis, from)) {
    if (stream !== undefined && letter.stream !== stream) continue;
    found.push(letter);
    if (found.length >= limit) break;
  }
  return found;
}

/** Why `letter` cannot be re-driven, or undefined when it can. Streams never change an entry, so this holds until the script runs. */
function refusal(letter: DeadLetter): string | undefined {
  if (!redrivable.includes(letter.stream)) {
    return `it came from ${JSON.stringify(letter.stream)}, not one of the streams it can go back to (${redrivable.join(', ')})`;
  }
  if (letter.event === '') return 'nothing to re-drive: the entry had no event';
  try {
    parseEvent(JSON.parse(letter.event));
  } catch (error) {
    const why = error instanceof SyntaxError ? `not JSON: ${error.message}` : (error as Error).message;
    return `its event is invalid (${why}); re-driving it would only dead-letter it again`;
  }
  return undefined;
}

async function moveBack(redis: Redis, letter: DeadLetter): Promise<Redriven> {
  try {
    const newId = await withRedrive(redis).proteusRedrive(streams.dead, letter.stream, letter.id, entryField);
    return { deadId: letter.id, stream: letter.stream, newId };
  } catch (error) {
    // the script's refusals (e.g. re-driven meanwhile by someone else) are RedriveErrors too
    if (error instanceof ReplyError) throw new RedriveError(letter.id, (error as Error).message);
    throw error;
  }
}

/**
 * Moves one dead letter back onto the stream it came from, after checking its event against the
 * contract. Throws RedriveError when there is no such dead letter or it cannot be re-driven;
 * then nothing changed.
 */
export async function redrive(redis: Redis, deadId: string): Promise<Redriven> {
  checkStreamId('dead letter id', deadId);
  const [entry] = (await redis.xrange(streams.dead, deadId, deadId)) as [string, string[]][];
  if (!entry || entry[0] !== deadId) throw new RedriveError(deadId, 'no such dead letter');
  const letter = toDeadLetter(entry[0], entry[1]);
  const why = refusal(letter);
  if (why) throw new RedriveError(deadId, why);
  return moveBack(redis, letter);
}

/**
 * Re-drives every dead letter that is there now (not ones parked while this runs, so a
 * re-driven event that fails again is not re-driven again), of `stream` only when given and
 * whose reason contains `reason` when given. Those that cannot be re-driven stay and are
 * reported with why.
 */
export async function redriveAll(
  redis: Redis,
  { stream, reason }: { stream?: string; reason?: string } = {},
): Promise<{ redriven: Redriven[]; skipped: Skipped[] }> {
  const redriven: Redriven[] = [];
  const skipped: Skipped[] = [];
  const [last] = (await redis.xrevrange(streams.dead, '+', '-', 'COUNT', 1)) as [string, string[]][];
  if (!last) return { redriven, skipped };
  for await (const letter of scan(redis, '-', last[0])) {
    if (stream !== undefined && letter.stream !== stream) continue;
    if (reason !== undefined && !letter.reason.includes(reason)) continue;
    const why = refusal(letter);
    if (why) {
      skipped.push({ deadId: letter.id, stream: letter.stream, reason: why });
      continue;
    }
    try {
      redriven.push(await moveBack(redis, letter));
    } catch (error) {
      if (!(error instanceof RedriveError)) throw error;
      skipped.push({ deadId: letter.id, stream: letter.stream, reason: error.reason });
    }
  }
  return { redriven, skipped };
}
