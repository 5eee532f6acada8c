"""The prompt enhancer's documented limits and model, as data.

Limits from the prompt-enhancer page (``DOCS``): ``prompt`` 1..300 characters, ``promptMaxLength``
12..400 ("expressed in tokens: approximately 100 tokens correspond to about 75 words"), and
``promptVersions`` 1..5 (the range the page's copy in Runware/sdk-python ``docs/utilities_prompt_enhancer.md``
gives). The model is the one runware-sdk 1.8.0 lists for ``promptEnhance`` (its model page:
``MODEL_PAGE``). No price is stated; the page's examples report ``cost: 0``. Pure Python.
"""

from __future__ import annotations

from airflow_provider_runware.catalog.modelspec import IntRange

DOCS = "https://runware.ai/docs/en/utilities/prompt-enhancer"
MODEL_PAGE = "https://runware.ai/docs/models/llama-3-1-8b-prompt-enhancer"
PROMPT_ENHANCE_MODELS = {"runware:llama-3-1-8b@prompt-enhancer": "Llama 3.1 8B Prompt Enhancer"}
PROMPT_LENGTH = IntRange(1, 300)
PROMPT_MAX_LENGTH = IntRange(12, 400)
PROMPT_VERSIONS = IntRange(1, 5)
