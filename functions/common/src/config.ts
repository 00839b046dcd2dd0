/**
 * Settings come from the environment through one zod schema per part. A missing or malformed
 * value stops the process at start with a message naming the variable and what it expects.
 */
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(
    readonly part: string,
    readonly problems: string[],
  ) {
    super(`${part}: invalid configuration\n${problems.map((p) => `  ${p}`).join('\n')}\nSee .env.example for every variable.`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Parses `env` with a schema whose keys are variable names; empty strings count as unset. */
export function loadConfig<S extends z.ZodObject>(part: string, schema: S, env: Env = process.env): z.infer<S> {
  const cleaned: Env = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    cleaned[key] = value === '' ? undefined : value;
  }
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '(env)');
    const got = cleaned[name];
    const shown = got === undefined ? 'unset' : /SECRET|PASSWORD|KEY|TOKEN/.test(name) ? 'a value' : JSON.stringify(got);
    // a bad key or element of a record or array: its own message says what is wrong
    const nested = issue.code === 'invalid_key' || issue.code === 'invalid_element' ? issue.issues[0]?.message : undefined;
    return `${name}: ${nested ?? issue.message} (got ${shown})`;
  });
  throw new ConfigError(part, problems);
}

/** Runs `load`; on a ConfigError prints it and exits 2, the convention for bad configuration. */
export function configOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`proteus ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
}

const urlWithScheme = (schemes: string[], what: string) =>
  z.string({ error: `required, ${what}` }).refine(
    (v) => {
      try {
        return schemes.includes(new URL(v).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    { error: `expected ${what}` },
  );

export const env = {
  port: (fallback: number) =>
    z.coerce
      .number({ error: 'expected a TCP port number' })
      .int({ error: 'expected an integer port' })
      .min(0, { error: 'expected a port between 0 and 65535' })
      .max(65535, { error: 'expected a port between 0 and 65535' })
      .default(fallback),
  host: () => z.string().min(1).default('127.0.0.1'),
  url: (what = 'an http:// or https:// URL') => urlWithScheme(['http', 'https'], what),
  redisUrl: () => urlWithScheme(['redis', 'rediss'], 'a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379'),
  postgresUrl: () => urlWithScheme(['postgres', 'postgresql'], 'a postgres:// URL, e.g. postgres://user:pass@host:5432/proteus'),
  positiveInt: (fallback: number) =>
    z.coerce
      .number({ error: 'expected a whole number' })
      .int({ error: 'expected a whole number' })
      .positive({ error: 'expected a number above 0' })
      .default(fallback),
  logLevel: () => z.enum(['debug', 'info', 'warn', 'error'], { error: 'expected debug, info, warn or error' }).default('info'),
  bucket: () =>
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'expected an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens' })
      .default('proteus'),
};

/** Variables every part that talks to object storage reads. Unset endpoint = the embedded S3 server. */
export const objectStorageEnv = {
  OBJECT_STORAGE_ENDPOINT: env.url('an http:// or https:// URL of an S3-compatible endpoint, e.g. https://us-east-1.linodeobjects.com').optional(),
  OBJECT_STORAGE_BUCKET: env.bucket(),
  OBJECT_STORAGE_REGION: z.string().min(1).default('us-east-1'),
  OBJECT_STORAGE_ACCESS_KEY: z.string().min(1).optional(),
  OBJECT_STORAGE_SECRET_KEY: z.string().min(1).optional(),
};

/** Checks that keys come with an endpoint; use in `.superRefine` of a part's schema. */
export function requireStorageKeys(
  value: { OBJECT_STORAGE_ENDPOINT?: string | undefined; OBJECT_STORAGE_ACCESS_KEY?: string | undefined; OBJECT_STORAGE_SECRET_KEY?: string | undefined },
  ctx: z.RefinementCtx,
): void {
  if (!value.OBJECT_STORAGE_ENDPOINT) return;
  for (const name of ['OBJECT_STORAGE_ACCESS_KEY', 'OBJECT_STORAGE_SECRET_KEY'] as const) {
    if (!value[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'required when OBJECT_STORAGE_ENDPOINT is set' });
  }
}
