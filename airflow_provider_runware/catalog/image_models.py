"""The models the catalog knows, as data read from Runware's own model and provider pages.

Every entry names the page its rules and prices came from (``source_url``). A rule a page does not
state is not invented: it stays at the generic value, which judges nothing Runware might accept.
Prices are what the page states per image; see :class:`~airflow_provider_runware.catalog.modelspec.Pricing`
for how sizes without a documented price are handled.
"""

from __future__ import annotations

from datetime import date

from airflow_provider_runware.catalog.modelspec import (
    TEXT_TO_IMAGE_ONLY,
    ImageInputs,
    IntRange,
    Lifecycle,
    ModelSpec,
    Pricing,
    Size,
)

DOCS = "https://runware.ai/docs"
# Runware's notice on the DALL·E model pages: "deprecated and will be deactivated on May 12, 2026.
# Migrate to GPT Image 2."
DALLE_RETIREMENT = Lifecycle(
    deprecated=True, deactivation_date=date(2026, 5, 12), replacement="openai:gpt-image@2"
)
GPT_IMAGE_1_SIZES: frozenset[Size] = frozenset({(1024, 1024), (1536, 1024), (1024, 1536)})
IMAGEN_4_SIZES: frozenset[Size] = frozenset(
    {(1024, 1024), (768, 1408), (1408, 768), (896, 1280), (1280, 896)}
)
# Which image inputs a model takes is read from the "Supported workflows" and "Reference images" lines
# of Runware's provider pages (https://runware.ai/docs/en/providers/<provider>).
PROVIDER_PAGES = "https://runware.ai/docs/en/providers"
GEMINI_FLASH_IMAGE_SIZES: frozenset[Size] = frozenset(
    {
        (1024, 1024),
        (1248, 832),
        (832, 1248),
        (1184, 864),
        (864, 1184),
        (1152, 896),
        (896, 1152),
        (1344, 768),
        (768, 1344),
        (1536, 672),
    }
)
FLUX_KONTEXT_SIZES: frozenset[Size] = frozenset(
    {
        (1568, 672),
        (1392, 752),
        (1184, 880),
        (1248, 832),
        (1024, 1024),
        (832, 1248),
        (880, 1184),
        (752, 1392),
        (672, 1568),
    }
)

# Models Runware does not document get these: no size grid, no prompt ceiling, no safety-mode list.
# A refusal before the HTTP call is fatal, so only what no model accepts is refused.
GENERIC_RULES = ModelSpec(
    air_id="*",
    name="generic image model",
    prompt_length=IntRange(1),
    dimension=None,
    safety_modes=None,
    known=False,
)


def _listed_sizes(
    air_id: str,
    name: str,
    slug: str,
    sizes: frozenset[Size],
    pricing: Pricing,
    image_inputs: ImageInputs | None = None,
) -> ModelSpec:
    """A model whose page lists the exact sizes it accepts and states no other rule we judge."""
    return ModelSpec(
        air_id=air_id,
        name=name,
        prompt_length=GENERIC_RULES.prompt_length,
        dimension=None,
        allowed_sizes=sizes,
        pricing=pricing,
        image_inputs=image_inputs,
        source_url=slug if slug.startswith("https://") else f"{DOCS}/models/{slug}",
    )


_SPECS = (
    ModelSpec(
        air_id="openai:2@2",
        name="DALL·E 2",
        prompt_length=IntRange(1, 1000),
        dimension=IntRange(256, 1024),
        allowed_sizes=frozenset({(256, 256), (512, 512), (1024, 1024)}),
        pricing=Pricing(
            by_size=(((256, 256), 0.016), ((512, 512), 0.018), ((1024, 1024), 0.02)),
            note=(
                "The page prices 1K at $0.016 but its four 1024x1024 examples report cost 0.02; OpenAI "
                "lists $0.016/$0.018/$0.020 for 256/512/1024. The higher figure per size is kept."
            ),
        ),
        lifecycle=DALLE_RETIREMENT,
        image_inputs=TEXT_TO_IMAGE_ONLY,  # the model page: "Supported workflows: Text-to-image"
        source_url=f"{DOCS}/models/openai-dalle-2",
    ),
    ModelSpec(
        air_id="openai:2@3",
        name="DALL·E 3",
        prompt_length=IntRange(1, 4000),
        dimension=None,
        pricing=Pricing(note="No price on the pages read."),
        lifecycle=DALLE_RETIREMENT,
        image_inputs=TEXT_TO_IMAGE_ONLY,
        # Prompt rule from the OpenAI provider page; the retirement notice from the model's own page
        # (https://runware.ai/docs/models/openai-dalle-3/examples). Sizes: not read, generic rules.
        source_url="https://runware.ai/docs/en/providers/openai",
    ),
    _listed_sizes(
        "openai:1@1",
        "GPT Image 1",
        "openai-gpt-image-1",
        GPT_IMAGE_1_SIZES,
        Pricing(
            by_size=(((1024, 1024), 0.167),),
            note="The page prices 1K at $0.167; the 3:2 and 2:3 sizes are not priced separately.",
        ),
        TEXT_TO_IMAGE_ONLY,  # the OpenAI provider page lists text-to-image only
    ),
    _listed_sizes(
        "openai:1@2",
        "GPT Image 1 Mini",
        "openai-gpt-image-1-mini",
        GPT_IMAGE_1_SIZES,
        Pricing(note="No price on the model page."),
    ),
    _listed_sizes(
        "openai:4@1",
        "GPT Image 1.5",
        "openai-gpt-image-1-5",
        GPT_IMAGE_1_SIZES,
        Pricing(
            note=(
                "Priced by quality and size ($0.009-$0.20 per image) plus input tokens billed on top, "
                "so no per-image figure bounds the bill: no estimate."
            )
        ),
    ),
    ModelSpec(
        air_id="openai:gpt-image@2",
        name="GPT Image 2",
        prompt_length=IntRange(2, 32000),
        dimension=IntRange(480, 3840, 16),
        pricing=Pricing(note="Token-billed; no per-image price documented."),
        # The page Runware's DALL·E notices point to. Its rules here are those recorded from Runware's
        # docs in the project's API notes; the page itself could not be re-read for this catalog.
        source_url=f"{DOCS}/models/openai-gpt-image-2",
    ),
    _listed_sizes(
        "bfl:2@2",
        "FLUX.1.1 [pro] Ultra",
        "bfl-flux-1-1-pro-ultra",
        frozenset(
            {
                (3136, 1344),
                (2752, 1536),
                (2368, 1792),
                (2496, 1664),
                (2048, 2048),
                (1664, 2496),
                (1792, 2368),
                (1536, 2752),
                (1344, 3136),
            }
        ),
        Pricing(any_size=0.06, note="The page prices 2K at $0.06; every accepted size is 2K."),
        TEXT_TO_IMAGE_ONLY,
    ),
    _listed_sizes(
        "google:2@1",
        "Imagen 4 Preview",
        "google-imagen-4-preview",
        IMAGEN_4_SIZES,
        Pricing(by_size=(((1024, 1024), 0.04),), note="Priced at 1024x1024 only."),
        TEXT_TO_IMAGE_ONLY,
    ),
    _listed_sizes(
        "google:2@2",
        "Imagen 4 Ultra",
        "google-imagen-4-ultra",
        IMAGEN_4_SIZES,
        Pricing(by_size=(((1024, 1024), 0.06),), note="Priced at 1024x1024 only."),
        TEXT_TO_IMAGE_ONLY,
    ),
    _listed_sizes(
        "google:2@3",
        "Imagen 4 Fast",
        "google-imagen-4-fast",
        IMAGEN_4_SIZES,
        Pricing(
            by_size=tuple((size, 0.02) for size in sorted(IMAGEN_4_SIZES)),
            note="The page prices every accepted size at $0.02.",
        ),
        TEXT_TO_IMAGE_ONLY,
    ),
    _listed_sizes(
        "bytedance:5@0",
        "Seedream 4.0",
        "bytedance-seedream-4-0",
        frozenset(
            {
                (1024, 1024),
                (2048, 2048),
                (2304, 1728),
                (1728, 2304),
                (2560, 1440),
                (1440, 2560),
                (2496, 1664),
                (1664, 2496),
                (3024, 1296),
                (4096, 4096),
                (4608, 3456),
                (3456, 4608),
                (5120, 2880),
                (2880, 5120),
                (4992, 3328),
                (3328, 4992),
                (6048, 2592),
            }
        ),
        Pricing(by_size=(((1024, 1024), 0.03),), note="Priced at 1024x1024 only."),
        ImageInputs(reference_images=14),  # "Supports up to 14 images via referenceImages"
    ),
    _listed_sizes(
        "google:4@1",
        "Gemini Flash Image 2.5",
        f"{PROVIDER_PAGES}/google",
        GEMINI_FLASH_IMAGE_SIZES,
        Pricing(note="No price on the provider page."),
        ImageInputs(reference_images=8),  # "Supports up to 8 images via referenceImages"
    ),
    _listed_sizes(
        "bfl:3@1",
        "FLUX.1 Kontext [pro]",
        f"{PROVIDER_PAGES}/bfl",
        FLUX_KONTEXT_SIZES,
        Pricing(note="No price on the provider page."),
        ImageInputs(reference_images=2),  # "Supports referenceImages with 2 images"
    ),
)

MODELS: dict[str, ModelSpec] = {spec.air_id: spec for spec in _SPECS}

# The model the README quickstart, the example DAG and `make demo` use: live on Runware, and priced
# at every size it accepts, so `max_cost_usd` can always be enforced.
DEFAULT_MODEL = "google:2@3"


def get_model_spec(air_id: str) -> ModelSpec:
    """Rules for ``air_id``; models the catalog does not know get the generic rules."""
    return MODELS.get(air_id, GENERIC_RULES)
