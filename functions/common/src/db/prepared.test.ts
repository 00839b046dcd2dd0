import { isolatedDatabase } from '@proteus/testkit';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from './index.ts';
import { MARK, type PreparedStatements, prepared, preparedName, preparedStatements, sizeGeneration } from './prepared.ts';

describe('statement names', () => {
  it('count the doublings of every table, in 8 KiB pages', () => {
    expect(sizeGeneration([])).toBe(0);
    // empty and one-page tables count nothing; 2 pages 1, 1,000 pages 9
    expect(sizeGeneration([0, 8192, 16_384, 8192 * 1000])).toBe(10);
    expect(sizeGeneration([8192 * 1023])).toBe(9);
    expect(sizeGeneration([8192 * 1024])).toBe(10);
  });

  it('are one per text and generation', () => {
    const a = 'select 1 where $1::int = 1';
    expect(preparedName(a, 3)).toBe(preparedName(a, 3));
    expect(preparedName(a, 3)).not.toBe(preparedName(a, 4));
    expect(preparedName(a, 3)).not.toBe(preparedName('select 2 where $1::int = 1', 3));
    expect(preparedName(a, 3)).toMatch(/^proteus_[0-9a-f]{16}_3$/);
  });
});

describe('prepared statements on PostgreSQL', () => {
  let drop: () => Promise<void>;
  let pool: pg.Pool;
  let statements: PreparedStatements;
  let client: pg.PoolClient;

  beforeAll(async () => {
    const database = await isolatedDatabase();
    drop = database.drop;
    // one connection held by the tests, one for the size sampler
    pool = new pg.Pool({ connectionString: database.url, max: 2 });
    statements = preparedStatements(pool, { everyMs: 3_600_000 });
    pool.on('connect', (c) => statements.attach(c));
    client = await pool.connect();
    await client.query('create table items (id text primary key, v text not null)');
    await client.query("insert into items values ('a', 'x'), ('b', 'y')");
    // as autovacuum would soon after the table's first rows: the statistics of a two-row table
    await client.query('analyze items');
  });

  afterAll(async () => {
    client?.release();
    statements?.stop();
    await pool?.end();
    await drop?.();
  });

  // the shape of the api's batched statements: the batch as a JSON parameter, joined to a table
  const marked = `${MARK}select i.v from jsonb_to_recordset(cast($1 as jsonb)) as c(id text) join items as i on i.id = c.id order by i.v`;
  const batch = JSON.stringify([{ id: 'a' }, { id: 'b' }]);
  const names = async () =>
    (await client.query<{ name: string }>("select name from pg_prepared_statements where name like 'proteus\\_%' order by prepare_time")).rows.map(
      (r) => r.name,
    );
  const planOf = async (name: string) =>
    (await client.query<{ 'QUERY PLAN': string }>(`explain execute ${name}('${batch}')`)).rows.map((r) => r['QUERY PLAN']).join('\n');

  it('sends a marked statement by name and an unmarked one as it is', async () => {
    for (let i = 0; i < 6; i++) expect((await client.query(marked, [batch])).rows).toEqual([{ v: 'x' }, { v: 'y' }]);
    await client.query(marked.slice(MARK.length), [batch]);
    expect(await names()).toEqual([preparedName(marked, statements.generation)]);
  });

  it('plans it again under a new name once a table has doubled, for the size it has grown to', async () => {
    const before = statements.generation;
    const [first] = await names();
    // made for two rows, the kept plan reads the whole table
    expect(await planOf(first as string)).toMatch(/Seq Scan on items/);

    await client.query("insert into items select 'k' || n, 'v' from generate_series(1, 200000) as n");
    await statements.sample();
    expect(statements.generation).toBeGreaterThan(before);
    for (let i = 0; i < 6; i++) expect((await client.query(marked, [batch])).rows).toEqual([{ v: 'x' }, { v: 'y' }]);

    const after = await names();
    expect(after).toEqual([first, preparedName(marked, statements.generation)]);
    expect(await planOf(after[1] as string)).toMatch(/Index Scan using items_pkey/);
  }, 30_000);

  it('keeps the last generation while the database does not answer', async () => {
    const down = new pg.Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    const away = preparedStatements(down, { everyMs: 3_600_000 });
    await away.sample();
    expect(away.generation).toBe(0);
    away.stop();
    await down.end();
  });
});

describe('openDatabase', () => {
  it.each([true, false])('prepares marked statements on PostgreSQL unless told not to (preparedStatements: %s)', async (preparedStatements) => {
    const database = await isolatedDatabase();
    // one connection: the statements and the look-up at pg_prepared_statements share it
    const handle = await openDatabase({ url: database.url, poolSize: 1, preparedStatements });
    try {
      for (let i = 0; i < 3; i++) await sql`${prepared} select count(*) from users where id = any(cast(${['u1']} as text[]))`.execute(handle.db);
      const { rows } = await sql<{ name: string }>`select name from pg_prepared_statements`.execute(handle.db);
      expect(rows.map((r) => r.name)).toEqual(preparedStatements ? [expect.stringMatching(/^proteus_[0-9a-f]{16}_\d+$/)] : []);
    } finally {
      await handle.close();
      await database.drop();
    }
  });
});

describe.each(['postgres', 'pglite'] as const)('a marked statement through Kysely on %s', (kind) => {
  it('answers and counts like an unmarked one', async () => {
    const database = kind === 'postgres' ? await isolatedDatabase() : undefined;
    const handle = await openDatabase({ url: database?.url });
    try {
      const inserted =
        await sql`${prepared} insert into processed_events (source, id, type) values (${'/proteus/api'}, ${'m1'}, ${'dev.proteus.tryon.completed'})`.execute(
          handle.db,
        );
      expect(inserted.numAffectedRows).toBe(1n);
      const read = await sql<{ id: string }>`${prepared} select id from processed_events where id = any(cast(${['m1', 'm2']} as text[]))`.execute(handle.db);
      expect(read.rows).toEqual([{ id: 'm1' }]);
    } finally {
      await handle.close();
      await database?.drop();
    }
  }, 60_000);
});
