"""Images for the branding tests, made here so that each test shows what it feeds in: a good
PNG (with a text chunk that must not survive), a JPEG and a WebP, and the bad ones: an SVG, an
HTML page named .png, a PNG with an HTML page appended (a polyglot), a header that claims a
50,000-pixel-wide canvas, and a file over the size limit."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image
from PIL.PngImagePlugin import PngInfo

SECRET = b"made-by-secret-tool-v9"


def png(size: tuple[int, int] = (64, 48), colour: tuple[int, ...] = (200, 30, 60, 255)) -> bytes:
    image = Image.new("RGBA", size, colour)
    info = PngInfo()
    info.add_text("Software", SECRET.decode())
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def jpeg() -> bytes:
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = SECRET.decode()  # ImageDescription
    Image.new("RGB", (40, 40), (10, 120, 200)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


def webp() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (30, 30), (0, 90, 0)).save(out, format="WEBP")
    return out.getvalue()


SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)
HTML_AS_PNG = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
POLYGLOT_TAIL = b"<html><script>alert(1)</script></html>"


def polyglot() -> bytes:
    return png() + POLYGLOT_TAIL


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A few hundred bytes whose header claims ``width`` x ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", rows)
        + _chunk(b"IEND", b"")
    )


def oversized() -> bytes:
    """A real PNG over the 512 KB limit (random pixels do not compress)."""
    import os

    image = Image.frombytes("RGB", (512, 400), os.urandom(512 * 400 * 3))
    out = io.BytesIO()
    image.save(out, format="PNG")
    assert len(out.getvalue()) > 512 * 1024
    return out.getvalue()
