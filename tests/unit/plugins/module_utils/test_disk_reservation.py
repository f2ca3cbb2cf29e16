# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""disk_reservation: room really allocated on this machine's filesystem, the file's size and content untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ansible_collections.observability.lgtm.plugins.module_utils.disk_reservation import (
    MIB, ReservationError, allocated_bytes, free_bytes, reserve)

UID, GID = os.getuid(), os.getgid()


def test_a_missing_file_is_created_empty_and_holds_the_room(tmp_path: Path) -> None:
    path = str(tmp_path / "exporter_otlp_jaeger_traces")
    done = reserve(path, 8 * MIB, UID, GID, 0o600)
    assert done.created and done.changed
    found = os.stat(path)
    # Empty to its writer (a database initialises a file of size 0), the room allocated beyond its end.
    assert found.st_size == 0 and allocated_bytes(path) >= 8 * MIB == done.reserved_bytes
    assert done.allocated_after == allocated_bytes(path)
    assert found.st_mode & 0o777 == 0o600


def test_a_file_that_holds_the_room_is_left_alone(tmp_path: Path) -> None:
    path = str(tmp_path / "queue")
    reserve(path, 4 * MIB, UID, GID, 0o600)
    again = reserve(path, 4 * MIB, UID, GID, 0o600)
    assert not again.changed and again.allocated_before == again.allocated_after
    smaller = reserve(path, MIB, UID, GID, 0o600)
    assert not smaller.changed and allocated_bytes(path) >= 4 * MIB   # room is never taken back


def test_a_written_file_keeps_its_size_and_content(tmp_path: Path) -> None:
    path = tmp_path / "queue"
    content = os.urandom(100_000)
    path.write_bytes(content)
    path.chmod(0o600)
    done = reserve(str(path), 16 * MIB, UID, GID, 0o600)
    assert done.changed and not done.created
    assert path.read_bytes() == content and path.stat().st_size == len(content)
    assert allocated_bytes(str(path)) >= 16 * MIB


def test_growing_into_the_room_needs_no_more_of_the_filesystem(tmp_path: Path) -> None:
    """What the reservation is for: a writer extending the file (bbolt's truncate, then its page
    writes) takes the blocks the file already holds."""
    path = tmp_path / "queue"
    reserve(str(path), 8 * MIB, UID, GID, 0o600)
    held = allocated_bytes(str(path))
    with open(path, "r+b") as handle:
        handle.truncate(4 * MIB)
        handle.seek(MIB)
        handle.write(b"\xff" * MIB)
    assert allocated_bytes(str(path)) == held


def test_check_mode_changes_nothing_and_says_what_would(tmp_path: Path) -> None:
    path = tmp_path / "queue"
    predicted = reserve(str(path), 2 * MIB, UID, GID, 0o600, check_mode=True)
    assert predicted.changed and predicted.created and not path.exists()
    path.write_bytes(b"")
    path.chmod(0o600)
    predicted = reserve(str(path), 2 * MIB, UID, GID, 0o600, check_mode=True)
    assert predicted.changed and allocated_bytes(str(path)) == 0


def test_mode_and_owner_are_set_on_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "queue"
    path.write_bytes(b"")
    path.chmod(0o644)
    done = reserve(str(path), 0, UID, GID, 0o600)
    assert done.changed and path.stat().st_mode & 0o777 == 0o600


def test_no_room_fails_naming_the_path_and_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "queue"
    more_than_free = free_bytes(str(tmp_path)) + 64 * 1024 * MIB
    with pytest.raises(ReservationError, match=rf"{path}: no room to reserve \d+ MiB on its filesystem \(\d+ MiB free\)"):
        reserve(str(path), more_than_free, UID, GID, 0o600)
    assert not path.exists()


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReservationError, match="not a regular file"):
        reserve(str(tmp_path), MIB, UID, GID, 0o600)
