"""The Airflow UI in a real browser: Debian's Chromium driven by Playwright, logged in as a person would.

Shared by the browser tests (``tests/integration/test_browser_gallery.py``) and the screenshots of
``make demo-products``, so what the README shows is what the tests check. Playwright never downloads a
browser here: it launches ``/usr/bin/chromium`` (``scripts/install-chromium.sh`` installs Debian's
package) with the flags this closed network needs (without the background-networking ones Chromium
keeps opening connections that are refused). Every URL the page requests, is redirected to or answered
from is recorded, so a test can prove no presigned URL ever reached the browser.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Frame, Page, Request, Response

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The README's screenshot size.
WIDTH, HEIGHT = 1280, 900
# Any trace of a presigned URL: an S3 or GCS signing parameter, or an Azure SAS signature.
SIGNATURE_TRACE = re.compile(r"X-Amz-|X-Goog-|\bsig=", re.IGNORECASE)
# A thumbnail the plugin serves: marked in its own pages, or a markdown image in Airflow's HITL form.
THUMBNAILS = 'img[data-testid="runware-thumbnail"], img[src*="/runware/runs/"][src$="/thumbnail"]'
# Each matched image: where it points and whether the browser decoded it (0 x 0 when it did not).
_IMAGE_STATE = """(images) => images.map((image) => ({
  src: image.currentSrc || image.src,
  complete: image.complete,
  naturalWidth: image.naturalWidth,
  naturalHeight: image.naturalHeight,
}))"""
_ALL_SETTLED = "(images) => images.every((image) => image.complete)"


class ChromiumMissing(RuntimeError):
    """Debian's Chromium is not installed: ``scripts/install-chromium.sh`` (part of ``make test``)."""


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Debian Chromium under Playwright, closed when the block ends."""
    if not CHROMIUM.exists():
        raise ChromiumMissing(f"{CHROMIUM} is missing: run scripts/install-chromium.sh (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Traffic:
    """Every URL a page touched: requests (redirect hops included), responses and ``Location``s."""

    urls: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)

    def watch(self, page: Page) -> Page:
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        return page

    def _on_request(self, request: Request) -> None:
        self.urls.append(request.url)

    def _on_response(self, response: Response) -> None:
        self.urls.append(response.url)
        self.statuses[response.url] = response.status
        location = response.headers.get("location")
        if location:
            self.urls.append(location)

    def signed(self) -> list[str]:
        """The URLs that carry a signing parameter (there must be none)."""
        return [url for url in self.urls if SIGNATURE_TRACE.search(url)]


def new_page(browser: Browser, traffic: Traffic | None = None) -> Page:
    """A page in a fresh context (its own cookies) at the README's screenshot size."""
    page = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}).new_page()
    return traffic.watch(page) if traffic is not None else page


def log_in(page: Page, base_url: str, username: str, password: str, then: str = "/") -> None:
    """Sign in through the simple auth manager's login page, as a person does, landing on ``then``
    (a path); the UI keeps the JWT in its ``_token`` cookie, which the plugin's pages and images are
    then served with."""
    from urllib.parse import urlencode

    page.goto(f"{base_url}/auth/login?{urlencode({'next': then})}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/auth/login" not in url)


def images_state(page: Page | Frame, selector: str = THUMBNAILS) -> list[dict[str, Any]]:
    """Once every matched image has loaded or failed: its URL and natural size."""
    page.wait_for_selector(selector, state="attached")
    page.wait_for_function(
        f"() => ({_ALL_SETTLED})([...document.querySelectorAll({selector!r})])", timeout=30_000
    )
    state: list[dict[str, Any]] = page.eval_on_selector_all(selector, _IMAGE_STATE)
    return state


def signatures_in_page(page: Page) -> list[str]:
    """Signing traces in the HTML of the page and its frames as rendered (attributes, text, scripts)."""
    return [trace for frame in page.frames for trace in SIGNATURE_TRACE.findall(frame.content())]


def run_page_path(dag_id: str, run_id: str) -> str:
    """The DAG run's page in Airflow's UI."""
    from urllib.parse import quote

    return f"/dags/{dag_id}/runs/{quote(run_id, safe='')}"


def open_gallery_tab(page: Page) -> Frame:
    """On the DAG run's page: click its *Gallery* tab (the plugin's page in a frame, Airflow 3.1+);
    the frame, once it shows the run's total cost."""
    page.get_by_role("link", name="Gallery", exact=True).click()
    page.frame_locator("iframe").get_by_test_id("runware-total-cost").wait_for()
    return next(frame for frame in page.frames if "/runware/runs/" in frame.url)


def hitl_form_path(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    """The task instance's *Required Action* tab in Airflow's UI (the HITL form)."""
    from urllib.parse import quote

    return f"/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}/mapped/{map_index}/required_actions"


def pick_in_hitl_form(page: Page, options: list[str]) -> None:
    """Tick ``options`` in Airflow's HITL form (a multi-select that closes after each pick)."""
    box = page.get_by_role("combobox", name="Select one or multiple values")
    for option in options:
        box.click()
        page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")


def respond_in_hitl_form(page: Page) -> dict[str, Any]:
    """Press *Respond*; Airflow's answer to the UI's ``PATCH .../hitlDetails`` (raises unless 200)."""
    with page.expect_response(
        lambda response: response.request.method == "PATCH" and "/hitlDetails" in response.url
    ) as answer:
        page.get_by_role("button", name="Respond").click()
    response = answer.value
    if response.status != 200:
        raise AssertionError(f"Respond -> {response.status}: {response.text()[:500]}")
    result: dict[str, Any] = response.json()
    return result


def screenshot(page: Page, path: Path, height: int = HEIGHT) -> Path:
    """A PNG of the viewport's top ``height`` pixels, in 64 colours (a fraction of the bytes, text
    still crisp)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), clip={"x": 0, "y": 0, "width": WIDTH, "height": height})
    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=64)
    small.save(path, optimize=True)
    return path
