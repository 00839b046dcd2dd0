/**
 * Structured JSON logs, one object per line. Values that are secrets never get written:
 * fields named like credentials are replaced, and URLs lose their passwords and signatures.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const secretField = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|signature|credential/i;

/** Removes the password from URLs and the signature from presigned URLs inside a string. */
export function redactText(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s/]+@/gi, '$1***@')
    .replace(/([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|token)=)[^&\s"]+/gi, '$1***')
    .replace(/\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1***');
}

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value instanceof Error) return { name: value.name, message: redactText(value.message), stack: value.stack ? redactText(value.stack) : undefined };
  if (Array.isArray(value)) return depth > 5 ? '[…]' : value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    if (depth > 5) return '[…]';
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = secretField.test(k) ? '***' : redact(v, depth + 1);
    return out;
  }
  return value;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(
  part: string,
  { level = 'info' as LogLevel, write = (line: string): unknown => process.stdout.write(line), base = {} as Record<string, unknown> } = {},
): Logger {
  const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (order[lvl] < order[level]) return;
    const entry = redact({ time: new Date().toISOString(), level: lvl, part, msg, ...base, ...fields }) as Record<string, unknown>;
    write(`${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(part, { level, write, base: { ...base, ...fields } }),
  };
}
