/**
 * Whether an error means the database cannot be reached right now (down, restarting, refusing
 * connections), as opposed to a query that is wrong. Callers answer the first with a 503 and a
 * Retry-After (a client's retry, or the stream source's, will succeed once it is back), the
 * second stays a 500. Errors are read by their shape: node-postgres and the socket underneath
 * give no classes to test against.
 */

// SQLSTATE class 08 (connection exception) and these: admin_shutdown, crash_shutdown,
// cannot_connect_now, too_many_connections
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// node-postgres and pg-pool say these in words only
const MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /not queryable/,
  /^Client was closed and is not queryable/,
  /^Cannot use a pool after calling end on the pool/,
];

export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (code.startsWith('08') || UNAVAILABLE_STATES.has(code) || SOCKET_CODES.has(code))) return true;
  if (typeof message === 'string' && MESSAGES.some((m) => m.test(message))) return true;
  // an AggregateError (a connect to every address of a host failed), or a wrapped cause
  if (Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e, depth + 1))) return true;
  return isDatabaseUnavailable(cause, depth + 1);
}
