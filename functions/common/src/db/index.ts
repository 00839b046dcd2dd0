/**
 * The database: PostgreSQL through `pg` when DATABASE_URL is set, else PGlite in-process
 * (a folder, or memory). Kysely on top of both with the same dialect; migrations run at open.
 */
import { PGlite } from '@electric-sql/pglite';
import { type ColumnType, Kysely, PostgresDialect, sql } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import { migrationProvider } from './migrations.ts';
import { createPglitePool } from './pglite-pool.ts';
import { preparedStatements } from './prepared.ts';

export { migrations } from './migrations.ts';
export { prepared } from './prepared.ts';
export { isDatabaseUnavailable } from './unavailable.ts';

export interface ProcessedEventsTable {
  source: string;
  id: string;
  type: string;
  processed_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface UsersTable {
  id: string;
  /** lower-case */
  email: string;
  /** a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$hash): the parameters travel with the hash */
  password_hash: string;
  role: ColumnType<'user' | 'admin', 'user' | 'admin' | undefined, 'user' | 'admin'>;
  display_name: string | null;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface RefreshTokensTable {
  id: string;
  user_id: string;
  /** sha256 (hex) of the opaque token; the token itself is never stored */
  token_hash: string;
  expires_at: ColumnType<Date, Date | string, never>;
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
}

export interface ApiKeysTable {
  id: string;
  user_id: string;
  name: string;
  /** sha256 (hex) of the key's secret part; the key is shown once and never stored */
  key_hash: string;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  last_used_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  revoked_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
}

export type VtonStatus = 'draft' | 'segmenting' | 'ready' | 'queued' | 'running' | 'completed' | 'failed';

export interface VtonsTable {
  id: string;
  user_id: string;
  /** object keys (users/<userId>/<kind>/<id>.<ext>) */
  garment_key: string | null;
  cloth_clean_key: string | null;
  person_key: string | null;
  mask_key: string | null;
  result_key: string | null;
  status: ColumnType<VtonStatus, VtonStatus | undefined, VtonStatus>;
  created_at: ColumnType<Date, Date | string | undefined, never>;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed';

export interface JobsTable {
  id: string;
  user_id: string;
  vton_id: string;
  kind: 'segment' | 'tryon';
  status: ColumnType<JobStatus, JobStatus | undefined, JobStatus>;
  enqueued_at: ColumnType<Date, Date | string | undefined, never>;
  started_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  finished_at: ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
  engine: string | null;
  resolution: string | null;
  batch_size: number | null;
  attempts: ColumnType<number, number | undefined, number>;
  wait_ms: number | null;
  run_ms: number | null;
  error: string | null;
  result_key: string | null;
  idempotency_key: string | null;
  /** sha256 of the submitted request: the same Idempotency-Key with another request is refused */
  request_hash: string | null;
  /** a segmentation job's image (its imageKey); null for try-ons */
  image_key: string | null;
  /** a segmentation job's purpose (`garment`, `person-mask`); null for try-ons and rows from before migration 0006 */
  purpose: string | null;
  /** the segmentation job (a person mask) this try-on waits for before it is queued; null once queued */
  waiting_for: string | null;
  /** the try-on's dev.proteus.tryon.requested (structured JSON), XADDed when the wait ends; set exactly when waiting_for is */
  pending_event: string | null;
  updated_at: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface Database {
  processed_events: ProcessedEventsTable;
  users: UsersTable;
  refresh_tokens: RefreshTokensTable;
  api_keys: ApiKeysTable;
  vtons: VtonsTable;
  jobs: JobsTable;
}

export interface DatabaseHandle {
  db: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  /** Runs `select 1`; throws when the database does not answer. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** postgres:// URL; unset means PGlite */
  url?: string | undefined;
  /** PGlite data folder; unset means in memory */
  pgliteDir?: string | undefined;
  /** pg pool size */
  poolSize?: number;
  /**
   * send marked statements by name (./prepared.ts; default true). Off behind a pooler that hands a
   * connection out per transaction (PgBouncer in transaction mode before 1.21), where a statement
   * prepared on one server connection is unknown on the next.
   */
  preparedStatements?: boolean;
}

export async function openDatabase({ url, pgliteDir, poolSize = 10, preparedStatements: prepare = true }: DatabaseOptions): Promise<DatabaseHandle> {
  let db: Kysely<Database>;
  let kind: DatabaseHandle['kind'];
  let closeDriver: () => Promise<void>;
  let afterMigrations = async () => {};
  if (url) {
    const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000 });
    // an idle client that loses its server must not crash the process
    pool.on('error', () => {});
    const statements = prepare ? preparedStatements(pool) : undefined;
    pool.on('connect', (client) => {
      // nor one checked out between statements (a transaction, Kysely's acquire): pg emits 'error'
      // on the client itself; its query fails and the pool drops it on release (not queryable)
      client.on('error', () => {});
      statements?.attach(client);
    });
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    kind = 'postgres';
    if (statements) afterMigrations = statements.sample;
    closeDriver = async () => statements?.stop();
  } else {
    const pglite = await PGlite.create(pgliteDir ?? 'memory://');
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: createPglitePool(pglite) }) });
    kind = 'pglite';
    closeDriver = () => pglite.close();
  }
  try {
    await migrate(db);
    await afterMigrations();
  } catch (error) {
    await db.destroy();
    await closeDriver();
    throw error;
  }
  return {
    db,
    kind,
    async ping() {
      await sql`select 1`.execute(db);
    },
    async close() {
      await db.destroy();
      await closeDriver();
    },
  };
}

export async function migrate(db: Kysely<Database>): Promise<string[]> {
  const { error, results } = await new Migrator({ db, provider: migrationProvider }).migrateToLatest();
  if (error) throw new Error(`database migration failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
