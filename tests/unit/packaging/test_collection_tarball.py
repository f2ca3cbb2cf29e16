"""The collection as users get it: the tarball `ansible-galaxy collection build` makes.

A copy of the tree gets every kind of local state planted in it (pytest and hypothesis
folders, virtualenvs, caches, an earlier build, ...) at the root and inside the shipped
folders, so that the worktree itself stays clean; the copy is built, and the tarball must
hold neither that state nor what the repository keeps for its own development (lab,
scenarios, tests, benchmarks, CI), and must hold every file of the shipped folders.
"""
from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Dict, List

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
GALAXY = yaml.safe_load((REPO / "galaxy.yml").read_text())

# What the repository keeps for its own development, at its root.
DEVELOPMENT_ONLY = (".ci", ".config", ".git", ".gitignore", ".ansible-lint", "Makefile", "requirements-dev.txt",
                    "benchmarks", "lab", "molecule", "tests")
# Folders local tools leave wherever they ran, and files they leave.
STATE_FOLDERS = (".hypothesis", ".pytest_cache", "__pycache__", ".mypy_cache", ".ruff_cache", ".tox", ".nox",
                 ".cache", ".ansible", "htmlcov", ".venv", "venv", ".idea", ".vscode")
STATE_FILES = ("*.pyc", "*.tar.gz", "*.retry", ".coverage", "*.swp", "*~")
# Where state is planted: the root and folders that ship.
PLANT_IN = ("", "roles/common", "roles/otel_collector/templates", "plugins/module_utils", "playbooks")
# What ships: every file under these, and these files.
SHIPPED_FOLDERS = ("roles", "plugins", "playbooks", "meta", "docs", "changelogs")
SHIPPED_FILES = ("README.md", "LICENSE", "CHANGELOG.rst")


def gitignore_entries() -> List[str]:
    """The checkout's .gitignore lines: what a checkout gathers and git is told to ignore ('/' ends a folder)."""
    lines = (REPO / ".gitignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def gitignore_patterns() -> List[str]:
    return [entry.rstrip("/") for entry in gitignore_entries()]


def should_not_ship(member: str) -> bool:
    parts = member.split("/")
    if parts[0] in DEVELOPMENT_ONLY:
        return True
    if any(part in STATE_FOLDERS for part in parts[:-1]) or parts[-1] in STATE_FOLDERS:
        return True
    if any(fnmatch.fnmatch(parts[-1], pattern) for pattern in STATE_FILES):
        return True
    for pattern in gitignore_patterns():
        if "/" in pattern:  # anchored at the root, as git reads a pattern with a slash inside
            if member == pattern or member.startswith(pattern + "/"):
                return True
        elif any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def plant_state(tree: Path) -> List[str]:
    """Local state of every kind at the root and in shipped folders; returns what was planted."""
    planted = [".git/HEAD", "tests/output/junit.xml", f"{GALAXY['namespace']}-{GALAXY['name']}-0.0.1.tar.gz"]
    for where in PLANT_IN:
        for folder in STATE_FOLDERS:
            planted.append(f"{where}/{folder}/state".lstrip("/"))
        for pattern in STATE_FILES:
            planted.append(f"{where}/{pattern.replace('*', 'state')}".lstrip("/"))
        for entry in gitignore_entries():
            if where and "/" in entry.rstrip("/"):
                continue  # anchored at the root
            name = entry.rstrip("/").replace("*", "state")
            planted.append(f"{where}/{name}/state".lstrip("/") if entry.endswith("/") else f"{where}/{name}".lstrip("/"))
    planted = sorted(set(planted))
    for path in planted:
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text("local state\n")
    return planted


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, object]:
    """A copy of the tree with local state planted, built; the tarball and its members."""
    work = tmp_path_factory.mktemp("collection_build")
    tree = work / "tree"
    # The checkout's own state is left out of the copy (it may be large); the test plants its own.
    shutil.copytree(REPO, tree, symlinks=True, ignore=shutil.ignore_patterns(".git", *STATE_FOLDERS))
    planted = plant_state(tree)
    result = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "build", str(tree), "--output-path",
                             str(work / "out")], capture_output=True, text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    tarball = work / "out" / f"{GALAXY['namespace']}-{GALAXY['name']}-{GALAXY['version']}.tar.gz"
    with tarfile.open(tarball) as archive:
        members = [member.name for member in archive.getmembers() if member.isfile()]
        manifest = json.load(archive.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    return {"work": work, "tree": tree, "planted": planted, "tarball": tarball, "members": members,
            "manifest": manifest}


def test_the_planted_state_counts_as_not_shipping(built: Dict[str, object]) -> None:
    """Else the next test could pass without looking."""
    planted = built["planted"]
    assert isinstance(planted, list)
    assert [path for path in planted if not should_not_ship(path)] == []


def test_nothing_that_should_not_ship_is_in_the_tarball(built: Dict[str, object]) -> None:
    members = built["members"]
    assert isinstance(members, list)
    wrong = sorted(member for member in members if should_not_ship(member))
    assert not wrong, ("the tarball holds files that should not ship (add them to build_ignore in galaxy.yml):\n  "
                       + "\n  ".join(wrong))


def test_every_file_the_collection_needs_ships(built: Dict[str, object]) -> None:
    tree, members = built["tree"], built["members"]
    assert isinstance(tree, Path) and isinstance(members, list)
    planted = set(built["planted"])  # type: ignore[arg-type]
    expected = {str(path.relative_to(tree)) for folder in SHIPPED_FOLDERS for path in (tree / folder).rglob("*")
                if path.is_file()} | set(SHIPPED_FILES)
    expected = {path for path in expected if path not in planted and not should_not_ship(path)}
    missing = sorted(expected - set(members) - {"galaxy.yml"})
    assert not missing, "the tarball lacks files of the collection:\n  " + "\n  ".join(missing)
    assert {"MANIFEST.json", "FILES.json"} <= set(members)
    assert len(expected) > 100, f"only {len(expected)} files expected: the copy of the tree is incomplete"
