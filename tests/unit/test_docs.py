"""The documentation cannot drift from the code: the video model table is the catalog's data, and every
relative link in README.md and docs/*.md points at a file (and heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path

from airflow_provider_runware.catalog.video_models import VIDEO_MODELS, PriceLine, VideoModelSpec

ROOT = Path(__file__).parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
VIDEO_HEADER = "| AIR id | model | sizes (width x height) | durations (s) | price | source |"


def price_text(line: PriceLine) -> str:
    """One documented price as the table writes it: ``$0.1/s at 1080p with audio``, or
    ``$0.28 for 6 s at 768p`` for a clip."""
    text = f"${line.usd:g}/s" if line.per_second else f"${line.usd:g}"
    if not line.per_second and line.duration is not None:
        text += f" for {line.duration:g} s"
    if line.resolution is not None:
        text += f" at {line.resolution}"
    if line.audio is not None:
        text += " with audio" if line.audio else " without audio"
    return text


def video_row(spec: VideoModelSpec) -> str:
    sizes = ", ".join(f"{w}x{h}" for w, h in spec.sizes) if spec.sizes else "not documented"
    durations = ", ".join(f"{d:g}" for d in spec.durations) if spec.durations else "not documented"
    for (w, h), allowed in spec.durations_by_size.items():
        durations += f" ({w}x{h}: {', '.join(f'{d:g}' for d in allowed)})"
    prices = "; ".join(price_text(line) for line in spec.prices) or "none documented"
    return f"| `{spec.air_id}` | {spec.name} | {sizes} | {durations} | {prices} | [page]({spec.source_url}) |"


def section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section of a page, up to the next ``## ``."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_video_models_table_is_the_catalogs_data() -> None:
    """Every VIDEO_MODELS entry, no other, with the sizes, durations, prices and page the catalog holds."""
    body = section((DOCS / "models.md").read_text(), "Video models")
    assert VIDEO_HEADER in body
    rows = [line for line in body.splitlines() if line.startswith("| `")]
    documented = {re.match(r"\| `([^`]+)`", row).group(1): row for row in rows}  # type: ignore[union-attr]
    expected = {air_id: video_row(spec) for air_id, spec in VIDEO_MODELS.items()}
    table = "\n".join(expected.values())
    assert len(rows) == len(documented), "an AIR id is listed twice"
    assert set(documented) == set(expected), f"docs/models.md should list exactly these rows:\n{table}"
    for air_id, row in documented.items():
        assert row == expected[air_id], f"{air_id}: the catalog says\n{expected[air_id]}\ntable:\n{table}"


def test_the_video_price_text_says_what_the_catalog_prices() -> None:
    """The row format itself: a per-second line and a per-clip line read as the pages state them."""
    assert price_text(PriceLine(0.1, resolution="1080p", per_second=True, audio=False)) == (
        "$0.1/s at 1080p without audio"
    )
    assert price_text(PriceLine(0.28, resolution="768p", duration=6)) == "$0.28 for 6 s at 768p"
    veo_31_fast = video_row(VIDEO_MODELS["google:3@3"])
    assert "$0.3/s at 4K without audio; $0.35/s at 4K with audio" in veo_31_fast  # "4K · 8s: $2.40"/"$2.80"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_\[\]()]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    counts: dict[str, int] = {}
    for line in strip_code(page.read_text()).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            base = slug(match.group(1))
            seen = counts.get(base, 0)
            found.add(base if seen == 0 else f"{base}-{seen}")
            counts[base] = seen + 1
    return found


def strip_code(text: str) -> str:
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def test_every_relative_link_in_the_docs_points_at_a_file_and_heading_that_exist() -> None:
    assert {page.name for page in PAGES} >= {
        "README.md",
        "guide.md",
        "models.md",
        "reliability.md",
        "performance.md",
        "emulator.md",
    }
    broken = []
    checked = 0
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", strip_code(page.read_text())):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            resolved = (page.parent / path).resolve() if path else page
            checked += 1
            if not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no file {resolved})")
            elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no heading #{anchor})")
    assert checked > 20
    assert not broken, "\n".join(broken)


def test_the_readme_links_every_docs_page() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\]\(docs/(\w+\.md)", readme))
    assert linked == {page.name for page in DOCS.glob("*.md")}


def test_the_metrics_table_names_every_metric_the_provider_sends() -> None:
    """docs/metrics.md lists exactly the names ``run.metrics`` sends, no more and no fewer."""
    from airflow_provider_runware.run import metrics

    sent = [metrics.GENERATED, metrics.FAILED, metrics.REUSED, metrics.COST_USD_MICROS]
    sent.append(metrics.TIME_TO_STORED)
    body = section((DOCS / "metrics.md").read_text(), "The metrics")
    documented = re.findall(r"^\| `(runware\.[a-z_.]+)` \|", body, flags=re.MULTILINE)
    assert sorted(documented) == sorted(sent)
