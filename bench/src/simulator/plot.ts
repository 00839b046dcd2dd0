/**
 * A hand-written SVG of one trace: queue depth, pods (ready solid, all dashed), batch size (a bar
 * under it where the policy ran at 512 px) and the p95 latency of the last minute, over time, one
 * colour per policy. No browser or library needed.
 */
import type { SimResult } from './cluster.ts';

const COLOURS = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#b8860b'];
const WIDTH = 1000;
const PANEL = 170;
const GAP = 40;
const LEFT = 60;
const RIGHT = 20;
const TOP = 50;

interface Series {
  label: string;
  value: (s: SimResult['samples'][number]) => number;
  dashed?: boolean;
}

const xmlText = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function plotTrace(title: string, results: SimResult[], sloS: number): string {
  const endS = Math.max(...results.map((r) => r.samples.at(-1)?.t ?? 0));
  const x = (t: number) => LEFT + ((WIDTH - LEFT - RIGHT) * t) / endS;
  const panels: { name: string; series: Series[]; max: number; reference?: { value: number; label: string } }[] = [
    { name: 'queue depth (lag + pending)', series: [{ label: '', value: (s) => s.queueDepth }], max: 0 },
    {
      name: 'GPU pods (solid: serving, dashed: billed)',
      series: [
        { label: '', value: (s) => s.readyPods },
        { label: '', value: (s) => s.pods, dashed: true },
      ],
      max: 0,
    },
    { name: 'batch size (bar below: 512 px)', series: [{ label: '', value: (s) => s.batchSize }], max: 8 },
    { name: 'p95 latency of the last minute, s', series: [{ label: '', value: (s) => s.p95S }], max: 0, reference: { value: sloS, label: `SLO ${sloS} s` } },
  ];
  for (const panel of panels) {
    const values = results.flatMap((r) => r.samples.flatMap((s) => panel.series.map((series) => series.value(s)))).filter(Number.isFinite);
    panel.max = Math.max(panel.max, panel.reference?.value ?? 0, ...values, 1) * 1.05;
  }
  const height = TOP + panels.length * (PANEL + GAP) + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12" role="img">`,
    `<title>${xmlText(title)}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="22" font-size="16" font-weight="bold">${xmlText(title)}</text>`,
  ];
  results.forEach((r, i) => {
    out.push(`<rect x="${LEFT + i * 190}" y="32" width="14" height="4" fill="${COLOURS[i % COLOURS.length]}"/>`);
    out.push(`<text x="${LEFT + i * 190 + 20}" y="38">${xmlText(r.policy)}</text>`);
  });
  panels.forEach((panel, p) => {
    const top = TOP + p * (PANEL + GAP) + 10;
    const y = (v: number) => top + PANEL - (PANEL * v) / panel.max;
    out.push(`<text x="${LEFT}" y="${top - 4}" font-weight="bold">${xmlText(panel.name)}</text>`);
    out.push(`<rect x="${LEFT}" y="${top}" width="${WIDTH - LEFT - RIGHT}" height="${PANEL}" fill="none" stroke="#999"/>`);
    for (const fraction of [0, 0.5, 1]) {
      const v = (panel.max / 1.05) * fraction;
      out.push(`<text x="${LEFT - 6}" y="${y(v) + 4}" text-anchor="end">${v >= 10 ? Math.round(v) : v.toFixed(1)}</text>`);
    }
    if (panel.reference) {
      const ry = y(panel.reference.value);
      out.push(`<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${ry}" y2="${ry}" stroke="#c00" stroke-dasharray="2,3"/>`);
      out.push(`<text x="${WIDTH - RIGHT - 4}" y="${ry - 4}" text-anchor="end" fill="#c00">${xmlText(panel.reference.label)}</text>`);
    }
    results.forEach((r, i) => {
      const colour = COLOURS[i % COLOURS.length];
      for (const series of panel.series) {
        const step = Math.max(1, Math.floor(r.samples.length / 1500));
        const points: string[] = [];
        for (let k = 0; k < r.samples.length; k += step) {
          const s = r.samples[k]!;
          const v = series.value(s);
          if (Number.isFinite(v)) points.push(`${x(s.t).toFixed(1)},${y(v).toFixed(1)}`);
        }
        out.push(
          `<polyline fill="none" stroke="${colour}" stroke-width="1.4" stroke-opacity="0.85"${series.dashed ? ' stroke-dasharray="4,3"' : ''} points="${points.join(' ')}"/>`,
        );
      }
      if (p === 2) {
        // 512 px periods as a bar under the panel, one row per policy
        const barY = top + PANEL + 3 + i * 4;
        let from: number | undefined;
        for (const s of [...r.samples, undefined]) {
          if (s?.degraded && from === undefined) from = s.t;
          if (!s?.degraded && from !== undefined) {
            out.push(`<rect x="${x(from).toFixed(1)}" y="${barY}" width="${Math.max(1, x(s?.t ?? endS) - x(from)).toFixed(1)}" height="3" fill="${colour}"/>`);
            from = undefined;
          }
        }
      }
    });
  });
  const axisY = TOP + panels.length * (PANEL + GAP) + 5;
  const minutes = endS / 60;
  const every = minutes > 600 ? 120 : minutes > 120 ? 30 : 10;
  for (let m = 0; m <= minutes; m += every) out.push(`<text x="${x(m * 60).toFixed(1)}" y="${axisY}" text-anchor="middle">${m} min</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
