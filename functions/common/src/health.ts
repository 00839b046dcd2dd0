/**
 * Health reports: each dependency checked with its own timeout, all in parallel. The
 * overall status is `ok` only when every check is.
 */
export type CheckStatus = 'ok' | 'error';

export interface CheckResult {
  status: CheckStatus;
  latencyMs: number;
  detail?: string;
  error?: string;
}

export interface HealthReport {
  status: CheckStatus;
  part: string;
  checks: Record<string, CheckResult>;
}

/** A check resolves to an optional detail (e.g. "postgres") or throws. */
export type Check = () => Promise<string | undefined>;

export async function runChecks(part: string, checks: Record<string, Check>, timeoutMs = 2000): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, CheckResult]> => {
      const start = performance.now();
      let timer: NodeJS.Timeout | undefined;
      try {
        const detail = await Promise.race([
          check(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
          }),
        ]);
        return [name, { status: 'ok', latencyMs: Math.round(performance.now() - start), ...(detail ? { detail } : {}) }];
      } catch (error) {
        const message = error instanceof Error ? error.message || error.name : String(error);
        return [name, { status: 'error', latencyMs: Math.round(performance.now() - start), error: message }];
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const results = Object.fromEntries(entries);
  const status = entries.every(([, r]) => r.status === 'ok') ? 'ok' : 'error';
  return { status, part, checks: results };
}
