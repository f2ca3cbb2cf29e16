# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 7, host needs: the files a configuration's disk queues write, and the room each may take.

The exporter helper opens one queue per exporter and signal, in the storage extension
its ``sending_queue.storage`` names (``toStorageClient`` in
``exporter/exporterhelper/internal/queue/persistent_queue.go``, collector v0.159.0: the
client's name is the signal). The file_storage extension keeps each client in a bbolt
file of its directory named ``<kind>_<type>_<name>_<client>``, characters other than
letters, digits, ``.``, ``-`` and ``_`` written ``~`` and their code point in four hex
digits (``GetClient`` and ``sanitize`` in ``extension/storage/filestorage/extension.go``,
contrib v0.159.0). A queue bounded in bytes may take ``DISK_QUEUE_ROOM_FACTOR`` times its
bound in that file.

Why the room is reserved ahead: when a write of the queue's database fails for want of
disk, the persistent queue drops the item it was about to hand to its consumer
(``getNextItem``: it cannot record the item as dispatched, logs that at debug level and
moves past it). Something else filling the filesystem would so lose what the queue had
accepted. Room allocated to the file beforehand (beyond its end, so that bbolt still sees
the size it wrote) is the file's own: bbolt grows into it without asking the filesystem
for more.

Why earlier names are listed: the file is named after the exporter's type as the
configuration spells it, and the filter spells a renamed type by the target version
(``TYPE_RENAMES``: ``otlp`` became ``otlp_grpc`` in v0.144.0). Seen with the v0.159.0
binary: ``otlp/x`` (the deprecated alias) writes ``exporter_otlp_x_traces``, ``otlp_grpc/x``
``exporter_otlp_grpc_x_traces``. An upgrade across a rename would leave what the queue
held in a file the new version never opens; the lifecycle moves it to its new name first.
(The file_log receiver's offsets keep ``receiver_filelog_<name>`` under either spelling,
seen likewise: nothing to carry over there.)
"""

from __future__ import annotations

from collections.abc import Mapping
import posixpath
from typing import Any, Dict, List

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    DISK_QUEUE_ROOM_FACTOR, RENAMED_FROM, component_id_of, component_name, component_type,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Config

SAFE_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_")


def storage_file_name(kind: str, component_id: str, client: str) -> str:
    """The name file_storage gives a component's client file: ``exporter_otlp_jaeger_traces`` for
    the exporter ``otlp/jaeger``'s traces queue (an id without a name gives ``exporter_otlp__traces``)."""
    raw = f"{kind}_{component_type(component_id)}_{component_name(component_id)}_{client}"
    return "".join(character if character in SAFE_NAME_CHARACTERS else f"~{ord(character):04X}"
                   for character in raw)


def earlier_file_names(component_id: str, client: str) -> List[str]:
    """The names collectors before a rename of the exporter's type gave the same queue's file:
    ``exporter_otlp_jaeger_traces`` for ``otlp_grpc/jaeger``'s traces queue; none for a type never renamed."""
    old_type = RENAMED_FROM.get(("exporters", component_type(component_id)))
    if old_type is None:
        return []
    return [storage_file_name("exporter", component_id_of(old_type, component_name(component_id)), client)]


def disk_queue_files(config: Mapping[str, Any]) -> List[Config]:
    """Each disk queue bounded in bytes in a rendered configuration, as ``{path, bytes, bound_bytes,
    exporter, signal, earlier_paths}``: its bbolt file, the room to reserve for it
    (DISK_QUEUE_ROOM_FACTOR times its bound), its bound, and where collectors before a rename of its
    type kept it (``earlier_file_names``). Sorted by path; a queue counted in requests, in memory, or
    of an exporter no pipeline uses is left out."""
    extensions = config.get("extensions") or {}
    exporters = config.get("exporters") or {}
    pipelines = (config.get("service") or {}).get("pipelines") or {}
    files: Dict[str, Config] = {}
    for pipeline_id, pipeline in pipelines.items():
        for exporter_id in (pipeline or {}).get("exporters") or []:
            queue = (exporters.get(exporter_id) or {}).get("sending_queue") or {}
            storage = extensions.get(queue.get("storage")) if queue.get("enabled", True) else None
            if not isinstance(storage, Mapping) or queue.get("sizer") != "bytes":
                continue
            signal = component_type(pipeline_id)   # a pipeline id's type is its signal: traces/sampled
            path = posixpath.join(storage["directory"], storage_file_name("exporter", exporter_id, signal))
            bound = int(queue["queue_size"])
            files[path] = {"path": path, "bytes": DISK_QUEUE_ROOM_FACTOR * bound, "bound_bytes": bound,
                           "exporter": exporter_id, "signal": signal,
                           "earlier_paths": [posixpath.join(storage["directory"], name)
                                             for name in earlier_file_names(exporter_id, signal)]}
    return [files[path] for path in sorted(files)]
