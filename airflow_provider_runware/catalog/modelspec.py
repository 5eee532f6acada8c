"""The shape of one model's rules, prices and lifecycle: what a catalog entry can say.

Kept apart from the data (``models``) and from validation (``catalog``) so each stays small. Pure
Python: the operator imports this at DAG-parse time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

Size = tuple[int, int]


@dataclass(frozen=True)
class IntRange:
    """Inclusive integer bounds, optionally on a step grid anchored at ``minimum``."""

    minimum: int
    maximum: int | None = None
    step: int = 1

    def contains(self, value: int) -> bool:
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            return False
        return (value - self.minimum) % self.step == 0

    def describe(self) -> str:
        upper = f"..{self.maximum}" if self.maximum is not None else " or more"
        grid = f" in steps of {self.step}" if self.step > 1 else ""
        return f"an integer {self.minimum}{upper}{grid}"


@dataclass(frozen=True)
class Lifecycle:
    """Runware retires models; users must hear about it before a scheduled DAG starts failing."""

    deprecated: bool = False
    deactivation_date: date | None = None
    replacement: str | None = None

    def retired(self, today: date | None = None) -> bool:
        """Past the announced deactivation date: the live API no longer serves the model."""
        when = self.deactivation_date
        return when is not None and (today or date.today()) >= when


@dataclass(frozen=True)
class Pricing:
    """USD per image as the model page states it, by size.

    ``by_size`` holds the sizes a page prices; ``any_size`` is a price the page gives without naming
    a size (it then applies to every size the model accepts). Where a page and its own examples
    disagree, the entry holds the higher figure, so an estimate never undershoots what is billed.
    A size with no documented price has no estimate: a cost limit cannot be enforced on a guess.
    """

    by_size: tuple[tuple[Size, float], ...] = ()
    any_size: float | None = None
    note: str = ""

    def for_size(self, width: int, height: int) -> float | None:
        return dict(self.by_size).get((width, height), self.any_size)

    def ceiling(self, sizes: Iterable[Size] | None) -> float | None:
        """The most one image can cost when the size is not known yet; ``None`` when some size the
        model accepts has no documented price (or the accepted sizes are not a known list)."""
        if self.any_size is not None and not self.by_size:
            return self.any_size
        if sizes is None:
            return None
        prices = [self.for_size(width, height) for width, height in sizes]
        if not prices or any(price is None for price in prices):
            return None
        return max(price for price in prices if price is not None)


@dataclass(frozen=True)
class ImageInputs:
    """Which image inputs a model's page documents: a seed image (image-to-image, outpainting), a mask
    (inpainting, with a seed image) and how many reference images (editing models)."""

    seed_image: bool = False
    mask_image: bool = False
    reference_images: int = 0

    def describe(self) -> str:
        accepted = [
            name for name, ok in (("seedImage", self.seed_image), ("maskImage", self.mask_image)) if ok
        ]
        if self.reference_images:
            accepted.append(f"up to {self.reference_images} referenceImages")
        return ", ".join(accepted) if accepted else "no image inputs (text-to-image only)"


TEXT_TO_IMAGE_ONLY = ImageInputs()


@dataclass(frozen=True)
class ModelSpec:
    """What one model accepts, what it costs and where that was read.

    ``allowed_sizes`` wins over ``dimension`` when set; ``dimension=None`` means the catalog judges no
    size bounds (only that width and height are positive integers given together). ``safety_modes``
    and ``prompt_length.maximum`` of ``None`` likewise mean "not documented, not judged"; so does
    ``image_inputs=None`` (a model whose page was not read may take any input).
    """

    air_id: str
    name: str
    prompt_length: IntRange
    dimension: IntRange | None
    allowed_sizes: frozenset[Size] | None = None
    output_formats: tuple[str, ...] = ("JPG", "PNG", "WEBP")
    output_quality: IntRange = IntRange(20, 99)
    number_results: IntRange = IntRange(1, 20)
    ttl: IntRange = IntRange(60)
    safety_modes: tuple[str, ...] | None = ("none", "fast")
    pricing: Pricing = field(default_factory=Pricing)
    lifecycle: Lifecycle = field(default_factory=Lifecycle)
    image_inputs: ImageInputs | None = None
    source_url: str | None = None
    known: bool = True

    def size_rule(self) -> str:
        if self.allowed_sizes:
            sizes = ", ".join(f"{w}x{h}" for w, h in sorted(self.allowed_sizes))
            return f"one of {sizes}"
        if self.dimension is None:
            return "width and height each a positive integer"
        return f"width and height each {self.dimension.describe()}"

    def size_allowed(self, width: int, height: int) -> bool:
        if self.allowed_sizes is not None:
            return (width, height) in self.allowed_sizes
        if self.dimension is None:
            return width > 0 and height > 0
        return self.dimension.contains(width) and self.dimension.contains(height)

    def lifecycle_warning(self, today: date | None = None) -> str | None:
        """A sentence for the task log when the model is on its way out (or gone), else ``None``."""
        lifecycle = self.lifecycle
        if not lifecycle.deprecated:
            return None
        when = lifecycle.deactivation_date
        if when is not None and lifecycle.retired(today):
            parts = [f"Model {self.air_id} ({self.name}) is retired since {when.isoformat()}"]
        else:
            parts = [f"Model {self.air_id} ({self.name}) is deprecated by Runware"]
            if when:
                parts.append(f"; its deactivation is announced for {when.isoformat()}")
        if lifecycle.replacement:
            parts.append(f"; migrate to {lifecycle.replacement}")
        return "".join(parts) + "."

    def price_per_image(self, width: int | None = None, height: int | None = None) -> float | None:
        """The documented price of one image at this size; without a size, the highest any size
        could cost. ``None`` when no documented price covers it."""
        if width is None or height is None:
            return self.pricing.ceiling(self.allowed_sizes)
        return self.pricing.for_size(width, height)

    def estimate_cost(
        self, number_of_images: int, width: int | None = None, height: int | None = None
    ) -> float | None:
        """What ``number_of_images`` images cost at most; ``None`` when the catalog cannot say."""
        price = self.price_per_image(width, height)
        if price is None:
            return None
        return round(price * number_of_images, 6)
