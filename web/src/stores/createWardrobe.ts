/**
 * The wardrobe: the shopper's garments (their VTONs: one per uploaded garment photo) and the
 * upload that adds one. An upload goes through the presigned POST with progress, then
 * `POST /api/upload/cloth` starts its segmentation, whose end arrives on the socket; the
 * garment is ready when its cleaned PNG (`clothCleanKey`) exists. The garment chosen for the
 * mirror is remembered across reloads.
 */
import { createEffect, createMemo, createSignal, onCleanup, untrack } from 'solid-js';
import type { ApiError } from '../api/problem.ts';
import type { SubmittedJob, Vton, VtonPage } from '../api/types.ts';
import { type UploadOptions, uploadImage } from '../api/upload.ts';
import type { JobState } from '../live/ledger.ts';
import type { Jobs } from './createJobs.ts';
import type { Session } from './createSession.ts';

const SELECTED_KEY = 'proteus.garment';

export type UploadPhase =
  | { phase: 'idle' }
  | { phase: 'uploading'; fileName: string; fraction: number }
  | { phase: 'segmenting'; fileName: string; jobId: string; vtonId: string | null }
  | { phase: 'failed'; fileName: string; error: ApiError | Error };

export interface Garment {
  vton: Vton;
  /** the job cleaning it, while it runs */
  segmentJob?: JobState;
}

/** What a shopper reads for a segmentation that failed (the segment function's `<reason>: <detail>`). */
export function segmentationFailure(error: string | null | undefined): string {
  const reason = (error ?? '').split(':')[0]?.trim();
  switch (reason) {
    case 'no-garment':
      return 'No garment found in that photo. Try a photo of the garment alone, flat or on a hanger, on a plain background.';
    case 'not-an-image':
    case 'image-truncated':
    case 'image-empty':
      return 'That file is not an image we can read.';
    case 'image-too-large':
    case 'image-too-many-pixels':
      return 'That photo is too large. Try one under 40 megapixels.';
    default:
      return `The garment could not be cut out${error ? ` (${error})` : ''}.`;
  }
}

export interface Wardrobe {
  garments: () => Vton[];
  loading: () => boolean;
  loadError: () => ApiError | Error | undefined;
  upload: () => UploadPhase;
  reload(): Promise<void>;
  add(file: File, options?: Pick<UploadOptions, 'createXhr'>): Promise<void>;
  cancel(): void;
  selectedId: () => string | undefined;
  select(id: string | undefined): void;
  selected: () => Vton | undefined;
  /** a download URL of one of the shopper's images */
  imageUrl(key: string): Promise<string>;
}

export function createWardrobe(session: Session, jobs: Jobs): Wardrobe {
  const [garments, setGarments] = createSignal<Vton[]>([]);
  const [loading, setLoading] = createSignal(false);
  const [loadError, setLoadError] = createSignal<ApiError | Error>();
  const [upload, setUpload] = createSignal<UploadPhase>({ phase: 'idle' });
  const [selectedId, setSelectedId] = createSignal<string | undefined>(localStorage.getItem(SELECTED_KEY) ?? undefined);
  let abort: AbortController | undefined;

  async function reload() {
    if (!session.user()) return;
    setLoading(true);
    try {
      const page = await session.api.request<VtonPage>('GET', '/api/vtons', { query: { limit: 100 } });
      const list = page.items.filter((v) => v.garmentKey || v.clothCleanKey).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      setGarments(list);
      setLoadError(undefined);
      const chosen = selectedId();
      if (!chosen || !list.some((v) => v.id === chosen)) {
        const firstReady = list.find((v) => v.clothCleanKey);
        if (firstReady) select(firstReady.id);
      }
    } catch (error) {
      setLoadError(error as Error);
    } finally {
      setLoading(false);
    }
  }

  function select(id: string | undefined) {
    setSelectedId(id);
    if (id) localStorage.setItem(SELECTED_KEY, id);
    else localStorage.removeItem(SELECTED_KEY);
  }

  const userId = createMemo(() => session.user()?.id);
  createEffect(() => {
    // reload() reads signals of its own: not this effect's dependencies
    if (userId()) void untrack(reload);
    else setGarments([]);
  });

  // the end of a segmentation (garment) changes its VTON: read them again
  const stop = jobs.onChange((job) => {
    if (job.kind !== 'segment' || (job.status !== 'completed' && job.status !== 'failed')) return;
    const current = upload();
    if (current.phase === 'segmenting' && current.jobId === job.job_id) {
      if (job.status === 'failed') setUpload({ phase: 'failed', fileName: current.fileName, error: new Error(segmentationFailure(job.error)) });
      else {
        setUpload({ phase: 'idle' });
        if (job.vton_id) select(job.vton_id);
      }
    }
    if (job.vton_id) void reload();
  });
  onCleanup(stop);

  async function add(file: File, options: Pick<UploadOptions, 'createXhr'> = {}) {
    abort?.abort();
    abort = new AbortController();
    const signal = abort.signal;
    setUpload({ phase: 'uploading', fileName: file.name, fraction: 0 });
    try {
      const image = await uploadImage(session.api, file, 'garment', {
        signal,
        onProgress: (fraction) => setUpload({ phase: 'uploading', fileName: file.name, fraction }),
        ...options,
      });
      const job = await session.api.request<SubmittedJob>('POST', '/api/upload/cloth', { body: { key: image.key }, signal });
      jobs.track(job);
      const known = jobs.job(job.job_id);
      if (known?.status === 'failed') setUpload({ phase: 'failed', fileName: file.name, error: new Error(segmentationFailure(known.error)) });
      else if (known?.status === 'completed') setUpload({ phase: 'idle' });
      else setUpload({ phase: 'segmenting', fileName: file.name, jobId: job.job_id, vtonId: job.vton_id });
      await reload();
    } catch (error) {
      if (error instanceof DOMException && error.name === 'AbortError') {
        setUpload({ phase: 'idle' });
        return;
      }
      setUpload({ phase: 'failed', fileName: file.name, error: error as Error });
    }
  }

  return {
    garments,
    loading,
    loadError,
    upload,
    reload,
    add,
    cancel: () => abort?.abort(),
    selectedId,
    select,
    selected: () => garments().find((v) => v.id === selectedId()),
    async imageUrl(key) {
      return (await session.api.request<{ url: string }>('GET', '/api/images/presignedDownloadUrl', { query: { key } })).url;
    },
  };
}
