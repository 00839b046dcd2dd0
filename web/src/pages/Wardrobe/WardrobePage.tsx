/**
 * The wardrobe: upload a garment photo (button, drop or paste), watch it upload and get cut
 * out, and pick the garment the mirror shows. Each garment shows its cleaned PNG on a
 * checkerboard, so the transparency reads as transparency.
 */
import { createResource, createSignal, For, Match, onCleanup, onMount, Show, Switch } from 'solid-js';
import { formatBytes } from '../../api/problem.ts';
import type { Vton } from '../../api/types.ts';
import { DEFAULT_MAX_BYTES } from '../../api/upload.ts';
import { Link } from '../../components/Link.tsx';
import { Notice } from '../../components/Notice.tsx';
import { ProgressBar } from '../../components/ProgressBar.tsx';
import { navigate } from '../../router.ts';
import { useApp } from '../../stores/context.ts';

function GarmentCard(props: { vton: Vton; selected: boolean; onSelect: () => void }) {
  const { wardrobe } = useApp();
  const key = () => props.vton.clothCleanKey ?? props.vton.garmentKey;
  const [url] = createResource(key, (k) => wardrobe.imageUrl(k));
  const ready = () => props.vton.clothCleanKey !== null;
  const state = () => (ready() ? 'ready' : props.vton.status === 'failed' ? 'failed' : 'cutting');

  return (
    <li class="garment" classList={{ selected: props.selected }} data-testid="garment" data-state={state()}>
      <div class="garment-image checker">
        <Show when={url()} fallback={<div class="garment-placeholder" aria-hidden="true" />}>
          <img src={url()} alt={ready() ? 'Cut-out garment' : 'Uploaded garment photo'} classList={{ dim: !ready() }} loading="lazy" crossOrigin="anonymous" />
        </Show>
        <Show when={state() === 'cutting'}>
          <div class="garment-overlay">
            <ProgressBar label="Cutting the garment out" />
            <span>Cutting out…</span>
          </div>
        </Show>
      </div>
      <div class="garment-meta">
        <Switch>
          <Match when={state() === 'ready'}>
            <span class="chip ok">Ready</span>
          </Match>
          <Match when={state() === 'failed'}>
            <span class="chip bad">No garment found</span>
          </Match>
          <Match when={state() === 'cutting'}>
            <span class="chip">Cutting out</span>
          </Match>
        </Switch>
        <span class="garment-date">{new Date(props.vton.createdAt).toLocaleDateString()}</span>
      </div>
      <Show when={ready()}>
        <div class="garment-actions">
          <button type="button" class="button small" aria-pressed={props.selected} onClick={() => props.onSelect()}>
            {props.selected ? 'Selected' : 'Select'}
          </button>
          <button
            type="button"
            class="button small primary"
            onClick={() => {
              props.onSelect();
              navigate('/mirror');
            }}
          >
            Try on
          </button>
        </div>
      </Show>
    </li>
  );
}

export function WardrobePage() {
  const { wardrobe } = useApp();
  const [dragging, setDragging] = createSignal(false);
  let input: HTMLInputElement | undefined;

  const take = (files: FileList | null | undefined) => {
    const file = files?.[0];
    if (file) void wardrobe.add(file);
  };

  onMount(() => {
    const paste = (e: ClipboardEvent) => take(e.clipboardData?.files);
    window.addEventListener('paste', paste);
    onCleanup(() => window.removeEventListener('paste', paste));
  });

  const upload = wardrobe.upload;
  const uploading = () => {
    const u = upload();
    return u.phase === 'uploading' ? u : undefined;
  };
  const segmenting = () => {
    const u = upload();
    return u.phase === 'segmenting' ? u : undefined;
  };
  const failed = () => {
    const u = upload();
    return u.phase === 'failed' ? u : undefined;
  };

  return (
    <section class="page" aria-labelledby="wardrobe-title">
      <div class="page-head">
        <h1 id="wardrobe-title">Wardrobe</h1>
        <p class="lede">Add a photo of a garment. We cut it out, then you can wear it in the mirror.</p>
      </div>

      <section
        aria-label="Add a garment"
        class="dropzone"
        classList={{ dragging: dragging() }}
        onDragOver={(e) => {
          e.preventDefault();
          setDragging(true);
        }}
        onDragLeave={() => setDragging(false)}
        onDrop={(e) => {
          e.preventDefault();
          setDragging(false);
          take(e.dataTransfer?.files);
        }}
      >
        <input
          ref={input}
          id="garment-file"
          type="file"
          accept="image/jpeg,image/png,image/webp"
          class="sr-only"
          data-testid="garment-input"
          onChange={(e) => {
            take(e.currentTarget.files);
            e.currentTarget.value = '';
          }}
        />
        <p>
          <strong>Drop a garment photo here</strong>, paste it, or
        </p>
        <button type="button" class="button primary" onClick={() => input?.click()} disabled={upload().phase === 'uploading'}>
          Choose a photo
        </button>
        <p class="hint">JPEG, PNG or WebP, up to {formatBytes(DEFAULT_MAX_BYTES)}. Best: the garment alone, flat or on a hanger.</p>
      </section>

      <div aria-live="polite" class="upload-status">
        <Show when={uploading()}>
          {(u) => (
            <div class="upload-progress" data-testid="upload-progress">
              <span>
                Uploading {u().fileName}… {Math.round(u().fraction * 100)}%
              </span>
              <ProgressBar value={u().fraction} label="Upload progress" />
              <button type="button" class="button ghost small" onClick={() => wardrobe.cancel()}>
                Cancel
              </button>
            </div>
          )}
        </Show>
        <Show when={segmenting()}>
          {(u) => (
            <div class="upload-progress" data-testid="segmenting">
              <span>Cutting {u().fileName} out…</span>
              <ProgressBar label="Segmentation progress" />
            </div>
          )}
        </Show>
        <Show when={failed()}>
          {(u) => (
            <Notice
              tone="error"
              title={`${u().fileName} was not added`}
              testid="upload-error"
              action={
                <button type="button" class="button small" onClick={() => input?.click()}>
                  Choose another
                </button>
              }
            >
              {u().error.message}
            </Notice>
          )}
        </Show>
      </div>

      <Show when={wardrobe.loadError()}>
        <Notice
          tone="error"
          title="Your garments could not be loaded"
          action={
            <button type="button" class="button small" onClick={() => void wardrobe.reload()}>
              Retry
            </button>
          }
        >
          {wardrobe.loadError()?.message}
        </Notice>
      </Show>

      <h2 class="section-title">Your garments</h2>
      <Show when={wardrobe.garments().length} fallback={<p class="empty">{wardrobe.loading() ? 'Loading…' : 'No garments yet. Add your first one above.'}</p>}>
        <ul class="garments" data-testid="garments">
          <For each={wardrobe.garments()}>
            {(vton) => <GarmentCard vton={vton} selected={wardrobe.selectedId() === vton.id} onSelect={() => wardrobe.select(vton.id)} />}
          </For>
        </ul>
      </Show>
      <Show when={wardrobe.selected()}>
        <p class="next">
          <Link href="/mirror" class="button primary">
            Open the mirror
          </Link>
        </p>
      </Show>
    </section>
  );
}
