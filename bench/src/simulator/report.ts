/** Figures of a simulated run, side by side as a markdown table, and the goals checked. */
import type { SimResult } from './cluster.ts';

export interface Row {
  trace: string;
  policy: string;
  jobs: number;
  gpuHours: number;
  busyPct: number;
  costPer1k: number;
  p50: number;
  p95: number;
  p99: number;
  sloMisses: number;
  degradedPct: number;
  changes: number;
  maxPods: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

export function summarize(trace: string, r: SimResult, pricePerGpuHour: number, sloS: number): Row {
  let misses = 0;
  for (const l of r.latencies) if (l > sloS) misses++;
  return {
    trace,
    policy: r.policy,
    jobs: r.jobs,
    gpuHours: r.gpuHours,
    busyPct: (100 * r.busyGpuHours) / r.gpuHours,
    costPer1k: ((r.gpuHours * pricePerGpuHour) / r.jobs) * 1000,
    p50: percentile(r.latencies, 0.5),
    p95: percentile(r.latencies, 0.95),
    p99: percentile(r.latencies, 0.99),
    sloMisses: misses,
    degradedPct: (100 * r.degradedJobs) / r.jobs,
    changes: r.policyChanges,
    maxPods: r.maxPods,
  };
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);

export function markdownTable(rows: Row[], sloS: number): string {
  const head = `| trace | policy | try-ons | GPU-hours | GPU busy | $ / 1,000 try-ons | p50 s | p95 s | p99 s | SLO misses (> ${sloS} s) | at 512 px | policy changes | max pods |`;
  const rule = `|${'---|'.repeat(13)}`;
  const lines = rows.map(
    (r) =>
      `| ${r.trace} | ${r.policy} | ${r.jobs} | ${f2(r.gpuHours)} | ${r.busyPct.toFixed(0)}% | ${f2(r.costPer1k)} | ${f1(r.p50)} | ${f1(r.p95)} | ${f1(r.p99)} | ${r.sloMisses} (${((100 * r.sloMisses) / r.jobs).toFixed(1)}%) | ${r.degradedPct.toFixed(0)}% | ${r.changes} | ${r.maxPods} |`,
  );
  return [head, rule, ...lines].join('\n');
}

/** The goals: adaptive >= 25% cheaper than static batch 1 on the flash crowd at equal or better p95; within 10% of its p95 at low traffic. */
export function goals(rows: Row[], baseline: string, candidate: string): string[] {
  const find = (trace: string, policy: string) => rows.find((r) => r.trace === trace && r.policy === policy);
  const out: string[] = [];
  const flashBase = find('flash-crowd', baseline);
  const flash = find('flash-crowd', candidate);
  if (flashBase && flash) {
    const cheaper = 1 - flash.costPer1k / flashBase.costPer1k;
    const met = cheaper >= 0.25 && flash.p95 <= flashBase.p95;
    out.push(
      `flash-crowd: ${candidate} costs ${(100 * cheaper).toFixed(0)}% less than ${baseline} (goal >= 25%), p95 ${f1(flash.p95)} s vs ${f1(flashBase.p95)} s (goal <=): ${met ? 'MET' : 'NOT MET'}`,
    );
  }
  const lowBase = find('steady-low', baseline);
  const low = find('steady-low', candidate);
  if (lowBase && low) {
    const ratio = low.p95 / lowBase.p95 - 1;
    out.push(
      `steady-low: ${candidate} p95 ${f1(low.p95)} s vs ${f1(lowBase.p95)} s, ${(100 * ratio).toFixed(1)}% (goal within 10%): ${ratio <= 0.1 ? 'MET' : 'NOT MET'}`,
    );
  }
  return out;
}
