/**
 * The dead-letter tool for operators: list what the stream source parked in the dead-letter
 * stream and re-drive entries to the stream they came from once the cause is fixed.
 */
import { parseArgs } from 'node:util';
import { configOrExit, createRedis, env, loadConfig } from '@proteus/common';
import { z } from 'zod';
import { type DeadLetter, listDeadLetters, RedriveError, type Redriven, redrive, redriveAll, type Skipped } from '../dead-letters.ts';

const usage = `usage: dead-letters <command> [options]

commands:
  list [--stream S] [--limit N] [--json]     dead letters, oldest first (at most N, default 100)
  redrive <deadId...>                        move these dead letters back onto their streams
  redrive --all [--stream S] [--reason TEXT] move every valid dead letter (of stream S,
                                             whose reason contains TEXT)

environment:
  REDIS_URL  redis:// or rediss:// URL (required)

exit status: 0 done, 1 a dead letter was not re-driven, 2 bad configuration, 64 bad usage
`;

/** EX_USAGE of sysexits.h */
const badUsage = 64;

class UsageError extends Error {}

type Command =
  | { name: 'list'; stream?: string; limit: number; json: boolean }
  | { name: 'redrive'; ids: string[] }
  | { name: 'redrive-all'; stream?: string; reason?: string };

function parseCommand(argv: string[]): Command | 'help' {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') return 'help';
  if (name === 'list') {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { stream: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean', default: false } },
      allowPositionals: true,
    });
    if (positionals.length) throw new UsageError(`list takes no arguments (got ${positionals.join(' ')})`);
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit ${JSON.stringify(values.limit)} must be a whole number of at least 1`);
    return { name: 'list', stream: values.stream, limit, json: values.json };
  }
  if (name === 'redrive') {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { all: { type: 'boolean', default: false }, stream: { type: 'string' }, reason: { type: 'string' } },
      allowPositionals: true,
    });
    if (values.all) {
      if (positionals.length) throw new UsageError('redrive takes either dead letter ids or --all, not both');
      return { name: 'redrive-all', stream: values.stream, reason: values.reason };
    }
    if (values.stream !== undefined || values.reason !== undefined) throw new UsageError('--stream and --reason go with redrive --all');
    if (!positionals.length) throw new UsageError('redrive needs dead letter ids or --all');
    return { name: 'redrive', ids: positionals };
  }
  throw new UsageError(name === undefined ? 'no command given' : `unknown command ${JSON.stringify(name)}`);
}

function table(letters: DeadLetter[]): string {
  const header = ['id', 'at', 'stream', 'type', 'attempts', 'status', 'reason'];
  const rows = letters.map((l) => [
    l.id,
    l.at,
    l.stream || '-',
    l.type ?? '-',
    String(l.attempts),
    l.status === undefined ? '-' : String(l.status),
    l.reason.replace(/\s+/g, ' '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  // the reason, last, is not padded: it is the long one
  return [header, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

const redrivenLine = (r: Redriven) => `${r.deadId} re-driven to ${r.stream} as ${r.newId}`;
const skippedLine = (s: Pick<Skipped, 'deadId' | 'reason'>) => `${s.deadId} skipped: ${s.reason}`;

let command: Command | 'help';
try {
  command = parseCommand(process.argv.slice(2));
} catch (error) {
  // parseArgs throws TypeErrors with a code (ERR_PARSE_ARGS_UNKNOWN_OPTION, ...) for bad flags
  if (!(error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) throw error;
  process.stderr.write(`dead-letters: ${(error as Error).message}\n${usage}`);
  process.exit(badUsage);
}
if (command === 'help') {
  process.stdout.write(usage);
  process.exit(0);
}

const config = configOrExit(() => loadConfig('dead-letters', z.object({ REDIS_URL: env.redisUrl() })));
const redis = createRedis(config.REDIS_URL, 'dead-letters');

async function main(command: Command): Promise<number> {
  if (command.name === 'list') {
    const letters = await listDeadLetters(redis, { stream: command.stream, limit: command.limit });
    if (command.json) process.stdout.write(`${JSON.stringify(letters, null, 2)}\n`);
    else process.stdout.write(letters.length ? `${table(letters)}\n` : 'no dead letters\n');
    return 0;
  }
  if (command.name === 'redrive-all') {
    const { redriven, skipped } = await redriveAll(redis, { stream: command.stream, reason: command.reason });
    for (const r of redriven) process.stdout.write(`${redrivenLine(r)}\n`);
    for (const s of skipped) process.stdout.write(`${skippedLine(s)}\n`);
    if (!redriven.length && !skipped.length) process.stdout.write('no dead letters matched\n');
    return skipped.length ? 1 : 0;
  }
  let failed = 0;
  for (const deadId of command.ids) {
    try {
      process.stdout.write(`${redrivenLine(await redrive(redis, deadId))}\n`);
    } catch (error) {
      if (!(error instanceof RedriveError || error instanceof RangeError)) throw error;
      process.stdout.write(`${skippedLine({ deadId, reason: error instanceof RedriveError ? error.reason : error.message })}\n`);
      failed++;
    }
  }
  return failed ? 1 : 0;
}

let code = 1;
try {
  code = await main(command);
} catch (error) {
  process.stderr.write(`dead-letters: ${(error as Error).message}\n`);
} finally {
  redis.disconnect();
}
process.exit(code);
