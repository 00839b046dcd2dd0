/**
 * Whether a try-on waits for a person mask (#6). CatVTON repaints the region a mask of the person
 * marks, so a try-on without one asks the segment function for it (`purpose: person-mask`) and
 * is queued when it is made (lifecycle/release.ts), unless the request names a mask, the VTON
 * already holds one made from this very person photo, or the engine is `warp`, which needs none.
 * The worker builds a mask from the landmarks when none comes, so a failed mask costs quality,
 * never the try-on.
 */
import { keys } from '@proteus/eventing';
import type { SegmentWork, TryonWork } from './submit.ts';

/** What the target VTON holds, read with its ownership check: its person photo and that photo's mask. */
export interface VtonMask {
  personKey: string | null;
  maskKey: string | null;
}

export type MaskPlan =
  /** not a try-on, a mask given, or the warp engine: queued as it is */
  | { kind: 'none' }
  /** the VTON's mask was made from the same (verified) person photo */
  | { kind: 'reuse'; maskKey: string }
  /** a segmentation job makes the mask first; the try-on waits for it */
  | { kind: 'wait' };

export function planMask(work: SegmentWork | TryonWork, vton: VtonMask | undefined): MaskPlan {
  if (work.kind !== 'tryon' || work.maskKey !== undefined || work.engine === 'warp') return { kind: 'none' };
  // VTONs hold verified keys; the request may name the upload
  if (vton?.maskKey && vton.personKey === keys.verifiedObjectKey(work.personKey)) return { kind: 'reuse', maskKey: vton.maskKey };
  return { kind: 'wait' };
}
