"""Which imageInference models take which image inputs, as Runware's provider pages state it.

The client's catalog (``catalog/image_models.py``) says nothing about inputs yet and belongs to the
client side, so the emulator keeps its own small table. Each entry names the page it was read from.
Models not listed get the generic rules of the image-inference reference (seedImage, maskImage and
strength accepted, any number of referenceImages): an emulator that refused what Runware may accept would
hide client bugs behind false errors.
"""

from __future__ import annotations

from dataclasses import dataclass

PROVIDERS = "https://runware.ai/docs/en/providers"
REFERENCE = "https://runware.ai/docs/en/image-inference/api-reference"


@dataclass(frozen=True)
class InputSupport:
    """The inputs one model takes. ``reference_images`` is the most it accepts (``None``: no limit
    known, 0: not supported). ``size_from_reference``: the page says width/height are ignored and the
    output follows the reference image, so they may be left out."""

    seed_image: bool
    mask_image: bool
    reference_images: int | None
    source_url: str
    size_from_reference: bool = False

    @property
    def takes_any(self) -> bool:
        return self.seed_image or self.mask_image or self.reference_images != 0


def _text_only(page: str) -> InputSupport:
    return InputSupport(False, False, 0, f"{PROVIDERS}/{page}")


def _references(page: str, most: int, size_from_reference: bool = False) -> InputSupport:
    return InputSupport(False, False, most, f"{PROVIDERS}/{page}", size_from_reference)


GENERIC = InputSupport(True, True, None, f"{REFERENCE}#request-seedimage")

SUPPORT: dict[str, InputSupport] = {
    # "Supported workflows: Text-to-image."
    "openai:2@2": _text_only("openai"),
    "openai:2@3": _text_only("openai"),
    "google:1@1": _text_only("google"),
    "google:1@2": _text_only("google"),
    "google:2@1": _text_only("google"),
    "google:2@2": _text_only("google"),
    "google:2@3": _text_only("google"),
    "bfl:1@1": _text_only("bfl"),
    "bfl:2@1": _text_only("bfl"),
    "bfl:2@2": _text_only("bfl"),
    # Gemini Flash Image 2.5: "Supports up to 8 images via referenceImages"; image-to-image "Automatically
    # matches reference image aspect ratio (width/height parameters ignored)".
    "google:4@1": _references("google", 8, size_from_reference=True),
    # Seedream 4.0: "Supports up to 14 images via referenceImages". SeedEdit 3.0: "1 image (required)".
    "bytedance:5@0": _references("bytedance", 14),
    "bytedance:4@1": _references("bytedance", 1, size_from_reference=True),
    # FLUX.1 Kontext [pro] / [max]: "Supports referenceImages with 2 images".
    "bfl:3@1": _references("bfl", 2),
    "bfl:4@1": _references("bfl", 2),
    # FLUX.1 Fill Pro: inpainting, "Seed image: Required. Mask image: Required."
    "bfl:1@2": InputSupport(True, True, 0, f"{PROVIDERS}/bfl"),
    # FLUX.1 Expand / Canny / Depth Pro: "Seed image: Required".
    "bfl:1@3": InputSupport(True, False, 0, f"{PROVIDERS}/bfl"),
    "bfl:1@4": InputSupport(True, False, 0, f"{PROVIDERS}/bfl"),
    "bfl:1@5": InputSupport(True, False, 0, f"{PROVIDERS}/bfl"),
}


def support_of(model: str) -> InputSupport:
    return SUPPORT.get(model, GENERIC)
