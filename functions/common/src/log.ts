/**
 * Structured JSON logs, one object per line. Values that are secrets never get written:
 * fields named like credentials are replaced, and URLs lose their passwords and signatures.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const secretField = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|signature|credential/i;

/** Removes the password from URLs and the signature from presigned URLs inside a string. */
export function redactText(text: string): string {
  // each pattern below needs one of these (a URL's '@', a query's '=', 'Bearer'): most strings (ids, times, routes) have none
  if (!text.includes('@') && !text.includes('=') && !text.includes('Bearer')) return text;
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s/]+@/gi, '$1***@')
    .replace(/([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|token)=)[^&\s"]+/gi, '$1***')
    .replace(/\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g, '$1***');
}

// field names repeat from line to line: each is tested once
const secretFields = new Map<string, boolean>();
function isSecretField(name: string): boolean {
  let secret = secretFields.get(name);
  if (secret === undefined) {
    secret = secretField.test(name);
    if (secretFields.size < 10_000) secretFields.set(name, secret);
  }
  return secret;
}

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (value instanceof Error) return { name: value.name, message: redactText(value.message), stack: value.stack ? redactText(value.stack) : undefined };
  if (Array.isArray(value)) return depth > 5 ? '[…]' : value.map((v) => redact(v, depth + 1));
  if (value && typeof value === 'object') {
    if (depth > 5) return '[…]';
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = isSecretField(k) ? '***' : redact(v, depth + 1);
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

/**
 * Writes to stdout once per event loop turn, not once a line: a pipe write is a system call (and
 * wakes the reader) and the api logs two lines a snap at info. What is pending is written
 * synchronously when the process exits (process.exit, a crash); only a SIGKILL loses a turn's lines.
 */
export function bufferedWriter(out: (text: string) => unknown): (line: string) => void {
  let pending = '';
  const flush = () => {
    if (!pending) return;
    const text = pending;
    pending = '';
    out(text);
  };
  process.on('exit', flush);
  return (line) => {
    if (!pending) setImmediate(flush);
    pending += line;
  };
}

let stdoutWriter: ((line: string) => void) | undefined;
const bufferedStdout = (line: string) => {
  stdoutWriter ??= bufferedWriter((text) => process.stdout.write(text));
  stdoutWriter(line);
};

export function createLogger(part: string, { level = 'info' as LogLevel, write = bufferedStdout, base = {} as Record<string, unknown> } = {}): Logger {
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
