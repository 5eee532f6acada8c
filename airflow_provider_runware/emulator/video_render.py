"""Real, small video files for the emulator's ``videoInference``: encoded with PyAV (FFmpeg).

Every video is :data:`CLIP_SECONDS` long at :data:`FPS` frames per second, whatever duration was asked
for (the duration still decides the price): tests decode whole files, so they stay tiny. The frame size
keeps the requested aspect ratio, scaled down so the longer side is at most :data:`MAX_SIDE` (even
numbers, as H.264's 4:2:0 sampling needs). The first frame is the ``first`` frame image when one is given
(the last frame the ``last`` one); otherwise every frame derives from the seed and the prompt only, so
the same request gives the same pictures.

MP4 and MOV carry H.264 (``libx264``, which the PyAV wheels bundle; MPEG-4 Part 2 when a build lacks
it), WEBM carries VP8 (``libvpx``).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, cast

import av
from PIL import Image, ImageDraw, ImageOps

from airflow_provider_runware.emulator.render import render_picture

if TYPE_CHECKING:
    from av.video.stream import VideoStream

CLIP_SECONDS = 2
FPS = 10
MAX_SIDE = 320
DEFAULT_SIZE = (1280, 720)


@dataclass(frozen=True)
class VideoFormat:
    """How one Runware video ``outputFormat`` maps onto an FFmpeg container, codecs and HTTP."""

    container: str
    codecs: tuple[str, ...]
    extension: str
    media_type: str


VIDEO_FORMATS: dict[str, VideoFormat] = {
    "MP4": VideoFormat("mp4", ("libx264", "mpeg4"), "mp4", "video/mp4"),
    "MOV": VideoFormat("mov", ("libx264", "mpeg4"), "mov", "video/quicktime"),
    "WEBM": VideoFormat("webm", ("libvpx", "libvpx-vp9"), "webm", "video/webm"),
}
VIDEO_EXTENSIONS = {fmt.extension: fmt for fmt in VIDEO_FORMATS.values()}


@lru_cache(maxsize=8)
def encoder_for(output_format: str) -> str:
    """The first of the format's codecs this PyAV build can encode with."""
    for name in VIDEO_FORMATS[output_format].codecs:
        try:
            av.codec.Codec(name, "w")
        except (av.codec.codec.UnknownCodecError, ValueError):
            continue
        return name
    raise RuntimeError(
        f"PyAV has no encoder for {output_format}: tried {VIDEO_FORMATS[output_format].codecs}"
    )


def frame_size(width: int | None, height: int | None, picture: Image.Image | None = None) -> tuple[int, int]:
    """The encoded size: the requested (or the frame image's, or 16:9) aspect, longer side <= MAX_SIDE."""
    if width and height:
        source = (width, height)
    elif picture is not None:
        source = picture.size
    else:
        source = DEFAULT_SIZE
    scale = min(1.0, MAX_SIDE / max(source))
    return tuple(max(2, int(side * scale) // 2 * 2) for side in source)  # type: ignore[return-value]


def _quality_options(codec: str, quality: int) -> dict[str, object]:
    """outputQuality 20..99 as the encoder's constant-quality knob (higher quality, lower number)."""
    if codec == "libx264":
        return {"preset": "ultrafast", "crf": str(max(0, min(51, round(51 - quality / 2))))}
    if codec.startswith("libvpx"):
        return {"crf": str(max(4, min(63, round(63 - quality * 0.6)))), "b:v": "1M", "deadline": "realtime"}
    return {"qscale": str(max(1, min(31, round(31 - quality * 0.3))))}


def scene(seed: int, prompt: str, size: tuple[int, int], count: int) -> list[Image.Image]:
    """``count`` frames from the seed and prompt: a still picture with a disc crossing it."""
    background = render_picture(seed=seed, width=size[0], height=size[1], prompt=prompt)
    return _animate(background, random.Random(seed), count)


def _animate(background: Image.Image, rng: random.Random, count: int) -> list[Image.Image]:
    width, height = background.size
    radius = max(2, min(width, height) // 8)
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    y = rng.randrange(radius, max(radius + 1, height - radius))
    frames = []
    for index in range(count):
        frame = background.copy()
        if index:  # the first frame is the background alone (a frame image, when one was given)
            x = int(index * width / count)
            ImageDraw.Draw(frame).ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
        frames.append(frame)
    return frames


def frames_for(
    seed: int,
    prompt: str,
    size: tuple[int, int],
    first: Image.Image | None = None,
    last: Image.Image | None = None,
) -> list[Image.Image]:
    """The clip's frames; a ``first`` (``last``) frame image becomes the first (last) frame exactly."""
    count = CLIP_SECONDS * FPS
    if first is not None:
        frames = _animate(ImageOps.fit(first.convert("RGB"), size), random.Random(seed), count)
    else:
        frames = scene(seed, prompt, size, count)
    if last is not None:
        frames[-1] = ImageOps.fit(last.convert("RGB"), size)
    return frames


def encode_video(frames: list[Image.Image], output_format: str, quality: int = 95) -> bytes:
    """The frames as a file of ``output_format`` (MP4, MOV or WEBM) at :data:`FPS`."""
    fmt = VIDEO_FORMATS[output_format]
    codec = encoder_for(output_format)
    width, height = frames[0].size
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt.container) as container:
        stream = cast("VideoStream", container.add_stream(codec, rate=FPS))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.options = _quality_options(codec, quality)
        for picture in frames:
            for packet in stream.encode(av.VideoFrame.from_image(picture.convert("RGB"))):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
