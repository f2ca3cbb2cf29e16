# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an agent collects from its own host: hostmetrics, filelog and journald receivers, resource detection.

Rendered configs are checked by the lab collector's `validate` (LGTM_OTELCOL_BIN, as the property tests);
journald is not in the lab build (the module proxy reached here refuses its v0.159.0 source), so its
configs are checked against the filter's own rules and upstream's keys only.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import otelcol_config
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    HOSTMETRICS_SCRAPERS, HOSTMETRICS_VIRTUAL_FS_TYPES, RESOURCE_DETECTORS,
)

from test_otelcol_config_properties import QUEUE_ROOT, collector_binary, validate_with_collector

LAB_MANIFEST: Dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[4] / "lab" / "otelcol-builder.yaml").read_text(encoding="utf-8"))


def agent_spec(**receivers: Any) -> Dict[str, Any]:
    """A host agent: OTLP and the given host receivers, metrics and logs to its gateway."""
    metrics = [name for name in receivers if name.startswith(("hostmetrics", "host_metrics"))]
    logs = [name for name in receivers if name.startswith(("filelog", "file_log", "journald"))]
    spec: Dict[str, Any] = {
        "memory": {"host_mib": 1024},
        "persistent_queue": {"directory": str(QUEUE_ROOT / "agent")},
        "receivers": {"otlp": {}, **receivers},
        "backends": {"gateway": {"type": "otlp", "endpoint": "gateway.lab:4317"}},
        "pipelines": {
            "metrics": {"receivers": ["otlp"] + metrics, "exporters": ["gateway"]},
            "logs": {"receivers": ["otlp"] + logs, "exporters": ["gateway"]},
        },
    }
    return spec


def problems_of(spec: Dict[str, Any]) -> str:
    with pytest.raises(AnsibleFilterError) as caught:
        otelcol_config(spec)
    return str(caught.value)


# --- hostmetrics ----------------------------------------------------------------------------------

def test_hostmetrics_defaults_scrape_the_host_without_per_process_series() -> None:
    config = otelcol_config(agent_spec(hostmetrics={}))
    receiver = config["receivers"]["host_metrics"]
    assert list(receiver["scrapers"]) == list(HOSTMETRICS_SCRAPERS)
    assert "process" not in receiver["scrapers"]
    assert receiver["collection_interval"] == "30s" and "root_path" not in receiver
    # Filesystems that are not disks are left out (they multiply series with every container's mounts).
    assert receiver["scrapers"]["filesystem"]["exclude_fs_types"]["fs_types"] == list(HOSTMETRICS_VIRTUAL_FS_TYPES)
    assert config["service"]["pipelines"]["metrics"]["receivers"] == ["otlp", "host_metrics"]


def test_hostmetrics_per_process_is_a_switch_and_root_path_is_for_containers() -> None:
    node = {"per_process": True, "root_path": "/hostfs", "scrapers": ["cpu", "memory"], "collection_interval": "10s"}
    config = otelcol_config(agent_spec(**{"hostmetrics/node": node}))
    receiver = config["receivers"]["host_metrics/node"]
    assert list(receiver["scrapers"]) == ["cpu", "memory", "process"]
    assert receiver["scrapers"]["process"] == {"mute_process_all_errors": True}
    assert (receiver["root_path"], receiver["collection_interval"]) == ("/hostfs", "10s")


@pytest.mark.parametrize("settings_,message", [
    ({"scrapers": ["cpu", "gpu"]}, "receivers.hostmetrics.scrapers[1]: 'gpu' is not a scraper; accepted: cpu"),
    ({"scrapers": ["cpu", "memory", "cpu"]}, "receivers.hostmetrics.scrapers[2]: 'cpu' is listed twice"),
    ({"scrapers": ["process"]}, "turn it on with spec.receivers.hostmetrics.per_process: true"),
    ({"scrapers": []}, "spec.receivers.hostmetrics.scrapers: empty"),
    ({"per_process": "yes"}, "spec.receivers.hostmetrics.per_process: expected true or false"),
    ({"root_path": "hostfs"}, "spec.receivers.hostmetrics.root_path: expected an absolute path"),
    ({"collection_interval": "often"}, "spec.receivers.hostmetrics.collection_interval"),
    ({"interval": "10s"}, "spec.receivers.hostmetrics.interval: unknown key"),
])
def test_hostmetrics_bad_settings_are_refused_naming_them(settings_: Dict[str, Any], message: str) -> None:
    assert message in problems_of(agent_spec(hostmetrics=settings_))


def test_hostmetrics_cannot_feed_logs() -> None:
    spec = agent_spec(hostmetrics={})
    spec["pipelines"]["logs"]["receivers"].append("hostmetrics")
    assert "receiver 'hostmetrics' (hostmetrics) cannot produce logs" in problems_of(spec)


# --- filelog --------------------------------------------------------------------------------------

def test_filelog_keeps_offsets_on_disk_and_reads_copy_truncated_files_again() -> None:
    config = otelcol_config(agent_spec(**{"filelog/app": {"include": ["/var/log/app/*.log"],
                                                          "exclude": ["/var/log/app/*.gz"]}}))
    receiver = config["receivers"]["file_log/app"]
    assert receiver["include"] == ["/var/log/app/*.log"] and receiver["exclude"] == ["/var/log/app/*.gz"]
    assert receiver["start_at"] == "end" and receiver["on_truncate"] == "read_whole_file"
    # The offsets live in a file_storage of their own, in the persistent queue's directory by default.
    assert receiver["storage"] == "file_storage/filelog_app"
    assert config["extensions"]["file_storage/filelog_app"]["directory"] == str(QUEUE_ROOT / "agent")
    assert "file_storage/filelog_app" in config["service"]["extensions"]
    assert "operators" not in receiver
    assert config["service"]["pipelines"]["logs"]["receivers"] == ["otlp", "file_log/app"]


@pytest.mark.parametrize("settings_,operators", [
    ({"format": "json"}, [{"type": "json_parser"}]),
    ({"format": "regex", "regex": "^(?P<time>\\S+) (?P<level>\\w+) (?P<message>.*)$"},
     [{"type": "regex_parser", "regex": "^(?P<time>\\S+) (?P<level>\\w+) (?P<message>.*)$"}]),
    ({"format": "syslog"}, [{"type": "syslog_parser", "protocol": "rfc3164"}]),
    ({"format": "syslog", "syslog_protocol": "rfc5424"}, [{"type": "syslog_parser", "protocol": "rfc5424"}]),
    ({"format": "container"}, [{"type": "container"}]),
])
def test_filelog_formats_render_their_parser(settings_: Dict[str, Any], operators: list) -> None:
    config = otelcol_config(agent_spec(filelog={"include": ["/var/log/*.log"], **settings_}))
    assert config["receivers"]["file_log"]["operators"] == operators


def test_filelog_multiline_and_its_own_offsets_directory() -> None:
    spec = agent_spec(filelog={"include": ["/var/log/java/*.log"], "multiline": {"line_start_pattern": "^\\d{4}-"},
                               "offsets_directory": "/var/lib/otelcol/offsets", "start_at": "beginning"})
    config = otelcol_config(spec)
    receiver = config["receivers"]["file_log"]
    assert receiver["multiline"] == {"line_start_pattern": "^\\d{4}-"} and receiver["start_at"] == "beginning"
    assert config["extensions"]["file_storage/filelog"]["directory"] == "/var/lib/otelcol/offsets"


@pytest.mark.parametrize("settings_,message", [
    ({}, "spec.receivers.filelog.include: missing"),
    ({"include": []}, "spec.receivers.filelog.include: empty"),
    ({"include": ["var/log/*.log"]}, "spec.receivers.filelog.include[0]: expected an absolute path"),
    ({"include": ["/x"], "format": "xml"}, "spec.receivers.filelog.format: 'xml' is not accepted"),
    ({"include": ["/x"], "format": "regex"}, "spec.receivers.filelog.regex: format regex needs a regex"),
    ({"include": ["/x"], "format": "regex", "regex": "^(.*)$"}, "has no named group"),
    ({"include": ["/x"], "format": "regex", "regex": "^(?P<a>.*$"}, "is not a regular expression"),
    ({"include": ["/x"], "regex": "^(?P<a>.*)$"}, "spec.receivers.filelog.regex: only read with format regex"),
    ({"include": ["/x"], "syslog_protocol": "rfc5424"}, "syslog_protocol: only read with format syslog"),
    ({"include": ["/x"], "multiline": {"line_start_pattern": "a", "line_end_pattern": "b"}}, "exactly one of"),
    ({"include": ["/x"], "format": "container", "multiline": {"line_start_pattern": "a"}}, "leave multiline out"),
    ({"include": ["/x"], "start_at": "middle"}, "spec.receivers.filelog.start_at: 'middle' is not accepted"),
    ({"include": ["/x"], "on_truncate": "drop"}, "spec.receivers.filelog.on_truncate: 'drop' is not accepted"),
])
def test_filelog_bad_settings_are_refused_naming_them(settings_: Dict[str, Any], message: str) -> None:
    assert message in problems_of(agent_spec(filelog=settings_))


def test_filelog_without_a_place_for_offsets_is_refused() -> None:
    spec = agent_spec(filelog={"include": ["/var/log/*.log"]})
    del spec["persistent_queue"]
    assert "spec.receivers.filelog.offsets_directory: missing; a restart would lose or repeat lines" in \
        problems_of(spec)


# --- journald -------------------------------------------------------------------------------------

def test_journald_renders_for_upstreams_build_and_keeps_its_cursor() -> None:
    config = otelcol_config(agent_spec(journald={"units": ["ssh.service"], "priority": "warning"}))
    receiver = config["receivers"]["journald"]
    assert receiver == {"priority": "warning", "start_at": "end", "units": ["ssh.service"],
                        "storage": "file_storage/journald"}


def test_journald_is_refused_for_a_build_without_it() -> None:
    spec = agent_spec(journald={})
    spec["distribution"] = copy.deepcopy(LAB_MANIFEST)
    assert "needs the receiver type 'journald', which is not in the collector distribution" in problems_of(spec)


def test_journald_bad_priority_is_refused() -> None:
    assert "spec.receivers.journald.priority: 'verbose' is not accepted" in \
        problems_of(agent_spec(journald={"priority": "verbose"}))


# --- resource detection ---------------------------------------------------------------------------

def test_resource_detection_names_the_host_from_the_os_without_dns_in_every_pipeline() -> None:
    spec = agent_spec(hostmetrics={})
    spec["resource_detection"] = {}
    spec["resource_attributes"] = {"deployment.environment": "lab"}
    config = otelcol_config(spec)
    assert config["processors"]["resource_detection"] == {
        "detectors": list(RESOURCE_DETECTORS), "override": False, "timeout": "2s",
        "system": {"hostname_sources": ["os"]}}
    for pipeline in config["service"]["pipelines"].values():
        # After memory_limiter, before the spec's own resource attributes (which may set the same keys).
        assert pipeline["processors"][:3] == ["memory_limiter", "resource_detection", "resource"]


def test_resource_detection_can_be_kept_to_the_hosts_own_pipelines() -> None:
    """A gateway that reads its own host tags only that data: what others send it comes from other hosts."""
    spec = agent_spec(hostmetrics={})
    spec["pipelines"]["metrics/host"] = {"receivers": ["hostmetrics"], "exporters": ["gateway"]}
    spec["pipelines"]["metrics"]["receivers"] = ["otlp"]
    spec["resource_detection"] = {"pipelines": ["metrics/host"]}
    pipelines = otelcol_config(spec)["service"]["pipelines"]
    assert pipelines["metrics/host"]["processors"] == ["memory_limiter", "resource_detection"]
    assert pipelines["metrics"]["processors"] == ["memory_limiter"]
    spec["resource_detection"] = {"pipelines": ["metrics/hosts"]}
    assert "spec.resource_detection.pipelines[0]: 'metrics/hosts' is not a pipeline of spec.pipelines" in \
        problems_of(spec)


def test_resource_detection_takes_the_old_names_before_the_rename() -> None:
    spec = agent_spec(hostmetrics={}, filelog={"include": ["/x"]})
    spec["resource_detection"] = {"detectors": ["env"]}
    config = otelcol_config(spec, "0.148.0")
    assert {"hostmetrics", "filelog"} <= set(config["receivers"])
    assert "resourcedetection" in config["processors"] and "system" not in config["processors"]["resourcedetection"]


@pytest.mark.parametrize("value,message", [
    ({"detectors": ["ec2"]}, "spec.resource_detection.detectors[0]: 'ec2' is not accepted"),
    ({"detectors": []}, "spec.resource_detection.detectors: empty"),
    ({"override": "no"}, "spec.resource_detection.override: expected true or false"),
    ({"detect": ["env"]}, "spec.resource_detection.detect: unknown key"),
])
def test_resource_detection_bad_settings_are_refused_naming_them(value: Dict[str, Any], message: str) -> None:
    spec = agent_spec()
    spec["resource_detection"] = value
    assert message in problems_of(spec)


# --- the real collector ---------------------------------------------------------------------------

@st.composite
def host_specs(draw: Any) -> Dict[str, Any]:
    """Agents with any mix of the host receivers the lab build has, and resource detection."""
    receivers: Dict[str, Any] = {}
    if draw(st.booleans()):
        receivers["hostmetrics"] = {
            "scrapers": draw(st.lists(st.sampled_from(HOSTMETRICS_SCRAPERS), min_size=1, unique=True)),
            "per_process": draw(st.booleans()),
            "collection_interval": draw(st.sampled_from(["10s", "30s", "1m"])),
        }
        if draw(st.booleans()):
            receivers["hostmetrics"]["root_path"] = "/"
    for index in range(draw(st.integers(min_value=0 if receivers else 1, max_value=2))):
        log: Dict[str, Any] = {"include": [f"/var/log/app{index}/*.log"], "format": draw(st.sampled_from(
            ["plain", "json", "regex", "syslog", "container"])), "start_at": draw(st.sampled_from(["end", "beginning"])),
            "on_truncate": draw(st.sampled_from(["ignore", "read_whole_file", "read_new"]))}
        if log["format"] == "regex":
            log["regex"] = "^(?P<level>\\w+) (?P<message>.*)$"
        if log["format"] == "syslog":
            log["syslog_protocol"] = draw(st.sampled_from(["rfc3164", "rfc5424"]))
        if log["format"] != "container" and draw(st.booleans()):
            log["multiline"] = {draw(st.sampled_from(["line_start_pattern", "line_end_pattern"])): "^\\S"}
        receivers[f"filelog/app{index}"] = log
    spec = agent_spec(**receivers)
    if draw(st.booleans()):
        spec["resource_detection"] = {"detectors": draw(st.lists(st.sampled_from(RESOURCE_DETECTORS), min_size=1,
                                                                 unique=True))}
    spec["distribution"] = copy.deepcopy(LAB_MANIFEST)
    return spec


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=host_specs())
def run_host_validate(binary: str, spec: Dict[str, Any]) -> None:
    validate_with_collector(binary, otelcol_config(spec))


def test_host_agent_configs_pass_collector_validate() -> None:
    run_host_validate(collector_binary())
