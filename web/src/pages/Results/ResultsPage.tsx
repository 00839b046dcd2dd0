/**
 * Results: every try-on, live. Status and diffusion progress arrive on the socket (and from a
 * resync after it was down); a finished one shows before and after side by side, with a
 * download. Result links are short-lived: an image that no longer loads asks the api for a
 * fresh one, once.
 */
import { createMemo, createResource, createSignal, For, Show } from 'solid-js';
import { Link } from '../../components/Link.tsx';
import { Notice } from '../../components/Notice.tsx';
import { ProgressBar } from '../../components/ProgressBar.tsx';
import type { JobState } from '../../live/ledger.ts';
import { useApp } from '../../stores/context.ts';
import { snapOf } from '../../stores/snaps.ts';

const statusText: Record<JobState['status'], string> = { queued: 'Queued', running: 'Rendering', completed: 'Ready', failed: 'Failed' };

async function download(url: string, name: string) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`download failed (${response.status})`);
  const href = URL.createObjectURL(await response.blob());
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10_000);
}

function ResultCard(props: { job: JobState }) {
  const { jobs, wardrobe } = useApp();
  const snap = () => snapOf(props.job.job_id);
  const [before] = createResource(
    () => snap()?.personKey,
    (key) => wardrobe.imageUrl(key).catch(() => undefined),
  );
  const [refreshed, setRefreshed] = createSignal(false);
  const [downloadError, setDownloadError] = createSignal<string>();
  const progress = () => (props.job.steps ? (props.job.step ?? 0) / props.job.steps : undefined);

  return (
    <li class="result" data-testid="result" data-status={props.job.status} data-job={props.job.job_id}>
      <div class="result-head">
        <span class={`chip ${props.job.status === 'completed' ? 'ok' : props.job.status === 'failed' ? 'bad' : ''}`}>{statusText[props.job.status]}</span>
        <span class="result-time">{props.job.enqueued_at ? new Date(props.job.enqueued_at).toLocaleString() : ''}</span>
        <Show when={props.job.engine}>
          <span class="result-engine">
            {props.job.engine}
            {props.job.resolution ? ` · ${props.job.resolution}` : ''}
          </span>
        </Show>
      </div>
      <Show when={props.job.status === 'queued'}>
        <p class="muted">{props.job.waiting_for ? 'Preparing your photo…' : 'Waiting for a free GPU…'}</p>
        <ProgressBar label="Try-on queued" />
      </Show>
      <Show when={props.job.status === 'running'}>
        <p class="muted">
          Rendering
          <Show when={props.job.steps}>
            {' '}
            step {props.job.step ?? 0} of {props.job.steps}
          </Show>
          …
        </p>
        <ProgressBar value={progress()} label="Try-on progress" testid="result-progress" />
      </Show>
      <Show when={props.job.status === 'failed'}>
        <Notice tone="error" title="This try-on failed">
          {props.job.error ?? 'No reason was given.'} <Link href="/mirror">Try again in the mirror</Link>
        </Notice>
      </Show>
      <div class="before-after">
        <figure>
          <Show when={before()} fallback={<div class="image-placeholder">Before</div>}>
            <img src={before()} alt="Before: you, as snapped" />
          </Show>
          <figcaption>Before</figcaption>
        </figure>
        <figure>
          <Show
            when={props.job.status === 'completed' && props.job.result_url}
            fallback={<div class="image-placeholder">{props.job.status === 'failed' ? '—' : 'After'}</div>}
          >
            <img
              src={props.job.result_url as string}
              alt="After: you wearing the garment"
              data-testid="result-image"
              onError={() => {
                if (refreshed()) return;
                setRefreshed(true);
                void jobs.refresh(props.job.job_id).catch(() => {});
              }}
            />
          </Show>
          <figcaption>After</figcaption>
        </figure>
      </div>
      <Show when={props.job.status === 'completed' && props.job.result_url}>
        <div class="row">
          <button
            type="button"
            class="button small"
            onClick={() => {
              setDownloadError(undefined);
              download(props.job.result_url as string, `proteus-${props.job.job_id}.png`).catch((e: Error) => setDownloadError(e.message));
            }}
          >
            Download
          </button>
          <Show when={downloadError()}>
            <span class="bad-text">{downloadError()}</span>
          </Show>
        </div>
      </Show>
    </li>
  );
}

export function ResultsPage() {
  const { jobs } = useApp();
  const tryons = createMemo(() => jobs.list().filter((j) => j.kind === 'tryon'));
  return (
    <section class="page" aria-labelledby="results-title">
      <div class="page-head">
        <h1 id="results-title">Results</h1>
        <p class="lede">Your try-ons appear here as they render; this page updates itself.</p>
      </div>
      <Show
        when={tryons().length}
        fallback={
          <p class="empty">
            No try-ons yet. <Link href="/mirror">Open the mirror</Link> and Snap.
          </p>
        }
      >
        <ul class="results" data-testid="results">
          <For each={tryons()}>{(job) => <ResultCard job={job} />}</For>
        </ul>
      </Show>
    </section>
  );
}
