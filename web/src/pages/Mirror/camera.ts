/**
 * The front camera, and what to tell the shopper when there is none: getUserMedia's errors
 * name the cause (denied, absent, busy, an insecure page) and each gets its own words.
 */

export type CameraProblemKind = 'denied' | 'absent' | 'busy' | 'insecure' | 'unknown';

export class CameraProblem extends Error {
  override name = 'CameraProblem';
  constructor(
    readonly kind: CameraProblemKind,
    message: string,
  ) {
    super(message);
  }
}

export function cameraProblemOf(error: unknown): CameraProblem {
  const name = (error as { name?: string } | undefined)?.name ?? '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return new CameraProblem('denied', 'Camera access is blocked. Allow the camera for this site in your browser’s address bar, then try again.');
    case 'NotFoundError':
    case 'DevicesNotFoundError':
    case 'OverconstrainedError':
      return new CameraProblem('absent', 'No camera was found. Connect one, or use a photo of yourself instead.');
    case 'NotReadableError':
    case 'TrackStartError':
    case 'AbortError':
      return new CameraProblem('busy', 'The camera is in use by another app, or could not start. Close other apps using it and try again.');
    default:
      return new CameraProblem('unknown', `The camera could not start${error instanceof Error && error.message ? ` (${error.message})` : ''}.`);
  }
}

export async function openCamera(mediaDevices: MediaDevices | undefined = navigator.mediaDevices): Promise<MediaStream> {
  if (!mediaDevices?.getUserMedia) {
    throw new CameraProblem('insecure', 'This page cannot use a camera: open it over HTTPS (or on localhost), in a current browser.');
  }
  try {
    return await mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: 'user', width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 60 } },
    });
  } catch (error) {
    throw cameraProblemOf(error);
  }
}

export function stopStream(stream: MediaStream | undefined): void {
  for (const track of stream?.getTracks() ?? []) track.stop();
}
