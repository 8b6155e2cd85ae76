"""The built wheel carries the rules, not the development tools: a non-editable install
finds the rules away from the repo."""

import json
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_wheel_installed_in_a_fresh_virtualenv_lists_the_rules(tmp_path):
    pytest.importorskip("hatchling", reason="building the wheel needs hatchling (test extra)")
    dist = tmp_path / "dist"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr
    (wheel,) = dist.glob("lrdoctor-*.whl")
    # The corpus generators and the evaluation harness are development tools, not shipped.
    with zipfile.ZipFile(wheel) as archive:
        shipped_files = archive.namelist()
    assert any(name.startswith("lrdoctor/engine/") for name in shipped_files)
    development = ("tools/", "lrdoctor/samples", "lrdoctor/evaluate")
    assert [name for name in shipped_files if name.startswith(development)] == []

    fresh = tmp_path / "fresh"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
        capture_output=True,
        text=True,
    )
    assert install.returncode == 0, install.stderr
    # Then the fresh environment borrows this one's dependencies (numpy, mlflow...) through a
    # .pth line appended after its own site-packages, so its own lrdoctor comes first. (Added
    # after the install: pip would otherwise see this environment's lrdoctor and skip it.)
    Path(site, "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    listing = subprocess.run(
        [str(fresh / "bin" / "lrdoctor"), "rules", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=elsewhere,
        env=env,
    )
    assert listing.returncode == 0, listing.stderr
    rules = json.loads(listing.stdout)["rules"]
    shipped = sorted(path.stem.split("-")[0] for path in (REPO / "rules").glob("LRD*.toml"))
    assert sorted(rule["code"] for rule in rules) == shipped
    for rule in rules:
        assert Path(rule["source"]).is_relative_to(Path(site)), rule["source"]
        assert "_rules" in Path(rule["source"]).parts
