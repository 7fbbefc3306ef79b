"""The wheel carries what the installed package reads at run time: the
model-card templates, kept at the repository's top level (``hub_cards/``) and
shipped as ``speechbrain_v2s/hub_cards/`` (setup.cfg's ``package_dir``)."""

import configparser
import os
import shutil
import subprocess
import sys
import zipfile

import pytest
from recipe_runs import ROOT, subprocess_env
from setuptools import find_packages

from speechbrain_v2s import hub_card

TEMPLATES = sorted(os.listdir(os.path.join(ROOT, "hub_cards")))
#: What a wheel is built from (the build writes build/ and *.egg-info there).
SOURCES = ("setup.cfg", "pyproject.toml", "README.md", "hub_cards")


def _options():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    return config["options"]


def test_setup_cfg_lists_every_package():
    """``packages`` is a list (find: cannot add the mapped templates folder):
    a new subpackage missing from it would be missing from the wheel."""
    listed = _options()["packages"].split()
    found = find_packages(ROOT, include=["speechbrain_v2s*"])
    assert sorted(listed) == sorted(found + ["speechbrain_v2s.hub_cards"])
    mapping = _options()["package_dir"].split("=")
    assert [m.strip() for m in mapping] == ["speechbrain_v2s.hub_cards", "hub_cards"]
    assert TEMPLATES == ["a2a.md", "v2a.md", "vocoder.md"]


def test_wheel_ships_the_templates_and_finds_them(tmp_path):
    """Built like ``pip wheel .``, unpacked as an install would place it, and
    imported with no repository around: the card templates are found."""
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        path = os.path.join(ROOT, name)
        if os.path.isdir(path):
            shutil.copytree(path, src / name)
        else:
            shutil.copy(path, src / name)
    shutil.copytree(
        os.path.join(ROOT, "speechbrain_v2s"),
        src / "speechbrain_v2s",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    wheels = tmp_path / "wheels"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
        + ["-q", "-w", str(wheels), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("speechbrain_v2s-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in TEMPLATES:
            with open(os.path.join(ROOT, "hub_cards", name), "rb") as handle:
                assert archive.read(f"speechbrain_v2s/hub_cards/{name}") == (
                    handle.read()
                ), name
        archive.extractall(tmp_path / "site")

    code = (
        "from speechbrain_v2s import hub_card; "
        "print(hub_card.template_path('v2a')); "
        "print(hub_card.render_card('vocoder', {'name': 'n'}).splitlines()[-1])"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-c", code],  # -S: no site, no editable install
        cwd=tmp_path,
        env=subprocess_env({"PYTHONPATH": str(tmp_path / "site")}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    path, last = result.stdout.splitlines()
    assert path == str(tmp_path / "site" / "speechbrain_v2s" / "hub_cards" / "v2a.md")
    assert "compute_mel" in last


def test_templates_found_in_the_package_without_the_repository(tmp_path, monkeypatch):
    packaged = tmp_path / "speechbrain_v2s" / "hub_cards"
    shutil.copytree(os.path.join(ROOT, "hub_cards"), packaged)
    (packaged / "vocoder.md").write_text("packaged {name}\n")
    monkeypatch.setattr(
        hub_card, "TEMPLATE_DIRS", (str(packaged), str(tmp_path / "no_repo"))
    )
    assert hub_card.render_card("vocoder", {"name": "x"}) == "packaged x\n"
    # The packaged copy comes first; the repository's when there is none.
    monkeypatch.setattr(
        hub_card,
        "TEMPLATE_DIRS",
        (str(tmp_path / "none"), os.path.join(ROOT, "hub_cards")),
    )
    assert hub_card.render_card("vocoder", {"name": "x"}).startswith("---")
    monkeypatch.setattr(hub_card, "TEMPLATE_DIRS", (str(tmp_path / "none"),))
    with pytest.raises(FileNotFoundError, match=r"no model-card template v2a\.md"):
        hub_card.render_card("v2a", {})
