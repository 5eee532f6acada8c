"""The video models Runware documents, as data: sizes, durations, frame rates, frame-image support and
prices, each entry naming the model page it was read from (``source_url``).

Read from the model pages ``https://runware.ai/docs/models/<slug>`` (their "Pricing" and "Compatibility &
Validation" sections) and, where a page's list of values was not readable, from the per-model value
lists runware-sdk 1.8.0 ships (:data:`SDK_TASK_MAP`, generated from Runware's own schemas); a comment
on the entry says so. A rule no source states is not invented: it stays ``None`` and only the generic
videoInference rules apply, as they do for every model this table does not know.

Prices are the pages' own figures. A page that prices per second (``$0.1/s``) gives a
:class:`PriceLine` with ``per_second=True``; a page that lists whole clips ("768p · 6s: $0.28") gives one
line per clip. An estimate takes the highest line that can apply, so it never undershoots; a request no
documented line covers has no estimate (``None``), as for an unknown model. Pure Python: imported when a
DAG file is parsed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MODEL_PAGES = "https://runware.ai/docs/models"
PROVIDER_PAGES = "https://runware.ai/docs/en/providers"
VIDEO_API_REFERENCE = "https://runware.ai/docs/en/video-inference/api-reference"
SDK_TASK_MAP = "runware-sdk 1.8.0 runware/types/task_map.py (Runware schemas v20261012233936)"

Size = tuple[int, int]
# Every model page read lists these three container formats ("MP4: H.264", "WEBM", "MOV"), and
# outputType with the single value URL; runware-sdk 1.8.0 types every videoInference model the same.
VIDEO_OUTPUT_FORMATS = ("MP4", "WEBM", "MOV")
VIDEO_OUTPUT_TYPES = ("URL",)
FRAME_POSITIONS = ("first", "last")


@dataclass(frozen=True)
class PriceLine:
    """One documented price: for ``resolution`` (a label of the model's size table, ``None`` = any),
    one clip of ``duration`` seconds, or every second when ``per_second``; ``audio`` says whether the line
    is the with-audio price (``None``: the page does not distinguish)."""

    usd: float
    resolution: str | None = None
    duration: float | None = None
    per_second: bool = False
    audio: bool | None = None

    def applies(self, resolution: str | None, duration: float | None, audio: bool | None) -> bool:
        if self.resolution is not None and self.resolution != resolution:
            return False
        if not self.per_second and self.duration is not None and duration != self.duration:
            return False
        return audio is None or self.audio is None or self.audio == audio

    def cost(self, duration: float | None) -> float | None:
        if not self.per_second:
            return self.usd
        return None if duration is None else round(self.usd * duration, 6)


@dataclass(frozen=True)
class VideoModelSpec:
    """What one video model's page says it takes. ``None`` means "not documented": no rule."""

    air_id: str
    name: str
    source_url: str
    # (width, height) -> resolution label as the page's dimension table names it ("1080p").
    sizes: Mapping[Size, str] | None = None
    durations: tuple[float, ...] | None = None
    # Sizes that allow fewer durations ("1920x1080: 6" on the MiniMax Hailuo pages).
    durations_by_size: Mapping[Size, tuple[float, ...]] = field(default_factory=dict)
    fps: tuple[int, ...] | None = None
    resolutions: tuple[str, ...] | None = None
    # Which frameImages positions the model takes; None: not documented (generic rule only).
    frame_positions: tuple[str, ...] | None = None
    # "Provide exactly one of: inputs.frameImages or width/height" (exactly_one) or "Either provide
    # inputs.frameImages, or specify width/height [or resolution]" (at_least_one).
    frames_or_size: str | None = None
    # Image-to-video only models: a frame image is required.
    needs_frame_image: bool = False
    prompt_length: tuple[int, int] | None = None
    # Every model page read allows only deliveryMethod "async" ("Required for long-running tasks").
    async_only: bool = True
    # Whether audio is on when the request does not say (None: the page does not say, and an estimate
    # takes the dearer of the with- and without-audio prices). Google's provider page documents
    # ``providerSettings.google.generateAudio`` with "Default: false".
    audio_default: bool | None = None
    prices: tuple[PriceLine, ...] = ()
    known: bool = True

    def resolution_of(self, task: Mapping[str, Any]) -> str | None:
        """The resolution label the request asks for: its ``resolution``, its size's label, or the one
        label every size of the model shares."""
        resolution = task.get("resolution")
        if isinstance(resolution, str):
            return resolution
        if self.sizes is None:
            return None
        size = (task.get("width"), task.get("height"))
        if size in self.sizes:
            return self.sizes[size]  # type: ignore[index]
        labels = set(self.sizes.values())
        return labels.pop() if len(labels) == 1 else None

    def allowed_durations(self, task: Mapping[str, Any]) -> tuple[float, ...] | None:
        size = (task.get("width"), task.get("height"))
        return self.durations_by_size.get(size, self.durations)  # type: ignore[arg-type]

    def estimate_cost(self, task: Mapping[str, Any]) -> float | None:
        """The most one video of ``task`` can cost by the page's prices; ``None`` when no documented
        line covers it (a resolution or clip length the page prices nothing for, a per-second price
        without a duration, no prices at all): a cost limit cannot be enforced on a guess."""
        duration = task.get("duration")
        seconds = None
        if isinstance(duration, int | float) and not isinstance(duration, bool):
            seconds = float(duration)
        allowed = self.allowed_durations(task)
        if seconds is None and allowed:
            seconds = float(max(allowed))  # the longest documented clip: never undershoot
        resolution = self.resolution_of(task)
        audio = audio_requested(task, self.audio_default)
        costs = [
            cost
            for line in self.prices
            if line.applies(resolution, seconds, audio)
            for cost in [line.cost(seconds)]
            if cost is not None
        ]
        return max(costs) if costs else None


def audio_requested(task: Mapping[str, Any], default: bool | None) -> bool | None:
    """``providerSettings.<provider>.generateAudio`` when the request says, else the model's default."""
    settings = task.get("providerSettings")
    if isinstance(settings, Mapping):
        for provider in settings.values():
            if isinstance(provider, Mapping) and isinstance(provider.get("generateAudio"), bool):
                return bool(provider["generateAudio"])
    return default


GENERIC_VIDEO_RULES = VideoModelSpec(
    air_id="*",
    name="generic video model",
    source_url=VIDEO_API_REFERENCE,
    async_only=False,
    known=False,
)

VEO_3_SIZES: Mapping[Size, str] = {
    (1280, 720): "720p",
    (720, 1280): "720p",
    (1920, 1080): "1080p",
    (1080, 1920): "1080p",
}
VEO_31_SIZES: Mapping[Size, str] = {**VEO_3_SIZES, (3840, 2160): "4K", (2160, 3840): "4K"}
HAILUO_23_SIZES: Mapping[Size, str] = {(1366, 768): "768p", (1920, 1080): "1080p"}
SEEDANCE_10_PRO_SIZES: Mapping[Size, str] = {
    **{
        size: "480p"
        for size in ((864, 480), (736, 544), (640, 640), (544, 736), (480, 864), (416, 960), (960, 416))
    },
    **{
        size: "1080p"
        for size in (
            (1920, 1088),
            (1664, 1248),
            (1440, 1440),
            (1248, 1664),
            (1088, 1920),
            (928, 2176),
            (2176, 928),
        )
    },
}

VIDEO_MODELS: dict[str, VideoModelSpec] = {
    spec.air_id: spec
    for spec in (
        VideoModelSpec(
            air_id="google:3@0",
            name="Veo 3",
            source_url=f"{MODEL_PAGES}/google-veo-3",
            sizes=VEO_3_SIZES,
            frames_or_size="at_least_one",
            audio_default=False,
            prices=(
                # "Each generation will cost $0.2/s for 720p, or $0.4/s for 720p with audio."
                PriceLine(0.2, resolution="720p", per_second=True, audio=False),
                PriceLine(0.4, resolution="720p", per_second=True, audio=True),
            ),
        ),
        VideoModelSpec(
            air_id="google:3@1",
            name="Veo 3 Fast",
            source_url=f"{MODEL_PAGES}/google-veo-3-fast",
            sizes=VEO_3_SIZES,
            frames_or_size="at_least_one",
            audio_default=False,
            prices=(
                # "$0.1/s for 1080p, or $0.15/s for 1080p with audio."
                PriceLine(0.1, resolution="1080p", per_second=True, audio=False),
                PriceLine(0.15, resolution="1080p", per_second=True, audio=True),
            ),
        ),
        VideoModelSpec(
            air_id="google:3@3",
            name="Veo 3.1 Fast",
            source_url=f"{MODEL_PAGES}/google-veo-3-1-fast",
            sizes=VEO_31_SIZES,
            durations=(4, 6, 7, 8),  # runware-sdk 1.8.0 task_map GoogleVeo31FastParams
            resolutions=("720p", "1080p", "4K"),
            frames_or_size="exactly_one",
            audio_default=False,
            prices=(
                PriceLine(0.1, resolution="1080p", per_second=True, audio=False),
                PriceLine(0.15, resolution="1080p", per_second=True, audio=True),
                # "4K · 8s: $2.40", "4K · 8s (with audio): $2.80"
                PriceLine(2.40 / 8, resolution="4K", per_second=True, audio=False),
                PriceLine(2.80 / 8, resolution="4K", per_second=True, audio=True),
            ),
        ),
        VideoModelSpec(
            air_id="klingai:kling-video@3-standard",
            name="Kling VIDEO 3.0 Standard",
            source_url=f"{MODEL_PAGES}/klingai-video-3-0-standard",
            sizes={(1280, 720): "720p", (960, 960): "720p", (720, 1280): "720p"},
            frames_or_size="exactly_one",
            prices=(
                # "Pricing starts at $0.084/s without audio & $0.126/s with audio."
                PriceLine(0.084, per_second=True, audio=False),
                PriceLine(0.126, per_second=True, audio=True),
            ),
        ),
        VideoModelSpec(
            air_id="klingai:kling-video@3-pro",
            name="Kling VIDEO 3.0 Pro",
            source_url=f"{MODEL_PAGES}/klingai-video-3-0-pro",
            sizes={(1920, 1080): "1080p", (1440, 1440): "1080p", (1080, 1920): "1080p"},
            frames_or_size="exactly_one",
            prices=(
                PriceLine(0.112, per_second=True, audio=False),
                PriceLine(0.168, per_second=True, audio=True),
            ),
        ),
        VideoModelSpec(
            air_id="minimax:4@1",
            name="MiniMax Hailuo 2.3",
            source_url=f"{MODEL_PAGES}/minimax-hailuo-2-3",
            sizes=HAILUO_23_SIZES,
            durations=(6, 10),
            durations_by_size={(1920, 1080): (6,)},
            fps=(25,),  # runware-sdk 1.8.0 task_map MinimaxHailuo23Params: fps Literal[25]
            prices=(
                PriceLine(0.28, resolution="768p", duration=6),
                PriceLine(0.56, resolution="768p", duration=10),
                PriceLine(0.49, resolution="1080p", duration=6),
            ),
        ),
        VideoModelSpec(
            air_id="minimax:4@2",
            name="MiniMax Hailuo 2.3 Fast",
            source_url=f"{MODEL_PAGES}/minimax-hailuo-2-3-fast",
            sizes=HAILUO_23_SIZES,
            durations=(6, 10),
            durations_by_size={(1920, 1080): (6,)},
            fps=(25,),
            # "Capabilities: Image to Video"; task_map MinimaxHailuo23FastParams: inputs required.
            needs_frame_image=True,
            prices=(
                # The page adds "Currently 20% off for February 2026!" (these may be discounted
                # prices) and prices no 10 s clip: a 10 s request has no estimate.
                PriceLine(0.19, resolution="768p", duration=6),
                PriceLine(0.33, resolution="1080p", duration=6),
            ),
        ),
        VideoModelSpec(
            air_id="bytedance:2@1",
            name="Seedance 1.0 Pro",
            source_url=f"{MODEL_PAGES}/bytedance-seedance-1-0-pro",
            sizes=SEEDANCE_10_PRO_SIZES,
            resolutions=("480p", "1080p"),
            frames_or_size="at_least_one",
            prices=(
                # "Each generation will cost $0.0968/s for 1080p." (no 480p price on the page)
                PriceLine(0.0968, resolution="1080p", per_second=True),
            ),
        ),
        VideoModelSpec(
            air_id="klingai:1@0",
            name="KlingAI 1.0 Standard",
            source_url=f"{PROVIDER_PAGES}/klingai",
            sizes={(1280, 720): "720p", (720, 720): "720p", (720, 1280): "720p"},
            durations=(5, 10),
            fps=(30,),
            frame_positions=("first",),
            prompt_length=(2, 2500),
        ),
    )
}


def get_video_model_spec(air_id: str) -> VideoModelSpec:
    """The documented rules of ``air_id``, or the generic ones for a model the catalog does not know."""
    return VIDEO_MODELS.get(air_id, GENERIC_VIDEO_RULES)
