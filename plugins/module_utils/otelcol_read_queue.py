# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2, read (durability): ``spec.persistent_queue``, the exporters' disk queue.

Where the queue lives (``directory``) and how much it may hold on disk
(``max_mib``, all exporters' queues together). Each reader raises ``SpecError``
naming the spec path; none reads the host.
"""

from __future__ import annotations

from typing import Mapping, Optional

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    DEFAULT_DISK_QUEUE_MAX_MIB, DISK_QUEUE_BYTES_VERSION, DISK_QUEUE_ROOM_FACTOR, format_version,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import KubernetesSpec, SpecError, Version
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    check_keys, read_absolute_path, read_bool, read_int, read_mapping,
)

PATH = "spec.persistent_queue"


def read_persistent_queue(spec: Mapping) -> Optional[str]:
    """The persistent queue directory, or None when the persistent queue is off."""
    if spec.get("persistent_queue") is None:
        return None
    queue = read_mapping(spec["persistent_queue"], PATH)
    check_keys(queue, PATH, ("enabled", "directory", "max_mib"))
    if not read_bool(queue.get("enabled", True), f"{PATH}.enabled"):
        return None
    return read_absolute_path(queue.get("directory"), f"{PATH}.directory")


def default_max_mib(kubernetes: Optional[KubernetesSpec]) -> int:
    """The share of a Kubernetes gateway's claim the queue's database may fill (DISK_QUEUE_ROOM_FACTOR),
    else DEFAULT_DISK_QUEUE_MAX_MIB."""
    if kubernetes is not None and kubernetes.storage_mib is not None:
        return max(kubernetes.storage_mib // DISK_QUEUE_ROOM_FACTOR, 1)
    return DEFAULT_DISK_QUEUE_MAX_MIB


def read_persistent_queue_max_mib(spec: Mapping, version: Version,
                                  kubernetes: Optional[KubernetesSpec] = None) -> Optional[int]:
    """The disk queue's bound in MiB; None where the target collector counts a disk queue in requests.

    A mapping that is not one is reported by ``read_persistent_queue``; here it reads as no bound.
    """
    queue = spec.get("persistent_queue")
    given = isinstance(queue, Mapping) and queue.get("max_mib") is not None
    if version < DISK_QUEUE_BYTES_VERSION:
        if given:
            raise SpecError(f"{PATH}.max_mib: collector {format_version(version)} counts a disk queue in requests "
                            f"only; a bound in bytes needs {format_version(DISK_QUEUE_BYTES_VERSION)} or newer. "
                            f"Remove max_mib, or size each backend's queue with its queue_size")
        return None
    if not given:
        return default_max_mib(kubernetes)
    max_mib = read_int(queue["max_mib"], f"{PATH}.max_mib", minimum=1)
    if (kubernetes is not None and kubernetes.storage_mib is not None
            and max_mib > kubernetes.storage_mib // DISK_QUEUE_ROOM_FACTOR):
        raise SpecError(f"{PATH}.max_mib: {max_mib} MiB does not fit twice in the gateway's claim "
                        f"({kubernetes.path}.storage_size, {kubernetes.storage_mib} MiB), as the queue's database may "
                        f"need; give at most {kubernetes.storage_mib // DISK_QUEUE_ROOM_FACTOR}, or a larger claim")
    return max_mib
