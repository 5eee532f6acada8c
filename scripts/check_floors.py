"""`make floors`: prove the dependency floors in pyproject.toml are honest.

Installs the provider (with the ``emulator`` extra) into a throwaway virtualenv at the *lowest* version
of every direct dependency that the resolver allows (``uv pip install --resolution lowest-direct``), then,
in that environment:

- every declared floor is exactly what got installed (a floor below what can be installed is a claim
  nobody tested; the message says which floor to raise),
- every module of the package imports, and the emulator renders an image (Pillow's API is used, not
  only imported),
- Python itself is at the declared ``requires-python`` floor or the check says it could not prove it.

Exit status 0 when all of that holds. Uses uv's cache, so after the first run it takes seconds.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("emulator",)
FLOOR = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*(?P<version>[0-9][^,;\s]*)")

CHILD = r"""
import importlib, importlib.metadata as md, json, pkgutil, sys
import airflow_provider_runware as package
modules = sorted(m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + "."))
for name in modules:
    importlib.import_module(name)
from airflow_provider_runware.emulator.render import render_image
data = render_image(seed=1, width=64, height=64, output_format="PNG", quality=90, prompt="floor check")
assert data.startswith(b"\x89PNG"), "the emulator could not render at the floor versions"
names = json.loads(sys.argv[1])
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "modules": len(modules),
    "versions": {name: md.version(name) for name in names},
}))
"""


def declared_floors() -> tuple[str, dict[str, str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in EXTRAS:
        requirements += project["optional-dependencies"][extra]
    floors = {}
    for requirement in requirements:
        match = FLOOR.match(requirement)
        if match is None:
            raise SystemExit(f"pyproject.toml: {requirement!r} has no '>=' floor to check")
        floors[match["name"].lower()] = match["version"]
    python_floor = project["requires-python"].removeprefix(">=")
    return python_floor, floors


def run(command: list[str], cwd: str | None = None) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def main() -> None:
    python_floor, floors = declared_floors()
    uv = str(Path(sys.executable).parent / "uv")
    with tempfile.TemporaryDirectory(prefix="runware-floors-") as tmp:
        venv = Path(tmp) / "venv"
        run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
        python = str(venv / "bin" / "python")
        target = f"{ROOT}[{','.join(EXTRAS)}]"
        run([uv, "pip", "install", "--quiet", "--python", python, "--resolution", "lowest-direct", target])
        # Run outside the checkout, so the installed copy is imported rather than the working tree.
        output = run([python, "-c", CHILD, json.dumps(sorted(floors))], cwd=tmp)
        report = json.loads(output.strip().splitlines()[-1])
    installed, python = report["versions"], report["python"]
    problems = [
        f"{name}: declared >={floor} but the lowest installable is {installed[name]}: raise the floor"
        for name, floor in sorted(floors.items())
        if Version(installed[name]) != Version(floor)
    ]
    print(f"Python {python} (requires-python >={python_floor}); {report['modules']} modules imported")
    for name, version in sorted(installed.items()):
        print(f"  {name}=={version}")
    if python != python_floor:
        print(f"note: ran on Python {python}, not the floor {python_floor}: that floor is not proven")
    if problems:
        raise SystemExit("Dependency floors are not honest:\n  " + "\n  ".join(problems))
    print("Every floor installs, and every module imports at it.")


if __name__ == "__main__":
    main()
