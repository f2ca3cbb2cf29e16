# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 2, read (durability): ``spec.persistent_queue``, the exporters' disk queue.

Where the queue lives (``directory``), how much it may hold on disk
(``max_mib``, all exporters' queues together) and where the intake of a pipeline
that fans out listens (``intake_address``, on loopback). Each reader raises
``SpecError`` naming the spec path; none reads the host.
"""

from __future__ import annotations

from typing import Mapping, Optional

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    DEFAULT_DISK_QUEUE_MAX_MIB, DISK_QUEUE_BYTES_VERSION, DISK_QUEUE_ROOM_FACTOR, format_version,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    KubernetesSpec, ListenAddress, SpecError, Version,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_values import (
    check_keys, is_loopback, parse_host_port, read_absolute_path, read_bool, read_int, read_mapping,
)
from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import component as catalogue_component

PATH = "spec.persistent_queue"
INTAKE_DEFAULT = catalogue_component("otel_collector").ports["intake"].endpoint


def read_persistent_queue(spec: Mapping) -> Optional[str]:
    """The persistent queue directory, or None when the persistent queue is off."""
    if spec.get("persistent_queue") is None:
        return None
    queue = read_mapping(spec["persistent_queue"], PATH)
    check_keys(queue, PATH, ("enabled", "directory", "max_mib", "intake_address"))
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


def read_persistent_queue_intake(spec: Mapping, directory: Optional[str], max_mib: Optional[int]) -> Optional[ListenAddress]:
    """Where the intake of a pipeline that fans out listens (otelcol_facts.intake_pipelines); None
    where ``intake_address`` is null, without a disk queue, or where the queues count requests (collectors before the bytes sizer:
    the intake is sized in bytes like every disk queue).

    The intake's queue waits behind nothing but its own bound; the queues behind it wait for room
    (``block_on_overflow``, in the exporter helper's README since v0.123.0).
    """
    if directory is None or max_mib is None:
        return None
    queue = spec["persistent_queue"]
    if "intake_address" in queue and queue["intake_address"] is None:
        # Asked for no intake: each queue refuses by itself, and a resend is counted again by the
        # pipeline's other consumers (what the intake costs: the README's "Collector throughput").
        return None
    address = parse_host_port(queue.get("intake_address", INTAKE_DEFAULT), f"{PATH}.intake_address")
    if not is_loopback(address.host):
        raise SpecError(f"{PATH}.intake_address: {address.text} is not on loopback; the intake hands the collector's "
                        f"own requests from one pipeline to the next, without TLS or authentication, so it listens "
                        f"on loopback only, e.g. \"{INTAKE_DEFAULT}\"")
    return address
