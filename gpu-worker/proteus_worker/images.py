"""
Decoding the images a job names, refusing what a client could use against the worker: bytes that
are not a JPEG, PNG or WebP image, headers announcing more pixels than the limit (checked before
a single pixel is decoded, so a pixel bomb costs nothing), and data that ends early.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from proteus_worker.engines.base import JobFailed

FORMATS = ("JPEG", "PNG", "WEBP")

# Our own limit (WORKER_MAX_IMAGE_PIXELS) is checked from the header before decoding; Pillow's
# warning for large-but-allowed images would only add noise.
warnings.simplefilter("ignore", Image.DecompressionBombWarning)


def decode_image(data: bytes, what: str, max_pixels: int, mode: str) -> Image.Image:
    """The image in `data`, upright (EXIF orientation applied) and converted to `mode`.

    `what` names the image in the JobFailed reason ("person photo users/u/person/p.jpg").
    """
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as error:
        raise JobFailed(f"{what} is a pixel bomb: {error}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as error:
        if "runcated" in str(error):  # the header itself is cut short
            raise JobFailed(f"{what} does not decode: the data is truncated ({error})") from None
        raise JobFailed(f"{what} is not a JPEG, PNG or WebP image ({error})") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > max_pixels:
        image.close()
        raise JobFailed(f"{what} is {width}x{height} = {width * height} pixels, at most {max_pixels}")
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise JobFailed(f"{what} does not decode: the {image.format} data is truncated or corrupt ({error})") from None
    if upright.mode != mode:
        if mode == "RGBA" and upright.mode not in ("RGBA", "LA", "P", "PA") and "transparency" not in upright.info:
            return upright.convert("RGB")  # the caller tells "no alpha" from the mode
        return upright.convert(mode)
    return upright
