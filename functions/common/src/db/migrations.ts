/**
 * Schema migrations, in code, run at start on PostgreSQL and PGlite alike. Append new ones;
 * never edit one that has shipped. Later issues add users, VTONs and jobs (#4).
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
};

export const migrationProvider: MigrationProvider = {
  getMigrations: async () => migrations,
};
