# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The files a collector's disk queues write on its host, read off its rendered configuration.

``otelcol_disk_queue_files`` takes what ``otelcol_config`` rendered (the role has
it already, so the spec is not rendered twice) and returns each disk queue's
database file with the room to reserve for it, which the otel_collector role
allocates before the collector starts.

This file is the entry point only; the stage is
``plugins/module_utils/otelcol_disk_queues.py``. Documentation for ansible-doc
is in the ``otelcol_disk_queue_files.yml`` sidecar file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, List

from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import run_filter
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_disk_queues import disk_queue_files
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Config

FILTER_NAME = "otelcol_disk_queue_files"


def checked_disk_queue_files(config: Any) -> List[Config]:
    if not isinstance(config, Mapping):
        raise AnsibleFilterError(f"{FILTER_NAME}: the input must be a collector configuration (what otelcol_config "
                                 f"returns), not {type(config).__name__}")
    return disk_queue_files(config)


def otelcol_disk_queue_files(config: Any) -> List[Config]:
    """Return [{path, bytes, bound_bytes, exporter, signal, earlier_paths}]: each disk queue's file and the room it may take."""
    return run_filter(FILTER_NAME, lambda: checked_disk_queue_files(config))


class FilterModule:
    """The files an OpenTelemetry Collector's disk queues write."""

    def filters(self) -> Dict[str, Any]:
        return {FILTER_NAME: otelcol_disk_queue_files}
