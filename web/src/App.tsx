/**
 * The foundation's page: what Proteus is and whether every part of the stack answers.
 * The mirror, wardrobe, results and operator screens are issue #8.
 */
import { createResource, createSignal, For, onCleanup, onMount, Show } from 'solid-js';
import { checkRows, type HealthReport, updatesUrl } from './health.ts';

async function fetchHealth(): Promise<HealthReport> {
  const response = await fetch('/api/health');
  return (await response.json()) as HealthReport;
}

export function App() {
  const [health, { refetch }] = createResource(fetchHealth);
  const [socket, setSocket] = createSignal<'connecting' | 'open' | 'closed'>('connecting');

  onMount(() => {
    // reachability only: realtime says hello, then closes an unauthenticated socket (4401)
    const ws = new WebSocket(updatesUrl(window.location));
    ws.onmessage = (message) => {
      if (String(message.data).includes('"hello"')) setSocket('open');
    };
    ws.onclose = (event) => {
      if (event.code !== 4401) setSocket('closed');
    };
    const timer = setInterval(() => refetch(), 5000);
    onCleanup(() => {
      clearInterval(timer);
      ws.close();
    });
  });

  return (
    <main>
      <h1>Proteus</h1>
      <p class="lede">Virtual try-on: a garment photo, cut out, warped live onto you, then rendered photoreal on GPUs.</p>
      <section aria-labelledby="status">
        <h2 id="status">Stack status</h2>
        <Show when={health()} fallback={<p>{health.error ? 'The api does not answer.' : 'Checking…'}</p>}>
          {(report) => (
            <ul class="checks">
              <For each={checkRows(report())}>
                {(row) => (
                  <li classList={{ ok: row.ok, bad: !row.ok }}>
                    <span class="dot" aria-hidden="true" />
                    <strong>{row.name}</strong> <span>{row.text}</span>
                  </li>
                )}
              </For>
              <li classList={{ ok: socket() === 'open', bad: socket() === 'closed' }}>
                <span class="dot" aria-hidden="true" />
                <strong>Live updates</strong> <span>{socket()}</span>
              </li>
            </ul>
          )}
        </Show>
      </section>
    </main>
  );
}
