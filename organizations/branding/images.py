"""A logo upload turned into a PNG Gatehouse can serve safely.

The upload is decoded by Pillow (PNG, JPEG or WebP only: an SVG, an HTML page named .png or
anything else that does not decode as one of the three is refused), its size in bytes and in
pixels checked before and after decoding (a small file can claim an enormous canvas), then
drawn again into a fresh PNG: metadata, comments, trailing bytes and any polyglot content are
left behind, and what is served is always an image/png Gatehouse wrote itself.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from config.refusals import Refusal

MAX_BYTES = 512 * 1024
# Checked against the header before any pixel is decoded: a "decompression bomb" (a tiny file
# claiming, say, 50,000 x 50,000 pixels) is refused without the memory it would cost.
MAX_SIDE = 4096
MAX_PIXELS = 4096 * 4096
# What is kept: a logo is drawn at most a few hundred pixels wide.
STORED_SIDE = 512
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")

TOO_MANY_PIXELS = f"The logo has far too many pixels: keep it under {MAX_SIDE} pixels a side."
NOT_AN_IMAGE = "The logo must be a PNG, JPEG or WebP image. SVG and other files are not accepted."


@dataclass(frozen=True)
class CleanLogo:
    png: bytes
    sha256: str
    width: int
    height: int


def clean_logo(data: bytes) -> CleanLogo:
    """``data`` decoded, checked and re-encoded as a PNG at most ``STORED_SIDE`` pixels a side,
    or a ``Refusal`` that says what is wrong with it."""
    if not data:
        raise Refusal("Choose an image file for the logo.")
    if len(data) > MAX_BYTES:
        raise Refusal(f"The logo is too large: keep the file under {MAX_BYTES // 1024} KB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            _check_size(*opened.size)
            opened.load()
            image = ImageOps.exif_transpose(opened)
    except Refusal:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard, for canvases far past ours: refused before any pixel is decoded.
        raise Refusal(TOO_MANY_PIXELS) from None
    except UnidentifiedImageError:
        raise Refusal(NOT_AN_IMAGE) from None
    except (OSError, ValueError, SyntaxError, EOFError):  # truncated or corrupt
        raise Refusal("The logo image is damaged or incomplete. Export it again.") from None
    return _reencode(image)


def _check_size(width: int, height: int) -> None:
    if width < 1 or height < 1:
        raise Refusal(NOT_AN_IMAGE)
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise Refusal(
            f"The logo is {width} x {height} pixels: keep it under {MAX_SIDE} pixels a side."
        )


def _reencode(image: Image.Image) -> CleanLogo:
    mode = (
        "RGBA" if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info else "RGB"
    )
    pixels = image.convert(mode)
    pixels.thumbnail((STORED_SIDE, STORED_SIDE), Image.Resampling.LANCZOS)
    # A fresh image with the pixels only: no info dictionary, no ICC profile, no text chunks.
    fresh = Image.new(mode, pixels.size)
    fresh.paste(pixels)
    out = io.BytesIO()
    fresh.save(out, format="PNG", optimize=True)
    png = out.getvalue()
    return CleanLogo(
        png=png, sha256=hashlib.sha256(png).hexdigest(), width=fresh.width, height=fresh.height
    )
