/**
 * Why an input cannot be segmented: permanent, the caller's to fix. HTTP answers it as a
 * problem+json with the status below; the CloudEvent path turns it into `segment.failed` and
 * acknowledges the event (a retry would fail the same way). Anything else thrown is transient.
 */

export const rejectionStatus = {
  /** 0 bytes, or an image of 0 pixels */
  'image-empty': 400,
  /** more bytes than SEGMENT_MAX_BYTES */
  'image-too-large': 413,
  /** not a JPEG, PNG or WebP, or an unreadable header */
  'not-an-image': 415,
  /** the data stops before the image ends, or does not decode */
  'image-truncated': 422,
  /** more pixels than SEGMENT_MAX_PIXELS (checked from the header, before decoding) */
  'image-too-many-pixels': 422,
  /** the object named by the event does not exist */
  'image-not-found': 422,
  /** none (or too little) of the chosen garment classes in the photo */
  'no-garment': 422,
  /** no upper clothes or arms: nothing a try-on could repaint */
  'no-person': 422,
} as const;

export type RejectionReason = keyof typeof rejectionStatus;

export class SegmentRejected extends Error {
  constructor(
    readonly reason: RejectionReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'SegmentRejected';
  }

  get status(): number {
    return rejectionStatus[this.reason];
  }
}
