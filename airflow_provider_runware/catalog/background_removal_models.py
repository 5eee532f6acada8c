"""The background-removal models Runware's tool page lists, and which of them take ``settings``.

Read from ``DOCS``. The page states no prices, so these tasks have no estimate and ``max_cost_usd``
refuses them rather than guess; Runware's reported cost is logged per image.
"""

from __future__ import annotations

from airflow_provider_runware.catalog.modelspec import IntRange

DOCS = "https://runware.ai/docs/en/tools/remove-background"
BACKGROUND_REMOVAL_MODELS = {
    "runware:109@1": "RemBG 1.4",
    "runware:110@1": "Bria RMBG 2.0",
    "runware:112@1": "BiRefNet v1 Base",
    "runware:112@2": "BiRefNet v1 Base - COD",
    "runware:112@3": "BiRefNet Dis",
    "runware:112@5": "BiRefNet General",
    "runware:112@6": "BiRefNet General Resolution 512x512 FP16",
    "runware:112@7": "BiRefNet HRSOD DHU",
    "runware:112@8": "BiRefNet Massive TR DIS5K TR TES",
    "runware:112@9": "BiRefNet Matting",
    "runware:112@10": "BiRefNet Portrait",
}
# "Currently only RemBG 1.4 model (runware:109@1) supports the settings object."
BACKGROUND_SETTINGS_MODELS = frozenset({"runware:109@1"})
BACKGROUND_SETTINGS_BOUNDS = {
    "alphaMattingForegroundThreshold": IntRange(1, 255),
    "alphaMattingBackgroundThreshold": IntRange(1, 255),
    "alphaMattingErodeSize": IntRange(1, 255),
}
BACKGROUND_SETTINGS_FLAGS = ("postProcessMask", "returnOnlyMask", "alphaMatting")
