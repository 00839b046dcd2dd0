import { isolatedDatabase } from '@proteus/testkit';
import { sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DatabaseHandle, migrations, openDatabase } from './index.ts';
import { migrationProvider } from './migrations.ts';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function open(kind: 'postgres' | 'pglite'): Promise<DatabaseHandle> {
  if (kind === 'pglite') {
    const handle = await openDatabase({});
    cleanups.push(() => handle.close());
    return handle;
  }
  const { url, drop } = await isolatedDatabase();
  cleanups.push(drop);
  const handle = await openDatabase({ url });
  cleanups.push(() => handle.close());
  return handle;
}

describe.each(['postgres', 'pglite'] as const)('database on %s', (kind) => {
  // PGlite takes seconds to create on 2 cores: one instance per kind, each test on its own rows
  let handle: DatabaseHandle;
  beforeAll(async () => {
    handle = await open(kind);
  }, 60_000);

  it('runs every migration at open, once', async () => {
    expect(handle.kind).toBe(kind);
    await handle.ping();
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(handle.db);
    expect(applied.rows.map((r) => r.name)).toEqual(Object.keys(migrations));
  });

  it('deduplicates on (source, id) and counts the same way', async () => {
    const { db } = handle;
    const insert = () =>
      db
        .insertInto('processed_events')
        .values({ source: '/proteus/api', id: 'e1', type: 'dev.proteus.tryon.completed' })
        .onConflict((oc) => oc.columns(['source', 'id']).doNothing())
        .executeTakeFirst();
    expect((await insert()).numInsertedOrUpdatedRows).toBe(1n);
    expect((await insert()).numInsertedOrUpdatedRows).toBe(0n);
    const { count } = await db
      .selectFrom('processed_events')
      .where('id', '=', 'e1')
      .select((eb) => eb.fn.countAll<string | number>().as('count'))
      .executeTakeFirstOrThrow();
    // pg returns bigint counts as strings, PGlite as numbers: callers convert with Number()
    expect(Number(count)).toBe(1);
  });

  it('rolls a failed transaction back whole', async () => {
    const { db } = handle;
    await expect(
      db.transaction().execute(async (trx) => {
        await trx.insertInto('processed_events').values({ source: 'tx', id: 'a', type: 't' }).execute();
        await trx.insertInto('processed_events').values({ source: 'tx', id: 'a', type: 't' }).execute();
      }),
    ).rejects.toThrow(/duplicate key/);
    expect(await db.selectFrom('processed_events').selectAll().where('source', '=', 'tx').execute()).toEqual([]);
  });

  it('keeps accounts whole: unique e-mail, known roles, tokens and keys go with their user', async () => {
    const { db } = handle;
    const user = (id: string, email: string) => ({ id, email, password_hash: 'h' });
    await db
      .insertInto('users')
      .values([user('u1', 'a@example.com'), user('u2', 'b@example.com')])
      .execute();
    await expect(db.insertInto('users').values(user('u3', 'a@example.com')).execute()).rejects.toThrow(/duplicate key/);
    await expect(
      db
        .insertInto('users')
        .values({ ...user('u4', 'c@example.com'), role: 'root' as 'user' })
        .execute(),
    ).rejects.toThrow(/check constraint/);
    const inserted = await db.selectFrom('users').select(['role', 'display_name', 'created_at']).where('id', '=', 'u1').executeTakeFirstOrThrow();
    expect(inserted).toMatchObject({ role: 'user', display_name: null });
    expect(inserted.created_at).toBeInstanceOf(Date);
    for (const [id, userId] of [
      ['t1', 'u1'],
      ['t2', 'u2'],
    ] as const) {
      await db
        .insertInto('refresh_tokens')
        .values({ id, user_id: userId, token_hash: `hash-${id}`, expires_at: new Date(Date.now() + 60_000) })
        .execute();
      await db
        .insertInto('api_keys')
        .values({ id, user_id: userId, name: 'k', key_hash: `hash-${id}` })
        .execute();
    }
    await expect(db.insertInto('refresh_tokens').values({ id: 't3', user_id: 'u1', token_hash: 'hash-t1', expires_at: new Date() }).execute()).rejects.toThrow(
      /duplicate key/,
    );
    await expect(db.insertInto('api_keys').values({ id: 'k9', user_id: 'nobody', name: 'k', key_hash: 'x' }).execute()).rejects.toThrow(/foreign key/);
    await db.deleteFrom('users').where('id', '=', 'u1').execute();
    const count = async (table: 'refresh_tokens' | 'api_keys') =>
      Number(
        (
          await db
            .selectFrom(table)
            .select((eb) => eb.fn.countAll<string | number>().as('n'))
            .executeTakeFirstOrThrow()
        ).n,
      );
    expect(await count('refresh_tokens')).toBe(1);
    expect(await count('api_keys')).toBe(1);
    await db.deleteFrom('users').execute();
  });

  it('keeps jobs with their VTON: a job needs one, and goes with it and with its user; idempotency keys are unique per user where given', async () => {
    const { db } = handle;
    await db
      .insertInto('users')
      .values(['j1', 'j2'].map((id) => ({ id, email: `${id}@example.com`, password_hash: 'h' })))
      .execute();
    await db
      .insertInto('vtons')
      .values([
        { id: 'jv1', user_id: 'j1' },
        { id: 'jv2', user_id: 'j1' },
        { id: 'jv3', user_id: 'j2' },
      ])
      .execute();
    const job = (id: string, vton: string | null, user: string, idempotency_key: string | null = null) =>
      db
        .insertInto('jobs')
        .values({ id, user_id: user, vton_id: vton as string, kind: 'tryon', idempotency_key })
        .execute();
    await expect(job('jx', null, 'j1')).rejects.toThrow(/null value/);
    await expect(job('jx', 'no-such-vton', 'j1')).rejects.toThrow(/must name a VTON of its own user/);
    // nor another user's VTON, nor one bad row among good ones: the whole statement is refused
    await expect(job('jx', 'jv3', 'j1')).rejects.toThrow(/must name a VTON of its own user/);
    await expect(
      db
        .insertInto('jobs')
        .values([
          { id: 'jy', user_id: 'j1', vton_id: 'jv1', kind: 'tryon' },
          { id: 'jz', user_id: 'j1', vton_id: 'gone', kind: 'tryon' },
        ])
        .execute(),
    ).rejects.toThrow(/must name a VTON of its own user/);
    // any number without a key; a key once per user
    for (const id of ['ja', 'jb']) await job(id, 'jv1', 'j1');
    await job('jc', 'jv1', 'j1', 'key-1');
    await job('jd', 'jv3', 'j2', 'key-1');
    await expect(job('je', 'jv2', 'j1', 'key-1')).rejects.toThrow(/duplicate key/);
    await job('jf', 'jv2', 'j1');

    const left = async () => (await db.selectFrom('jobs').select('id').where('id', 'like', 'j_').orderBy('id').execute()).map((r) => r.id);
    await db.deleteFrom('vtons').where('id', '=', 'jv2').execute();
    expect(await left()).toEqual(['ja', 'jb', 'jc', 'jd']);
    await db.deleteFrom('users').where('id', '=', 'j1').execute();
    expect(await left()).toEqual(['jd']);
    await db.deleteFrom('users').where('id', '=', 'j2').execute();
    expect(await left()).toEqual([]);
  });

  it('fills VTON pages to half, leaving each row room for its updates on its own page', async () => {
    const { rows } = await sql<{ reloptions: string[] | null }>`select reloptions from pg_class where relname = 'vtons'`.execute(handle.db);
    expect(rows[0]?.reloptions).toEqual(['fillfactor=50']);
  });
});

describe('migration 0009', () => {
  it('goes down to the foreign key from jobs to vtons and back up to the triggers', async () => {
    const { url, drop } = await isolatedDatabase();
    const handle = await openDatabase({ url });
    cleanups.push(drop, () => handle.close());
    const migrator = new Migrator({ db: handle.db, provider: migrationProvider });
    const links = async () => {
      const { rows } = await sql<{ keys: number; triggers: number }>`
        select (select count(*)::int from pg_constraint where conname = 'jobs_vton_id_fkey') as keys,
          (select count(*)::int from pg_trigger where tgname in ('jobs_need_their_vton', 'jobs_go_with_their_vton')) as triggers`.execute(handle.db);
      return rows[0];
    };
    expect(await links()).toEqual({ keys: 0, triggers: 2 });
    expect((await migrator.migrateDown()).error).toBeUndefined();
    expect(await links()).toEqual({ keys: 1, triggers: 0 });
    expect((await migrator.migrateToLatest()).error).toBeUndefined();
    expect(await links()).toEqual({ keys: 0, triggers: 2 });
  });
});

describe('openDatabase', () => {
  it('fails with a clear error when PostgreSQL is unreachable', async () => {
    await expect(openDatabase({ url: 'postgres://nobody@127.0.0.1:1/none' })).rejects.toThrow(/database migration failed: .*(ECONNREFUSED|connect)/);
  });

  it('survives its server ending a connection checked out between statements (PostgreSQL stopped mid-transaction)', async () => {
    const { url, drop } = await isolatedDatabase();
    const handle = await openDatabase({ url });
    try {
      const transaction = handle.db.transaction().execute(async (trx) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(trx);
        // ended from another connection while this one is checked out and idle, as pg_ctl stop ends it
        await sql`select pg_terminate_backend(${rows[0]?.pid})`.execute(handle.db);
        // let the server's FATAL arrive while no statement runs on it (pg emits 'error' on the client then)
        await new Promise((r) => setTimeout(r, 500));
        await sql`select 1`.execute(trx);
      });
      await expect(transaction).rejects.toThrow();
      // still here (an unhandled 'error' event ends the process), and the pool serves again
      await handle.ping();
    } finally {
      await handle.close();
      await drop();
    }
  });
});
