"""Pillow rendering of stand-in images: exact size and format, and byte-identical for the same seed.

Tests check dimensions and formats with Pillow and compare bytes across runs, so everything drawn
derives from the seed (and the prompt text) only: no clock, no randomness from the process.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, ImageOps, features


@dataclass(frozen=True)
class ImageFormat:
    """How one Runware ``outputFormat`` maps onto Pillow, HTTP and file names."""

    pillow_name: str
    extension: str
    media_type: str


FORMATS: dict[str, ImageFormat] = {
    "JPG": ImageFormat("JPEG", "jpg", "image/jpeg"),
    "PNG": ImageFormat("PNG", "png", "image/png"),
    "WEBP": ImageFormat("WEBP", "webp", "image/webp"),
}
EXTENSIONS = {fmt.extension: fmt for fmt in FORMATS.values()}

Colour = tuple[int, int, int]


def _colour(rng: random.Random) -> Colour:
    return (rng.randrange(256), rng.randrange(256), rng.randrange(256))


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if features.check("freetype2"):
        return ImageFont.load_default(size=size)
    return ImageFont.load_default()


def _background(rng: random.Random, width: int, height: int) -> Image.Image:
    gradient = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270)))
    return ImageOps.colorize(gradient.resize((width, height)), _colour(rng), _colour(rng))


def _shapes(draw: ImageDraw.ImageDraw, rng: random.Random, width: int, height: int) -> None:
    for _ in range(rng.randint(3, 6)):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        x1 = min(width, x0 + rng.randint(width // 8, width // 2))
        y1 = min(height, y0 + rng.randint(height // 8, height // 2))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=_colour(rng), outline=(0, 0, 0))


def _caption(draw: ImageDraw.ImageDraw, prompt: str, seed: int, width: int, height: int) -> None:
    """The prompt's first words and the seed, bottom left, so a human can tell images apart."""
    font = _font(max(10, width // 24))
    margin = max(4, width // 64)
    y = float(height - margin)
    for line in (f"seed {seed}", " ".join(prompt.split()[:4])):
        left, top, right, bottom = draw.textbbox((0, 0), line, font=font)
        y -= bottom - top + margin // 2
        draw.rectangle((margin + left, y + top, margin + right, y + bottom), fill=(0, 0, 0))
        draw.text((margin, y), line, fill=(255, 255, 255), font=font)


def render_image(
    *, seed: int, width: int, height: int, output_format: str, quality: int, prompt: str
) -> bytes:
    """Encode a ``width`` x ``height`` picture in ``output_format`` (JPG, PNG or WEBP)."""
    image = render_picture(seed=seed, width=width, height=height, prompt=prompt)
    return encode(image, output_format, quality)


def render_picture(*, seed: int, width: int, height: int, prompt: str) -> Image.Image:
    """The stand-in picture itself, for callers that change it before encoding (image inputs)."""
    rng = random.Random(seed)
    image = _background(rng, width, height)
    draw = ImageDraw.Draw(image)
    _shapes(draw, rng, width, height)
    _caption(draw, prompt, seed, width, height)
    return image


def encode(image: Image.Image, output_format: str, quality: int) -> bytes:
    """Encode ``image`` as ``output_format``. Only PNG keeps an alpha channel: Runware's background-removal
    page says transparency is removed for the other formats, so they are flattened onto white."""
    fmt = FORMATS[output_format]
    if fmt.pillow_name != "PNG" and image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    buffer = io.BytesIO()
    if fmt.pillow_name == "PNG":
        image.save(buffer, format="PNG")
    else:
        image.save(buffer, format=fmt.pillow_name, quality=quality)
    return buffer.getvalue()
