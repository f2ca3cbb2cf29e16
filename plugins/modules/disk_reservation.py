#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entry point of the disk_reservation module; the work lives in module_utils/disk_reservation.py."""

from __future__ import annotations

DOCUMENTATION = r"""
module: disk_reservation
author: observability.lgtm contributors (@observability-lgtm)
version_added: "1.1.0"
short_description: Hold room on a filesystem for a file that a service grows later
description:
  - Makes O(path) a file that holds at least O(bytes) of room on its filesystem, allocated beyond the file's end
    (Linux C(fallocate) with C(FALLOC_FL_KEEP_SIZE)). The file's size stays what its writer made it, 0 for a file
    created here, so a database the service opens later still sees an empty file and initialises it; as the
    writer extends the file it writes into blocks that are already the file's, which nothing else on the
    filesystem can take.
  - A missing file is created empty with O(owner), O(group) and O(mode); an existing one gets them too. Room the
    file already holds (its data and earlier reservations) counts; room is never taken back.
  - The shared lifecycle role C(observability.lgtm.common) reserves the room of a component's C(reserved_files)
    with it; the otel_collector role lists its disk queues' files there, so that a full disk cannot make the
    collector drop what its queue accepted.
  - Fails naming the path, and changes nothing, when the filesystem has no room for it or cannot reserve
    room (a filesystem without C(fallocate) support).
options:
  path:
    description: The file, absolute.
    type: path
    required: true
  bytes:
    description: The least room the file must hold, in bytes.
    type: int
    required: true
  owner:
    description: The file's owner (a user name).
    type: str
    required: true
  group:
    description: The file's group (a group name).
    type: str
    required: true
  mode:
    description: The file's mode, an octal string such as C("0600").
    type: str
    default: "0600"
attributes:
  check_mode:
    description: Reports what it would create or reserve, and changes nothing.
    support: full
  diff_mode:
    description: No diff; the result gives the room before and after.
    support: none
"""

EXAMPLES = r"""
- name: Hold 4 GiB for the collector's traces queue
  observability.lgtm.disk_reservation:
    path: /var/lib/otelcol/queue/exporter_otlp_jaeger_traces
    bytes: 4294967296
    owner: otelcol
    group: otelcol
    mode: "0600"
"""

RETURN = r"""
allocated_before:
  description: The room the file held before, in bytes (0 for a missing file).
  returned: always
  type: int
allocated_after:
  description: The room it holds now (in check mode, would hold), in bytes.
  returned: always
  type: int
created:
  description: True when the file was missing (in check mode, would be created).
  returned: always
  type: bool
"""

import grp
import pwd
from typing import Any, Callable, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.observability.lgtm.plugins.module_utils.disk_reservation import ReservationError, reserve


def account_id(lookup: Callable[[str], Any], name: str, check_mode: bool) -> Optional[int]:
    """The id of a user or group; -1 for a missing one in check mode, None for a missing one otherwise."""
    try:
        return lookup(name)[2]
    except KeyError:
        return -1 if check_mode else None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "bytes": {"type": "int", "required": True},
            "owner": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "mode": {"type": "str", "default": "0600"},
        },
        supports_check_mode=True,
    )
    params = module.params
    # In check mode on a fresh host the service's account does not exist yet: the run would create it
    # first, so the file would be new to it (-1 matches no file's owner).
    uid = account_id(pwd.getpwnam, params["owner"], module.check_mode)
    gid = account_id(grp.getgrnam, params["group"], module.check_mode)
    if uid is None or gid is None:
        which = "owner" if uid is None else "group"
        module.fail_json(msg=f"disk_reservation: {which}: no {'user' if uid is None else 'group'} "
                             f"{params[which]} on the host")
    try:
        mode = int(params["mode"], 8)
    except ValueError:
        module.fail_json(msg=f"disk_reservation: mode: {params['mode']!r} is not an octal string such as '0600'")
    if not params["path"].startswith("/"):
        module.fail_json(msg=f"disk_reservation: path: {params['path']} is not absolute")
    try:
        done = reserve(params["path"], params["bytes"], uid, gid, mode, check_mode=module.check_mode)
    except (ReservationError, OSError) as error:
        module.fail_json(msg=f"disk_reservation: {error}")
    module.exit_json(changed=done.changed, allocated_before=done.allocated_before,
                     allocated_after=done.allocated_after, created=done.created)


if __name__ == "__main__":
    main()
