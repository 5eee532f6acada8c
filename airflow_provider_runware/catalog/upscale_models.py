"""The upscaling models Runware's tool page lists, their factors and the settings each takes.

Read from ``DOCS``; the page states no prices (see :mod:`.background_removal_models`).
"""

from __future__ import annotations

DOCS = "https://runware.ai/docs/en/tools/upscale"
UPSCALE_MODELS = {
    "runware:500@1": "Clarity",
    "runware:501@1": "CCSR",
    "runware:502@1": "Stable Diffusion Latent Upscaler",
    "runware:503@1": "SwinIR",
}
UPSCALE_FACTORS = (2, 4)
# "Only SwinIR model supports 4x upscaling."
FOUR_TIMES_MODELS = frozenset({"runware:503@1"})
# The page's compatibility table of creative-upscaling settings per model.
UPSCALE_SETTINGS = {
    "runware:500@1": frozenset(
        {
            "positivePrompt",
            "negativePrompt",
            "strength",
            "controlNetWeight",
            "steps",
            "scheduler",
            "seed",
            "CFGScale",
        }
    ),
    "runware:501@1": frozenset(
        {"positivePrompt", "negativePrompt", "controlNetWeight", "steps", "seed", "CFGScale"}
    ),
    "runware:502@1": frozenset({"positivePrompt", "negativePrompt", "steps", "seed", "CFGScale", "clipSkip"}),
    "runware:503@1": frozenset(),
}
