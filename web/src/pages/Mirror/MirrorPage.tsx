/**
 * The mirror: the front camera, mirrored, with the chosen garment warped onto the shopper's
 * torso live, and Snap. Every state a shopper can meet has its own words: camera blocked or
 * missing (with a photo instead), the pose model loading or failing, no garment chosen or none
 * found in the cut-out, no torso in view, and each step of a snap. Keys: S snaps, G shows or
 * hides the garment. The stage carries its live figures as data attributes (the benchmark and
 * the end-to-end test read them).
 */
import { createEffect, createSignal, on, onCleanup, onMount, Show } from 'solid-js';
import { ApiError } from '../../api/problem.ts';
import { Link } from '../../components/Link.tsx';
import { Notice } from '../../components/Notice.tsx';
import { ProgressBar } from '../../components/ProgressBar.tsx';
import { createPoseClient, type PoseClient } from '../../pose/pose-client.ts';
import { checkTorso } from '../../pose/torso.ts';
import type { FrameFigures } from '../../preview/frame-stats.ts';
import { loadGarmentCut, NoGarment } from '../../preview/garment-image.ts';
import { createMirrorScene, type MirrorScene } from '../../preview/scene.ts';
import { useApp } from '../../stores/context.ts';
import { CameraProblem, openCamera, stopStream } from './camera.ts';
import { type MirrorLoop, type PoseState, startMirrorLoop } from './mirror-loop.ts';
import { captureFrame, landmarksOf, type SnapPhase, SnapProblem, submitSnap } from './snap.ts';

type CameraState = { state: 'starting' } | { state: 'live' } | { state: 'photo' } | { state: 'problem'; problem: CameraProblem };
type GarmentState = { state: 'none' } | { state: 'loading' } | { state: 'ready' } | { state: 'problem'; error: Error };

const TIMER_KEY = 'proteus.snapTimer';

export default function MirrorPage() {
  const { session, jobs, wardrobe } = useApp();
  const [camera, setCamera] = createSignal<CameraState>({ state: 'starting' });
  const [model, setModel] = createSignal<'loading' | 'ready' | Error>('loading');
  const [garment, setGarment] = createSignal<GarmentState>({ state: 'none' });
  const [pose, setPose] = createSignal<PoseState>({ tracking: false, reason: 'starting' });
  const [figures, setFigures] = createSignal<FrameFigures>();
  const [showStats, setShowStats] = createSignal(false);
  const [garmentHidden, setGarmentHidden] = createSignal(false);
  const [timer, setTimer] = createSignal(localStorage.getItem(TIMER_KEY) === '1');
  const [snap, setSnap] = createSignal<SnapPhase>({ phase: 'idle' });
  const [aspect, setAspect] = createSignal(4 / 3);

  let video!: HTMLVideoElement;
  let canvas!: HTMLCanvasElement;
  let stage!: HTMLDivElement;
  let photoInput!: HTMLInputElement;
  let scene: MirrorScene | undefined;
  let poseClient: PoseClient | undefined;
  let loop: MirrorLoop | undefined;
  let stream: MediaStream | undefined;
  let still: HTMLCanvasElement | undefined;
  let garmentAbort: AbortController | undefined;

  const garmentKey = () => wardrobe.selected()?.clothCleanKey ?? undefined;

  function renderStill() {
    if (scene && still) scene.render();
  }

  async function startCamera() {
    setCamera({ state: 'starting' });
    try {
      stopStream(stream);
      stream = await openCamera();
      video.srcObject = stream;
      await video.play();
      setAspect(video.videoWidth / video.videoHeight || 4 / 3);
      still = undefined;
      scene?.setSource(video);
      loop?.stop();
      if (scene && poseClient) {
        loop = startMirrorLoop({ source: video, scene, pose: poseClient, onPose: setPose, onFigures: setFigures });
      }
      setCamera({ state: 'live' });
    } catch (error) {
      setCamera({ state: 'problem', problem: error instanceof CameraProblem ? error : new CameraProblem('unknown', String(error)) });
    }
  }

  /** No camera: a photo of the shopper stands in for it. */
  async function usePhoto(file: File) {
    if (!scene || !poseClient) return;
    loop?.stop();
    loop = undefined;
    stopStream(stream);
    stream = undefined;
    try {
      const bitmap = await createImageBitmap(file);
      const canvasStill = document.createElement('canvas');
      canvasStill.width = bitmap.width;
      canvasStill.height = bitmap.height;
      canvasStill.getContext('2d')?.drawImage(bitmap, 0, 0);
      bitmap.close();
      still = canvasStill;
      setAspect(canvasStill.width / canvasStill.height);
      scene.setSource(canvasStill);
      scene.setFrameSize(canvasStill.width, canvasStill.height);
      setCamera({ state: 'photo' });
      await poseClient.ready;
      const result = await poseClient.detect(await createImageBitmap(canvasStill), performance.now());
      const check = checkTorso(result.landmarks ?? undefined, canvasStill.width, canvasStill.height);
      scene.setPose(check.ok && result.landmarks ? result.landmarks : undefined);
      setPose(check.ok ? { tracking: true } : { tracking: false, reason: check.reason });
      renderStill();
    } catch (error) {
      setCamera({ state: 'problem', problem: new CameraProblem('unknown', `That photo could not be used (${(error as Error).message}).`) });
    }
  }

  async function takeSnap() {
    const key = garmentKey();
    if (!poseClient || !key || (camera().state !== 'live' && camera().state !== 'photo')) return;
    const current = snap().phase;
    if (current !== 'idle' && current !== 'queued' && current !== 'failed') return;
    try {
      if (timer()) {
        for (let s = 3; s > 0; s--) {
          setSnap({ phase: 'countdown', seconds: s });
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
      setSnap({ phase: 'capturing' });
      await loop?.pause();
      const source = still ?? video;
      const captured = await captureFrame(source);
      const photoUrl = URL.createObjectURL(captured.blob);
      let landmarks: Awaited<ReturnType<typeof landmarksOf>>;
      try {
        landmarks = await landmarksOf(poseClient, captured);
      } finally {
        loop?.resume();
      }
      setSnap({ phase: 'uploading', fraction: 0 });
      const job = await submitSnap(session.api, {
        captured,
        landmarks,
        garmentKey: key,
        onProgress: (fraction) => setSnap({ phase: 'uploading', fraction }),
      });
      jobs.track(job);
      setSnap({ phase: 'queued', job, photoUrl });
    } catch (error) {
      loop?.resume();
      setSnap({ phase: 'failed', error: error as Error });
    }
  }

  onMount(() => {
    scene = createMirrorScene(canvas);
    poseClient = createPoseClient();
    poseClient.ready.then(
      () => setModel('ready'),
      (error: Error) => setModel(error),
    );
    const resize = new ResizeObserver(() => {
      scene?.resize(canvas.clientWidth, canvas.clientHeight);
      renderStill();
    });
    resize.observe(canvas);
    void startCamera();

    const keys = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement | null;
      if (e.metaKey || e.ctrlKey || e.altKey || target?.closest('input, textarea, select, [contenteditable]')) return;
      if (e.key === 's' || e.key === 'S') {
        e.preventDefault();
        void takeSnap();
      } else if (e.key === 'g' || e.key === 'G') {
        e.preventDefault();
        setGarmentHidden((h) => !h);
      }
    };
    window.addEventListener('keydown', keys);

    onCleanup(() => {
      window.removeEventListener('keydown', keys);
      resize.disconnect();
      loop?.stop();
      stopStream(stream);
      poseClient?.close();
      scene?.dispose();
      garmentAbort?.abort();
    });
  });

  createEffect(() => {
    scene?.setGarmentHidden(garmentHidden());
    renderStill();
  });

  // the chosen garment's cut-out, loaded for the preview whenever the choice changes
  createEffect(
    on(garmentKey, async (key) => {
      garmentAbort?.abort();
      if (!key) {
        scene?.setGarment(null);
        setGarment({ state: 'none' });
        return;
      }
      const abort = new AbortController();
      garmentAbort = abort;
      setGarment({ state: 'loading' });
      try {
        const url = await wardrobe.imageUrl(key);
        const cut = await loadGarmentCut(url, abort.signal);
        if (abort.signal.aborted) return;
        scene?.setGarment(cut);
        setGarment({ state: 'ready' });
        renderStill();
      } catch (error) {
        if (abort.signal.aborted) return;
        scene?.setGarment(null);
        setGarment({ state: 'problem', error: error as Error });
      }
    }),
  );

  const snapBusy = () => ['countdown', 'capturing', 'uploading', 'submitting'].includes(snap().phase);
  const canSnap = () => garment().state === 'ready' && model() === 'ready' && pose().tracking && !snapBusy();
  const snapHint = () => {
    if (garment().state !== 'ready') return 'Choose a garment first';
    if (model() !== 'ready') return 'The pose model is loading';
    if (!pose().tracking) return 'Stand so your shoulders and hips are in view';
    return 'Snap (S)';
  };
  const poseText = () => {
    const p = pose();
    if (p.tracking) return 'Tracking your pose';
    return p.reason === 'starting' || p.reason === 'no pose' ? 'Step into view: shoulders and hips' : `Adjust your pose: ${p.reason}`;
  };
  const cameraProblem = () => {
    const c = camera();
    return c.state === 'problem' ? c.problem : undefined;
  };
  const garmentProblem = () => {
    const g = garment();
    return g.state === 'problem' ? g.error : undefined;
  };
  const countdown = () => {
    const s = snap();
    return s.phase === 'countdown' ? s.seconds : undefined;
  };
  const uploading = () => {
    const s = snap();
    return s.phase === 'uploading' ? s.fraction : undefined;
  };
  const queued = () => {
    const s = snap();
    return s.phase === 'queued' ? s : undefined;
  };
  const snapFailure = () => {
    const s = snap();
    return s.phase === 'failed' ? s.error : undefined;
  };
  const jobOf = () => {
    const s = snap();
    return s.phase === 'queued' ? jobs.job(s.job.job_id) : undefined;
  };

  return (
    <section class="page mirror-page" aria-labelledby="mirror-title">
      <div class="page-head">
        <h1 id="mirror-title">Mirror</h1>
        <p class="lede">Your garment, on you, live. When it looks right, Snap for the photoreal try-on.</p>
      </div>

      <Show when={garment().state === 'none'}>
        <Notice
          tone="info"
          title="No garment chosen"
          testid="no-garment-chosen"
          action={
            <Link href="/wardrobe" class="button small primary">
              Go to the wardrobe
            </Link>
          }
        >
          Pick or upload a garment in your wardrobe first.
        </Notice>
      </Show>
      <Show when={garmentProblem()}>
        {(error) => (
          <Notice tone="error" title={error() instanceof NoGarment ? 'No garment found' : 'The garment could not be loaded'} testid="garment-problem">
            {error().message}
          </Notice>
        )}
      </Show>
      <Show when={model() instanceof Error}>
        <Notice
          tone="error"
          title="The pose model could not start"
          testid="model-problem"
          action={
            <button type="button" class="button small" onClick={() => location.reload()}>
              Reload
            </button>
          }
        >
          {(model() as Error).message}. The live preview needs it; your wardrobe and results still work.
        </Notice>
      </Show>

      <div class="mirror-layout">
        <div
          class="stage"
          ref={stage}
          style={{ 'aspect-ratio': String(aspect()), '--aspect': String(aspect()) }}
          data-testid="stage"
          data-camera={camera().state}
          data-model={model() instanceof Error ? 'error' : (model() as string)}
          data-pose={pose().tracking ? 'tracking' : 'lost'}
          data-garment={garment().state === 'ready' && pose().tracking && !garmentHidden() ? 'shown' : 'hidden'}
          data-fps={figures()?.fps.toFixed(1)}
          data-frame-p95={figures()?.frameP95Ms.toFixed(3)}
          data-frame-p50={figures()?.frameP50Ms.toFixed(3)}
          data-inference-ms={figures()?.inferenceP50Ms.toFixed(1)}
          data-inference-p95={figures()?.inferenceP95Ms.toFixed(1)}
          data-frames={figures()?.frames}
        >
          <video ref={video} class="source-video" playsinline muted autoplay />
          <canvas ref={canvas} class="stage-canvas" aria-label="Live preview: the camera, mirrored, with the garment on you" role="img" />
          <Show when={camera().state === 'starting'}>
            <div class="stage-overlay">
              <ProgressBar label="Starting the camera" />
              <span>Starting the camera…</span>
            </div>
          </Show>
          <Show when={cameraProblem()}>
            {(problem) => (
              <div class="stage-overlay stage-problem" data-testid="camera-problem" data-kind={problem().kind}>
                <strong>{problem().kind === 'denied' ? 'Camera blocked' : problem().kind === 'absent' ? 'No camera' : 'Camera unavailable'}</strong>
                <p>{problem().message}</p>
                <div class="row">
                  <button type="button" class="button" onClick={() => void startCamera()}>
                    Try again
                  </button>
                  <button type="button" class="button primary" onClick={() => photoInput.click()}>
                    Use a photo instead
                  </button>
                </div>
              </div>
            )}
          </Show>
          <Show when={camera().state === 'live' && model() === 'loading'}>
            <div class="stage-badge">Loading the pose model…</div>
          </Show>
          <Show when={(camera().state === 'live' || camera().state === 'photo') && model() === 'ready'}>
            <div class="stage-badge" classList={{ ok: pose().tracking }} aria-live="polite" data-testid="pose-status">
              {poseText()}
            </div>
          </Show>
          <Show when={countdown()}>
            {(seconds) => (
              <div class="countdown" aria-live="assertive">
                {seconds()}
              </div>
            )}
          </Show>
          <Show when={showStats() && figures()}>
            {(f) => (
              <dl class="stats" data-testid="stats">
                <dt>fps</dt>
                <dd>{f().fps.toFixed(0)}</dd>
                <dt>frame p95</dt>
                <dd>{f().frameP95Ms.toFixed(2)} ms</dd>
                <dt>pose</dt>
                <dd>{f().inferenceP50Ms.toFixed(0)} ms</dd>
              </dl>
            )}
          </Show>
        </div>

        <div class="controls">
          <button
            type="button"
            class="button primary snap"
            disabled={!canSnap()}
            onClick={() => void takeSnap()}
            title={snapHint()}
            data-testid="snap"
            aria-keyshortcuts="S"
          >
            <span aria-hidden="true">◉</span> Snap
          </button>
          <p class="hint">{snapHint()}</p>
          <label class="check">
            <input
              type="checkbox"
              checked={timer()}
              onChange={(e) => {
                setTimer(e.currentTarget.checked);
                localStorage.setItem(TIMER_KEY, e.currentTarget.checked ? '1' : '0');
              }}
            />{' '}
            3-second timer
          </label>
          <label class="check">
            <input
              type="checkbox"
              checked={!garmentHidden()}
              onChange={(e) => setGarmentHidden(!e.currentTarget.checked)}
              aria-keyshortcuts="G"
              data-testid="show-garment"
            />{' '}
            Show garment (G)
          </label>
          <label class="check">
            <input type="checkbox" checked={showStats()} onChange={(e) => setShowStats(e.currentTarget.checked)} /> Show performance
          </label>
          <button type="button" class="button ghost small" onClick={() => photoInput.click()}>
            Use a photo instead
          </button>
          <input
            ref={photoInput}
            data-testid="photo-input"
            type="file"
            accept="image/jpeg,image/png,image/webp"
            class="sr-only"
            tabIndex={-1}
            onChange={(e) => {
              const file = e.currentTarget.files?.[0];
              e.currentTarget.value = '';
              if (file) void usePhoto(file);
            }}
          />

          <div aria-live="polite" class="snap-status" data-testid="snap-status" data-phase={snap().phase}>
            <Show when={snap().phase === 'capturing'}>
              <p>Checking your pose…</p>
            </Show>
            <Show when={uploading() !== undefined}>
              <p>Uploading your photo…</p>
              <ProgressBar value={uploading()} label="Photo upload" />
            </Show>
            <Show when={snap().phase === 'submitting'}>
              <p>Sending the try-on…</p>
            </Show>
            <Show when={queued()}>
              {(q) => (
                <div class="snap-card" data-testid="snap-job" data-job={q().job.job_id} data-status={jobOf()?.status ?? 'queued'}>
                  <img src={q().photoUrl} alt="Your snap" />
                  <div>
                    <strong>Try-on {jobOf()?.status ?? 'queued'}</strong>
                    <Show when={jobOf()?.status === 'running' && jobOf()?.steps}>
                      <ProgressBar value={(jobOf()?.step ?? 0) / (jobOf()?.steps ?? 1)} label="Try-on progress" />
                    </Show>
                    <Show when={jobOf()?.status === 'failed'}>
                      <p class="bad-text">{jobOf()?.error}</p>
                    </Show>
                    <Link href="/results">See results</Link>
                  </div>
                </div>
              )}
            </Show>
            <Show when={snapFailure()}>
              {(error) => (
                <Notice tone={error() instanceof SnapProblem ? 'warning' : 'error'} title="Snap did not go through" testid="snap-error">
                  {error() instanceof ApiError || error() instanceof SnapProblem ? error().message : `Something went wrong (${error().message}).`}
                </Notice>
              )}
            </Show>
          </div>
        </div>
      </div>
    </section>
  );
}
