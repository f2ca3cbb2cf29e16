# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_state: every difference is reported, and only real ones."""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
from pathlib import Path
from typing import Any, Dict, List

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.disk_reservation import reserve
from ansible_collections.observability.lgtm.plugins.module_utils.host_state import (
    differences, read_expected, read_users)

ME = pwd.getpwuid(os.getuid())
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


@pytest.fixture(name="tree")
def fixture_tree(tmp_path: Path) -> Dict[str, Any]:
    config = tmp_path / "config.yaml"
    config.write_text("receivers: {}\n")
    config.chmod(0o640)
    data = tmp_path / "data"
    data.mkdir(mode=0o750)
    data.chmod(0o750)
    link = tmp_path / "current"
    link.symlink_to(data)
    expected = [
        {"path": str(config), "kind": "file", "owner": ME.pw_name, "group": MY_GROUP, "mode": "0640",
         "sha256": hashlib.sha256(b"receivers: {}\n").hexdigest()},
        {"path": str(data), "kind": "directory", "owner": ME.pw_name, "group": MY_GROUP, "mode": "750"},
        {"path": str(link), "kind": "link", "target": str(data)},
    ]
    return {"config": config, "data": data, "link": link, "expected": expected}


def found(expected: List[Dict[str, Any]], users: Any = ()) -> List[str]:
    return differences(read_expected(expected), read_users(list(users)))


def test_a_host_as_expected_has_no_difference(tree: Dict[str, Any]) -> None:
    assert not found(tree["expected"], [{"name": ME.pw_name, "home": ME.pw_dir, "shell": ME.pw_shell}])


def test_content_mode_owner_kind_and_target_differences_are_each_named(tree: Dict[str, Any]) -> None:
    tree["config"].write_text("receivers: {otlp: {}}\n")
    tree["data"].chmod(0o755)
    tree["link"].unlink()
    tree["link"].symlink_to(tree["config"])
    expected = tree["expected"] + [{"path": str(tree["data"]), "kind": "file"},
                                   {"path": str(tree["config"]), "kind": "file", "owner": "nobody-at-all"}]
    problems = found(expected)
    assert f"{tree['config']}: content differs" in problems
    assert f"{tree['data']}: mode 0755, not 0750" in problems
    assert f"{tree['link']}: points at {tree['config']}, not {tree['data']}" in problems
    assert f"{tree['data']}: a directory, not a file" in problems
    assert f"{tree['config']}: owner {ME.pw_name}, not nobody-at-all" in problems
    assert len(problems) == 5


def test_missing_paths_and_accounts(tmp_path: Path) -> None:
    problems = found([{"path": str(tmp_path / "gone"), "kind": "file"}],
                     [{"name": "lgtm-no-such-user"}, {"name": ME.pw_name, "shell": "/bin/false-not-mine"}])
    assert problems == ["user lgtm-no-such-user: missing",
                        f"user {ME.pw_name}: shell {ME.pw_shell}, not /bin/false-not-mine",
                        f"{tmp_path / 'gone'}: missing"]


def test_keys_left_out_are_not_compared(tree: Dict[str, Any]) -> None:
    tree["config"].write_text("anything else\n")
    assert not found([{"path": str(tree["config"]), "kind": "file"}])


def test_a_file_short_of_its_reserved_room_differs(tmp_path: Path) -> None:
    """A disk queue's file must hold the room the lifecycle reserves (allocated_bytes); blocks
    allocated beyond the end of an empty file count."""
    queue = tmp_path / "exporter_otlp_jaeger_traces"
    queue.write_bytes(b"")
    expected = [{"path": str(queue), "kind": "file", "allocated_bytes": 1 << 20}]
    assert found(expected) == [f"{queue}: 0 bytes allocated, not 1048576"]
    reserve(str(queue), 1 << 20, os.getuid(), os.getgid(), 0o600)
    assert found(expected) == [] and queue.stat().st_size == 0


@pytest.mark.parametrize("entries, message", [
    ("a string", "expected: must be a list of mappings"),
    ([["not", "a", "mapping"]], r"expected\[0\]: must be a mapping"),
    ([{"path": "relative/path", "kind": "file"}], r"expected\[0\].path: must be an absolute path"),
    ([{"path": "/etc", "kind": "socket"}], r"expected\[0\].kind: must be one of file, directory, link"),
    ([{"path": "/etc", "kind": "file", "mode": "rw-r"}], r"expected\[0\].mode: must be an octal string"),
    ([{"path": "/etc", "kind": "file", "colour": "red"}], r"expected\[0\]: unknown keys colour"),
    ([{"path": "/etc", "kind": "file", "allocated_bytes": "1 MiB"}], r"expected\[0\].allocated_bytes: must be a whole"),
])
def test_bad_expected_entries_are_refused_naming_the_entry(entries: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_expected(entries)


@pytest.mark.parametrize("users, message", [
    ("otelcol", "users: must be a list of mappings"),
    ([{"group": "otelcol"}], r"users\[0\]: must be a mapping with a name"),
    ([{"name": "otelcol", "uid": 5}], r"users\[0\]: unknown keys uid"),
])
def test_bad_users_are_refused_naming_the_entry(users: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_users(users)
