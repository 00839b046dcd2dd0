/**
 * The Grafana dashboard shows the metrics the parts export: every metric it queries exists (with
 * the suffixes its type has), and every metric a part defines is on it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../src/functions.ts';
import { type MetricDefinition, metricDefinitions } from '../src/metrics-catalog.ts';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr: string; datasource?: { uid: string } }[];
}
const dashboard = JSON.parse(readFileSync(join(repoRoot, 'infra', 'grafana', 'proteus.json'), 'utf8')) as {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string }[] };
};
const graphs = dashboard.panels.filter((p) => p.type !== 'row');
const exprs = graphs.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

/** Metrics the dashboard reads from kube-state-metrics and KEDA, not from Proteus. */
const external = new Set(['kube_deployment_spec_replicas', 'kube_deployment_status_replicas_available', 'keda_scaler_metrics_value']);

/** The series names a metric of each type exposes. */
function seriesOf(m: MetricDefinition): string[] {
  if (m.type === 'histogram') return ['_bucket', '_sum', '_count'].map((s) => m.name + s);
  if (m.type === 'summary') return [m.name, `${m.name}_sum`, `${m.name}_count`];
  return [m.name];
}

describe('grafana/proteus.json', () => {
  const defined = metricDefinitions();
  const series = new Map(defined.flatMap((m) => seriesOf(m).map((s) => [s, m] as const)));
  const used = new Set(
    exprs.flatMap((e) => [...e.matchAll(/\b([a-z_][a-z0-9_]*)\s*(?=[{[)]|$|\s)/g)].map((m) => m[1] as string)).filter((n) => /^(proteus|kube|keda)_/.test(n)),
  );

  it('finds the metrics of every part that exports some', () => {
    const prefixes = new Set(defined.map((m) => m.name.split('_')[1]));
    expect([...prefixes].sort()).toEqual(['api', 'arbitrator', 'eventing', 'segment', 'tick', 'worker']);
  });

  it('queries only series that exist', () => {
    expect([...used].filter((name) => !series.has(name) && !external.has(name))).toEqual([]);
  });

  it('shows every metric the parts define', () => {
    const shown = new Set([...used].map((name) => series.get(name)?.name));
    expect(defined.map((m) => m.name).filter((name) => !shown.has(name))).toEqual([]);
  });

  it('takes rates of counters and histograms only, and quantiles of histogram buckets only', () => {
    for (const expr of exprs) {
      for (const m of expr.matchAll(/rate\(([a-z0-9_]+)/g)) {
        const def = series.get(m[1] as string);
        if (def) expect(def.type === 'counter' || def.type === 'histogram', `${m[1]} in ${expr}`).toBe(true);
      }
      for (const m of expr.matchAll(/histogram_quantile\([^,]+,.*?rate\(([a-z0-9_]+)/g)) expect(m[1], expr).toMatch(/_bucket$/);
    }
  });

  it('asks which Prometheus to use, and every query uses that choice', () => {
    expect(dashboard.uid).toBe('proteus');
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
    const chosen = '$' + '{datasource}'; // Grafana's variable syntax
    for (const p of graphs) {
      expect(p.datasource?.uid, p.title).toBe(chosen);
      for (const t of p.targets ?? []) expect(t.datasource?.uid, p.title).toBe(chosen);
    }
  });

  it('lays panels out without overlaps, with unique ids', () => {
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    const overlaps: string[] = [];
    dashboard.panels.forEach((a, i) => {
      for (const b of dashboard.panels.slice(i + 1)) {
        const g = a.gridPos;
        const h = b.gridPos;
        if (g.x < h.x + h.w && h.x < g.x + g.w && g.y < h.y + h.h && h.y < g.y + g.h) overlaps.push(`${a.title} / ${b.title}`);
      }
      expect(a.gridPos.x + a.gridPos.w).toBeLessThanOrEqual(24);
    });
    expect(overlaps).toEqual([]);
  });
});
