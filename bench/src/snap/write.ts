/**
 * The snap's batched job write alone (writeJobs, functions/api/src/jobs/submit.ts) on a
 * PostgreSQL of its own: what one statement costs the PostgreSQL backend in CPU, at batch sizes
 * 1, 5, 15 and 40, for try-ons that join their photo's mask job (the bench's (c)) and for
 * try-ons queued at once ((c'')), against single-row INSERTs on the same server in the same run.
 * A statement's fixed cost (parse, plan, executor start, commit) against its cost per snap is
 * what decides how much group commit can win. One connection, so the backend's CPU (from /proc)
 * is the statement's.
 *   npm run snap:write -w @proteus/bench [-- STATEMENTS]
 */
import { randomUUID } from 'node:crypto';
import { type JobsWrite, writeJobs } from '@proteus/api/jobs';
import { openDatabase } from '@proteus/common/db';
import { sql } from 'kysely';
import { measuringCpu, onlyPid } from '../cpu.ts';
import { startPostgres } from '../postgres.ts';

const STATEMENTS = Number(process.argv[2] ?? 300);
const SIZES = [1, 5, 15, 40];
const SHOPPERS = 64;

const { url } = await startPostgres();
const database = await openDatabase({ url, poolSize: 1 });
const { db } = database;

const users = Array.from({ length: SHOPPERS }, (_, i) => `shopper-${i}`);
const photo = (u: string) => `users/${u}/person/p_verified.jpg`;
const garment = (u: string) => `users/${u}/garment/g_verified.jpg`;
for (const u of users) {
  await sql`insert into users (id, email, password_hash) values (${u}, ${`${u}@example.com`}, 'x')`.execute(db);
  await sql`insert into vtons (id, user_id, garment_key, person_key, status) values (${`v-${u}`}, ${u}, ${garment(u)}, ${photo(u)}, 'queued')`.execute(db);
  await sql`insert into jobs (id, user_id, vton_id, kind, image_key, purpose) values (${`m-${u}`}, ${u}, ${`v-${u}`}, 'segment', ${photo(u)}, 'person-mask')`.execute(
    db,
  );
}
await sql`create table bench_rows (id uuid primary key default gen_random_uuid(), user_id text not null, work jsonb not null, created_at timestamptz not null default now())`.execute(
  db,
);

/** One snap's write as the api makes it: the VTON updated, the try-on waiting for the mask job (joins) or queued. */
function snapWrite(u: string, joins: boolean): JobsWrite {
  const jobId = randomUUID();
  const data = { jobId, userId: u, vtonId: `v-${u}`, personKey: photo(u), garmentKey: garment(u), seed: 123456789 };
  const event = { specversion: '1.0', id: randomUUID(), source: '/proteus/api', type: 'dev.proteus.tryon.requested', time: new Date().toISOString(), data };
  return {
    userId: u,
    vtonId: `v-${u}`,
    targetVton: `v-${u}`,
    change: { status: 'queued', keys: { person_key: photo(u), garment_key: garment(u), result_key: null, ...(joins ? { mask_key: null } : {}) } },
    jobs: [joins ? { id: jobId, kind: 'tryon', waitingFor: `m-${u}`, pendingEvent: JSON.stringify(event) } : { id: jobId, kind: 'tryon' }],
    joins: joins ? `m-${u}` : undefined,
    at: new Date(),
  };
}

// the one backend of the one connection
const backend = { backend: onlyPid((await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]?.pid) };

async function measure(statements: number, run: (i: number) => Promise<unknown>) {
  for (let i = 0; i < 20; i++) await run(i); // plans cached, pages warm
  const t0 = performance.now();
  const { cpu } = await measuringCpu(backend, async () => {
    for (let i = 0; i < statements; i++) await run(i);
  });
  return { wallMs: (performance.now() - t0) / statements, cpuMs: (cpu.backend ?? 0) / statements };
}

const work = JSON.stringify({ kind: 'tryon', personKey: photo('x'), garmentKey: garment('x') });
const insert = await measure(STATEMENTS * 4, () => sql`insert into bench_rows (user_id, work) values ('bench-user', ${work})`.execute(db));

console.log(`\nwriteJobs on this machine's PostgreSQL, one connection, ${STATEMENTS} statements each (CPU from /proc, 10 ms ticks)\n`);
console.log('| write | snaps a statement | ms a statement | backend CPU ms a statement | a snap | a snap / single-row INSERT |\n|---|---|---|---|---|---|');
console.log(`| single-row INSERT (baseline) | 1 | ${insert.wallMs.toFixed(2)} | ${insert.cpuMs.toFixed(3)} | ${insert.cpuMs.toFixed(3)} | 1.0 |`);
for (const joins of [true, false]) {
  for (const size of SIZES) {
    const r = await measure(STATEMENTS, (i) => {
      const from = (i * size) % (SHOPPERS - size + 1);
      return writeJobs(
        db,
        users.slice(from, from + size).map((u) => snapWrite(u, joins)),
      );
    });
    const perSnap = r.cpuMs / size;
    const name = joins ? 'try-ons joining their mask job' : 'try-ons queued at once';
    console.log(`| ${name} | ${size} | ${r.wallMs.toFixed(2)} | ${r.cpuMs.toFixed(3)} | ${perSnap.toFixed(3)} | ${(perSnap / insert.cpuMs).toFixed(1)} |`);
  }
}
await database.close();
process.exit(0);
