"""The shared lifecycle's plugins entry point (roles/common/tasks/plugins.yml), run for real on this machine.

The grafana role installs the data source plugins its release does not carry
through it. Grafana cannot run here, and its plugins are not needed to prove
these tasks: a plugin archive of upstream's layout (one top directory named
after the plugin id, a plugin.json whose info.version is the version) is made
in the test, with a checksum file in the form upstream's plugin releases use,
and served from a file:// URL, the one URL scheme that reaches nothing. The
component is named root, an account that exists wherever the test runs; every
path is under the test's own directory.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tasks give the plugin's files to root")

PLUGIN = "lgtm-test-datasource"


def release(folder: Path, version: str, algorithm: str = "sha1", listed_digest: str | None = None,
            plugin_json_version: str | None = None) -> dict[str, str]:
    """A plugin release in upstream's layout under folder/v<version>/, and its pin."""
    directory = folder / f"v{version}"
    directory.mkdir(parents=True)
    archive = directory / f"{PLUGIN}-v{version}.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"{PLUGIN}/plugin.json", json.dumps(
            {"type": "datasource", "id": PLUGIN, "info": {"version": plugin_json_version or version}}))
        zipped.writestr(f"{PLUGIN}/module.js", f"// {version}\n")
        zipped.writestr(f"{PLUGIN}/only-in-{version}.txt", version)
    digest = listed_digest or hashlib.new(algorithm, archive.read_bytes()).hexdigest()
    checksum = directory / f"{PLUGIN}-v{version}_checksums_zip.txt"
    checksum.write_text(f"{digest}  {archive.name}\n")
    return {"id": PLUGIN, "version": version, "artifact_url": archive.as_uri(), "checksum_url": checksum.as_uri(),
            "checksum_algorithm": algorithm}


def run(work: Path, pins: list[dict[str, str]], check: bool = False) -> tuple[int, list[dict[str, Any]], str]:
    """Run the entry point once; returns the exit code, the task results in order, and the output."""
    play = [{"name": "Install the component's plugins", "hosts": "localhost", "connection": "local",
             "gather_facts": False,
             "vars": {"ansible_python_interpreter": sys.executable, "lgtm_artifact_cache_dir": str(work / "cache")},
             "tasks": [{"name": "Install the plugins", "ansible.builtin.include_role": {
                 "name": "observability.lgtm.common", "tasks_from": "plugins"},
                 "vars": {"common_component": {"name": "root", "version": "1", "plugins_dir": str(work / "plugins"),
                                               "plugins": pins}}},
                 {"name": "Show the pending restarts",
                  "ansible.builtin.debug": {"msg": "{{ common_pending_restarts | default([]) }}"}}]}]
    (work / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", str(work / "play.yml"),
         *(["--check"] if check else [])],
        capture_output=True, text=True, check=False, timeout=600, cwd=work,
        env={**os.environ, "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_NOCOLOR": "1"})
    document = json.loads(result.stdout[result.stdout.index("{"):])
    tasks = [{**outcome, "task": task["task"]["name"]}
             for play_result in document["plays"] for task in play_result["tasks"]
             for outcome in task["hosts"].values()]
    return result.returncode, tasks, result.stdout + result.stderr


def changed(tasks: list[dict[str, Any]]) -> list[str]:
    """The changed tasks' names, without the role's prefix."""
    return [task["task"].split(" : ", 1)[-1] for task in tasks if task.get("changed")]


def pending_restarts(tasks: list[dict[str, Any]]) -> list[str]:
    return next(task["msg"] for task in tasks if task["task"] == "Show the pending restarts")


def test_a_plugin_is_verified_unpacked_as_roots_and_restarts_the_service_once(tmp_path: Path):
    pin = release(tmp_path / "upstream", "1.0.0")
    code, tasks, output = run(tmp_path, [pin])
    assert code == 0, output[-3000:]
    installed = tmp_path / "plugins" / PLUGIN
    assert json.loads((installed / "plugin.json").read_text())["info"]["version"] == "1.0.0"
    assert (installed / "only-in-1.0.0.txt").is_file()
    # Root's files: the service reads the pinned plugin but cannot change it.
    assert {(path.stat().st_uid, path.stat().st_gid) for path in installed.rglob("*")} == {(0, 0)}
    # Verified once, on the controller, in a cache of the plugin's own (prune leaves it alone).
    assert (tmp_path / "cache" / "root-plugins" / PLUGIN / "1.0.0" / f"{PLUGIN}-v1.0.0.zip").is_file()
    assert pending_restarts(tasks) == ["root"]

    code, tasks, output = run(tmp_path, [pin])
    assert code == 0, output[-3000:]
    assert changed(tasks) == [], "a second run changed something"
    assert pending_restarts(tasks) == []


def test_a_new_version_replaces_the_old_one_whole(tmp_path: Path):
    assert run(tmp_path, [release(tmp_path / "upstream", "1.0.0")])[0] == 0
    code, tasks, output = run(tmp_path, [release(tmp_path / "upstream", "1.1.0")])
    assert code == 0, output[-3000:]
    installed = tmp_path / "plugins" / PLUGIN
    assert json.loads((installed / "plugin.json").read_text())["info"]["version"] == "1.1.0"
    assert not (installed / "only-in-1.0.0.txt").exists(), "a file of the old version was left behind"
    assert pending_restarts(tasks) == ["root"]


def test_check_mode_shows_the_install_and_changes_nothing(tmp_path: Path):
    code, tasks, output = run(tmp_path, [release(tmp_path / "upstream", "1.0.0")], check=True)
    assert code == 0, output[-3000:]
    assert "Preview in check mode the unpacking of the plugin lgtm-test-datasource 1.0.0" in changed(tasks)
    assert not (tmp_path / "plugins").exists()


def test_an_archive_its_checksum_file_does_not_vouch_for_changes_nothing(tmp_path: Path):
    assert run(tmp_path, [release(tmp_path / "upstream", "1.0.0")])[0] == 0
    code, _tasks, output = run(tmp_path, [release(tmp_path / "upstream", "1.1.0", listed_digest="0" * 40)])
    assert code != 0
    assert "did not match" in output
    assert json.loads((tmp_path / "plugins" / PLUGIN / "plugin.json").read_text())["info"]["version"] == "1.0.0"


def test_the_digest_is_the_one_the_checksum_file_lists(tmp_path: Path):
    """A SHA-1 file read as SHA-256 (or the reverse) is refused: the algorithm is the pin's."""
    pin = {**release(tmp_path / "upstream", "1.0.0", algorithm="sha1"), "checksum_algorithm": "sha256"}
    code, _tasks, output = run(tmp_path, [pin])
    # The checksum file is read for the pin's algorithm: its SHA-1 line gives no sha256, before any download.
    assert code != 0 and f"has no sha256 for {PLUGIN}-v1.0.0.zip" in output
    assert not (tmp_path / "plugins" / PLUGIN).exists()
    assert run(tmp_path, [release(tmp_path / "upstream2", "1.0.0", algorithm="sha256")])[0] == 0


def test_a_pin_naming_another_version_than_the_archive_holds_fails_naming_it(tmp_path: Path):
    code, _tasks, output = run(tmp_path, [release(tmp_path / "upstream", "2.0.0", plugin_json_version="2.0.1")])
    assert code != 0
    assert (f"left no {tmp_path}/plugins/{PLUGIN}/plugin.json of id {PLUGIN} and version 2.0.0" in output), output[-3000:]
