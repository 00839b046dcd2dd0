/**
 * The segment function's model on this machine's CPU, in one run, on a full-size SegFormer-B2
 * (mit-b2, 18 labels: segformer_b2_clothes' architecture) with seeded random weights, so the
 * compute equals the real model's; one 512x512 image, the model's input:
 *  (a) PyTorch eager, fp32: transformers' SegformerForSemanticSegmentation (the baseline),
 *  (b) PyTorch eager, fp32, with the decode head folded (tools/export_segformer.py --fold-decode-head),
 *  (c) onnxruntime-node fp32 through the function's own code path (`Segmenter.logitsOfInput`:
 *      normalisation and the transformers.js session) on the plain export (the hub file's graph),
 *  (d) the same on the folded export (same logits),
 *  (e) the folded export with int8 matrix products (onnxruntime quantize_dynamic).
 * Engines take turns in blocks so a change of machine load hits all of them. Each row also
 * gives CPU milliseconds per image (process CPU time over the runs), steadier than wall time on a
 * shared machine. Then whole requests (1 MP and 12 MP JPEGs in, PNG out) per purpose, folded fp32.
 * Goals (issue #5): fp32 p50 <= 600 ms, and faster than PyTorch.
 *   npm run segment -w @proteus/bench [-- RUNS_PER_BLOCK [BLOCKS]]
 * The first run makes the Python tools' virtualenv and exports the models into .tools/segment-bench.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { createSegmentation, type Purpose } from '@proteus/segment/segmentation';
import { loadSegmenter, missingFiles } from '@proteus/segment/segmenter';
import { astronautPath } from '@proteus/segment/test-photos';
import sharp from 'sharp';

const RUNS = Number(process.argv[2] ?? 8);
const BLOCKS = Number(process.argv[3] ?? 2);
const WARMUP = 2;
const THREADS = availableParallelism();
const repoRoot = join(import.meta.dirname, '..', '..', '..');
const tools = join(repoRoot, 'functions', 'segment', 'tools');
const modelDir = join(repoRoot, '.tools', 'segment-bench');
const plainId = 'proteus/segformer-b2-random';
const foldedId = 'proteus/segformer-b2-random-folded';

interface Sample {
  ms: number[];
  cpuMs: number;
}

const python = (script: string, args: string[]) => {
  const run = spawnSync('bash', [join(tools, 'segment-py.sh'), join(tools, script), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (run.status !== 0) throw new Error(`${script} exited with ${run.status}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
};

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
};
const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');

// 1. the models, exported once
if (missingFiles(modelDir, plainId, 'fp32').length > 0) {
  process.stdout.write(`exporting the random-weight SegFormer-B2 into ${modelDir} ...\n`);
  python('export_segformer.py', ['--size', 'b2', '--out', modelDir, '--model-id', plainId, '--no-quantize']);
}
if (missingFiles(modelDir, foldedId, 'fp32').length + missingFiles(modelDir, foldedId, 'q8').length > 0) {
  process.stdout.write(`exporting it again with the decode head folded, fp32 and int8 ...\n`);
  python('export_segformer.py', ['--size', 'b2', '--out', modelDir, '--model-id', foldedId, '--fold-decode-head']);
}

const load0 = loadavg()[0]!;
const segmenters = {
  plain: await loadSegmenter({ modelId: plainId, modelDir, dtype: 'fp32', threads: THREADS }),
  folded: await loadSegmenter({ modelId: foldedId, modelDir, dtype: 'fp32', threads: THREADS }),
  foldedQ8: await loadSegmenter({ modelId: foldedId, modelDir, dtype: 'q8', threads: THREADS }),
};
const input = new Uint8Array(512 * 512 * 3);
for (let i = 0; i < input.length; i++) input[i] = (i * 31 + ((i / 1536) | 0) * 7) % 251;

async function ortBlock(name: keyof typeof segmenters): Promise<Sample> {
  const segmenter = segmenters[name];
  for (let i = 0; i < WARMUP; i++) await segmenter.logitsOfInput(input);
  const ms: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    await segmenter.logitsOfInput(input);
    ms.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000 / RUNS };
}

function torchBlock(fold: boolean): Sample {
  const out = python('bench_torch.py', [
    '--size',
    'b2',
    '--runs',
    String(RUNS),
    '--warmup',
    String(WARMUP),
    '--threads',
    String(THREADS),
    ...(fold ? ['--fold'] : []),
  ]);
  return { ms: out.ms as number[], cpuMs: out.cpu_ms as number };
}

// 2. the engines, in turns
const engines = {
  torch: { label: 'PyTorch eager fp32, as published (baseline)', run: async () => torchBlock(false) },
  torchFolded: { label: 'PyTorch eager fp32, decode head folded', run: async () => torchBlock(true) },
  plain: { label: "onnxruntime-node fp32, plain export (the hub file's graph)", run: () => ortBlock('plain') },
  folded: { label: 'onnxruntime-node fp32, decode head folded', run: () => ortBlock('folded') },
  foldedQ8: { label: 'onnxruntime-node int8 matmuls, decode head folded', run: () => ortBlock('foldedQ8') },
} as const;
type Engine = keyof typeof engines;
const samples = Object.fromEntries(Object.keys(engines).map((k) => [k, [] as Sample[]])) as Record<Engine, Sample[]>;
for (let b = 0; b < BLOCKS; b++) {
  process.stdout.write(`block ${b + 1}/${BLOCKS}: ${Object.keys(engines).length} engines, ${RUNS} runs each\n`);
  for (const [name, engine] of Object.entries(engines) as [Engine, (typeof engines)[Engine]][]) samples[name].push(await engine.run());
}
const summary = (name: Engine) => {
  const ms = samples[name].flatMap((s) => s.ms);
  const cpu = samples[name].reduce((n, s) => n + s.cpuMs, 0) / samples[name].length;
  return { runs: ms.length, p50: percentile(ms, 50), p95: percentile(ms, 95), cpu };
};
const rows = Object.fromEntries(Object.keys(engines).map((k) => [k, summary(k as Engine)])) as Record<Engine, ReturnType<typeof summary>>;

// 3. whole requests through the function's segmentation, folded fp32: a 1 MP and a 12 MP photo
const astronaut = readFileSync(astronautPath());
const photos = {
  '1024x1024': await sharp(astronaut).resize(1024, 1024).jpeg({ quality: 90 }).toBuffer(),
  '3000x4000': await sharp(astronaut).resize(3000, 4000, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer(),
};
const segmentation = createSegmentation(segmenters.folded, {
  limits: { maxBytes: 15 * 1024 * 1024, maxPixels: 40_000_000 },
  classes: [4, 5, 6, 7, 17],
  concurrency: 1,
  maxWaiting: 1,
});
interface Whole {
  size: string;
  purpose: Purpose;
  ms: number[];
  stages: { decode: number; inference: number; post: number }[];
  outcome: string;
}
const whole: Whole[] = [];
for (const [size, photo] of Object.entries(photos)) {
  for (const purpose of ['garment', 'person-mask'] as const) {
    const row: Whole = { size, purpose, ms: [], stages: [], outcome: 'PNG' };
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const t = performance.now();
      try {
        const result = await segmentation.segment(photo, { purpose });
        if (i >= WARMUP) row.stages.push(result.ms);
      } catch (error) {
        row.outcome = `refused: ${(error as Error).message.split(':')[0]}`;
      }
      if (i >= WARMUP) row.ms.push(performance.now() - t);
    }
    whole.push(row);
  }
}
const load1 = loadavg()[0]!;

// 4. the table
const ratio = (n: number) => `${(rows.torch.p50 / n).toFixed(2)}x`;
const best = Math.min(rows.plain.p50, rows.folded.p50);
const lines = [
  '',
  `SegFormer-B2 (segformer_b2_clothes' architecture, random weights), one 512x512 image, ${THREADS} threads; load average ${load0.toFixed(1)} -> ${load1.toFixed(1)}`,
  '',
  '| engine | runs | p50 ms | p95 ms | CPU ms / image | PyTorch p50 / this p50 |',
  '|---|---|---|---|---|---|',
  ...(Object.keys(engines) as Engine[]).map(
    (k) => `| ${engines[k].label} | ${rows[k].runs} | ${fmt(rows[k].p50)} | ${fmt(rows[k].p95)} | ${fmt(rows[k].cpu)} | ${ratio(rows[k].p50)} |`,
  ),
  '',
  `goal fp32 p50 <= 600 ms: plain export ${rows.plain.p50 <= 600 ? 'met' : 'NOT met'}, folded ${rows.folded.p50 <= 600 ? 'met' : 'NOT met'}; ` +
    `fp32 faster than PyTorch as published: ${best < rows.torch.p50 ? 'yes' : 'NO'}, than PyTorch folded: ${rows.folded.p50 < rows.torchFolded.p50 ? 'yes' : 'NO'}`,
  '',
  'whole requests, JPEG in, PNG out (folded fp32): decode, inference (resize, normalise, forward), label map and post-processing with the encode',
  '',
  '| photo | purpose | runs | p50 ms | p95 ms | decode p50 | inference p50 | post p50 | outcome |',
  '|---|---|---|---|---|---|---|---|---|',
  ...whole.map((w) => {
    const stage = (k: 'decode' | 'inference' | 'post') =>
      fmt(
        percentile(
          w.stages.map((s) => s[k]),
          50,
        ),
      );
    return `| ${w.size} | ${w.purpose} | ${w.ms.length} | ${fmt(percentile(w.ms, 50))} | ${fmt(percentile(w.ms, 95))} | ${stage('decode')} | ${stage('inference')} | ${stage('post')} | ${w.outcome} |`;
  }),
  '',
];
process.stdout.write(lines.join('\n'));
await Promise.all(Object.values(segmenters).map((s) => s.dispose()));
