"""Draws the three product photos the product campaign starts from (run once; the PNGs are committed).

Each is a simple product on a plain light background, as a catalogue's packshots are: small enough to
keep in the repository (a few KB each), clear enough for background removal to have an outline to find.

    .venv/bin/python scripts/draw_products.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent.parent / "example_dags" / "data" / "products"
SIZE = 256
BACKGROUND = (242, 240, 236)


def mug(draw: ImageDraw.ImageDraw) -> None:
    draw.ellipse((62, 196, 194, 214), fill=(214, 210, 204))  # shadow
    draw.arc((146, 96, 206, 164), start=270, end=90, fill=(200, 60, 50), width=14)  # handle
    draw.rounded_rectangle((64, 70, 166, 206), radius=14, fill=(200, 60, 50))
    draw.ellipse((64, 60, 166, 84), fill=(168, 44, 38))
    draw.rectangle((78, 110, 150, 150), fill=(250, 246, 240))  # label


def bottle(draw: ImageDraw.ImageDraw) -> None:
    draw.ellipse((82, 214, 174, 230), fill=(214, 210, 204))
    draw.rectangle((112, 26, 144, 52), fill=(40, 40, 48))  # cap
    draw.polygon([(112, 52), (144, 52), (168, 90), (88, 90)], fill=(46, 120, 170))
    draw.rounded_rectangle((88, 86, 168, 222), radius=12, fill=(46, 120, 170))
    draw.rectangle((96, 130, 160, 170), fill=(236, 242, 246))


def lamp(draw: ImageDraw.ImageDraw) -> None:
    draw.ellipse((66, 214, 190, 232), fill=(214, 210, 204))
    draw.ellipse((76, 204, 180, 226), fill=(176, 140, 60))  # base
    draw.line((128, 214, 128, 120), fill=(176, 140, 60), width=8)  # stem
    draw.line((128, 120, 170, 80), fill=(176, 140, 60), width=8)  # arm
    draw.polygon([(132, 58), (200, 42), (214, 104), (150, 100)], fill=(46, 110, 80))  # shade
    draw.ellipse((160, 92, 190, 112), fill=(255, 226, 140))  # bulb


PRODUCTS = {"mug": mug, "bottle": bottle, "lamp": lamp}


def main() -> None:
    for name, paint in PRODUCTS.items():
        image = Image.new("RGB", (SIZE, SIZE), BACKGROUND)
        paint(ImageDraw.Draw(image))
        path = HERE / f"{name}.png"
        image.save(path, optimize=True)
        print(f"{path.name}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
