"""The collection as users get it: the tarball `ansible-galaxy collection build` makes.

A copy of the tree gets every kind of local state planted in it (pytest and hypothesis
folders, virtualenvs, caches, an earlier build, ...) at the root and inside the shipped
folders, so that the worktree itself stays clean; the copy is built, and the tarball must
hold neither that state nor what the repository keeps for its own development (lab,
scenarios, tests, benchmarks, CI), and must hold every file of the shipped folders.

Then the tarball is installed, offline, into a collections path that holds only the
dependencies its MANIFEST.json declares, with Ansible's scan of sys.path turned off, so
nothing else is found; and one role of the installed collection runs in check mode. That is
done twice: with the dependencies of the venv's ansible bundle, and with the lowest version
each range of galaxy.yml allows, taken from the release of the `ansible` package that carries
it (downloaded once from PyPI into $LGTM_CACHE/ansible-releases: a wheel, or for releases
before 6.0.0 the source archive, of which only the collection's folder is unpacked). Which
run: victorialogs on the Kubernetes target with a generated CA, towards a cluster address where nothing listens. It goes through the
argument spec, the bounds check (the collection's filters and module_utils), the preflight,
the CA and certificate generation on the controller (community.crypto; the CA directory is
the test's own, and that block runs outside check mode by design) and the objects built by
the k8s_manifests filter, and it stops at the first kubernetes.core.k8s call, which fails
connecting to the address the kubeconfig names. That failure, with that address, shows the
module was found in the dependency and got the kubeconfig through the role's module_defaults
group. Nothing on the machine changes but the test's temporary folder, and it takes seconds.
Any run that reaches further needs a host with systemd or a cluster: the Molecule scenarios.
"""
from __future__ import annotations

import fnmatch
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
import yaml
from cryptography import x509

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
BUNDLE = Path(sysconfig.get_paths()["purelib"]) / "ansible_collections"
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


def free_port() -> int:
    """A port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


PLAY = """
- name: Run a role of the installed collection in check mode
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Run victorialogs towards a cluster that does not answer
      block:
        - name: Run the role
          ansible.builtin.include_role:
            name: observability.lgtm.victorialogs
      rescue:
        - name: Keep where and why the role stopped
          ansible.builtin.copy:
            content: "{{ {'task': ansible_failed_task.name, 'action': ansible_failed_task.action,
                          'msg': ansible_failed_result.msg | default('')} | to_json }}"
            dest: "{{ outcome_file }}"
            mode: "0600"
          check_mode: false
"""


# The lowest version each dependency range of galaxy.yml allows, and the release of the `ansible` package
# that carries it (ansible-community/ansible-build-data, 11/ansible-11.8.0.deps: kubernetes.core 5.3.0;
# 5/ansible-5.2.0.deps: community.crypto 2.1.0). test_the_lowest_versions_are_those_galaxy_yml_allows keeps
# this in step with galaxy.yml.
LOWEST: Dict[str, Tuple[str, str]] = {"kubernetes.core": ("5.3.0", "11.8.0"), "community.crypto": ("2.1.0", "5.2.0")}
RELEASES = Path(os.environ.get("LGTM_CACHE") or Path.home() / ".cache" / "observability-lgtm") / "ansible-releases"


def lowest_allowed(requirement: str) -> str:
    """The version a galaxy.yml range of the form `>=X` (with `!=` exclusions after it) starts at."""
    bounds = [part.strip() for part in requirement.split(",")]
    assert bounds[0].startswith(">=") and all(part.startswith("!=") for part in bounds[1:]), requirement
    return bounds[0][2:]


def test_the_lowest_versions_are_those_galaxy_yml_allows() -> None:
    assert {name: lowest_allowed(requirement) for name, requirement in GALAXY["dependencies"].items()} == \
        {name: version for name, (version, _release) in LOWEST.items()}


def ansible_release(release: str) -> Path:
    """The `ansible` package of a release as PyPI serves it, downloaded once: a wheel from 6.0.0 on, the source
    archive before (only that was published)."""
    archives = RELEASES / "archives"
    found = sorted(archives.glob(f"ansible-{release}[.-]*"))
    if not found:
        download = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-build-isolation",
                                   "--dest", str(archives), f"ansible=={release}"],
                                  capture_output=True, text=True, check=False, timeout=900)
        assert download.returncode == 0, download.stdout[-2000:] + download.stderr[-2000:]
        found = sorted(archives.glob(f"ansible-{release}[.-]*"))
    assert len(found) == 1, found
    return found[0]


def unpacked_collection(name: str, version: str, release: str) -> Path:
    """The collection's folder from that release of the `ansible` package, unpacked once into the cache."""
    target = RELEASES / f"{name}-{version}"
    if not (target / "MANIFEST.json").exists():
        archive = ansible_release(release)
        inside = "ansible_collections/" + name.replace(".", "/") + "/"
        partial = RELEASES / f".{name}-{version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        if archive.suffix == ".whl":
            with zipfile.ZipFile(archive) as wheel:
                files = [(member, wheel.read(member)) for member in wheel.namelist()
                         if member.startswith(inside) and not member.endswith("/")]
            files = [(member[len(inside):], data) for member, data in files]
        else:
            inside = f"ansible-{release}/{inside}"
            with tarfile.open(archive) as source:
                files = [(member.name[len(inside):], source.extractfile(member).read())  # type: ignore[union-attr]
                         for member in source.getmembers() if member.name.startswith(inside) and member.isfile()]
        assert files, f"{archive.name} holds no {inside}"
        for relative, data in files:
            assert ".." not in Path(relative).parts, relative
            (partial / relative).parent.mkdir(parents=True, exist_ok=True)
            (partial / relative).write_bytes(data)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    found = json.loads((target / "MANIFEST.json").read_text())["collection_info"]["version"]
    assert found == version, f"the ansible {release} package carries {name} {found}, not {version}"
    return target


def dependency_folder(name: str, versions: str) -> Path:
    """Where a dependency is taken from: the venv's ansible bundle, or its lowest allowed version."""
    if versions == "bundled":
        source = BUNDLE / name.replace(".", "/")
        assert (source / "MANIFEST.json").exists(), f"dependency {name} is not in the venv's ansible bundle"
        return source
    assert name in LOWEST, f"no lowest version known for {name}"
    return unpacked_collection(name, *LOWEST[name])


@pytest.mark.parametrize("versions", ["bundled", "lowest"])
def test_the_tarball_installs_offline_with_its_dependencies_and_a_role_runs(built: Dict[str, object],
                                                                            versions: str) -> None:
    work, tarball, manifest = built["work"], built["tarball"], built["manifest"]
    assert isinstance(work, Path) and isinstance(tarball, Path) and isinstance(manifest, dict)
    work = work / versions
    collections = work / "collections"
    # Only the dependencies the tarball declares: the venv's ansible bundle's, or the lowest versions allowed.
    dependencies: Dict[str, str] = manifest["collection_info"]["dependencies"]
    present = {}
    for name in dependencies:
        source = dependency_folder(name, versions)
        present[name] = json.loads((source / "MANIFEST.json").read_text())["collection_info"]["version"]
        (collections / "ansible_collections" / name.split(".")[0]).mkdir(parents=True, exist_ok=True)
        (collections / "ansible_collections" / name.replace(".", "/")).symlink_to(source)
    if versions == "lowest":
        assert present == {name: version for name, (version, _release) in LOWEST.items()}
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_") and key != "PYTHONPATH"}
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                "ANSIBLE_HOME": str(work / "ansible-home"), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default"})

    # With dependencies resolved (no --no-deps): offline, each declared range must be met by what is there.
    install = subprocess.run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", str(tarball),
                              "-p", str(collections)], capture_output=True, text=True, check=False, timeout=300, env=env)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    for name, version in present.items():
        assert f"'{name}:{version}' is already installed" in install.stdout, install.stdout
    installed = collections / "ansible_collections" / GALAXY["namespace"] / GALAXY["name"]
    assert (installed / "MANIFEST.json").exists() and not (installed / "lab").exists()

    port = free_port()
    (work / "kubeconfig").write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "nowhere",
        "clusters": [{"name": "nowhere", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
        "users": [{"name": "nobody", "user": {"token": "none"}}],
        "contexts": [{"name": "nowhere", "context": {"cluster": "nowhere", "user": "nobody"}}]}))
    (work / "play.yml").write_text(PLAY)
    outcome_file = work / "outcome.json"
    extra_vars = {
        "ansible_python_interpreter": sys.executable, "outcome_file": str(outcome_file),
        "lgtm_platform": "kubernetes", "lgtm_kubeconfig": str(work / "kubeconfig"),
        "lgtm_tls": True, "lgtm_tls_generate_ca": True, "lgtm_tls_ca_dir": str(work / "ca"),
        # The failed result is read below; the role would hide it (it carries a Secret).
        "lgtm_show_secrets": True}
    run = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(work / "play.yml"), "--check",
                          "--extra-vars", json.dumps(extra_vars)],
                         capture_output=True, text=True, check=False, timeout=300, env=env, cwd=work)
    output = run.stdout + run.stderr
    assert run.returncode == 0 and outcome_file.exists(), output[-5000:]
    # The role's tasks came from the installed copy.
    assert f"{installed}/roles/common/tasks/kubernetes.yml" in output, output[-5000:]

    outcome = json.loads(outcome_file.read_text())
    assert outcome["action"] == "kubernetes.core.k8s", outcome
    assert outcome["task"].startswith("Create the namespace, service account and configuration objects"), outcome
    assert "127.0.0.1" in outcome["msg"] and f"port={port}" in outcome["msg"], outcome

    ca = x509.load_pem_x509_certificate((work / "ca" / "ca.crt").read_bytes())
    host = x509.load_pem_x509_certificate((work / "ca" / "hosts" / "localhost.crt").read_bytes())
    host.verify_directly_issued_by(ca)
