"""Reading image files for encoders: fully decoded RGB, or an error that names the file."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from culturecart.data.image_file import ImageFileError, open_image
from culturecart.encoders.base import ImageReadError


def load_rgb(path: str | Path) -> Image.Image:
    """Open (within the pixel limit), fully decode and convert to RGB; :class:`ImageReadError` otherwise."""
    try:
        return open_image(path).convert("RGB")
    except ImageFileError as exc:
        raise ImageReadError(str(exc)) from exc
