"""The image-caption models Runware lists, as data.

The image-to-text page (``DOCS``) shows ``runware:150@2``, ``runware:152@50`` and ``runware:152@2`` in its
examples; the full list and names are runware-sdk 1.8.0's model table (``runware/types/task_map.py``,
generated from Runware's schemas v20261012233936), where these models' task type is ``caption``. No page
read states their prices. Pure Python: imported when a DAG file is parsed.
"""

from __future__ import annotations

DOCS = "https://runware.ai/docs/en/utilities/image-to-text"
CAPTION_TASK_TYPES = ("imageCaption", "caption")
CAPTION_MODELS = {
    "runware:150@2": "LLaVA 1.6 Mistral 7B",
    "runware:151@1": "OpenAI CLIP ViT-L/14",
    "runware:152@1": "Qwen2.5-VL 3B Instruct",
    "runware:152@2": "Qwen2.5-VL 7B Instruct",
    "runware:152@50": "Qwen2.5-VL 7B age detector",
    "runware:153@1": "ViT age classifier",
    "runware:154@1": "Open age detection",
}
# Supported input formats on the page: "PNG, JPG and WEBP".
CAPTION_INPUT_FORMATS = ("PNG", "JPG", "WEBP")
