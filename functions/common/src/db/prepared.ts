/**
 * Prepared statements for the hot, fixed-text statements (the batched ones: their inputs travel
 * as array or JSON parameters, so one text serves every batch). A statement whose text starts
 * with `prepared` (sql`${prepared} select …`) is sent with a name on PostgreSQL: each connection
 * parses it once, and after five runs PostgreSQL may keep a generic plan instead of planning
 * every run, which is most of what a small statement costs it. PGlite runs the text as it is.
 *
 * A generic plan is made for the table sizes of its day, and PostgreSQL renews it only when
 * ANALYZE (autovacuum, at most once a minute) updates the statistics: a plan made while `jobs`
 * held a few hundred rows scans it, and at a thousand inserts a second a minute later that is
 * 60,000 rows a statement (measured in the snap bench: 18-20 ms a write once `jobs` held 22,000
 * rows, against 1-3 ms with an index scan). So the name carries a generation that
 * changes whenever one of the tables has doubled (or halved) in size: the sum over the public
 * tables of log2(pages), sampled every second. A new name is a new statement, planned for the
 * sizes of now; no table is ever more than about twice the size its plan was made for. Each
 * connection keeps at most a few dozen names over the database's life (one per doubling).
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type pg from 'pg';

/** What a marked statement's text starts with. */
export const MARK = '/* prepared */ ';

/** Begins a statement (sql`${prepared} select …`) whose text never varies, so it is worth preparing. */
export const prepared = sql.raw(MARK);

const digests = new Map<string, string>();

/** The statement's name in a generation of table sizes. */
export function preparedName(text: string, generation: number): string {
  let digest = digests.get(text);
  if (!digest) {
    digest = createHash('sha1').update(text).digest('hex').slice(0, 16);
    digests.set(text, digest);
  }
  return `proteus_${digest}_${generation}`;
}

/** The generation of these table sizes (bytes): the sum of their doublings, counted in 8 KiB pages. */
export const sizeGeneration = (bytes: readonly number[]): number => bytes.reduce((sum, b) => sum + Math.floor(Math.log2(Math.max(1, b / 8192))), 0);

const TABLE_SIZES = "select pg_relation_size(c.oid)::float8 as bytes from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'";

export interface PreparedStatements {
  /** the current generation (read at start, then every `everyMs`) */
  readonly generation: number;
  /** makes a client send marked statements by name (pool 'connect'); others go as they are */
  attach(client: pg.PoolClient): void;
  /** reads the table sizes now (the timer does it every `everyMs`) */
  sample(): Promise<void>;
  stop(): void;
}

export function preparedStatements(pool: pg.Pool, { everyMs = 1000 }: { everyMs?: number } = {}): PreparedStatements {
  let generation = 0;
  let sampling: Promise<void> | undefined;
  const sample = () => {
    sampling ??= pool
      .query<{ bytes: number }>(TABLE_SIZES)
      .then(({ rows }) => {
        generation = sizeGeneration(rows.map((r) => r.bytes));
      })
      // the database is away: the last generation stands, and the statements fail on their own
      .catch(() => {})
      .finally(() => {
        sampling = undefined;
      });
    return sampling;
  };
  const timer = setInterval(sample, everyMs);
  timer.unref();
  return {
    get generation() {
      return generation;
    },
    attach(client) {
      const query = client.query.bind(client) as (...args: unknown[]) => unknown;
      client.query = ((text: unknown, values?: unknown, callback?: unknown) => {
        if (typeof text === 'string' && text.startsWith(MARK) && Array.isArray(values)) {
          return query({ name: preparedName(text, generation), text, values }, callback);
        }
        return query(text, values, callback);
      }) as typeof client.query;
    },
    sample,
    stop: () => clearInterval(timer),
  };
}
