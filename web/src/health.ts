/** The shape /api/health answers with, and what the status page shows of it. */
export interface CheckResult {
  status: 'ok' | 'error';
  latencyMs: number;
  detail?: string;
  error?: string;
}

export interface HealthReport {
  status: 'ok' | 'error';
  part: string;
  checks: Record<string, CheckResult>;
}

export interface CheckRow {
  name: string;
  ok: boolean;
  text: string;
}

const labels: Record<string, string> = {
  redis: 'Redis',
  database: 'Database',
  objectStorage: 'Object storage',
  worker: 'GPU worker',
  segment: 'Segment function',
};

export function checkRows(report: HealthReport): CheckRow[] {
  return Object.entries(report.checks).map(([name, check]) => ({
    name: labels[name] ?? name,
    ok: check.status === 'ok',
    text: check.status === 'ok' ? `${check.detail ?? 'ok'} · ${check.latencyMs} ms` : (check.error ?? 'error'),
  }));
}

/** The WebSocket URL of /updates on the same origin as the page. */
export function updatesUrl(location: { protocol: string; host: string }): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/updates`;
}
