# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""otelcol_disk_queues: one file per exporter and signal, named as file_storage names it."""

from __future__ import annotations

from typing import Any, Dict

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import otelcol_config
from ansible_collections.observability.lgtm.plugins.filter.otelcol_disk_queue_files import otelcol_disk_queue_files
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_disk_queues import (
    disk_queue_files, earlier_file_names, storage_file_name)

MIB = 1024 * 1024


def agent_spec(**queue: Any) -> Dict[str, Any]:
    """A host agent: every signal to one gateway exporter, kept on disk."""
    return {
        "memory": {"limit_mib": 400},
        "backends": {"gateway": {"type": "otlp", "endpoint": "gateway.example.com:4317"}},
        "pipelines": {signal: {"exporters": ["gateway"]} for signal in ("traces", "metrics", "logs")},
        "persistent_queue": {"directory": "/var/lib/otelcol/queue", **queue},
    }


def test_file_names_follow_file_storage() -> None:
    """contrib v0.159.0's GetClient and sanitize: kind, type, name and client joined by '_', any other
    character than letters, digits, '.', '-' and '_' written '~' and four hex digits."""
    assert storage_file_name("exporter", "otlp/jaeger", "traces") == "exporter_otlp_jaeger_traces"
    assert storage_file_name("exporter", "debug", "logs") == "exporter_debug__logs"
    assert storage_file_name("exporter", "otlp_http/a b~c", "logs") == "exporter_otlp_http_a~0020b~007Ec_logs"


def test_an_exporter_of_three_signals_has_three_queues_sharing_the_bound() -> None:
    """The exporter helper opens a queue per signal: the agent's one exporter keeps three files, and
    the bound (max_mib, all queues together) is shared by the three, each file's room twice its share."""
    config = otelcol_config(agent_spec(max_mib=300))
    files = otelcol_disk_queue_files(config)
    exporter = config["exporters"]["otlp_grpc/gateway"]
    assert exporter["sending_queue"]["queue_size"] == 100 * MIB
    assert [(entry["path"], entry["signal"], entry["bound_bytes"], entry["bytes"]) for entry in files] == [
        (f"/var/lib/otelcol/queue/exporter_otlp_grpc_gateway_{signal}", signal, 100 * MIB, 200 * MIB)
        for signal in ("logs", "metrics", "traces")]
    assert sum(entry["bytes"] for entry in files) == 2 * 300 * MIB


def test_pipelines_of_one_signal_share_a_file() -> None:
    spec = agent_spec(max_mib=64)
    spec["pipelines"]["traces/copy"] = {"exporters": ["gateway"]}
    files = otelcol_disk_queue_files(otelcol_config(spec))
    assert len(files) == 3 and len({entry["path"] for entry in files}) == 3


def test_no_file_without_a_disk_queue_in_bytes() -> None:
    spec = agent_spec()
    del spec["persistent_queue"]
    assert otelcol_disk_queue_files(otelcol_config(spec)) == []
    assert otelcol_disk_queue_files(otelcol_config(agent_spec(), "0.129.0")) == []        # counted in requests
    spec = agent_spec()
    spec["backends"]["gateway"]["persistent"] = False
    assert otelcol_disk_queue_files(otelcol_config(spec)) == []


def test_an_input_that_is_not_a_configuration_is_refused_naming_the_filter() -> None:
    with pytest.raises(AnsibleFilterError, match="otelcol_disk_queue_files: the input must be a collector "
                                                 "configuration .*, not str"):
        otelcol_disk_queue_files("exporters: {}")


def test_an_exporter_no_pipeline_uses_has_no_file() -> None:
    config = otelcol_config(agent_spec(max_mib=64))
    config["service"]["pipelines"] = {"traces": {"receivers": ["otlp"], "exporters": []}}
    assert disk_queue_files(config) == []


def test_a_renamed_exporter_type_lists_the_file_its_queue_had_before_the_rename() -> None:
    """otlp became otlp_grpc in 0.144.0 and file_storage names the file after the type as written
    (v0.159.0 binary: otlp/x wrote exporter_otlp_x_traces): the queue's earlier file is listed so
    that an upgrade across the rename can carry what it held over."""
    files = otelcol_disk_queue_files(otelcol_config(agent_spec(max_mib=300)))
    assert [entry["earlier_paths"] for entry in files] == [
        [f"/var/lib/otelcol/queue/exporter_otlp_gateway_{signal}"] for signal in ("logs", "metrics", "traces")]
    assert earlier_file_names("otlp_http/logs", "logs") == ["exporter_otlphttp_logs_logs"]
    assert earlier_file_names("otlp_grpc", "traces") == ["exporter_otlp__traces"]


def test_a_type_never_renamed_or_rendered_under_its_old_name_has_no_earlier_file() -> None:
    assert earlier_file_names("otlp/jaeger", "traces") == []          # a target before the rename
    assert earlier_file_names("debug", "logs") == []
    config = otelcol_config(agent_spec(max_mib=300), "0.143.0")
    assert "otlp/gateway" in config["exporters"]
    assert [entry["earlier_paths"] for entry in otelcol_disk_queue_files(config)] == [[], [], []]
