"""Reading image files for encoders: fully decoded RGB, or an error that names the file."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, UnidentifiedImageError

from culturecart.encoders.base import ImageReadError


def load_rgb(path: str | Path) -> Image.Image:
    """Open, fully decode and convert to RGB; raise :class:`ImageReadError` naming the file otherwise."""
    p = Path(path)
    if not p.exists():
        raise ImageReadError(f"image file {p} does not exist")
    try:
        with Image.open(p) as img:
            img.load()  # decode now: truncated files fail here, not later inside a model
            return img.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageReadError(f"image file {p} cannot be decoded: {type(exc).__name__}: {exc}") from exc
