"""Rendered product thumbnails.

What a thumbnail shows splits in two:

* the product's identity: a category shape, a colour and a pattern (shared by every listing of a
  product, so the matching task can find variants by image);
* the photo's appeal: the latent ``image_appeal`` sets lighting, background clutter, framing and
  sharpness. Appealing photos are bright, clean, centred, large and sharp; unappealing ones are
  dark, cluttered, small, off-centre and blurred. No table column carries the appeal.
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

PATTERNS = ("solid", "stripes", "dots")


def _shape(draw: ImageDraw.ImageDraw, category: str, box: tuple[float, float, float, float],
           fill: tuple[int, int, int], dark: tuple[int, int, int] | None = None) -> None:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    dark = dark or tuple(max(0, v - 70) for v in fill)
    if category == "electronics":  # headphones: band + two cups
        draw.arc((x0, y0, x1, y1 + h * 0.4), 180, 360, fill=dark, width=max(2, int(w * 0.08)))
        draw.rounded_rectangle((x0, y0 + h * 0.45, x0 + w * 0.3, y1), radius=w * 0.08, fill=fill)
        draw.rounded_rectangle((x1 - w * 0.3, y0 + h * 0.45, x1, y1), radius=w * 0.08, fill=fill)
    elif category == "fashion":  # t-shirt
        draw.polygon([(x0 + w * .3, y0), (x0 + w * .7, y0), (x1, y0 + h * .25), (x1 - w * .15, y0 + h * .4),
                      (x1 - w * .2, y0 + h * .3), (x1 - w * .2, y1), (x0 + w * .2, y1), (x0 + w * .2, y0 + h * .3),
                      (x0 + w * .15, y0 + h * .4), (x0, y0 + h * .25)], fill=fill)
    elif category == "beauty":  # jar with lid
        draw.rectangle((x0 + w * .15, y0 + h * .35, x1 - w * .15, y1), fill=fill)
        draw.rectangle((x0 + w * .1, y0 + h * .15, x1 - w * .1, y0 + h * .35), fill=dark)
    elif category == "home":  # lamp: shade, stem, base
        draw.polygon([(x0 + w * .25, y0), (x1 - w * .25, y0), (x1, y0 + h * .4), (x0, y0 + h * .4)], fill=fill)
        draw.rectangle((x0 + w * .45, y0 + h * .4, x0 + w * .55, y1 - h * .1), fill=dark)
        draw.rectangle((x0 + w * .25, y1 - h * .1, x1 - w * .25, y1), fill=dark)
    elif category == "kitchen":  # mug with handle
        draw.rectangle((x0 + w * .1, y0 + h * .15, x1 - w * .3, y1), fill=fill)
        draw.arc((x1 - w * .45, y0 + h * .3, x1, y1 - h * .25), 270, 90, fill=dark, width=max(2, int(w * .07)))
    elif category == "toys":  # car: body, cabin, wheels
        draw.rectangle((x0, y0 + h * .45, x1, y1 - h * .2), fill=fill)
        draw.rectangle((x0 + w * .25, y0 + h * .2, x1 - w * .25, y0 + h * .45), fill=fill)
        for cx in (x0 + w * .22, x1 - w * .22):
            draw.ellipse((cx - w * .12, y1 - h * .32, cx + w * .12, y1), fill=(30, 30, 30))
    elif category == "sports":  # ball with seams
        draw.ellipse(box, fill=fill)
        draw.line((x0 + w * .5, y0, x0 + w * .5, y1), fill=dark, width=max(1, int(w * .04)))
        draw.arc((x0 - w * .3, y0, x0 + w * .6, y1), 300, 60, fill=dark, width=max(1, int(w * .04)))
    else:  # stationery: notebook with spine
        draw.rectangle(box, fill=fill)
        draw.rectangle((x0, y0, x0 + w * .12, y1), fill=dark)


def _pattern(img: Image.Image, mask: Image.Image, pattern: str, colour: tuple[int, int, int]) -> Image.Image:
    if pattern == "solid":
        return img
    over = Image.new("RGB", img.size, tuple(255 - v for v in colour))
    pat = Image.new("L", img.size, 0)
    d = ImageDraw.Draw(pat)
    size = img.size[0]
    step = max(4, size // 10)
    if pattern == "stripes":
        for y in range(0, size, step):
            d.rectangle((0, y, size, y + step // 3), fill=255)
    else:
        for y in range(step // 2, size, step):
            for x in range(step // 2, size, step):
                d.ellipse((x - step // 5, y - step // 5, x + step // 5, y + step // 5), fill=255)
    pat = Image.fromarray(np.minimum(np.asarray(pat), np.asarray(mask)).astype(np.uint8))
    return Image.composite(over, img, pat)


def render_product(category: str, colour: tuple[int, int, int], pattern: str, appeal: float,
                   rng: np.random.Generator, size: int = 128, crop: float = 0.0,
                   hue_jitter: float = 0.0) -> Image.Image:
    """Render one listing photo. ``appeal`` (about N(0, 1)) drives photo quality; ``rng`` adds nuisance.

    ``crop`` (0-0.3) and ``hue_jitter`` (0-1) make re-photographed variants of the same product.
    """
    t = math.tanh(appeal)  # bounded style driver in (-1, 1)
    # Background: bright and plain when appealing, dark and tinted otherwise.
    base_level = int(np.clip(200 + 45 * t + rng.normal(0, 8), 60, 255))
    tint = rng.normal(0, 12 * (1 - t), 3)
    bg = tuple(int(np.clip(base_level + v, 0, 255)) for v in tint)
    img = Image.new("RGB", (size, size), bg)
    draw = ImageDraw.Draw(img)
    n_clutter = int(max(0.0, (1 - t) * 4 + rng.normal(0, 1)))
    for _ in range(n_clutter):  # clutter: random boxes behind the product
        cx, cy = rng.uniform(0, size, 2)
        r = rng.uniform(size * .05, size * .2)
        c = tuple(int(v) for v in rng.integers(40, 200, 3))
        draw.rectangle((cx - r, cy - r, cx + r * 1.5, cy + r), fill=c)
    scale = 0.6 + 0.18 * t + rng.normal(0, 0.03)
    off = (1 - t) * size * 0.12
    cx = size / 2 + rng.uniform(-off, off)
    cy = size / 2 + rng.uniform(-off, off)
    half = size * scale / 2
    box = (cx - half, cy - half, cx + half, cy + half)
    colour = _jitter(colour, hue_jitter, rng)
    mask = Image.new("RGB", img.size, (0, 0, 0))
    _shape(ImageDraw.Draw(mask), category, box, (255, 255, 255), dark=(255, 255, 255))
    mask = mask.convert("L")
    shape_layer = img.copy()
    _shape(ImageDraw.Draw(shape_layer), category, box, colour)
    shape_layer = _pattern(shape_layer, mask, pattern, colour)
    img = Image.composite(shape_layer, img, mask)
    img = ImageEnhance.Brightness(img).enhance(1.0 + 0.25 * t)
    img = ImageEnhance.Contrast(img).enhance(1.0 + 0.3 * t)
    img = ImageEnhance.Color(img).enhance(1.0 + 0.4 * t)
    blur = max(0.0, -t) * 1.8
    if blur > 0.05:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if crop > 0:
        c = int(size * crop)
        dx, dy = (int(v) for v in rng.integers(0, c + 1, 2))
        img = img.crop((dx, dy, size - c + dx, size - c + dy)).resize((size, size))
    return img


def _jitter(colour: tuple[int, int, int], amount: float, rng: np.random.Generator) -> tuple[int, int, int]:
    if amount <= 0:
        return colour
    noise = rng.normal(0, 25 * amount, 3)
    return tuple(int(np.clip(c + n, 0, 255)) for c, n in zip(colour, noise, strict=True))


def png_bytes(img: Image.Image) -> bytes:
    """Encode an image as PNG bytes."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False)
    return buf.getvalue()
