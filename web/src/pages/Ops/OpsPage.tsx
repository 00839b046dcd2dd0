/**
 * The operator view: queue depth, the policy in force (batch size, mode, degraded), live
 * workers, wait p95 over time and policy changes as they happen, polled every two seconds from
 * `GET /api/ops/status` (api/ops.ts). Where the api does not offer that endpoint the view says
 * so and shows what /api/health can tell (the stack's parts and the workers' heartbeats).
 */
import { createResource, createSignal, For, onCleanup, onMount, Show } from 'solid-js';
import { fetchOpsStatus, newChanges, type OpsAnswer, type PolicyChange } from '../../api/ops.ts';
import type { HealthReport } from '../../api/types.ts';
import { LineChart, type Sample } from '../../components/LineChart.tsx';
import { Notice } from '../../components/Notice.tsx';
import { checkRows } from '../../health.ts';
import { useApp } from '../../stores/context.ts';

const POLL_MS = 2000;
const SPAN_MS = 5 * 60 * 1000;

export default function OpsPage() {
  const { session } = useApp();
  const [answer, setAnswer] = createSignal<OpsAnswer>();
  const [error, setError] = createSignal<Error>();
  const [waits, setWaits] = createSignal<Sample[]>([]);
  const [depths, setDepths] = createSignal<Sample[]>([]);
  const [feed, setFeed] = createSignal<PolicyChange[]>([]);
  const seen = new Set<string>();
  // fetched as it is: a 503 still carries the report
  const [health, { refetch }] = createResource(async () => (await (await fetch('/api/health')).json()) as HealthReport);

  async function poll() {
    try {
      const next = await fetchOpsStatus(session.api);
      setAnswer(next);
      setError(undefined);
      if (!next.available) return;
      const now = Date.now();
      const keep = (list: Sample[], value: number | null) => [...list.filter((s) => now - s.t <= SPAN_MS), { t: now, value }];
      setWaits((list) => keep(list, next.status.waitP95Ms));
      setDepths((list) => keep(list, next.status.queueDepth));
      const fresh = newChanges(seen, next.status.recentChanges);
      for (const c of fresh) seen.add(c.id);
      if (fresh.length) setFeed((list) => [...fresh.reverse(), ...list].slice(0, 100));
    } catch (e) {
      setError(e as Error);
    }
  }

  onMount(() => {
    void poll();
    const timer = setInterval(() => {
      void poll();
      void refetch();
    }, POLL_MS);
    onCleanup(() => clearInterval(timer));
  });

  const unavailable = () => {
    const a = answer();
    return a && !a.available ? a.reason : undefined;
  };
  const status = () => {
    const a = answer();
    return a?.available ? a.status : undefined;
  };

  return (
    <section class="page" aria-labelledby="ops-title">
      <div class="page-head">
        <h1 id="ops-title">Operators</h1>
        <p class="lede">How the GPU fleet is doing and what the arbitrator decides, live.</p>
      </div>
      <Show when={error()}>
        <Notice tone="error" title="The status could not be read">
          {error()?.message}
        </Notice>
      </Show>
      <Show when={unavailable()}>
        {(reason) => (
          <Notice
            tone="warning"
            title={reason() === 'forbidden' ? 'Operators only' : 'Live policy status is not available on this server'}
            testid="ops-unavailable"
          >
            {reason() === 'forbidden'
              ? 'Your account is not an operator (ADMIN_EMAILS on the api).'
              : 'This api has no GET /api/ops/status yet. The stack health below still works; queue, policy and wait figures appear once the api offers the endpoint.'}
          </Notice>
        )}
      </Show>

      <Show when={status()}>
        {(s) => (
          <>
            <div class="tiles" data-testid="ops-tiles">
              <div class="tile">
                <span class="tile-label">Queue depth</span>
                <strong class="tile-value">{s().queueDepth}</strong>
              </div>
              <div class="tile">
                <span class="tile-label">Batch size</span>
                <strong class="tile-value">{s().policy?.batchSize ?? '—'}</strong>
              </div>
              <div class="tile">
                <span class="tile-label">Mode</span>
                <strong class={`tile-value mode-${s().policy?.mode ?? 'none'}`}>{s().policy?.mode ?? '—'}</strong>
              </div>
              <div class="tile" classList={{ warn: s().policy?.degraded === true }}>
                <span class="tile-label">Resolution</span>
                <strong class="tile-value">{s().policy ? (s().policy?.degraded ? 'Degraded (512 px)' : 'Full') : '—'}</strong>
              </div>
              <div class="tile">
                <span class="tile-label">Workers</span>
                <strong class="tile-value">{s().workers.length}</strong>
              </div>
              <div class="tile">
                <span class="tile-label">Wait p95 ({Math.round(s().waitWindowS)} s)</span>
                <strong class="tile-value">{s().waitP95Ms === null ? '—' : `${((s().waitP95Ms as number) / 1000).toFixed(1)} s`}</strong>
              </div>
            </div>
            <Show when={s().policy?.reason}>
              <p class="muted">Why: {s().policy?.reason}</p>
            </Show>
            <div class="charts">
              <LineChart samples={waits()} label="Wait p95" unit="ms" spanMs={SPAN_MS} testid="wait-chart" />
              <LineChart samples={depths()} label="Queue depth" unit="jobs" spanMs={SPAN_MS} />
            </div>
            <h2 class="section-title">Policy changes</h2>
            <Show when={feed().length} fallback={<p class="empty">No changes yet.</p>}>
              <ol class="feed" aria-live="polite">
                <For each={feed()}>
                  {(c) => (
                    <li>
                      <time>{new Date(c.at).toLocaleTimeString()}</time> <strong class={`mode-${c.mode}`}>{c.mode}</strong> batch {c.batchSize}
                      {c.degraded ? ', 512 px' : ''}{' '}
                      <span class="muted">
                        (depth {c.queueDepth}, wait {Math.round(c.avgWaitMs)} ms): {c.reason}
                      </span>
                    </li>
                  )}
                </For>
              </ol>
            </Show>
            <h2 class="section-title">Workers</h2>
            <ul class="checks">
              <For each={s().workers} fallback={<li class="bad">No live worker</li>}>
                {(w) => (
                  <li class="ok">
                    <span class="dot" aria-hidden="true" />
                    <strong>{w.name}</strong>{' '}
                    <span>
                      {w.engine ?? '?'} · seen {new Date(w.at).toLocaleTimeString()}
                    </span>
                  </li>
                )}
              </For>
            </ul>
          </>
        )}
      </Show>

      <h2 class="section-title">Stack health</h2>
      <Show when={health()} fallback={<p class="muted">{health.error ? 'The api does not answer /api/health.' : 'Checking…'}</p>}>
        {(report) => (
          <ul class="checks" data-testid="health">
            <For each={checkRows(report())}>
              {(row) => (
                <li classList={{ ok: row.ok, bad: !row.ok }}>
                  <span class="dot" aria-hidden="true" />
                  <strong>{row.name}</strong> <span>{row.text}</span>
                </li>
              )}
            </For>
          </ul>
        )}
      </Show>
    </section>
  );
}
