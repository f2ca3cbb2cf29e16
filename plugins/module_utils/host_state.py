# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compare paths and accounts on a host with what a run would make them, read-only.

The shared lifecycle (roles/common) asks this once per component before its
install and configure steps: when every file, directory, link and account
already is what those steps would write, they are skipped as a whole, which
turns a dozen round trips of an idempotent re-run into one. Any difference,
however small, sends the run down the full path, so this can only save work,
never skip a change.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import stat
from dataclasses import dataclass
from typing import Any, List, Optional

from ansible_collections.observability.lgtm.plugins.module_utils.disk_reservation import STAT_BLOCK_BYTES

KINDS = ("file", "directory", "link")
KEYS = ("path", "kind", "owner", "group", "mode", "sha256", "target", "allocated_bytes")


@dataclass
class Expected:
    path: str
    kind: str
    owner: Optional[str] = None
    group: Optional[str] = None
    mode: Optional[str] = None
    sha256: Optional[str] = None
    target: Optional[str] = None
    # The least room the file must hold on its filesystem (blocks allocated, reserved ones counted).
    allocated_bytes: Optional[int] = None


def read_expected(entries: Any) -> List[Expected]:
    """Check the `expected` option: a list of mappings with a path and a kind; raise ValueError naming the entry."""
    if not isinstance(entries, list):
        raise ValueError("expected: must be a list of mappings")
    read = []
    for index, entry in enumerate(entries):
        where = f"expected[{index}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a mapping")
        unknown = sorted(set(entry) - set(KEYS))
        if unknown:
            raise ValueError(f"{where}: unknown keys {', '.join(unknown)} (known: {', '.join(KEYS)})")
        if not isinstance(entry.get("path"), str) or not entry["path"].startswith("/"):
            raise ValueError(f"{where}.path: must be an absolute path")
        if entry.get("kind") not in KINDS:
            raise ValueError(f"{where}.kind: must be one of {', '.join(KINDS)}")
        values: dict = {key: None if entry.get(key) is None else str(entry[key]) for key in KEYS}
        if values["allocated_bytes"] is not None:
            try:
                values["allocated_bytes"] = int(values["allocated_bytes"])
            except ValueError:
                raise ValueError(f"{where}.allocated_bytes: must be a whole number of bytes") from None
        if values["mode"] is not None:
            try:
                values["mode"] = format(int(values["mode"], 8), "04o")
            except ValueError:
                raise ValueError(f"{where}.mode: must be an octal string such as '0640'") from None
        read.append(Expected(**values))
    return read


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def name_of(table: Any, number: int) -> str:
    try:
        return table(number)[0]
    except KeyError:
        return str(number)


def path_differences(expected: Expected) -> List[str]:
    """What differs at one path; empty when it is as expected."""
    try:
        found = os.lstat(expected.path)
    except FileNotFoundError:
        return [f"{expected.path}: missing"]
    kind = "link" if stat.S_ISLNK(found.st_mode) else "directory" if stat.S_ISDIR(found.st_mode) else \
        "file" if stat.S_ISREG(found.st_mode) else "other"
    if kind != expected.kind:
        return [f"{expected.path}: a {kind}, not a {expected.kind}"]
    problems = []
    if expected.kind == "link":
        target = os.readlink(expected.path)
        if expected.target is not None and target != expected.target:
            problems.append(f"{expected.path}: points at {target}, not {expected.target}")
        return problems
    owner, group = name_of(pwd.getpwuid, found.st_uid), name_of(grp.getgrgid, found.st_gid)
    mode = format(stat.S_IMODE(found.st_mode), "04o")
    for what, have, want in (("owner", owner, expected.owner), ("group", group, expected.group),
                             ("mode", mode, expected.mode)):
        if want is not None and have != want:
            problems.append(f"{expected.path}: {what} {have}, not {want}")
    if expected.kind == "file" and expected.sha256 is not None and file_sha256(expected.path) != expected.sha256:
        problems.append(f"{expected.path}: content differs")
    allocated = found.st_blocks * STAT_BLOCK_BYTES
    if expected.kind == "file" and expected.allocated_bytes is not None and allocated < expected.allocated_bytes:
        problems.append(f"{expected.path}: {allocated} bytes allocated, not {expected.allocated_bytes}")
    return problems


USER_KEYS = ("name", "group", "home", "shell")


def read_users(entries: Any) -> List[dict]:
    """Check the `users` option: mappings with a name and optionally group, home and shell."""
    if not isinstance(entries, list):
        raise ValueError("users: must be a list of mappings")
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ValueError(f"users[{index}]: must be a mapping with a name")
        unknown = sorted(set(entry) - set(USER_KEYS))
        if unknown:
            raise ValueError(f"users[{index}]: unknown keys {', '.join(unknown)} (known: {', '.join(USER_KEYS)})")
    return entries


def account_differences(users: List[dict]) -> List[str]:
    """Each account must exist, with the primary group, home and shell given."""
    problems = []
    for user in users:
        try:
            account = pwd.getpwnam(user["name"])
        except KeyError:
            problems.append(f"user {user['name']}: missing")
            continue
        have = {"group": name_of(grp.getgrgid, account.pw_gid), "home": account.pw_dir, "shell": account.pw_shell}
        for key, value in have.items():
            if user.get(key) is not None and value != user[key]:
                problems.append(f"user {user['name']}: {key} {value}, not {user[key]}")
    return problems


def differences(expected: List[Expected], users: List[dict]) -> List[str]:
    """Every difference between the host and the expected state, accounts first."""
    found = account_differences(users)
    for entry in expected:
        found.extend(path_differences(entry))
    return found
