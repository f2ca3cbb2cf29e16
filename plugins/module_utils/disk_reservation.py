# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Room on a filesystem held for one file that a service grows later.

The room is allocated to the file beyond its end (Linux ``fallocate`` with
``FALLOC_FL_KEEP_SIZE``): the file's size stays what its writer made it (0 for a
file the service has not opened yet, so a database still initialises it), and
when the writer extends the file it writes into blocks that are already its own.
Something else filling the filesystem cannot take them. A file that already holds
the room is left alone; room is never taken back (its writer may be using it).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import stat
from dataclasses import dataclass
from typing import Callable

# linux/falloc.h: allocate, and keep the file's size.
FALLOC_FL_KEEP_SIZE = 0x01
# st_blocks counts 512-byte units on Linux, whatever the filesystem's block size.
STAT_BLOCK_BYTES = 512
MIB = 1024 * 1024


class ReservationError(Exception):
    """The room cannot be reserved; the message names the path and why."""


@dataclass
class Reservation:
    """What reserve() found and did (in check mode: would do)."""
    path: str
    reserved_bytes: int
    allocated_before: int
    allocated_after: int
    created: bool
    attributes_changed: bool

    @property
    def changed(self) -> bool:
        return self.created or self.attributes_changed or self.allocated_after != self.allocated_before


def allocated_bytes(path: str) -> int:
    """The room a file holds on its filesystem: every block allocated to it, reserved ones counted."""
    return os.stat(path).st_blocks * STAT_BLOCK_BYTES


def libc_fallocate() -> Callable[[int, int, int, int], int]:
    """fallocate(2) from the C library, with 64-bit offsets."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    function = getattr(libc, "fallocate64", None) or libc.fallocate
    function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    function.restype = ctypes.c_int
    return function


def free_bytes(path: str) -> int:
    """What an unprivileged writer may still allocate on the filesystem of path."""
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize


def explain(error: int, path: str, wanted: int) -> str:
    """The message for a failed fallocate, naming the path."""
    if error == errno.ENOSPC:
        room = free_bytes(os.path.dirname(path) or ".")
        return (f"{path}: no room to reserve {wanted // MIB} MiB on its filesystem "
                f"({room // MIB} MiB free); free space there or lower the bound that asks for it")
    if error in (errno.EOPNOTSUPP, errno.ENOSYS):
        return (f"{path}: its filesystem cannot reserve room for a file (fallocate with keep-size is not supported); "
                f"put the directory on a local filesystem such as ext4 or XFS")
    return f"{path}: reserving {wanted // MIB} MiB failed: {os.strerror(error)}"


def attributes_differ(path: str, uid: int, gid: int, mode: int) -> bool:
    found = os.stat(path)
    return (found.st_uid, found.st_gid, stat.S_IMODE(found.st_mode)) != (uid, gid, mode)


def reserve(path: str, wanted: int, uid: int, gid: int, mode: int, check_mode: bool = False) -> Reservation:
    """Make path a file owned uid:gid with mode that holds at least `wanted` bytes of room: created
    empty if missing, then given what room it lacks beyond its end. In check mode, report what would
    change and change nothing."""
    if wanted < 0:
        raise ReservationError(f"{path}: the room to reserve must not be negative ({wanted})")
    created = not os.path.exists(path)
    if not created and not os.path.isfile(path):
        raise ReservationError(f"{path}: not a regular file; room can be reserved for a file only")
    before = 0 if created else allocated_bytes(path)
    attributes_changed = not created and attributes_differ(path, uid, gid, mode)
    if check_mode:
        return Reservation(path, wanted, before, max(before, wanted), created, attributes_changed)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    try:
        if created or attributes_changed:
            os.fchown(descriptor, uid, gid)
            os.fchmod(descriptor, mode)
        if wanted > before and libc_fallocate()(descriptor, FALLOC_FL_KEEP_SIZE, 0, wanted) != 0:
            failure = explain(ctypes.get_errno(), path, wanted)
            if created:
                os.unlink(path)
            raise ReservationError(failure)
        after = os.fstat(descriptor).st_blocks * STAT_BLOCK_BYTES
    finally:
        os.close(descriptor)
    return Reservation(path, wanted, before, after, created, attributes_changed)
