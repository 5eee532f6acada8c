"""Pillow work on input images: the visible proof that the emulator used what it was given.

Nothing here is a real model. Each operation is chosen so a test can tell, from the output file alone,
that the input went in: image-to-image blends the seed (or first reference) image into the rendered
picture, inpainting keeps the seed image outside the mask, background removal cuts the subject out
(transparent where the border colour reaches), and upscaling multiplies the size exactly.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

from PIL import Image, ImageChops, ImageDraw, ImageFilter

# Runware's image-inference reference: "strength ... Default: 0.8".
DEFAULT_STRENGTH = 0.8
# Upscale page: "The maximum size of the upscaled result is 4096x4096 pixels".
MAX_UPSCALED_SIDE = 4096
# A pixel within this distance (per channel) of the border colour counts as plain background.
BACKGROUND_TOLERANCE = 48
# The flood fill runs on a thumbnail this big (Pillow's fill is pure Python) and the mask is scaled up.
FLOOD_SIDE = 256
FOREGROUND, BACKGROUND, REACHED = 0, 255, 128


def input_weight(strength: float | None) -> float:
    """How much of the input shows in the output. Runware: "A lower value results in more influence from
    the original image", so strength 0 returns the input itself; even strength 1 keeps a quarter of it so
    the derivation stays visible."""
    value = DEFAULT_STRENGTH if strength is None else strength
    return 0.25 + 0.75 * (1.0 - value)


def apply_inputs(
    generated: Image.Image, first: Image.Image, strength: float | None, mask: Image.Image | None
) -> Image.Image:
    """Image-to-image / reference: blend ``first`` into ``generated``. Inpainting (``mask``): white mask
    areas get the blend, black areas keep the seed image untouched."""
    base = first.convert("RGB").resize(generated.size, Image.Resampling.LANCZOS)
    blended = Image.blend(generated.convert("RGB"), base, input_weight(strength))
    if mask is None:
        return blended
    area = mask.convert("L").resize(generated.size, Image.Resampling.NEAREST)
    return Image.composite(blended, base, area)


def _border_pixels(size: tuple[int, int]) -> list[tuple[int, int]]:
    width, height = size
    top = [(x, 0) for x in range(width)]
    bottom = [(x, height - 1) for x in range(width)]
    left = [(0, y) for y in range(1, height - 1)]
    right = [(width - 1, y) for y in range(1, height - 1)]
    return top + bottom + left + right


def _border_colour(image: Image.Image) -> tuple[int, int, int]:
    """The median colour along the border: the backdrop of a product photo."""
    pixels = [image.getpixel(point) for point in _border_pixels(image.size)]
    channels = zip(*pixels, strict=False)
    r, g, b = (int(statistics.median_low(channel)) for channel in list(channels)[:3])
    return r, g, b


def background_mask(image: Image.Image) -> Image.Image:
    """An ``L`` mask, 255 where a pixel is backdrop: close to the border colour *and* connected to the
    border (a white label on the product stays, the white around it goes)."""
    rgb = image.convert("RGB")
    small = rgb.copy()
    small.thumbnail((FLOOD_SIDE, FLOOD_SIDE))
    colour = _border_colour(small)
    difference = ImageChops.difference(small, Image.new("RGB", small.size, colour))
    channels = difference.split()
    distance = ImageChops.lighter(ImageChops.lighter(channels[0], channels[1]), channels[2])
    near = distance.point(lambda v: BACKGROUND if v <= BACKGROUND_TOLERANCE else FOREGROUND)
    for point in _border_pixels(near.size):
        if near.getpixel(point) == BACKGROUND:
            ImageDraw.floodfill(near, point, REACHED)
    reached = near.point(lambda v: 255 if v == REACHED else 0)
    return reached.resize(rgb.size, Image.Resampling.NEAREST)


def _rgba_setting(settings: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """``settings.rgba``: the removed background's colour; the alpha is a 0..1 float on Runware's page."""
    red, green, blue, alpha = settings.get("rgba", [255, 255, 255, 0])
    return int(red), int(green), int(blue), round(float(alpha) * 255)


def cut_out(image: Image.Image, settings: Mapping[str, Any]) -> Image.Image:
    """Remove the backdrop: RGBA with the subject opaque and the background as ``settings.rgba``
    (transparent by default), or just the mask with ``returnOnlyMask``."""
    alpha = ImageChops.invert(background_mask(image))
    if settings.get("postProcessMask"):
        alpha = alpha.filter(ImageFilter.MedianFilter(3))
    if settings.get("alphaMatting"):
        erode = int(settings.get("alphaMattingErodeSize", 10))
        alpha = alpha.filter(ImageFilter.MinFilter(min(2 * (erode // 4) + 1, 9))).filter(
            ImageFilter.GaussianBlur(1)
        )
    if settings.get("returnOnlyMask"):
        return alpha.convert("RGB")
    backdrop = Image.new("RGBA", image.size, _rgba_setting(settings))
    backdrop.paste(image.convert("RGBA"), mask=alpha)
    return backdrop


def upscaled_size(width: int, height: int, factor: int) -> tuple[int, int]:
    """The result's size: the input times ``factor``; an input too big for 4096x4096 is shrunk first
    (the page's example: 2048x2048 at 4x is reduced to 1024x1024, giving 4096x4096)."""
    largest = max(width, height) * factor
    if largest > MAX_UPSCALED_SIDE:
        scale = MAX_UPSCALED_SIDE / largest
        width, height = max(1, int(width * scale)), max(1, int(height * scale))
    return width * factor, height * factor


def upscale(image: Image.Image, factor: int) -> Image.Image:
    size = upscaled_size(image.width, image.height, factor)
    mode = "RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB"
    return image.convert(mode).resize(size, Image.Resampling.LANCZOS)
