"""Screenshots of the product campaign's review step in the Airflow UI, with headless Chromium.

Two pages are plain ``chromium --headless --screenshot`` shots: *Browse → Required Actions* and the
review task's *Required Action* tab. The third shows a reviewer's choice made (two candidates picked in
Options, not yet sent): Chromium is driven over the DevTools protocol for that, which needs the
``websockets`` package (present in the dev environment); without it that shot is skipped.

The Airflow UI must not ask for a login: run the api-server with the simple auth manager's
``all_admins`` mode (``make demo-products DEMO_ARGS="--screenshots DIR"`` does).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

WIDTH = 1400
FIND_TEXT = """
(text) => {
  const nodes = [...document.querySelectorAll('body *')].filter(
    (n) => n.childElementCount === 0 && n.textContent.trim() === text && n.getClientRects().length);
  if (!nodes.length) return null;
  const r = nodes[nodes.length - 1].getBoundingClientRect();
  return [r.x + r.width / 2, r.y + r.height / 2];
}
"""


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def take_screenshots(
    base_url: str, dag_id: str, run_id: str, task_id: str, map_index: int, options: list[str], folder: Path
) -> list[Path]:
    """The Required Actions page, the review form, and the form with ``options`` ticked; the paths."""
    chromium = chromium_path()
    if chromium is None:
        print("no chromium on PATH (apt-get install chromium): screenshots skipped", flush=True)
        return []
    folder.mkdir(parents=True, exist_ok=True)
    form_url = f"{base_url}/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/mapped/{map_index}/required_actions"
    pages = {  # name: (url, window height)
        "product-campaign-required-actions.png": (f"{base_url}/required_actions", 320),
        "product-campaign-review.png": (form_url, 960),
    }
    taken = []
    for name, (url, height) in pages.items():
        path = folder / name
        subprocess.run(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--window-size={WIDTH},{height}",
                "--virtual-time-budget=20000",
                f"--screenshot={path}",
                url,
            ],
            check=True,
            capture_output=True,
            timeout=180,
        )
        compact_png(path)
        taken.append(path)
    try:
        import websockets  # noqa: F401
    except ImportError:
        print("no `websockets` package: the screenshot of a choice in progress is skipped", flush=True)
        return taken
    path = folder / "product-campaign-choosing.png"
    asyncio.run(_choosing(chromium, form_url, options, path))
    compact_png(path)
    taken.append(path)
    return taken


def compact_png(path: Path) -> None:
    """A UI screenshot in 64 colours: a fraction of the bytes, text still crisp."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=64)
    small.save(path, optimize=True)


async def _choosing(chromium: str, url: str, options: list[str], path: Path) -> None:
    """Open the form, pick ``options`` in its Options list, and photograph it (DevTools protocol)."""
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        process = subprocess.Popen(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                f"--window-size={WIDTH},960",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = _devtools_port(Path(profile))
            await _drive(port, url, options, path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _devtools_port(profile: Path, timeout: float = 30.0) -> int:
    """Chromium writes the port it chose to ``DevToolsActivePort`` in its profile."""
    deadline = time.monotonic() + timeout
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(marker.read_text().splitlines()[0])
        time.sleep(0.1)
    raise RuntimeError("chromium did not open its DevTools port")


async def _drive(port: int, url: str, options: list[str], path: Path) -> None:
    import websockets

    targets = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10, trust_env=False).json()
    page = next(target for target in targets if target.get("type") == "page")
    ids = itertools.count(1)
    async with websockets.connect(page["webSocketDebuggerUrl"], max_size=None) as socket:

        async def call(method: str, **params: Any) -> dict[str, Any]:
            message_id = next(ids)
            await socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
            while True:
                reply = json.loads(await socket.recv())
                if reply.get("id") == message_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    result: dict[str, Any] = reply.get("result", {})
                    return result

        async def find(text: str, timeout: float = 30.0) -> list[float]:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                found = await call(
                    "Runtime.evaluate",
                    expression=f"({FIND_TEXT})({json.dumps(text)})",
                    returnByValue=True,
                )
                value = found.get("result", {}).get("value")
                if value:
                    return [float(value[0]), float(value[1])]
                await asyncio.sleep(0.3)
            raise RuntimeError(f"{text!r} did not appear on {url}")

        async def click(text: str) -> None:
            x, y = await find(text)
            for kind in ("mousePressed", "mouseReleased"):
                await call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
            await asyncio.sleep(0.5)

        async def key(name: str, code: int) -> None:
            for kind in ("keyDown", "keyUp"):
                await call(
                    "Input.dispatchKeyEvent", type=kind, key=name, code=name, windowsVirtualKeyCode=code
                )
            await asyncio.sleep(0.5)

        await call(
            "Emulation.setDeviceMetricsOverride", width=WIDTH, height=1000, deviceScaleFactor=1, mobile=False
        )
        await call("Page.enable")
        await call("Page.navigate", url=url)
        await click("Select one or multiple values")
        for option in options:
            await click(option)  # the list closes after each pick; the arrow key opens it again
            await key("ArrowDown", 40)
        await key("Escape", 27)
        shot = await call("Page.captureScreenshot", format="png")
        path.write_bytes(base64.b64decode(shot["data"]))
