/**
 * A small time series as an SVG line, no chart library: the operator view's wait p95 and queue
 * depth. Values are scaled to the largest in view; the newest point is at the right edge.
 */
import { createMemo, Show } from 'solid-js';

export interface Sample {
  t: number;
  value: number | null;
}

export function chartPath(samples: readonly Sample[], width: number, height: number, spanMs: number): { path: string; max: number } {
  const points = samples.filter((s): s is { t: number; value: number } => s.value !== null);
  const max = Math.max(1, ...points.map((p) => p.value));
  const end = samples.at(-1)?.t ?? 0;
  const path = points
    .map((p, i) => {
      const x = width - ((end - p.t) / spanMs) * width;
      const y = height - (p.value / max) * height;
      return `${i === 0 ? 'M' : 'L'}${x.toFixed(1)},${y.toFixed(1)}`;
    })
    .join(' ');
  return { path, max };
}

export function LineChart(props: { samples: Sample[]; label: string; unit: string; spanMs: number; testid?: string }) {
  const width = 600;
  const height = 140;
  const chart = createMemo(() => chartPath(props.samples, width, height, props.spanMs));
  const last = () => props.samples.at(-1)?.value;
  return (
    <figure class="chart" data-testid={props.testid}>
      <figcaption>
        {props.label}:{' '}
        <strong>
          <Show when={last() !== null && last() !== undefined} fallback="no data">
            {Math.round(last() as number)} {props.unit}
          </Show>
        </strong>
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        role="img"
        aria-label={`${props.label} over the last ${Math.round(props.spanMs / 60000)} minutes`}
        preserveAspectRatio="none"
      >
        <line x1="0" y1={height} x2={width} y2={height} class="axis" />
        <path d={chart().path} class="series" />
      </svg>
      <div class="chart-scale">
        <span>0</span>
        <span>
          max {Math.round(chart().max)} {props.unit}
        </span>
      </div>
    </figure>
  );
}
