/**
 * Lets Kysely's PostgresDialect drive an in-process PGlite: the same dialect, SQL and
 * migrations as on PostgreSQL. PGlite is one connection, so `connect()` hands it out to one
 * holder at a time (transactions stay whole).
 */
import type { PGlite } from '@electric-sql/pglite';
import type { PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';

const commands = ['UPDATE', 'DELETE', 'INSERT', 'SELECT', 'MERGE', 'COMMIT', 'ROLLBACK'] as const;
type Command = (typeof commands)[number];

function commandOf(sql: string): Command {
  // a leading comment (db/prepared.ts marks statements with one) says nothing of the command
  const words = sql
    .replace(/^\s*(\/\*[\s\S]*?\*\/\s*)*/, '')
    .slice(0, 2000)
    .toUpperCase();
  const first = /^[A-Z]+/.exec(words)?.[0] ?? 'SELECT';
  if (first === 'WITH') {
    // the data-modifying statement after the CTEs decides the command
    const last = /\)\s*(INSERT|UPDATE|DELETE|MERGE|SELECT)\b(?![\s\S]*\)\s*(INSERT|UPDATE|DELETE|MERGE|SELECT)\b)/.exec(words);
    return (last?.[1] as Command | undefined) ?? 'SELECT';
  }
  return (commands as readonly string[]).includes(first) ? (first as Command) : 'SELECT';
}

export function createPglitePool(pglite: PGlite): PostgresPool {
  let queue: Promise<void> = Promise.resolve();
  const client = {
    processID: 1,
    async query<R>(sql: string, parameters: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> {
      const result = await pglite.query<R>(sql, parameters as unknown[]);
      return { command: commandOf(sql), rowCount: result.affectedRows ?? result.rows.length, rows: result.rows };
    },
  };
  return {
    options: {},
    async connect(): Promise<PostgresPoolClient> {
      let release!: () => void;
      const previous = queue;
      queue = new Promise<void>((r) => {
        release = r;
      });
      await previous;
      let released = false;
      return {
        ...client,
        release() {
          if (!released) {
            released = true;
            release();
          }
        },
      } as unknown as PostgresPoolClient;
    },
    async end() {
      await queue;
    },
  };
}
