import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, sniffFormat } from './decode.ts';
import { SegmentRejected } from './rejected.ts';

const limits = { maxBytes: 1_000_000, maxPixels: 1_000_000 };

async function refusal(bytes: Uint8Array, given = limits): Promise<SegmentRejected> {
  try {
    await decodeImage(bytes, given);
  } catch (error) {
    if (error instanceof SegmentRejected) return error;
    throw error;
  }
  throw new Error('decoded');
}

const solid = (width: number, height: number, channels: 3 | 4 = 3) =>
  sharp({ create: { width, height, channels, background: channels === 4 ? { r: 200, g: 10, b: 10, alpha: 0 } : { r: 200, g: 10, b: 10 } } });

describe('decodeImage', () => {
  it('decodes JPEG, PNG and WebP to upright 3-channel RGB', async () => {
    for (const [format, bytes] of [
      ['jpeg', await solid(30, 20).jpeg().toBuffer()],
      ['png', await solid(30, 20).png().toBuffer()],
      ['webp', await solid(30, 20).webp({ lossless: true }).toBuffer()],
    ] as const) {
      const image = await decodeImage(bytes, limits);
      expect(image).toMatchObject({ format, width: 30, height: 20 });
      expect(image.data.length).toBe(30 * 20 * 3);
    }
  });

  it('applies the EXIF orientation (a portrait shot stored sideways comes out portrait)', async () => {
    const sideways = await solid(40, 20).jpeg().withMetadata({ orientation: 6 }).toBuffer();
    expect(await decodeImage(sideways, limits)).toMatchObject({ width: 20, height: 40 });
  });

  it('flattens transparency on white and widens greyscale to RGB', async () => {
    const transparent = await decodeImage(await solid(4, 4, 4).png().toBuffer(), limits);
    expect([...transparent.data.subarray(0, 3)]).toEqual([255, 255, 255]);
    const grey = await decodeImage(await solid(4, 4).greyscale().png().toBuffer(), limits);
    expect(grey.data.length).toBe(4 * 4 * 3);
  });

  it('refuses 0 bytes: image-empty', async () => {
    expect((await refusal(new Uint8Array())).message).toBe('image-empty: the image has 0 bytes');
  });

  it('refuses more bytes than the limit before looking at them: image-too-large', async () => {
    const bytes = await solid(30, 20).png().toBuffer();
    expect((await refusal(bytes, { ...limits, maxBytes: 10 })).message).toBe(`image-too-large: ${bytes.length} bytes, at most 10`);
  });

  it('refuses what is not a JPEG, PNG or WebP: not-an-image', async () => {
    const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00\x00;', 'latin1');
    for (const bytes of [Buffer.from('hello, I am text'), gif, Buffer.from('{"imageKey":"x"}')]) {
      expect((await refusal(bytes)).reason).toBe('not-an-image');
    }
  });

  it('refuses a PNG signature over a broken header: not-an-image', async () => {
    const png = await solid(30, 20).png().toBuffer();
    expect((await refusal(png.subarray(0, 12))).message).toMatch(/^not-an-image: unreadable png header/);
  });

  it('refuses too many pixels from the header, before decoding: image-too-many-pixels', async () => {
    // 5000x5000 of one colour: a few KB that would decode to 75 MB
    const bomb = await solid(5000, 5000).png({ compressionLevel: 9 }).toBuffer();
    expect(bomb.length).toBeLessThan(100_000);
    expect((await refusal(bomb)).message).toBe('image-too-many-pixels: 5000x5000 = 25000000 pixels, at most 1000000');
  });

  it('refuses truncated data: image-truncated', async () => {
    const noisy = await sharp(Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 256)), { raw: { width: 64, height: 64, channels: 3 } })
      .jpeg()
      .toBuffer();
    expect((await refusal(noisy.subarray(0, Math.floor(noisy.length / 2)))).reason).toBe('image-truncated');
    const png = await sharp(Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 256)), { raw: { width: 64, height: 64, channels: 3 } })
      .png()
      .toBuffer();
    expect((await refusal(png.subarray(0, png.length - 200))).reason).toBe('image-truncated');
  });

  it('refuses a header that declares 0x0 pixels (libpng rejects it as corrupt): not-an-image', async () => {
    const png = Buffer.from(await solid(1, 1).png().toBuffer());
    png.writeUInt32BE(0, 16);
    png.writeUInt32BE(0, 20);
    expect((await refusal(png)).message).toMatch(/^not-an-image: unreadable png header: .*corrupt header/);
  });
});

describe('sniffFormat', () => {
  it('names the format by its magic bytes only', () => {
    expect(sniffFormat(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
    expect(sniffFormat(Buffer.from('RIFF\0\0\0\0WEBPVP8 '))).toBe('webp');
    expect(sniffFormat(Buffer.from('RIFF\0\0\0\0WAVEfmt '))).toBeUndefined();
    expect(sniffFormat(new Uint8Array([0x89, 0x50]))).toBeUndefined();
  });
});
