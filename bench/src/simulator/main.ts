/**
 * The capacity simulator (`npm run simulate -w @proteus/bench [-- options]`): every trace under
 * static batch 1, static batch 8, the original table (with its hysteresis: what ships) and the
 * adaptive policy, all with the real decidePolicy; prints GPU-hours, cost per 1,000 try-ons,
 * latency percentiles and SLO misses side by side, checks the issue's goals, and writes one SVG
 * per trace. Deterministic for a seed.
 *
 *   --seed N          arrivals and run-time noise (default 7)
 *   --price USD       per GPU-hour (default 0.52, LKE's RTX 4000 Ada x1 Small plan)
 *   --slo S           latency objective in seconds (default 30)
 *   --profile FILE    a latency profile: `HGETALL worker:profile` as JSON (default: profiles/rtx4000ada-estimate.json)
 *   --out DIR         where the plots go (default: <tmp>/proteus-simulator)
 *   --trace NAME      only this trace (repeatable)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { defaultPolicyConfig } from '@proteus/arbitrator/policy';
import { defaultSimOptions, type PolicyUnderTest, type SimResult, simulate } from './cluster.ts';
import { plotTrace } from './plot.ts';
import { DEFAULT_PROFILE, loadProfile } from './profile.ts';
import { goals, markdownTable, type Row, summarize } from './report.ts';
import { arrivals, traces } from './traces.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(defaultSimOptions.seed) },
    price: { type: 'string', default: '0.52' },
    slo: { type: 'string', default: '30' },
    profile: { type: 'string' },
    out: { type: 'string', default: join(tmpdir(), 'proteus-simulator') },
    trace: { type: 'string', multiple: true },
  },
});

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) {
    process.stderr.write(`--${name} must be a number above 0 (got ${JSON.stringify(text)})\n`);
    process.exit(64);
  }
  return value;
}

const seed = Math.floor(positive('seed', values.seed));
const price = positive('price', values.price);
const sloS = positive('slo', values.slo);
const profilePath = values.profile ? resolve(values.profile) : DEFAULT_PROFILE;
const profile = loadProfile(profilePath);
const chosen = values.trace?.length ? traces.filter((t) => values.trace?.includes(t.name)) : traces;
if (chosen.length === 0) {
  process.stderr.write(`--trace must name one of ${traces.map((t) => t.name).join(', ')}\n`);
  process.exit(64);
}

const policies: PolicyUnderTest[] = [
  { name: 'static batch 1', fixed: { batchSize: 1, degraded: false } },
  { name: 'static batch 8', fixed: { batchSize: 8, degraded: false } },
  { name: 'original table', config: defaultPolicyConfig },
  { name: 'adaptive', config: { ...defaultPolicyConfig, strategy: 'adaptive', maxReplicas: defaultSimOptions.maxReplicas } },
  {
    name: 'adaptive, full res only',
    config: { ...defaultPolicyConfig, strategy: 'adaptive', maxReplicas: defaultSimOptions.maxReplicas, allowDegraded: false },
  },
];

const started = performance.now();
mkdirSync(values.out, { recursive: true });
const rows: Row[] = [];
const plots: string[] = [];
for (const trace of chosen) {
  const times = arrivals(trace, seed);
  const results: SimResult[] = policies.map((policy) => simulate(times, trace.durationS, policy, profile, { ...defaultSimOptions, seed }));
  rows.push(...results.map((r) => summarize(trace.name, r, price, sloS)));
  const file = join(values.out, `${trace.name}.svg`);
  writeFileSync(file, plotTrace(`${trace.name}: ${trace.description}`, results, sloS));
  plots.push(file);
}

const o = defaultSimOptions;
process.stdout.write(
  [
    `Capacity simulation, seed ${seed}, $${price} per GPU-hour, SLO ${sloS} s, profile ${String(profilePath).replace(/^file:\/\//, '')}`,
    `KEDA every ${o.kedaPollS} s, lag target ${o.lagTarget}, ${o.minReplicas}-${o.maxReplicas} pods, pod start ${o.podStartS} s, scale-down window ${o.scaleDownWindowS} s; batch window ${o.batchWindowS * 1000} ms; arbitrator tick ${o.tickS * 1000} ms`,
    `batch seconds (full / 512 px): ${[1, 2, 4, 8].map((b) => `${b}: ${profile.seconds(b, false).toFixed(1)} / ${profile.seconds(b, true).toFixed(1)}`).join(', ')}`,
    '',
    ...chosen.map((t) => `- ${t.name}: ${t.description}`),
    '',
    markdownTable(rows, sloS),
    '',
    ...goals(rows, 'static batch 1', 'adaptive'),
    '',
    ...plots.map((p) => `plot: ${p}`),
    `simulated in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    '',
  ].join('\n'),
);
