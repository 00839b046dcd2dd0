/**
 * Schema migrations, in code, run at start on PostgreSQL and PGlite alike. Append new ones;
 * never edit one that has shipped.
 */
import { type Kysely, sql } from 'kysely';
import type { Migration, MigrationProvider } from 'kysely/migration';

export const migrations: Record<string, Migration> = {
  '0001_processed_events': {
    // consumers deduplicate CloudEvents on (source, id): delivery is at-least-once
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('processed_events')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('processed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addPrimaryKeyConstraint('processed_events_pkey', ['source', 'id'])
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('processed_events').execute();
    },
  },
  '0002_accounts': {
    // accounts, refresh tokens and API keys (#4); secrets are stored only as hashes
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('users')
        .addColumn('id', 'text', (c) => c.primaryKey())
        // stored lower-case, so the unique constraint is case-insensitive in effect
        .addColumn('email', 'text', (c) => c.notNull().unique())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull().defaultTo('user').check(sql`role in ('user', 'admin')`))
        .addColumn('display_name', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema
        .createTable('refresh_tokens')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
        .addColumn('revoked_at', 'timestamptz')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex('refresh_tokens_user_id').on('refresh_tokens').column('user_id').execute();
      await db.schema
        .createTable('api_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('key_hash', 'text', (c) => c.notNull())
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('last_used_at', 'timestamptz')
        .addColumn('revoked_at', 'timestamptz')
        .execute();
      await db.schema.createIndex('api_keys_user_id').on('api_keys').column('user_id').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('api_keys').execute();
      await db.schema.dropTable('refresh_tokens').execute();
      await db.schema.dropTable('users').execute();
    },
  },
  '0003_vtons_jobs': {
    // a VTON is one try-on record; jobs are the segmentation and try-on work done for it
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('vtons')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('garment_key', 'text')
        .addColumn('cloth_clean_key', 'text')
        .addColumn('person_key', 'text')
        .addColumn('mask_key', 'text')
        .addColumn('result_key', 'text')
        .addColumn('status', 'text', (c) =>
          c.notNull().defaultTo('draft').check(sql`status in ('draft', 'segmenting', 'ready', 'queued', 'running', 'completed', 'failed')`),
        )
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await db.schema.createIndex('vtons_user_id').on('vtons').columns(['user_id', 'created_at']).execute();
      await db.schema
        .createTable('jobs')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
        .addColumn('vton_id', 'text', (c) => c.references('vtons.id').onDelete('cascade'))
        .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('segment', 'tryon')`))
        .addColumn('status', 'text', (c) => c.notNull().defaultTo('queued').check(sql`status in ('queued', 'running', 'completed', 'failed')`))
        .addColumn('enqueued_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('started_at', 'timestamptz')
        .addColumn('finished_at', 'timestamptz')
        .addColumn('engine', 'text')
        .addColumn('resolution', 'text')
        .addColumn('batch_size', 'integer')
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('wait_ms', 'double precision')
        .addColumn('run_ms', 'double precision')
        .addColumn('error', 'text')
        .addColumn('result_key', 'text')
        // a retried submission with the same Idempotency-Key gets the same job
        .addColumn('idempotency_key', 'text')
        .addColumn('request_hash', 'text')
        .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addUniqueConstraint('jobs_user_idempotency_key', ['user_id', 'idempotency_key'])
        .execute();
      // "what changed since" for clients that reconnect
      await db.schema.createIndex('jobs_user_updated').on('jobs').columns(['user_id', 'updated_at']).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropTable('jobs').execute();
      await db.schema.dropTable('vtons').execute();
    },
  },
  '0004_vtons_by_garment': {
    // a snap joins the newest VTON of its garment: found by key, not by scanning the owner's VTONs
    async up(db: Kysely<unknown>) {
      await db.schema.createIndex('vtons_garment_key').on('vtons').column('garment_key').execute();
      await db.schema.createIndex('vtons_cloth_clean_key').on('vtons').column('cloth_clean_key').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('vtons_cloth_clean_key').execute();
      await db.schema.dropIndex('vtons_garment_key').execute();
    },
  },
  '0005_jobs_wait_for_mask': {
    // a try-on without a person mask waits for the segmentation job that makes one (#6): the job it
    // waits for and the tryon.requested to queue then; a segmentation job keeps the image it cuts,
    // so its mask lands on the VTON only while that is still the VTON's person photo
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('jobs').addColumn('image_key', 'text').addColumn('waiting_for', 'text').addColumn('pending_event', 'text').execute();
      await db.schema.alterTable('jobs').addCheckConstraint('jobs_waiting_has_event', sql`(waiting_for is null) = (pending_event is null)`).execute();
      // the sink finds the try-ons a finished segmentation releases; only waiting rows are indexed
      await db.schema.createIndex('jobs_waiting_for').on('jobs').column('waiting_for').where(sql.ref('waiting_for'), 'is not', null).execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('jobs_waiting_for').execute();
      await db.schema.alterTable('jobs').dropConstraint('jobs_waiting_has_event').execute();
      await db.schema.alterTable('jobs').dropColumn('pending_event').dropColumn('waiting_for').dropColumn('image_key').execute();
    },
  },
  '0006_person_mask_jobs': {
    // a segmentation job keeps its purpose, so a try-on finds the person mask of its photo (made,
    // or still being made) instead of asking for another one; rows from before have none
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('jobs').addColumn('purpose', 'text').execute();
      await db.schema.createIndex('jobs_person_masks').on('jobs').columns(['user_id', 'image_key']).where(sql.ref('purpose'), '=', 'person-mask').execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('jobs_person_masks').execute();
      await db.schema.alterTable('jobs').dropColumn('purpose').execute();
    },
  },
  '0007_jobs_belong_through_their_vton': {
    // Every job has been written with its VTON, of the same user (jobs/submit.ts), so the VTON
    // carries the job's ownership: deleting a user deletes their VTONs and those their jobs. The
    // second foreign key, to users, cost each inserted job a check of its own (a row lock on the
    // user: an eighth of the batched write's time). Idempotency keys are unique per user only
    // where one was given: the rows without one (most) no longer fill an index.
    async up(db: Kysely<unknown>) {
      await db.schema
        .alterTable('jobs')
        .alterColumn('vton_id', (c) => c.setNotNull())
        .execute();
      await db.schema.alterTable('jobs').dropConstraint('jobs_user_id_fkey').execute();
      await db.schema.alterTable('jobs').dropConstraint('jobs_user_idempotency_key').execute();
      await db.schema
        .createIndex('jobs_user_idempotency_key')
        .unique()
        .on('jobs')
        .columns(['user_id', 'idempotency_key'])
        .where(sql.ref('idempotency_key'), 'is not', null)
        .execute();
    },
    async down(db: Kysely<unknown>) {
      await db.schema.dropIndex('jobs_user_idempotency_key').execute();
      await db.schema.alterTable('jobs').addUniqueConstraint('jobs_user_idempotency_key', ['user_id', 'idempotency_key']).execute();
      await db.schema.alterTable('jobs').addForeignKeyConstraint('jobs_user_id_fkey', ['user_id'], 'users', ['id']).onDelete('cascade').execute();
      await db.schema
        .alterTable('jobs')
        .alterColumn('vton_id', (c) => c.dropNotNull())
        .execute();
    },
  },
  '0008_vtons_leave_room_for_updates': {
    // A VTON is rewritten by every job it has (each snap: queued; each outcome: running, done):
    // with pages packed full an update finds no room beside its row, moves the row to another
    // page and adds an entry to every index, and a look-up by user then visits one heap page per
    // stale entry. Pages filled to half keep updates on the row's page (HOT: no index entries).
    // Only a storage parameter (a brief lock, no rewrite): inserts follow it at once, pages
    // already full once the table is rewritten (VACUUM FULL, pg_repack).
    async up(db: Kysely<unknown>) {
      await sql`alter table vtons set (fillfactor = 50)`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      await sql`alter table vtons reset (fillfactor)`.execute(db);
    },
  },
  '0009_jobs_checked_by_statement': {
    // The foreign key from jobs to vtons checked each inserted job with a query of its own (an
    // executor started and ended per row, and a row lock): about a tenth of the batched write's
    // time. Two statement-level triggers keep what it gave: the jobs a statement inserts are
    // checked together, each against a VTON of its own user (stricter than the key, which
    // ignored the user), and deleting VTONs deletes their jobs, found by user through
    // jobs_user_updated (the key's cascade had no index on vton_id and scanned jobs). What the
    // key's row lock also gave, that no VTON is deleted between the check and the commit, the
    // one writer of jobs (jobs/submit.ts writeJobs) has anyway: it updates or inserts the VTON
    // in the same statement. Jobs never change VTON or user (nothing updates those columns).
    async up(db: Kysely<unknown>) {
      await sql`
        create function jobs_need_their_vton() returns trigger language plpgsql as $$
        begin
          if exists (select 1 from added as j where not exists (select 1 from vtons as v where v.id = j.vton_id and v.user_id = j.user_id)) then
            raise exception using errcode = 'foreign_key_violation', message = 'a job must name a VTON of its own user (jobs.vton_id)';
          end if;
          return null;
        end $$`.execute(db);
      await sql`
        create trigger jobs_need_their_vton after insert on jobs
        referencing new table as added for each statement execute function jobs_need_their_vton()`.execute(db);
      await sql`
        create function jobs_go_with_their_vton() returns trigger language plpgsql as $$
        begin
          delete from jobs as j using gone as v where j.user_id = v.user_id and j.vton_id = v.id;
          return null;
        end $$`.execute(db);
      await sql`
        create trigger jobs_go_with_their_vton after delete on vtons
        referencing old table as gone for each statement execute function jobs_go_with_their_vton()`.execute(db);
      await sql`alter table jobs drop constraint jobs_vton_id_fkey`.execute(db);
    },
    async down(db: Kysely<unknown>) {
      await sql`alter table jobs add constraint jobs_vton_id_fkey foreign key (vton_id) references vtons (id) on delete cascade`.execute(db);
      await sql`drop trigger jobs_go_with_their_vton on vtons`.execute(db);
      await sql`drop function jobs_go_with_their_vton()`.execute(db);
      await sql`drop trigger jobs_need_their_vton on jobs`.execute(db);
      await sql`drop function jobs_need_their_vton()`.execute(db);
    },
  },
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
