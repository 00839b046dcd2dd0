/**
 * The fake camera's clip: a y4m file (what Chromium's --use-file-for-fake-video-capture plays,
 * in a loop) made from a still photo, every frame the same, so anything that changes on the
 * screen is the app's doing. Full-range BT.601 YUV 4:2:0 ("C420jpeg").
 */
import { writeFileSync } from 'node:fs';
import sharp from 'sharp';

export async function y4mFromImage(imagePath: string, outPath: string, { frames = 10, fps = 30 } = {}): Promise<{ width: number; height: number }> {
  const { data, info } = await sharp(imagePath).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  // 4:2:0 needs even sides
  const width = info.width - (info.width % 2);
  const height = info.height - (info.height % 2);
  const y = Buffer.alloc(width * height);
  const u = Buffer.alloc((width / 2) * (height / 2));
  const v = Buffer.alloc((width / 2) * (height / 2));
  const rgb = (px: number, py: number) => {
    const i = (py * info.width + px) * 3;
    return [data[i] as number, data[i + 1] as number, data[i + 2] as number] as const;
  };
  for (let py = 0; py < height; py++) {
    for (let px = 0; px < width; px++) {
      const [r, g, b] = rgb(px, py);
      y[py * width + px] = Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    }
  }
  for (let cy = 0; cy < height / 2; cy++) {
    for (let cx = 0; cx < width / 2; cx++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (const [dx, dy] of [
        [0, 0],
        [1, 0],
        [0, 1],
        [1, 1],
      ] as const) {
        const [pr, pg, pb] = rgb(cx * 2 + dx, cy * 2 + dy);
        r += pr / 4;
        g += pg / 4;
        b += pb / 4;
      }
      const clamp = (n: number) => Math.max(0, Math.min(255, Math.round(n)));
      u[cy * (width / 2) + cx] = clamp(-0.168736 * r - 0.331264 * g + 0.5 * b + 128);
      v[cy * (width / 2) + cx] = clamp(0.5 * r - 0.418688 * g - 0.081312 * b + 128);
    }
  }
  const frame = Buffer.concat([Buffer.from('FRAME\n'), y, u, v]);
  const header = Buffer.from(`YUV4MPEG2 W${width} H${height} F${fps}:1 Ip A1:1 C420jpeg\n`);
  writeFileSync(outPath, Buffer.concat([header, ...Array.from({ length: frames }, () => frame)]));
  return { width, height };
}
