"""`make floors`: prove the dependency floors in pyproject.toml are honest, on the oldest and the newest
Airflow line.

Installs the provider (with every extra: emulator, amazon, google, microsoft-azure, gallery) twice, each time
into a throwaway virtualenv with ``uv pip install --resolution lowest-direct`` (the *lowest* version of
every direct dependency the resolver allows):

(a) as declared: Airflow lands on its own floor (the oldest supported line), and every declared floor
    must be exactly what got installed (a floor below what can be installed is a claim nobody tested;
    the message says which floor to raise);
(b) with apache-airflow pinned to the newest line's patch (``airflow_matrix.LINES``): every other floor
    must be what got installed unless that Airflow itself (or a package it brings) requires more; then
    the check prints which floor was raised, to what and by which requirement, and that is no failure.

Each pass resolves with the packages of its line's era (``--exclude-newer``: the date ``make matrix``
uses, the day after that Airflow patch's release), as a platform pinned to that release has them.
Without it uv takes today's release of every transitive dependency, and those raise our floors through
packages Airflow 3.0.0 never saw (today's common-io/common-sql/standard providers need common-compat
1.23, today's FastAPI a starlette 1.x), so a lowest-direct install would never land on 3.0.0's set.

(c) For the first supported release of every line (3.0.2, 3.1.0, 3.2.0, 3.3.0) the provider with every
    extra must resolve next to that release's era (``uv pip compile --exclude-newer <day after>``): the
    provider versions its constraints file pins (common-compat, amazon, google, microsoft-azure, ...)
    satisfy every floor, so a platform that installs against those constraints can install us.

In each environment every module of the package imports, and the emulator renders an image and encodes
a video (Pillow's and PyAV's APIs are used, not only imported). Python itself is at the declared
``requires-python`` floor or the check says it could not prove it.

Exit status 0 when all of that holds. Uses uv's cache, so after the first run it takes seconds.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from airflow_matrix import LINES
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
EXTRAS = ("emulator", "amazon", "google", "microsoft-azure", "gallery")
FLOOR = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?\s*>=\s*(?P<version>[0-9][^,;\s]*)")

CHILD = r"""
import importlib, importlib.metadata as md, json, pkgutil, sys
import airflow_provider_runware as package
modules = sorted(m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + "."))
for name in modules:
    importlib.import_module(name)
# The cloud providers' hooks that storage signs through import next to this Airflow at their floors.
import airflow.providers.amazon.aws.hooks.s3, airflow.providers.google.cloud.hooks.gcs
import airflow.providers.microsoft.azure.hooks.wasb
from airflow_provider_runware.emulator.render import render_image
data = render_image(seed=1, width=64, height=64, output_format="PNG", quality=90, prompt="floor check")
assert data.startswith(b"\x89PNG"), "the emulator could not render at the floor versions"
from airflow_provider_runware.emulator.video_render import encode_video, frame_size, frames_for
video = encode_video(frames_for(1, "floor check", frame_size(64, 64)), "MP4", 90)
assert video[4:8] == b"ftyp", "the emulator could not encode a video (PyAV) at the floor versions"
floors = json.loads(sys.argv[1])
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
# For each floor: the installed distributions whose requirement on it excludes the floor version.
raisers = {name: [] for name in floors}
for dist in md.distributions():
    if canonicalize_name(dist.metadata["Name"]) == canonicalize_name(package.PACKAGE_NAME):
        continue  # our own extras are not Airflow's requirements
    extras = [""] + (dist.metadata.get_all("Provides-Extra") or [])
    for text in dist.requires or []:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name not in floors or requirement.specifier.contains(floors[name], prereleases=True):
            continue
        marker = requirement.marker
        applies = [e for e in extras if marker is None or marker.evaluate({"extra": e})]
        if applies:
            via = f"{dist.metadata['Name']} {dist.version}" + (f" [{applies[0]}]" if applies[0] else "")
            raisers[name].append(f"{via} requires {requirement.name}{requirement.specifier}")
print(json.dumps({
    "python": "%d.%d" % sys.version_info[:2],
    "modules": len(modules),
    "versions": {name: md.version(name) for name in floors},
    "raisers": raisers,
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
        floors[canonicalize_name(match["name"])] = match["version"]
    python_floor = project["requires-python"].removeprefix(">=")
    return python_floor, floors


def run(command: list[str], cwd: str | None = None) -> str:
    completed = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
    if completed.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def clean_source(destination: Path) -> Path:
    """The checkout's files as git sees them (tracked, and untracked ones it does not ignore), copied to
    ``destination``: building from the checkout itself would ship whatever a previous build left in
    ``build/``, such as modules that have since moved."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=str(ROOT))
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def install_and_import(
    uv: str, floors: dict[str, str], pins: list[str], exclude_newer: str
) -> dict[str, Any]:
    """Lowest-direct install of the provider (plus ``pins``) in a throwaway venv, with the packages of
    the ``exclude_newer`` era; the child's report."""
    with tempfile.TemporaryDirectory(prefix="runware-floors-") as tmp:
        venv = Path(tmp) / "venv"
        run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)])
        python = str(venv / "bin" / "python")
        target = f"{clean_source(Path(tmp) / 'src')}[{','.join(EXTRAS)}]"
        run(
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                python,
                "--resolution",
                "lowest-direct",
                "--exclude-newer",
                exclude_newer,
                target,
                *pins,
            ]
        )
        # Run outside the checkout, so the installed copy is imported rather than the working tree.
        output = run([python, "-c", CHILD, json.dumps(floors)], cwd=tmp)
        report: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        return report


def print_report(report: dict[str, Any], python_floor: str, notes: dict[str, str]) -> None:
    python = report["python"]
    print(f"  Python {python} (requires-python >={python_floor}); {report['modules']} modules imported")
    for name, version in sorted(report["versions"].items()):
        print(f"    {name}=={version}" + (f"  ({notes[name]})" if name in notes else ""))
    if python != python_floor:
        print(f"  note: ran on Python {python}, not the floor {python_floor}: that floor is not proven")


def oldest_line(uv: str, python_floor: str, floors: dict[str, str]) -> list[str]:
    """(a) Every floor as declared, Airflow included: exactly the floors must install."""
    oldest = min(LINES.values(), key=lambda line: Version(line.airflow))
    print(
        f"(a) lowest-direct: every dependency at its declared floor (Airflow's floor: the oldest line, "
        f"{oldest.name}), packages of its era (exclude-newer {oldest.exclude_newer})"
    )
    report = install_and_import(uv, floors, [], oldest.exclude_newer)
    installed = report["versions"]
    print_report(report, python_floor, {})
    return [
        f"{name}: declared >={floor} but the lowest installable is {installed[name]}: raise the floor"
        for name, floor in sorted(floors.items())
        if Version(installed[name]) != Version(floor)
    ]


def newest_line(uv: str, python_floor: str, floors: dict[str, str]) -> list[str]:
    """(b) Airflow pinned to the newest line: every other floor installs unless that Airflow needs more."""
    newest = max(LINES.values(), key=lambda line: Version(line.airflow))
    print(
        f"(b) lowest-direct with apache-airflow=={newest.airflow} (the newest line, {newest.name}), "
        f"packages of its era (exclude-newer {newest.exclude_newer})"
    )
    report = install_and_import(uv, floors, [f"apache-airflow=={newest.airflow}"], newest.exclude_newer)
    installed, raisers = report["versions"], report["raisers"]
    notes, raised, problems = {}, [], []
    for name, floor in sorted(floors.items()):
        if name == "apache-airflow":
            if Version(installed[name]) != Version(newest.airflow):
                problems.append(f"apache-airflow: pinned {newest.airflow} but {installed[name]} installed")
            notes[name] = "pinned: the newest line"
        elif Version(installed[name]) != Version(floor):
            if raisers[name]:
                notes[name] = f"floor {floor}: raised by Airflow {newest.airflow}"
                raised.append(f"{name} {floor} -> {installed[name]}: {'; '.join(sorted(raisers[name]))}")
            else:
                problems.append(
                    f"{name}: declared >={floor}, nothing installed with Airflow {newest.airflow} requires "
                    f"more, yet {installed[name]} was installed"
                )
    print_report(report, python_floor, notes)
    for line in raised:
        print(f"  floor raised by Airflow {newest.airflow} itself (not a failure): {line}")
    return problems


# The first release of each line the provider supports (3.0's is its Airflow floor), with the day after
# its release: the era its constraints file pins.
FIRST_RELEASES = (
    ("3.0.2", "2025-06-11"),
    ("3.1.0", "2025-09-26"),
    ("3.2.0", "2026-04-08"),
    ("3.3.0", "2026-07-07"),
)
ERA_PACKAGES = (
    "apache-airflow-providers-common-compat",
    "apache-airflow-providers-amazon",
    "apache-airflow-providers-google",
    "apache-airflow-providers-microsoft-azure",
    "starlette",
    "uvicorn",
)


def first_releases(uv: str) -> list[str]:
    """(c) Each line's first release: the provider resolves with the packages of that release's day."""
    print("(c) the provider with every extra next to each line's first release, packages of its era")
    problems = []
    for airflow, exclude_newer in FIRST_RELEASES:
        with tempfile.TemporaryDirectory(prefix="runware-era-") as tmp:
            requirements = Path(tmp) / "requirements.in"
            requirements.write_text(f"apache-airflow=={airflow}\n{ROOT}[{','.join(EXTRAS)}]\n")
            command = [uv, "pip", "compile", "--quiet", "--python-version", "3.11", "--exclude-newer"]
            completed = subprocess.run(
                [*command, exclude_newer, str(requirements)], capture_output=True, text=True, check=False
            )
        if completed.returncode != 0:
            problems.append(f"Airflow {airflow} (era {exclude_newer}): {completed.stderr.strip()[-400:]}")
            continue
        pinned = dict(
            line.split("==", 1) for line in completed.stdout.splitlines() if "==" in line and " " not in line
        )
        era = ", ".join(
            f"{name.removeprefix('apache-airflow-providers-')} {pinned[name]}" for name in ERA_PACKAGES
        )
        print(f"  Airflow {airflow} (era {exclude_newer}): resolves with {era}")
    return problems


def main() -> None:
    python_floor, floors = declared_floors()
    uv = str(Path(sys.executable).parent / "uv")
    problems = oldest_line(uv, python_floor, floors)
    problems += newest_line(uv, python_floor, floors)
    problems += first_releases(uv)
    if problems:
        raise SystemExit("Dependency floors are not honest:\n  " + "\n  ".join(problems))
    print(
        "Every floor installs, and every module imports at it, on the oldest and the newest Airflow line; "
        "the provider resolves next to every line's first release."
    )


if __name__ == "__main__":
    main()
