/**
 * Opaque paging cursors over (timestamp, id). The timestamp keeps PostgreSQL's microseconds
 * (a JS Date would round them away and repeat or skip rows), so it is read as text in SQL.
 */
import { type RawBuilder, sql } from 'kysely';
import { z } from 'zod';

export interface Position {
  /** ISO 8601 in UTC with microseconds */
  at: string;
  id: string;
}

const isoMicro = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** The column as ISO 8601 UTC text with microseconds, the same on PostgreSQL and PGlite. */
export const microIso = (column: 'created_at' | 'updated_at'): RawBuilder<string> =>
  sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

export const encodeCursor = (p: Position) => Buffer.from(JSON.stringify([p.at, p.id]), 'utf8').toString('base64url');

/** A query field that decodes a cursor this API gave out, or rejects it. */
export const cursorField = z
  .string()
  .max(400)
  .transform((v, ctx) => {
    try {
      const [at, id] = JSON.parse(Buffer.from(v, 'base64url').toString('utf8')) as unknown[];
      if (typeof at === 'string' && isoMicro.test(at) && typeof id === 'string' && id.length > 0 && id.length <= 128) return { at, id };
    } catch {
      // falls through to the issue
    }
    ctx.addIssue({ code: 'custom', message: 'not a cursor this API gave out' });
    return z.NEVER;
  });
