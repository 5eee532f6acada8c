"""The product campaign's review and gallery in the Airflow UI, as the reviewer sees them, photographed.

Playwright drives Debian's Chromium (the browser tests' harness, ``tests/airflow_browser.py``): the
reviewer signs in on Airflow's login page, opens *Browse → Required Actions* and the review task's
*Required Action* tab (each candidate's thumbnail beside its prompt, model and cost), ticks the chosen
candidates and presses *Respond*, and after the run opens the DAG run's *Gallery* tab (the provider's
plugin page inside Airflow's UI). Each step leaves a PNG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from airflow_browser import (
    HEIGHT,
    hitl_form_path,
    images_state,
    log_in,
    new_page,
    open_gallery_tab,
    pick_in_hitl_form,
    respond_in_hitl_form,
    run_page_path,
    screenshot,
)

REQUIRED_ACTIONS = "product-campaign-required-actions.png"
REVIEW = "product-campaign-review.png"
CHOOSING = "product-campaign-choosing.png"
GALLERY = "product-campaign-gallery.png"


def gallery_url(base_url: str, dag_id: str, run_id: str) -> str:
    return f"{base_url}/runware/runs/{quote(dag_id, safe='')}/{quote(run_id, safe='')}/gallery"


@dataclass
class ReviewerBrowser:
    """The reviewer's signed-in browser tab; ``taken`` lists the screenshots in the order they were made."""

    browser: Any
    base_url: str
    folder: Path
    taken: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page = new_page(self.browser)

    def log_in(self, username: str, password: str) -> None:
        log_in(self.page, self.base_url, username, password)

    def review(self, dag_id: str, run_id: str, task_id: str, map_index: int, options: list[str]) -> Any:
        """Photograph the waiting review, answer it with ``options`` from the form; Airflow's answer."""
        page = self.page
        page.goto(f"{self.base_url}/required_actions")
        page.get_by_text(task_id, exact=False).first.wait_for()
        self._shot(REQUIRED_ACTIONS, height=300)
        page.goto(self.base_url + hitl_form_path(dag_id, run_id, task_id, map_index))
        thumbnails = images_state(page)
        if not thumbnails or not all(image["naturalWidth"] > 0 for image in thumbnails):
            raise SystemExit(f"the review's thumbnails did not load: {thumbnails}")
        self._shot(REVIEW)
        pick_in_hitl_form(page, options)
        self._shot(CHOOSING)
        return respond_in_hitl_form(page)

    def gallery(self, dag_id: str, run_id: str) -> int:
        """Photograph the DAG run's *Gallery* tab once every thumbnail has loaded; how many there are."""
        self.page.goto(self.base_url + run_page_path(dag_id, run_id))
        thumbnails = images_state(open_gallery_tab(self.page))
        broken = [image["src"] for image in thumbnails if image["naturalWidth"] == 0]
        if broken:
            raise SystemExit(f"gallery thumbnails that did not load: {broken}")
        self._shot(GALLERY)
        return len(thumbnails)

    def _shot(self, name: str, height: int = HEIGHT) -> None:
        self.taken.append(screenshot(self.page, self.folder / name, height))
