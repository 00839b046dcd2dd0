/**
 * Why an image was refused. It is a Problem, so a route that lets it escape answers
 * problem+json with the stable type `https://proteus.dev/problems/<slug>`.
 */
import { Problem, problem } from '@proteus/common';

export const imageProblems = {
  'image-not-found': { status: 404, title: 'Image not found' },
  'image-empty': { status: 422, title: 'Image is empty' },
  'image-too-large': { status: 413, title: 'Image too large' },
  'image-type-mismatch': { status: 422, title: 'Image type does not match' },
  'not-an-image': { status: 422, title: 'Not an image' },
  'image-too-many-pixels': { status: 422, title: 'Image has too many pixels' },
  'image-truncated': { status: 422, title: 'Image data is truncated or corrupt' },
} as const;

export type ImageProblemSlug = keyof typeof imageProblems;

export class ImageRejected extends Problem {
  constructor(
    readonly slug: ImageProblemSlug,
    detail: string,
  ) {
    const { status, title } = imageProblems[slug];
    super(problem(status, slug, title, { detail }).details);
    this.name = 'ImageRejected';
  }
}
