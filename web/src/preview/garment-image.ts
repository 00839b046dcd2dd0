/**
 * The cleaned garment for the preview: its PNG fetched from storage (CORS, so WebGL may use
 * it), decoded, and cropped to its source rectangle (alpha-box.ts). A cut-out with no visible
 * pixel is "no garment found".
 */
import { alphaBox } from './alpha-box.ts';
import { cropGarment } from './scene.ts';

export class NoGarment extends Error {
  override name = 'NoGarment';
}

export async function loadGarmentCut(url: string, signal?: AbortSignal): Promise<HTMLCanvasElement> {
  const response = await fetch(url, signal ? { signal } : {});
  if (!response.ok) throw new Error(`the garment image could not be loaded (${response.status})`);
  const bitmap = await createImageBitmap(await response.blob(), { premultiplyAlpha: 'none' });
  try {
    const canvas = document.createElement('canvas');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    const context = canvas.getContext('2d', { willReadFrequently: true });
    if (!context) throw new Error('this browser cannot read images');
    context.drawImage(bitmap, 0, 0);
    const box = alphaBox(context.getImageData(0, 0, bitmap.width, bitmap.height).data, bitmap.width, bitmap.height);
    if (!box) throw new NoGarment('No garment found in this cut-out: it is fully transparent. Try another photo of the garment.');
    return cropGarment(canvas, box);
  } finally {
    bitmap.close();
  }
}
