# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files a collector's disk queues write on its host, from the same spec as ``otelcol_config``.

``otelcol_disk_queue_files`` renders the spec as ``otelcol_config`` does (the
same checks, the same errors) and returns each disk queue's database file with
the room to reserve for it, which the otel_collector role allocates before the
collector starts.

This file is the entry point only; the stage is
``plugins/module_utils/otelcol_disk_queues.py``. Documentation for ansible-doc
is in the ``otelcol_disk_queue_files.yml`` sidecar file.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import checked_config, run_filter
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_disk_queues import disk_queue_files
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Config

FILTER_NAME = "otelcol_disk_queue_files"


def otelcol_disk_queue_files(spec: Any, version: Optional[str] = None) -> List[Config]:
    """Return [{path, bytes, bound_bytes, exporter, signal}]: each disk queue's file and the room it may take."""
    return run_filter(FILTER_NAME, lambda: disk_queue_files(checked_config(spec, version, FILTER_NAME)))


class FilterModule:
    """The files an OpenTelemetry Collector's disk queues write."""

    def filters(self) -> Dict[str, Any]:
        return {FILTER_NAME: otelcol_disk_queue_files}
