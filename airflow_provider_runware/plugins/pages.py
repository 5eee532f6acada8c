"""The gallery page: plain HTML (no script, no external asset), rendered from :func:`results.run_view`.

Every value is escaped; every image is a relative URL to the plugin's own endpoints, so the page
carries no signed URL and works under any ``[api] base_url``. A result only Runware holds (what a
``RunwareTaskSensor`` waited for) is a plain link to Runware's delivery URL, recorded without its query.
Stable ``data-testid`` hooks: ``runware-result`` (each result card), ``runware-thumbnail`` (each
thumbnail), ``runware-url`` (a link to Runware), ``runware-total-cost``.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import urlencode

from airflow_provider_runware.plugins.results import UNKNOWN_MODEL

STYLE = """
body{font-family:system-ui,sans-serif;margin:16px;color:#1a202c;background:#fff}
h1{font-size:1.25rem;margin:0 0 4px} h2{font-size:1rem;margin:18px 0 6px}
.summary{display:flex;gap:24px;flex-wrap:wrap;margin:8px 0 12px}
.summary div{background:#f4f6f8;border-radius:6px;padding:6px 10px}
.filters a{margin-right:10px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:12px}
.card{border:1px solid #d9dee4;border-radius:8px;padding:8px;font-size:.85rem}
.card img.thumb{max-width:256px;max-height:256px;display:block;margin:0 auto 6px}
.inputs{display:flex;gap:6px;align-items:center;margin-top:6px}
.inputs img{max-width:72px;max-height:72px;border:1px solid #d9dee4}
.state-failed{color:#b42318;font-weight:600} .state-reused{color:#6941c6} .state-stored{color:#067647}
.state-pending{color:#b54708}
dt{font-weight:600;float:left;clear:left;margin-right:6px} dd{margin:0 0 2px}
code{word-break:break-all}
"""


def _money(value: Any) -> str:
    return f"${float(value):.4f}" if isinstance(value, int | float) else "-"


def _input_html(item: dict[str, Any]) -> str:
    label = escape(str(item.get("parameter") or "input"))
    where = escape(str(item.get("uri") or item.get("image_uuid") or item.get("url") or ""))
    if item.get("thumbnail"):
        return (
            f'<a href="{escape(item["image"])}" title="{label}: {where}">'
            f'<img data-testid="runware-input" src="{escape(item["thumbnail"])}" alt="{label}"></a>'
        )
    return f'<span title="{where}">{label}</span>'


def _card(task: dict[str, Any], result: dict[str, Any]) -> str:
    state = str(result.get("state"))
    picture = ""
    if result.get("thumbnail"):
        picture = (
            f'<a href="{escape(result["image"])}">'
            f'<img class="thumb" data-testid="runware-thumbnail" src="{escape(result["thumbnail"])}" '
            f'alt="{escape(str(result.get("prompt") or "result"))}" loading="lazy"></a>'
        )
    elif result.get("image"):
        picture = f'<a href="{escape(result["image"])}">open the {escape(str(result.get("kind")))}</a>'
    elif str(result.get("url") or "").startswith(("https://", "http://")):
        picture = (
            f'<a href="{escape(result["url"])}" rel="noreferrer" target="_blank" data-testid="runware-url">'
            f"open the {escape(str(result.get('kind')))} at Runware</a>"
        )
    rows = [
        ("task", f"{task['task_id']}" + (f" [{task['map_index']}]" if task["map_index"] >= 0 else "")),
        ("row", result.get("row")),
        ("index", result.get("index")),
        ("prompt", result.get("prompt")),
        ("text", result.get("text")),
        ("model", result.get("model") or UNKNOWN_MODEL),
        ("size", f"{result['width']}x{result['height']}" if result.get("width") else None),
        ("seed", result.get("seed")),
        ("cost", _money(result.get("cost"))),
        ("stored at", result.get("storage_uri")),
        ("error", result.get("error")),
    ]
    details = "".join(
        f"<dt>{escape(name)}</dt><dd>{'<code>' if name == 'stored at' else ''}{escape(str(value))}"
        f"{'</code>' if name == 'stored at' else ''}</dd>"
        for name, value in rows
        if value is not None and value != ""
    )
    inputs = "".join(_input_html(item) for item in result.get("inputs") or [])
    inputs_html = f'<div class="inputs">made from: {inputs}</div>' if inputs else ""
    return (
        f'<div class="card" data-testid="runware-result" data-state="{escape(state)}">'
        f'{picture}<div class="state-{escape(state)}" data-testid="runware-state">{escape(state)}</div>'
        f"<dl>{details}</dl>{inputs_html}</div>"
    )


def gallery_html(dag_id: str, run_id: str, view: dict[str, Any], task_filter: str | None) -> str:
    per_model = "".join(
        f"<li>{escape(model)}: {_money(cost)}</li>" for model, cost in view["cost_per_model"].items()
    )
    counts = ", ".join(f"{count} {escape(state)}" for state, count in view["counts"].items()) or "none"
    task_ids = sorted({task["task_id"] for task in view["tasks"]})
    filters = '<a href="gallery">all tasks</a>' + "".join(
        f'<a href="gallery?{escape(urlencode({"task_id": task_id}))}">{escape(task_id)}</a>'
        for task_id in task_ids
    )
    sections = []
    for task in view["tasks"]:
        cards = "".join(_card(task, result) for result in task["results"])
        title = task["task_id"] + (f" [{task['map_index']}]" if task["map_index"] >= 0 else "")
        meta = f"{task.get('task_type')}, try {task.get('try_number')}"
        sections.append(
            f'<section data-testid="runware-task"><h2>{escape(title)} '
            f'<small>({escape(meta)})</small></h2><div class="grid">{cards}</div></section>'
        )
    body = "".join(sections) or "<p>No Runware results recorded for this run (yet).</p>"
    scope = f" — task {escape(task_filter)}" if task_filter else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Runware gallery: {escape(dag_id)}</title>
<meta name="referrer" content="no-referrer"><style>{STYLE}</style></head>
<body><h1>Runware gallery{scope}</h1>
<div>DAG <code>{escape(dag_id)}</code>, run <code>{escape(run_id)}</code></div>
<div class="summary"><div>total cost
<strong data-testid="runware-total-cost">{_money(view["total_cost"])}</strong></div>
<div>results: {counts}</div><div>per model:<ul>{per_model or "<li>-</li>"}</ul></div></div>
<div class="filters">{filters}</div>
{body}
</body></html>"""


LOGIN_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Runware gallery: sign in</title></head>
<body style="font-family:system-ui,sans-serif;margin:16px">
<p id="msg">Not authenticated. <a href="{login}">Sign in to Airflow</a>, then open this page again.</p>
<script>
(function () {{
  // Airflow 3.0's UI keeps its token in local storage: hand it to the plugin's pages once, as a
  // cookie scoped to the plugin's path, and reload. Nothing is sent anywhere else.
  var token = window.localStorage && window.localStorage.getItem("token");
  if (!token || sessionStorage.getItem("runwareTokenTried")) return;
  sessionStorage.setItem("runwareTokenTried", "1");
  document.cookie = "_token=" + token + "; path={path}; SameSite=Strict" +
    (location.protocol === "https:" ? "; Secure" : "");
  location.reload();
}})();
</script></body></html>"""


def login_html(base_path: str, prefix: str) -> str:
    return LOGIN_HTML.format(login=escape(f"{base_path}/"), path=escape(f"{base_path}{prefix}"))
