"""Opening image files safely: a pixel limit against decompression bombs, a full decode, clear errors.

A PNG of a few kilobytes can declare 15000 x 15000 pixels and take gigabytes to decode, and a path can name
``/dev/zero`` or a named pipe. Every image culturecart reads (validation, encoders, matching, content keys) goes
through :func:`checked_image_path` (a regular file of at most :data:`MAX_IMAGE_BYTES`), then
:func:`read_image_bytes` or :func:`open_image`, which refuses images above :data:`MAX_IMAGE_PIXELS` from their
header alone, before decoding anything.

Example:
    >>> import io, tempfile, pathlib
    >>> from PIL import Image
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ok.png"
    >>> Image.new("RGB", (4, 3)).save(path)
    >>> open_image(path).size
    (4, 3)
    >>> image_problem(path.with_name("missing.png"))
    'image file does not exist'
"""

from __future__ import annotations

import re
import stat
import warnings
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# 40 megapixels: larger than any product photo or camera image in these datasets (a 7952 x 5304
# full-frame photo is 42 Mpx: downscale such files first); an RGB decode of that size needs ~120 MB.
MAX_IMAGE_PIXELS = 40_000_000


class ImageFileError(ValueError):
    """An image file that is missing, too large or not decodable; the message says which and why."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"image file {path}: {reason}")
        self.path, self.reason = path, reason


MAX_IMAGE_BYTES = 200 * 1024 ** 2  # far above any photo file; a device or a huge file is not an image


def checked_image_path(path: str | Path) -> Path:
    """``path`` when it is a regular file of at most :data:`MAX_IMAGE_BYTES`; :class:`ImageFileError` otherwise
    (missing, a folder, a device such as ``/dev/zero``, a named pipe that would block forever, a huge file)."""
    p = Path(path)
    try:
        info = p.stat()
    except OSError:
        raise ImageFileError(p, "image file does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a named pipe" if stat.S_ISFIFO(info.st_mode) else \
            "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else "not a regular file"
        raise ImageFileError(p, f"not a file ({kind})")
    if info.st_size > MAX_IMAGE_BYTES:
        raise ImageFileError(p, f"{info.st_size:,} bytes, above the limit of {MAX_IMAGE_BYTES:,} for an image file")
    return p


def read_image_bytes(path: str | Path) -> bytes:
    """The bytes of an image file that passes :func:`checked_image_path` (for content hashes)."""
    p = checked_image_path(path)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise ImageFileError(p, f"cannot be read ({type(exc).__name__}: {exc})") from None


def open_image(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> Image.Image:
    """The fully decoded image at ``path``; :class:`ImageFileError` when it is missing, not a regular file, too
    large or broken."""
    p = checked_image_path(path)
    try:
        with warnings.catch_warnings():
            # PIL warns, then errors, at its own (global, mutable) limit; ours is checked just below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(p) as img:
                width, height = img.size
                if width * height > max_pixels:
                    raise ImageFileError(p, f"image declares {width} x {height} = {width * height:,} pixels, above "
                                            f"the limit of {max_pixels:,} pixels (a decompression bomb or an "
                                            "oversized photo)")
                img.load()  # full decode: verify() alone misses truncated pixel data
                return img.copy()
    except Image.DecompressionBombError as exc:  # PIL refuses sizes far above its own limit before we see them
        found = re.search(r"\((\d+) pixels\)", str(exc))
        declared = f"{int(found.group(1)):,} pixels" if found else "far more pixels than PIL allows"
        raise ImageFileError(p, f"image declares {declared}, above the limit of {max_pixels:,} pixels "
                                "(a decompression bomb or an oversized photo)") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        if isinstance(exc, ImageFileError):
            raise
        raise ImageFileError(p, f"image cannot be decoded ({type(exc).__name__}: {exc})") from None


def image_problem(path: str | Path, max_pixels: int = MAX_IMAGE_PIXELS) -> str | None:
    """Why ``path`` is not a usable image, or None when it decodes fully within the pixel limit."""
    try:
        open_image(path, max_pixels)
    except ImageFileError as err:
        return err.reason
    return None
