# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the otelcol_config filter: one passing and one failing case per rule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import (
    BACKEND_TYPES,
    COMPONENT_KINDS,
    TYPE_RENAMES,
    FilterModule,
    otelcol_config,
    otelcol_gomemlimit,
    otelcol_memory_max,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_distribution import read_distribution

# The lab's collector build: the lab's facts live in the lab and its tests, not in the filter.
LAB_MANIFEST: Dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[4] / "lab" / "otelcol-builder.yaml").read_text(encoding="utf-8"))
LAB_DISTRIBUTION = read_distribution(LAB_MANIFEST, "spec.distribution")
# Every type name this filter can emit, old and new spellings, and the ones the lab build has.
KNOWN_TYPE_NAMES = {name for (kind, old), (_version, new) in TYPE_RENAMES.items() for name in (old, new)} | {
    "otlp", "prometheus", "memory_limiter", "batch", "resource", "attributes", "transform", "filter",
    "tail_sampling", "probabilistic_sampler", "debug", "forward", "health_check", "file_storage", "pprof", "zpages"}
LAB_BUILD_TYPES: Dict[str, frozenset] = {
    kind: frozenset(name for name in KNOWN_TYPE_NAMES if LAB_DISTRIBUTION.has(kind, name)) for kind in COMPONENT_KINDS}


def base_spec() -> Dict[str, Any]:
    """A small valid spec: traces to Tempo, metrics to Mimir, logs to Loki."""
    return {
        "memory": {"host_mib": 2048},
        "backends": {
            "tempo": {"type": "tempo", "host": "tempo.lab"},
            "mimir": {"type": "mimir", "host": "mimir.lab"},
            "loki": {"type": "loki", "host": "loki.lab"},
        },
        "pipelines": {
            "traces": {"receivers": ["otlp"], "exporters": ["tempo"]},
            "metrics": {"receivers": ["otlp"], "exporters": ["mimir"]},
            "logs": {"receivers": ["otlp"], "exporters": ["loki"]},
        },
    }


def with_changes(**changes: Any) -> Dict[str, Any]:
    spec = base_spec()
    spec.update(copy.deepcopy(changes))
    return spec


def render_error(spec: Any, *args: Any) -> str:
    with pytest.raises(AnsibleFilterError) as caught:
        otelcol_config(spec, *args)
    return str(caught.value)


# ---------------------------------------------------------------- structure

def test_full_config_has_every_section() -> None:
    config = otelcol_config(base_spec())
    assert set(config) == {"receivers", "processors", "exporters", "connectors", "extensions", "service"}
    assert set(config["service"]) == {"extensions", "pipelines", "telemetry"}
    assert set(config["service"]["pipelines"]) == {"traces", "metrics", "logs"}


def test_filter_module_exposes_both_filters() -> None:
    filters = FilterModule().filters()
    assert filters["otelcol_config"] is otelcol_config
    assert filters["otelcol_gomemlimit"] is otelcol_gomemlimit
    assert filters["otelcol_memory_max"] is otelcol_memory_max


def test_spec_must_be_a_mapping() -> None:
    message = render_error(["not", "a", "dict"])
    assert "spec: expected a mapping" in message


# ---------------------------------------------------------------- memory_limiter / GOMEMLIMIT

def test_memory_limiter_first_with_limit_from_host_memory() -> None:
    config = otelcol_config(base_spec())
    limiter = config["processors"]["memory_limiter"]
    assert limiter == {"check_interval": "1s", "limit_mib": 1638, "spike_limit_mib": 327}
    for pipeline in config["service"]["pipelines"].values():
        assert pipeline["processors"][0] == "memory_limiter"


def test_memory_explicit_limit() -> None:
    config = otelcol_config(with_changes(memory={"limit_mib": 1000, "spike_limit_mib": 100, "check_interval": "2s"}))
    assert config["processors"]["memory_limiter"] == {"check_interval": "2s", "limit_mib": 1000,
                                                      "spike_limit_mib": 100}


def test_memory_missing_is_an_error() -> None:
    spec = base_spec()
    del spec["memory"]
    assert "spec.memory: missing" in render_error(spec)


def test_memory_both_host_and_limit_is_an_error() -> None:
    message = render_error(with_changes(memory={"host_mib": 2048, "limit_mib": 1000}))
    assert "spec.memory: give exactly one of host_mib" in message


def test_memory_wrong_type_names_key() -> None:
    message = render_error(with_changes(memory={"host_mib": "2GiB"}))
    assert "spec.memory.host_mib: expected an integer" in message


def test_memory_bool_is_not_an_integer() -> None:
    assert "spec.memory.limit_mib: expected an integer" in render_error(with_changes(memory={"limit_mib": True}))


def test_spike_limit_must_be_below_limit() -> None:
    message = render_error(with_changes(memory={"limit_mib": 100, "spike_limit_mib": 100}))
    assert "spec.memory.spike_limit_mib" in message and "<= 99" in message


def test_gomemlimit_matches_memory_limiter() -> None:
    assert otelcol_gomemlimit(base_spec()) == "1310MiB"
    assert otelcol_gomemlimit({"memory": {"limit_mib": 1000}}) == "800MiB"


def test_gomemlimit_bad_input() -> None:
    with pytest.raises(AnsibleFilterError, match=r"spec.memory: missing"):
        otelcol_gomemlimit({})
    with pytest.raises(AnsibleFilterError, match=r"spec: expected a mapping"):
        otelcol_gomemlimit("2048")


def test_memory_max_is_the_budget_the_limit_is_a_share_of() -> None:
    # host_mib is the budget itself; an explicit limit is 80% of the cap, rounded up.
    assert otelcol_memory_max(base_spec()) == 2048
    assert otelcol_memory_max({"memory": {"limit_mib": 200}}) == 250
    assert otelcol_memory_max({"memory": {"limit_mib": 201}}) == 252
    # The cap is always above the limit the memory_limiter refuses at, and GOMEMLIMIT below it.
    for limit in (32, 100, 999, 4095):
        cap = otelcol_memory_max({"memory": {"limit_mib": limit}})
        assert cap * 80 // 100 <= limit < cap
        assert int(otelcol_gomemlimit({"memory": {"limit_mib": limit}})[:-3]) < limit


def test_memory_max_bad_input() -> None:
    with pytest.raises(AnsibleFilterError, match=r"(?s)otelcol_memory_max.*spec.memory: missing"):
        otelcol_memory_max({})
    with pytest.raises(AnsibleFilterError, match=r"spec.memory.limit_mib"):
        otelcol_memory_max({"memory": {"limit_mib": "lots"}})


# ---------------------------------------------------------------- batching

def test_exporter_side_batching_at_default_version_without_batch_processor() -> None:
    config = otelcol_config(base_spec())
    assert "batch" not in config["processors"]
    for pipeline in config["service"]["pipelines"].values():
        assert "batch" not in pipeline["processors"]
    batch = config["exporters"]["otlp_grpc/tempo"]["sending_queue"]["batch"]
    # Counted in bytes: each request within the 4 MiB an OTLP/gRPC backend takes by default.
    assert batch == {"flush_timeout": "200ms", "sizer": "bytes", "min_size": 1024 * 1024, "max_size": 4 * 1024 * 1024}


def test_batch_processor_last_for_old_collectors() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["sampling"] = {"probabilistic": {"percentage": 10}}
    config = otelcol_config(spec, "0.120.0")
    assert config["processors"]["batch"]["send_batch_size"] == 8192
    traces = config["service"]["pipelines"]["traces"]["processors"]
    assert traces[-1] == "batch" and traces.index("probabilistic_sampler/traces") < traces.index("batch")
    assert "batch" not in config["exporters"]["otlp/tempo"]["sending_queue"]


@pytest.mark.parametrize("version", ["0.123.0", "0.129.0"])
def test_collectors_before_0_130_batch_in_a_processor_as_their_exporters_batch_has_no_sizer(version) -> None:
    # Up to 0.129.0 sending_queue.batch has no `sizer` key and needs a queue counted in items or bytes,
    # which a disk queue (requests only there) cannot be: the batch processor batches instead.
    config = otelcol_config(base_spec(), version)
    assert config["processors"]["batch"]["send_batch_size"] == 8192
    assert all(pipeline["processors"][-1] == "batch" for pipeline in config["service"]["pipelines"].values())
    assert all("batch" not in exporter.get("sending_queue", {}) for exporter in config["exporters"].values())
    assert "batch" in otelcol_config(base_spec(), "0.130.0")["exporters"]["otlp/tempo"]["sending_queue"]


def test_user_batch_processor_is_rejected() -> None:
    spec = with_changes(processors={"batch/mine": {}})
    spec["pipelines"]["traces"]["extra_processors"] = ["batch/mine"]
    assert "spec.processors.batch/mine: batch is managed by this filter" in render_error(spec)


def test_batching_twice_through_overrides_is_rejected() -> None:
    spec = with_changes(overrides={
        "processors": {"batch": {}},
        "service": {"pipelines": {"traces": {"processors": ["memory_limiter", "batch"]}}},
    })
    assert "batching twice" in render_error(spec)


def test_batch_tuning() -> None:
    config = otelcol_config(with_changes(batch={"flush_timeout": "1s", "sizer": "items", "min_size": 100, "max_size": 0}))
    assert config["exporters"]["otlp_http/mimir"]["sending_queue"]["batch"] == {
        "flush_timeout": "1s", "sizer": "items", "min_size": 100, "max_size": 0}
    assert "spec.batch.max_size" in render_error(with_changes(batch={"sizer": "bytes", "min_size": 100, "max_size": 10}))
    # A sizer alone brings its own default sizes.
    items = otelcol_config(with_changes(batch={"sizer": "items"}))["exporters"]["otlp_grpc/tempo"]["sending_queue"]
    assert (items["batch"]["min_size"], items["batch"]["max_size"]) == (8192, 16384)


def test_batch_sizes_without_a_sizer_are_refused_where_exporters_batch() -> None:
    # They counted items before the default became bytes: read as bytes they would mean something else.
    message = render_error(with_changes(batch={"min_size": 8192, "max_size": 16384}))
    assert "spec.batch.sizer: missing; say what min_size and max_size count, bytes or items" in message
    assert "spec.batch.sizer" in render_error(with_changes(batch={"sizer": "spans"}))
    # The batch processor of older collectors counts items only: sizes need no sizer there, bytes is refused.
    old = otelcol_config(with_changes(batch={"min_size": 100}), "0.120.0")
    assert old["processors"]["batch"]["send_batch_size"] == 100
    message = render_error(with_changes(batch={"sizer": "bytes"}), "0.120.0")
    assert "spec.batch.sizer: collector 0.120.0 batches in the batch processor, which counts items only" in message


def test_a_batch_counted_in_bytes_fits_in_each_disk_queue() -> None:
    # With the queue counted in bytes too, the collector refuses a min_size above the queue's size.
    spec = with_changes(persistent_queue={"directory": "/q", "max_mib": 12}, batch={"sizer": "bytes", "min_size": 5 * 1024 * 1024, "max_size": 0})
    message = render_error(spec)
    assert "spec.batch.min_size: 5242880 bytes is more than each disk queue holds (4194304 bytes" in message
    spec["batch"]["min_size"] = 4 * 1024 * 1024
    assert otelcol_config(spec)["exporters"]["otlp_http/loki"]["sending_queue"]["batch"]["min_size"] == 4 * 1024 * 1024


# ---------------------------------------------------------------- queue / retry / persistence

def test_every_network_exporter_has_queue_and_retry() -> None:
    spec = base_spec()
    spec["backends"]["console"] = {"type": "debug"}
    spec["pipelines"]["logs"]["exporters"].append("console")
    config = otelcol_config(spec)
    for exporter_id, exporter in config["exporters"].items():
        if exporter_id.startswith("debug/"):
            assert exporter == {"verbosity": "basic"}
            continue
        assert exporter["retry_on_failure"]["enabled"] is True
        assert exporter["sending_queue"]["enabled"] is True


def test_override_removing_sending_queue_is_rejected() -> None:
    spec = with_changes(overrides={"exporters": {"otlp_grpc/tempo": {"sending_queue": None}}})
    assert "config.exporters.otlp_grpc/tempo.sending_queue: every network exporter needs sending_queue" in \
        render_error(spec)


def test_remote_write_has_its_own_queue_and_retry() -> None:
    spec = base_spec()
    spec["backends"]["mimir"]["protocol"] = "remote_write"
    exporter = otelcol_config(spec)["exporters"]["prometheus_remote_write/mimir"]
    assert exporter["endpoint"] == "http://mimir.lab:9009/api/v1/push"
    assert exporter["remote_write_queue"]["enabled"] is True
    assert exporter["retry_on_failure"]["enabled"] is True
    assert "sending_queue" not in exporter


def test_persistent_queue_uses_file_storage() -> None:
    config = otelcol_config(with_changes(persistent_queue={"directory": "/var/lib/otelcol/queue"}))
    assert config["extensions"]["file_storage/queue"]["directory"] == "/var/lib/otelcol/queue"
    assert "file_storage/queue" in config["service"]["extensions"]
    assert config["exporters"]["otlp_grpc/tempo"]["sending_queue"]["storage"] == "file_storage/queue"


def test_persistent_queue_off_by_default_and_per_backend() -> None:
    config = otelcol_config(base_spec())
    assert "storage" not in config["exporters"]["otlp_grpc/tempo"]["sending_queue"]
    assert "file_storage/queue" not in config["extensions"]
    spec = with_changes(persistent_queue={"directory": "/q"})
    spec["backends"]["tempo"]["persistent"] = False
    config = otelcol_config(spec)
    assert "storage" not in config["exporters"]["otlp_grpc/tempo"]["sending_queue"]
    assert config["exporters"]["otlp_http/loki"]["sending_queue"]["storage"] == "file_storage/queue"


def test_retries_never_stop_where_the_queue_is_on_disk() -> None:
    """An outage longer than any elapsed-time cap loses nothing the disk queue holds (issue 18)."""
    spec = with_changes(persistent_queue={"directory": "/q"})
    spec["backends"]["tempo"]["persistent"] = False
    exporters = otelcol_config(spec)["exporters"]
    assert exporters["otlp_http/loki"]["sending_queue"]["storage"] == "file_storage/queue"
    assert exporters["otlp_http/loki"]["retry_on_failure"]["max_elapsed_time"] == "0s"
    # In memory the queue is lost on a restart anyway; a capped retry keeps it from filling for good.
    assert "storage" not in exporters["otlp_grpc/tempo"]["sending_queue"]
    assert exporters["otlp_grpc/tempo"]["retry_on_failure"]["max_elapsed_time"] == "300s"
    assert otelcol_config(base_spec())["exporters"]["otlp_http/loki"]["retry_on_failure"]["max_elapsed_time"] == "300s"


MIB = 1024 * 1024


def test_disk_queue_bounded_in_bytes_shared_by_the_exporters() -> None:
    """The disk queue's bound (issue 18) is spec.persistent_queue.max_mib, shared evenly by the
    exporters that queue on disk; a queue in memory keeps counting requests."""
    spec = with_changes(persistent_queue={"directory": "/q", "max_mib": 300})
    spec["backends"]["tempo"]["persistent"] = False
    exporters = otelcol_config(spec)["exporters"]
    for exporter_id in ("otlp_http/loki", "otlp_http/mimir"):
        queue = exporters[exporter_id]["sending_queue"]
        assert (queue["sizer"], queue["queue_size"], queue["storage"]) == ("bytes", 150 * MIB, "file_storage/queue")
        assert queue["batch"]["sizer"] == "bytes"   # the batch's own sizer, by default bytes too
        assert "block_on_overflow" not in queue     # full: refused with a retryable error, not waited on
    assert "sizer" not in exporters["otlp_grpc/tempo"]["sending_queue"]
    assert exporters["otlp_grpc/tempo"]["sending_queue"]["queue_size"] == 1000


def test_disk_queue_bound_default() -> None:
    exporters = otelcol_config(with_changes(persistent_queue={"directory": "/q"}))["exporters"]
    # 2048 MiB by default, three exporters on disk.
    assert exporters["otlp_grpc/tempo"]["sending_queue"]["queue_size"] == 2048 * MIB // 3
    assert {exporter["sending_queue"]["sizer"] for exporter in exporters.values()} == {"bytes"}


def test_disk_queue_counts_requests_before_the_bytes_sizer() -> None:
    exporters = otelcol_config(with_changes(persistent_queue={"directory": "/q"}), "0.129.0")["exporters"]
    queue = exporters["otlp/tempo"]["sending_queue"]   # otlp_grpc is a later release's name
    assert (queue["storage"], queue["queue_size"]) == ("file_storage/queue", 1000) and "sizer" not in queue
    message = render_error(with_changes(persistent_queue={"directory": "/q", "max_mib": 64}), "0.129.0")
    assert "spec.persistent_queue.max_mib: collector 0.129.0 counts a disk queue in requests only" in message


def test_disk_queue_share_must_hold_a_default_grpc_request() -> None:
    message = render_error(with_changes(persistent_queue={"directory": "/q", "max_mib": 11}))
    assert ("spec.persistent_queue.max_mib: 11 MiB leaves each of the 3 disk queues less than 4 MiB, the largest "
            "request an OTLP/gRPC sender sends by default") in message
    assert "give at least 12" in message
    assert otelcol_config(with_changes(persistent_queue={"directory": "/q", "max_mib": 12}))


def fan_out_spec(**queue: Any) -> Dict[str, Any]:
    """base_spec with its traces also feeding span metrics (the traces pipeline fans out) and a disk queue."""
    spec = with_changes(persistent_queue={"directory": "/q", **queue}, connectors={"spanmetrics": {}})
    spec["pipelines"]["traces"]["exporters"] = ["tempo", "spanmetrics"]
    spec["pipelines"]["metrics"]["receivers"] = ["otlp", "spanmetrics"]
    return spec


def test_a_pipeline_that_fans_out_takes_data_in_through_one_disk_queue_that_alone_refuses() -> None:
    """Issue 18: refuse before the fan-out. The traces pipeline feeds Tempo's exporter and span metrics;
    it hands its requests to its intake (an OTLP exporter with a disk queue of its own share, to a
    loopback receiver), whose pipeline fans out. Full, the intake refuses (no block_on_overflow); the
    queue behind it waits for room instead, and the hop never times out while it waits. The metrics
    and logs pipelines, one consumer each, keep their own refusing queues."""
    config = otelcol_config(fan_out_spec(max_mib=400))
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"] == {"receivers": ["otlp"], "processors": ["memory_limiter"],
                                   "exporters": ["otlp_grpc/intake_traces"]}
    assert pipelines["traces/fan_out"] == {"receivers": ["otlp/intake_traces"], "processors": ["memory_limiter"],
                                           "exporters": ["otlp_grpc/tempo", "span_metrics"]}
    intake = config["exporters"]["otlp_grpc/intake_traces"]
    assert intake["endpoint"] == "127.0.0.1:4319" and intake["tls"] == {"insecure": True}
    assert intake["compression"] == "none" and intake["timeout"] == "8760h"
    assert intake["retry_on_failure"]["max_elapsed_time"] == "0s"
    # Four queues on disk share the bound: Tempo's, Mimir's, Loki's and the intake's.
    assert {key: intake["sending_queue"][key] for key in ("storage", "sizer", "queue_size")} == \
        {"storage": "file_storage/queue", "sizer": "bytes", "queue_size": 100 * MIB}
    assert "block_on_overflow" not in intake["sending_queue"]
    # It hands on batches bounded in bytes (1 to 4 MiB), whatever the size of a span, two at a time.
    assert intake["sending_queue"]["num_consumers"] == 2
    assert intake["sending_queue"]["batch"] == {"flush_timeout": "200ms", "sizer": "bytes",
                                                "min_size": MIB, "max_size": 4 * MIB}
    assert config["exporters"]["otlp_grpc/tempo"]["sending_queue"]["block_on_overflow"] is True
    for exporter_id in ("otlp_http/mimir", "otlp_http/loki"):
        assert "block_on_overflow" not in config["exporters"][exporter_id]["sending_queue"]
        assert config["exporters"][exporter_id]["sending_queue"]["queue_size"] == 100 * MIB
    assert config["receivers"]["otlp/intake_traces"] == {"protocols": {"grpc": {
        "endpoint": "127.0.0.1:4319", "max_recv_msg_size_mib": 512}}}


def test_no_intake_without_a_fan_out_a_disk_queue_or_a_bound_in_bytes() -> None:
    """One consumer per pipeline: each queue refuses by itself, nothing to resend twice. A queue in
    memory, or counted in requests (collectors before the bytes sizer), gets no intake either, nor a
    spec whose intake_address is null."""
    for config in (otelcol_config(with_changes(persistent_queue={"directory": "/q"})),
                   otelcol_config(fan_out_spec(enabled=False)),
                   otelcol_config(fan_out_spec(intake_address=None)),   # asked for none
                   otelcol_config(fan_out_spec(), "0.129.0")):
        assert not [name for name in config["exporters"] if "intake" in name]
        assert not [name for name in config["service"]["pipelines"] if "fan_out" in name]
        assert not any("block_on_overflow" in exporter.get("sending_queue", {})
                       for exporter in config["exporters"].values())


def test_each_pipeline_sharing_a_waiting_backend_gets_its_own_intake_on_the_next_port() -> None:
    """A backend behind an intake waits when full, for every signal it exports (one queue setting per
    exporter): so a pipeline of another signal exporting to it gets an intake too, one port up."""
    spec = fan_out_spec(intake_address="127.0.0.1:5000")
    spec["backends"]["gateway"] = {"type": "otlp", "endpoint": "gateway.lab:4317"}
    spec["pipelines"]["traces"]["exporters"].append("gateway")
    spec["pipelines"]["logs"]["exporters"] = ["gateway"]
    del spec["backends"]["loki"]
    config = otelcol_config(spec)
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"]["exporters"] == ["otlp_grpc/intake_traces"]
    assert pipelines["logs"]["exporters"] == ["otlp_grpc/intake_logs"]
    assert pipelines["logs/fan_out"]["exporters"] == ["otlp_grpc/gateway"]
    assert config["exporters"]["otlp_grpc/intake_traces"]["endpoint"] == "127.0.0.1:5000"
    assert config["exporters"]["otlp_grpc/intake_logs"]["endpoint"] == "127.0.0.1:5001"
    assert pipelines["metrics"]["exporters"] == ["otlp_http/mimir"]


def test_the_intake_listens_on_loopback_only_and_clashes_are_named() -> None:
    message = render_error(fan_out_spec(intake_address="0.0.0.0:4319"))
    assert "spec.persistent_queue.intake_address: 0.0.0.0:4319 is not on loopback" in message
    message = render_error(fan_out_spec(intake_address="127.0.0.1:8888"))
    assert "127.0.0.1:8888 clashes with" in message and "spec.persistent_queue.intake_address" in message


def test_persistent_queue_needs_absolute_directory() -> None:
    message = render_error(with_changes(persistent_queue={"directory": "queue"}))
    assert "spec.persistent_queue.directory: expected an absolute path" in message


# ---------------------------------------------------------------- extensions / receivers

def test_health_check_always_on() -> None:
    config = otelcol_config(base_spec())
    assert config["extensions"]["health_check"] == {"endpoint": "0.0.0.0:13133"}
    assert config["service"]["extensions"][0] == "health_check"


def test_health_check_cannot_be_disabled() -> None:
    message = render_error(with_changes(extensions={"health_check": None}))
    assert "spec.extensions.health_check: the health_check extension is always on" in message


def test_receivers_bound_to_explicit_addresses() -> None:
    config = otelcol_config(base_spec())
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols == {"grpc": {"endpoint": "0.0.0.0:4317"}, "http": {"endpoint": "0.0.0.0:4318"}}


def test_receiver_address_without_host_is_rejected() -> None:
    message = render_error(with_changes(receivers={"otlp": {"grpc": ":4317"}}))
    assert "spec.receivers.otlp.grpc: ':4317' has no host" in message
    message = render_error(with_changes(receivers={"otlp": {"grpc": 4317}}))
    assert "spec.receivers.otlp.grpc: expected a non-empty string" in message


def test_prometheus_receiver_renders_scrape_config() -> None:
    spec = with_changes(receivers={"otlp": {}, "prometheus/node": {"scrape_configs": [
        {"job_name": "node", "targets": ["127.0.0.1:9100"], "scrape_interval": "15s"}]}})
    spec["pipelines"]["metrics"]["receivers"].append("prometheus/node")
    config = otelcol_config(spec)
    job = config["receivers"]["prometheus/node"]["config"]["scrape_configs"][0]
    assert job == {"job_name": "node", "scrape_interval": "15s", "static_configs": [{"targets": ["127.0.0.1:9100"]}],
                   # The target's own OTel resource must not replace the job and instance.
                   "metric_relabel_configs": [{"source_labels": ["__name__"], "regex": "target_info",
                                               "action": "drop"}]}


def test_a_scrape_jobs_labels_go_on_its_targets() -> None:
    """Which component a target is, where several share one job label (the stack's own scrape)."""
    spec = with_changes(receivers={"otlp": {}, "prometheus/stack": {"scrape_configs": [
        {"job_name": "lgtm-stack-jaeger", "job": "lgtm-stack", "targets": ["127.0.0.1:14269"],
         "labels": {"component": "jaeger"}}]}})
    spec["pipelines"]["metrics"]["receivers"].append("prometheus/stack")
    job = otelcol_config(spec)["receivers"]["prometheus/stack"]["config"]["scrape_configs"][0]
    assert job["static_configs"] == [{"targets": ["127.0.0.1:14269"], "labels": {"component": "jaeger"}}]
    assert job["relabel_configs"] == [{"target_label": "job", "replacement": "lgtm-stack"}]


@pytest.mark.parametrize(("labels", "message"), [
    ({}, "labels: expected a mapping of at least one label name to its value"),
    ({"__address__": "x"}, "labels: '__address__' is not a label name"),
    ({"1st": "x"}, "labels: '1st' is not a label name"),
    ({"component-name": "x"}, "labels: 'component-name' is not a label name"),
    ({"job": "other"}, "labels.job: the scrape sets 'job' itself"),
    ({"instance": "other"}, "labels.instance: the scrape sets 'instance' itself"),
    ({"component": ""}, "labels.component: expected a non-empty string"),
    ({"component": 3}, "labels.component: expected a non-empty string"),
    (["component"], "labels: expected a mapping"),
], ids=["empty", "reserved", "digit-first", "dash", "job", "instance", "empty-value", "number", "list"])
def test_bad_scrape_labels_are_refused_naming_the_path(labels: Any, message: str) -> None:
    spec = with_changes(receivers={"otlp": {}, "prometheus/stack": {"scrape_configs": [
        {"job_name": "lgtm-stack-jaeger", "targets": ["127.0.0.1:14269"], "labels": labels}]}})
    spec["pipelines"]["metrics"]["receivers"].append("prometheus/stack")
    assert f"spec.receivers.prometheus/stack.scrape_configs[0].{message}" in render_error(spec)


def test_prometheus_receiver_cannot_feed_traces() -> None:
    spec = with_changes(receivers={"otlp": {}, "prometheus": {"scrape_configs": [
        {"job_name": "node", "targets": ["127.0.0.1:9100"]}]}})
    spec["pipelines"]["traces"]["receivers"].append("prometheus")
    assert "spec.pipelines.traces.receivers[1]: receiver 'prometheus' (prometheus) cannot produce traces" in \
        render_error(spec)


def test_optional_pprof_and_zpages() -> None:
    config = otelcol_config(with_changes(extensions={"pprof": "127.0.0.1:1777", "zpages": "127.0.0.1:55679"}))
    assert config["extensions"]["pprof"] == {"endpoint": "127.0.0.1:1777"}
    assert {"pprof", "zpages"} <= set(config["service"]["extensions"])


# ---------------------------------------------------------------- exporter names and backend paths

def test_exporter_names_for_default_version() -> None:
    config = otelcol_config(base_spec())
    assert set(config["exporters"]) == {"otlp_grpc/tempo", "otlp_http/mimir", "otlp_http/loki"}
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp_grpc/tempo"]


def test_exporter_names_before_the_rename() -> None:
    config = otelcol_config(with_changes(collector_version="0.143.0"))
    assert set(config["exporters"]) == {"otlp/tempo", "otlphttp/mimir", "otlphttp/loki"}


def test_version_argument_overrides_spec() -> None:
    config = otelcol_config(with_changes(collector_version="0.159.0"), "0.130.0")
    assert "otlp/tempo" in config["exporters"]


def test_bad_version_is_rejected() -> None:
    assert "spec.collector_version: expected a collector version string" in \
        render_error(with_changes(collector_version="latest"))
    assert "older than the oldest supported version" in render_error(base_spec(), "0.90.0")


def test_backend_endpoints() -> None:
    config = otelcol_config(base_spec())
    assert config["exporters"]["otlp_grpc/tempo"]["endpoint"] == "tempo.lab:4317"
    assert config["exporters"]["otlp_grpc/tempo"]["tls"] == {"insecure": True}
    assert config["exporters"]["otlp_http/mimir"]["endpoint"] == "http://mimir.lab:9009/otlp"
    assert config["exporters"]["otlp_http/loki"]["endpoint"] == "http://loki.lab:3100/otlp"


def test_tempo_over_http_and_custom_ports() -> None:
    spec = base_spec()
    spec["backends"]["tempo"].update(protocol="http")
    spec["backends"]["loki"].update(port=3101)
    config = otelcol_config(spec)
    assert config["exporters"]["otlp_http/tempo"]["endpoint"] == "http://tempo.lab:4318"
    assert config["exporters"]["otlp_http/loki"]["endpoint"] == "http://loki.lab:3101/otlp"


def test_backend_host_must_be_bare() -> None:
    spec = base_spec()
    spec["backends"]["mimir"]["host"] = "http://mimir.lab:9009"
    assert "spec.backends.mimir.host: 'http://mimir.lab:9009' is not a host name" in render_error(spec)


def test_backend_bad_protocol() -> None:
    spec = base_spec()
    spec["backends"]["loki"]["protocol"] = "grpc"
    assert "spec.backends.loki.protocol: 'grpc' is not accepted; accepted: http" in render_error(spec)


def test_generic_otlp_backend_and_tls() -> None:
    spec = base_spec()
    spec["backends"]["vendor"] = {"type": "otlp", "protocol": "http", "endpoint": "https://otlp.example:4318",
                                  "tls": {"ca_file": "/etc/ssl/ca.pem"}, "auth": {"username": "u", "password": "p"}}
    spec["pipelines"]["traces"]["exporters"].append("vendor")
    spec["distribution"] = LAB_MANIFEST
    config = otelcol_config(spec)
    exporter = config["exporters"]["otlp_http/vendor"]
    assert exporter["endpoint"] == "https://otlp.example:4318"
    assert exporter["tls"] == {"ca_file": "/etc/ssl/ca.pem"}
    # basicauth is not in the lab build: the credentials travel as the header it would send
    assert exporter["headers"] == {"Authorization": "Basic dTpw"}
    assert config["service"]["extensions"] == ["health_check"]


def test_basic_auth_uses_the_basicauth_extension_where_the_build_has_it() -> None:
    # Upstream's otelcol-contrib (the default distribution) has basicauth: the
    # credentials live in the extension, the exporter names it.
    spec = base_spec()
    spec["backends"]["vendor"] = {"type": "otlp", "protocol": "http", "endpoint": "https://otlp.example:4318",
                                  "auth": {"username": "u", "password": "p"}}
    spec["pipelines"]["traces"]["exporters"].append("vendor")
    config = otelcol_config(spec)
    exporter = config["exporters"]["otlp_http/vendor"]
    assert exporter["auth"] == {"authenticator": "basicauth/vendor"}
    assert "headers" not in exporter
    assert config["extensions"]["basicauth/vendor"] == {"client_auth": {"username": "u", "password": "p"}}
    assert config["service"]["extensions"] == ["health_check", "basicauth/vendor"]


@pytest.mark.parametrize("header", ["Authorization", "authorization"])
def test_basic_auth_and_an_authorization_header_are_refused_together(header: str) -> None:
    # One would silently replace the other.
    spec = base_spec()
    spec["backends"]["vendor"] = {"type": "otlp", "protocol": "http", "endpoint": "https://otlp.example:4318",
                                  "auth": {"username": "u", "password": "p"}, "headers": {header: "Bearer t"}}
    spec["pipelines"]["traces"]["exporters"].append("vendor")
    assert (f"spec.backends.vendor.headers.{header}: spec.backends.vendor.auth is sent as the Authorization header "
            f"too; give one of the two") in render_error(spec)


def test_a_colon_in_a_basic_auth_username_is_refused() -> None:
    spec = base_spec()
    spec["backends"]["vendor"] = {"type": "otlp", "protocol": "http", "endpoint": "https://otlp.example:4318",
                                  "auth": {"username": "team:ops", "password": "p"}}
    spec["pipelines"]["traces"]["exporters"].append("vendor")
    assert "spec.backends.vendor.auth.username: 'team:ops' contains ':', which basic auth cannot carry" in \
        render_error(spec)


@pytest.mark.parametrize("kind,component,value", [("exporters", "otlp_grpc/tempo", "off"),
                                                  ("receivers", "otlp", ["grpc"]),
                                                  ("processors", "memory_limiter", 512)])
def test_an_override_that_replaces_a_component_with_no_mapping_is_refused(kind: str, component: str,
                                                                          value: Any) -> None:
    spec = with_changes(overrides={kind: {component: value}})
    assert f"spec.overrides.{kind}.{component}: expected a mapping" in render_error(spec)


def test_an_override_may_still_remove_a_component_with_null() -> None:
    spec = with_changes(overrides={"extensions": {"pprof": None}})
    assert "pprof" not in otelcol_config(spec)["extensions"]


def test_generic_otlp_backend_needs_endpoint() -> None:
    spec = base_spec()
    spec["backends"]["vendor"] = {"type": "otlp"}
    assert "spec.backends.vendor.endpoint: missing" in render_error(spec)


def test_tls_to_tempo_grpc() -> None:
    spec = base_spec()
    spec["backends"]["tempo"]["tls"] = {"enabled": True, "ca_file": "/ca.pem", "server_name": "tempo"}
    exporter = otelcol_config(spec)["exporters"]["otlp_grpc/tempo"]
    assert exporter["tls"] == {"ca_file": "/ca.pem", "server_name_override": "tempo"}


def test_tls_cert_without_key_is_rejected() -> None:
    spec = base_spec()
    spec["backends"]["tempo"]["tls"] = {"cert_file": "/c.pem"}
    assert "spec.backends.tempo.tls: cert_file and key_file go together" in render_error(spec)


def test_tenant_header() -> None:
    spec = base_spec()
    spec["backends"]["loki"]["tenant"] = "lab"
    assert otelcol_config(spec)["exporters"]["otlp_http/loki"]["headers"] == {"X-Scope-OrgID": "lab"}


# ---------------------------------------------------------------- jaeger, prometheus and victorialogs backends

def apache_spec() -> Dict[str, Any]:
    """Traces to Jaeger, metrics to Prometheus, logs to VictoriaLogs, all on default settings."""
    return {
        "memory": {"host_mib": 2048},
        "backends": {
            "jaeger": {"type": "jaeger", "host": "jaeger.lab"},
            "prometheus": {"type": "prometheus", "host": "prometheus.lab"},
            "victorialogs": {"type": "victorialogs", "host": "victorialogs.lab"},
        },
        "pipelines": {
            "traces": {"receivers": ["otlp"], "exporters": ["jaeger"]},
            "metrics": {"receivers": ["otlp"], "exporters": ["prometheus"]},
            "logs": {"receivers": ["otlp"], "exporters": ["victorialogs"]},
        },
    }


RETRY = {"enabled": True, "initial_interval": "5s", "max_interval": "30s", "max_elapsed_time": "300s"}
QUEUE = {"enabled": True, "num_consumers": 10, "queue_size": 1000,
         "batch": {"flush_timeout": "200ms", "sizer": "bytes", "min_size": 1024 * 1024, "max_size": 4 * 1024 * 1024}}


def test_jaeger_backend_defaults_to_otlp_grpc() -> None:
    config = otelcol_config(apache_spec())
    assert config["exporters"]["otlp_grpc/jaeger"] == {
        "endpoint": "jaeger.lab:4317", "timeout": "10s", "tls": {"insecure": True},
        "retry_on_failure": RETRY, "sending_queue": QUEUE,
    }
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp_grpc/jaeger"]


def test_jaeger_backend_over_http_with_tls_and_auth() -> None:
    spec = apache_spec()
    spec["backends"]["jaeger"].update(protocol="http", tls={"ca_file": "/ca.pem"},
                                      auth={"username": "u", "password": "p"}, headers={"X-Team": "lab"})
    spec["distribution"] = LAB_MANIFEST  # no basicauth extension: the header
    assert otelcol_config(spec)["exporters"]["otlp_http/jaeger"] == {
        "endpoint": "https://jaeger.lab:4318", "timeout": "10s", "tls": {"ca_file": "/ca.pem"},
        "headers": {"X-Team": "lab", "Authorization": "Basic dTpw"},
        "retry_on_failure": RETRY, "sending_queue": QUEUE,
    }


def test_prometheus_backend_defaults_to_its_otlp_receiver() -> None:
    # Prometheus serves OTLP at /api/v1/otlp/v1/metrics; the exporter appends /v1/metrics.
    config = otelcol_config(apache_spec())
    assert config["exporters"]["otlp_http/prometheus"] == {
        "endpoint": "http://prometheus.lab:9090/api/v1/otlp", "timeout": "10s",
        "retry_on_failure": RETRY, "sending_queue": QUEUE,
    }


def test_prometheus_backend_remote_write() -> None:
    spec = apache_spec()
    # Beside a disk queue a remote-write backend must say that its queue stays in memory.
    spec["backends"]["prometheus"].update(protocol="remote_write", port=9091, queue_size=5000, persistent=False)
    spec["persistent_queue"] = {"directory": "/var/lib/otelcol/queue"}
    config = otelcol_config(spec)
    assert config["exporters"]["prometheus_remote_write/prometheus"] == {
        "endpoint": "http://prometheus.lab:9091/api/v1/write", "timeout": "10s", "retry_on_failure": RETRY,
        "remote_write_queue": {"enabled": True, "queue_size": 5000, "num_consumers": 5},
    }
    # remote_write_queue cannot use file storage; the other backends still do.
    assert config["exporters"]["otlp_grpc/jaeger"]["sending_queue"]["storage"] == "file_storage/queue"
    assert otelcol_config(spec, "0.153.0")["exporters"]["prometheusremotewrite/prometheus"]["endpoint"] == \
        "http://prometheus.lab:9091/api/v1/write"


@pytest.mark.parametrize("backend_type", ["prometheus", "mimir"])
def test_remote_write_beside_a_disk_queue_is_refused_unless_kept_in_memory_knowingly(backend_type: str) -> None:
    """persistent_queue promises that an outage or a restart loses nothing; remote write's queue cannot be
    on disk, so a spec that would silently leave it in memory is refused (issue 18), naming the way out."""
    spec = {"memory": {"host_mib": 2048},
            "backends": {"metrics": {"type": backend_type, "host": "m.lab", "protocol": "remote_write"}},
            "pipelines": {"metrics": {"exporters": ["metrics"]}}, "persistent_queue": {"directory": "/q"}}
    assert ("spec.backends.metrics.protocol: remote_write keeps this backend's queue in memory (the "
            "prometheusremotewrite exporter has no disk storage), so spec.persistent_queue does not cover it: "
            "a collector restart, or a backend outage longer than 300 s, loses its metrics; use protocol 'otlp' "
            f"({backend_type} ingests OTLP), or set spec.backends.metrics.persistent: false to accept that"
            ) in render_error(spec)
    spec["backends"]["metrics"]["persistent"] = False
    exporter = otelcol_config(spec)["exporters"]["prometheus_remote_write/metrics"]
    assert "storage" not in exporter["remote_write_queue"] and exporter["retry_on_failure"]["max_elapsed_time"] == "300s"
    # Without a disk queue there is no promise to break.
    del spec["persistent_queue"], spec["backends"]["metrics"]["persistent"]
    assert "prometheus_remote_write/metrics" in otelcol_config(spec)["exporters"]


def test_victorialogs_backend() -> None:
    # VictoriaLogs serves OTLP logs at /insert/opentelemetry/v1/logs; the exporter appends /v1/logs.
    spec = apache_spec()
    spec["backends"]["victorialogs"]["headers"] = {"AccountID": "12", "ProjectID": "34"}
    assert otelcol_config(spec)["exporters"]["otlp_http/victorialogs"] == {
        "endpoint": "http://victorialogs.lab:9428/insert/opentelemetry", "timeout": "10s",
        "headers": {"AccountID": "12", "ProjectID": "34"},
        "retry_on_failure": RETRY, "sending_queue": QUEUE,
    }


def test_new_backends_use_the_old_exporter_names_before_the_rename() -> None:
    config = otelcol_config(apache_spec(), "0.143.0")
    assert set(config["exporters"]) == {"otlp/jaeger", "otlphttp/prometheus", "otlphttp/victorialogs"}


@pytest.mark.parametrize(("backend", "protocol", "accepted"), [
    ("jaeger", "remote_write", "grpc, http"),
    ("prometheus", "grpc", "otlp, remote_write"),
    ("victorialogs", "grpc", "http"),
])
def test_new_backends_bad_protocol(backend: str, protocol: str, accepted: str) -> None:
    spec = apache_spec()
    spec["backends"][backend]["protocol"] = protocol
    assert f"spec.backends.{backend}.protocol: {protocol!r} is not accepted; accepted: {accepted}" in \
        render_error(spec)


@pytest.mark.parametrize("backend", ["jaeger", "prometheus", "victorialogs"])
def test_new_backends_reject_tenant_and_endpoint(backend: str) -> None:
    spec = apache_spec()
    spec["backends"][backend]["tenant"] = "lab"
    assert f"spec.backends.{backend}.tenant: not accepted for type {backend!r}" in render_error(spec)
    spec = apache_spec()
    spec["backends"][backend]["endpoint"] = f"http://{backend}.lab"
    assert f"spec.backends.{backend}.endpoint: not accepted for type {backend!r}" in render_error(spec)


def test_every_backend_exporter_is_in_the_lab_build() -> None:
    for type_name, backend_type in BACKEND_TYPES.items():
        for protocol in backend_type.protocols.values():
            new_name = TYPE_RENAMES.get(("exporters", protocol.exporter), (None, protocol.exporter))[1]
            assert {protocol.exporter, new_name} <= LAB_BUILD_TYPES["exporters"], type_name


def test_docs_apache_example_renders() -> None:
    import re
    from pathlib import Path

    import yaml

    docs = Path(__file__).resolve().parents[4] / "docs" / "otelcol_config.md"
    block = re.search(r"## Example: Jaeger, Prometheus and VictoriaLogs\n.*?```yaml\n(.*?)```",
                      docs.read_text(encoding="utf-8"), re.S)
    assert block is not None, "docs/otelcol_config.md lost its Jaeger/Prometheus/VictoriaLogs example"
    config = otelcol_config(yaml.safe_load(block.group(1))["otelcol_spec"])
    assert set(config["exporters"]) == {"otlp_grpc/jaeger", "otlp_http/prometheus",
                                        "prometheus_remote_write/prometheus-rw", "otlp_http/victorialogs"}


# ---------------------------------------------------------------- telemetry

def test_telemetry_prometheus_reader_on_explicit_address() -> None:
    telemetry = otelcol_config(with_changes(telemetry={"metrics_address": "127.0.0.1:8889", "log_level": "warn"}))[
        "service"]["telemetry"]
    assert telemetry["logs"] == {"level": "warn"}
    assert telemetry["metrics"]["readers"] == [
        {"pull": {"exporter": {"prometheus": {"host": "127.0.0.1", "port": 8889}}}}]


def test_telemetry_bad_log_level() -> None:
    message = render_error(with_changes(telemetry={"log_level": "verbose"}))
    assert "spec.telemetry.log_level: 'verbose' is not accepted; accepted: debug, info, warn, error" in message


# ---------------------------------------------------------------- lint: signals and backends

def test_unknown_signal() -> None:
    spec = base_spec()
    spec["pipelines"]["profiles"] = {"exporters": ["tempo"]}
    message = render_error(spec)
    assert "spec.pipelines.profiles: unknown signal 'profiles'; accepted pipeline names: traces, metrics, logs" in \
        message


def test_named_pipelines_are_accepted() -> None:
    spec = base_spec()
    spec["pipelines"]["traces/other"] = spec["pipelines"].pop("traces")
    assert "traces/other" in otelcol_config(spec)["service"]["pipelines"]


def test_unknown_backend_type() -> None:
    spec = base_spec()
    spec["backends"]["tempo"]["type"] = "zipkin"
    message = render_error(spec)
    assert "spec.backends.tempo.type: unknown backend type 'zipkin'" in message
    assert "accepted: tempo, jaeger, mimir, prometheus, loki, victorialogs, otlp, debug" in message


@pytest.mark.parametrize(("pipeline", "backend", "accepted"), [
    ("traces", "loki", "logs"),
    ("logs", "mimir", "metrics"),
    ("metrics", "tempo", "traces"),
])
def test_backend_cannot_take_signal(pipeline: str, backend: str, accepted: str) -> None:
    spec = base_spec()
    spec["pipelines"][pipeline]["exporters"].append(backend)
    message = render_error(spec)
    assert (f"spec.pipelines.{pipeline}.exporters[1]: backend {backend!r} is of type {backend}, which accepts "
            f"only {accepted}, not {pipeline}") in message


@pytest.mark.parametrize(("backend", "accepted", "wrong"), [
    ("jaeger", "traces", ["metrics", "logs"]),
    ("prometheus", "metrics", ["traces", "logs"]),
    ("victorialogs", "logs", ["traces", "metrics"]),
])
def test_new_backends_take_only_their_signal(backend: str, accepted: str, wrong: List[str]) -> None:
    spec = apache_spec()
    for pipeline in wrong:
        spec["pipelines"][pipeline]["exporters"].append(backend)
    message = render_error(spec)
    for pipeline in wrong:
        assert (f"spec.pipelines.{pipeline}.exporters[1]: backend {backend!r} is of type {backend}, which accepts "
                f"only {accepted}, not {pipeline}") in message


def test_otlp_and_debug_backends_take_every_signal() -> None:
    spec = base_spec()
    spec["backends"]["console"] = {"type": "debug", "verbosity": "detailed"}
    spec["backends"]["gateway"] = {"type": "otlp", "endpoint": "gateway.lab:4317"}
    for pipeline in spec["pipelines"].values():
        pipeline["exporters"] += ["console", "gateway"]
    config = otelcol_config(spec)
    assert config["exporters"]["otlp_grpc/gateway"]["endpoint"] == "gateway.lab:4317"


# ---------------------------------------------------------------- lint: references and usage

def test_undefined_exporter_reference() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["exporters"].append("tempo2")
    assert "spec.pipelines.traces.exporters[1]: 'tempo2' is not defined" in render_error(spec)


def test_undefined_receiver_and_processor_references() -> None:
    spec = base_spec()
    spec["pipelines"]["logs"]["receivers"] = ["filelog"]
    spec["pipelines"]["logs"]["extra_processors"] = ["attributes/none"]
    message = render_error(spec)
    assert "spec.pipelines.logs.receivers[0]: 'filelog' is not defined" in message
    assert "spec.pipelines.logs.extra_processors[0]: processor 'attributes/none' is not defined" in message


def test_every_problem_is_reported_at_once() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["exporters"] = ["nope"]
    message = render_error(spec)
    assert "problem(s)" in message
    assert "exporters[0]: 'nope' is not defined" in message
    assert "spec.backends.tempo: backend 'tempo' is defined but no pipeline exports to it" in message


@pytest.mark.parametrize(("section", "key", "value", "expected"), [
    ("backends", "extra", {"type": "debug"}, "spec.backends.extra: backend 'extra' is defined but no pipeline"),
    ("processors", "attributes/unused", {"actions": []}, "spec.processors.attributes/unused: processor"),
    ("receivers", "otlp/unused", {"grpc": "0.0.0.0:5317", "http": None}, "spec.receivers.otlp/unused: receiver"),
])
def test_defined_but_unused(section: str, key: str, value: Any, expected: str) -> None:
    spec = base_spec()
    spec.setdefault(section, {"otlp": {}} if section == "receivers" else {})[key] = value
    assert expected in render_error(spec)


def test_override_component_unused_is_rejected() -> None:
    spec = with_changes(overrides={"exporters": {"debug/unused": {}}})
    assert "config.exporters.debug/unused: defined but not used by any pipeline (set through spec.overrides)" in \
        render_error(spec)


def test_override_exporter_can_be_referenced() -> None:
    spec = with_changes(overrides={"exporters": {"debug/raw": {"verbosity": "detailed"}}})
    spec["pipelines"]["logs"]["exporters"].append("debug/raw")
    config = otelcol_config(spec)
    assert config["exporters"]["debug/raw"] == {"verbosity": "detailed"}
    assert config["service"]["pipelines"]["logs"]["exporters"] == ["otlp_http/loki", "debug/raw"]


def test_override_pipeline_with_undefined_reference_is_rejected() -> None:
    spec = with_changes(overrides={"service": {"pipelines": {"logs": {"exporters": ["otlp_http/nowhere"]}}}})
    message = render_error(spec)
    assert "config.service.pipelines.logs.exporters[0]: 'otlp_http/nowhere' is not defined" in message


# ---------------------------------------------------------------- lint: connectors

def connector_spec() -> Dict[str, Any]:
    spec = base_spec()
    spec["connectors"] = {"spanmetrics": {"dimensions": ["http.route"]}, "servicegraph": {}}
    spec["pipelines"]["traces"]["exporters"] += ["spanmetrics", "servicegraph"]
    spec["pipelines"]["metrics"]["receivers"] += ["spanmetrics", "servicegraph"]
    return spec


def test_connectors_used_on_both_sides() -> None:
    config = otelcol_config(connector_spec())
    assert config["connectors"]["span_metrics"] == {"dimensions": [{"name": "http.route"}]}
    assert config["service"]["pipelines"]["metrics"]["receivers"] == ["otlp", "span_metrics", "service_graph"]
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp_grpc/tempo", "span_metrics",
                                                                     "service_graph"]


def test_connector_and_exporter_names_follow_the_version() -> None:
    spec = connector_spec()
    spec["backends"]["mimir"]["protocol"] = "remote_write"
    old = otelcol_config(spec, "0.150.0")
    assert set(old["connectors"]) == {"spanmetrics", "servicegraph"}
    assert "prometheusremotewrite/mimir" in old["exporters"]
    assert old["service"]["pipelines"]["metrics"]["receivers"] == ["otlp", "spanmetrics", "servicegraph"]
    new = otelcol_config(spec, "0.159.0")
    assert set(new["connectors"]) == {"span_metrics", "service_graph"}
    assert "prometheus_remote_write/mimir" in new["exporters"]


def test_new_connector_spelling_is_accepted() -> None:
    spec = connector_spec()
    spec["connectors"]["span_metrics/by_route"] = spec["connectors"].pop("spanmetrics")
    for pipeline, role in (("traces", "exporters"), ("metrics", "receivers")):
        items = spec["pipelines"][pipeline][role]
        items[items.index("spanmetrics")] = "span_metrics/by_route"
    assert "span_metrics/by_route" in otelcol_config(spec)["connectors"]
    spec["connectors"]["spanmetrics/by_route"] = {}
    assert "are the same connector ('span_metrics/by_route'" in render_error(spec)


def test_connector_only_as_exporter_is_rejected() -> None:
    spec = connector_spec()
    spec["pipelines"]["metrics"]["receivers"] = ["otlp", "servicegraph"]
    message = render_error(spec)
    assert "spec.connectors.spanmetrics: connector 'spanmetrics' must be used both as an exporter" in message
    assert "not used as a receiver" in message


def test_connector_on_wrong_signal_is_rejected() -> None:
    spec = connector_spec()
    spec["pipelines"]["logs"]["receivers"].append("spanmetrics")
    assert "spec.pipelines.logs.receivers[1]: connector 'spanmetrics' produces metrics" in render_error(spec)


def test_forward_connector_keeps_the_signal() -> None:
    spec = base_spec()
    spec["connectors"] = {"forward/sampled": None}
    spec["pipelines"]["traces"]["exporters"] = ["forward/sampled"]
    spec["pipelines"]["traces/sampled"] = {"receivers": ["forward/sampled"], "exporters": ["tempo"],
                                           "sampling": {"probabilistic": {"percentage": 10}}}
    config = otelcol_config(spec)
    assert config["connectors"] == {"forward/sampled": {}}
    assert config["service"]["pipelines"]["traces/sampled"]["processors"] == [
        "memory_limiter", "probabilistic_sampler/traces_sampled"]
    spec["pipelines"]["logs"]["receivers"].append("forward/sampled")
    assert "a forward connector keeps the signal" in render_error(spec)


# ---------------------------------------------------------------- lint: removed / unknown components

def test_removed_logging_exporter() -> None:
    spec = with_changes(overrides={"exporters": {"logging": {}}})
    message = render_error(spec)
    assert "spec.overrides.exporters.logging: the 'logging' exporter was removed in collector 0.111.0" in message
    assert "debug" in message


def test_removed_loki_exporter() -> None:
    spec = with_changes(overrides={"exporters": {"loki": {"endpoint": "http://loki:3100/loki/api/v1/push"}}})
    assert "the 'loki' exporter was removed in collector 0.131.0" in render_error(spec)


def test_removed_jaeger_exporter_points_to_the_jaeger_backend() -> None:
    spec = with_changes(overrides={"exporters": {"jaeger": {"endpoint": "jaeger.lab:14250"}}})
    message = render_error(spec)
    assert "spec.overrides.exporters.jaeger: the 'jaeger' exporter was removed in collector 0.85.0" in message
    assert "use a backend of type 'jaeger', which sends OTLP to <host>:4317 (grpc)" in message
    assert "'tempo' or 'otlp'" not in message


def test_removed_backend_type_gets_a_hint() -> None:
    spec = base_spec()
    spec["backends"]["loki"]["type"] = "logging"
    assert "the 'logging' exporter was removed in collector 0.111.0" in render_error(spec)


def test_component_outside_lab_build_is_rejected() -> None:
    spec = with_changes(processors={"groupbyattrs": {}}, distribution=LAB_MANIFEST)
    spec["pipelines"]["traces"]["extra_processors"] = ["groupbyattrs"]
    assert ("spec.processors.groupbyattrs: processor type 'groupbyattrs' is not in the collector distribution "
            "(spec.distribution); accepted: attributes, batch, filter, k8sattributes, "
            "memorylimiter") in render_error(spec)


def test_lab_processors_are_accepted() -> None:
    spec = with_changes(processors={"transform/names": {"error_mode": "ignore", "trace_statements": []}})
    spec["pipelines"]["traces"]["extra_processors"] = ["transform/names"]
    assert "transform/names" in otelcol_config(spec)["processors"]


# ---------------------------------------------------------------- lint: high cardinality

def test_spanmetrics_high_cardinality_dimension() -> None:
    spec = connector_spec()
    spec["connectors"]["spanmetrics"]["dimensions"] = ["http.route", "user.id"]
    message = render_error(spec)
    assert "spec.connectors.spanmetrics.dimensions[1]: 'user.id' is a high-cardinality attribute" in message
    assert "blows up metric storage" in message and "belongs in traces" in message


@pytest.mark.parametrize("key", ["enduser.id", "http.request_id", "request_id", "trace_id", "session.id",
                                 "customer_id", "Session-Id", "url.full", "http.url", "url.path", "url.query",
                                 "http.target", "db.statement", "exception.message", "client.port"])
def test_servicegraph_high_cardinality_dimensions(key: str) -> None:
    spec = connector_spec()
    spec["connectors"]["servicegraph"] = {"dimensions": [key]}
    assert "spec.connectors.servicegraph.dimensions[0]" in render_error(spec)


@pytest.mark.parametrize("key", ["http.route", "service.instance.id", "http.response.status_code", "k8s.pod.name"])
def test_bounded_dimensions_are_accepted(key: str) -> None:
    spec = connector_spec()
    spec["connectors"]["spanmetrics"]["dimensions"] = [key]
    otelcol_config(spec)


def attributes_spec(pipeline: str, action: str) -> Dict[str, Any]:
    spec = with_changes(processors={"attributes/ids": {"actions": [
        {"key": "request_id", "action": action, "from_attribute": "x"}]}})
    spec["pipelines"][pipeline]["extra_processors"] = ["attributes/ids"]
    return spec


def test_attributes_processor_promoting_id_in_metrics_pipeline() -> None:
    message = render_error(attributes_spec("metrics", "upsert"))
    assert "spec.processors.attributes/ids.actions[0].key: processor 'attributes/ids' is in metrics pipeline" in \
        message
    assert "blows up metric storage" in message


def test_attributes_processor_in_traces_pipeline_or_deleting_is_fine() -> None:
    otelcol_config(attributes_spec("traces", "upsert"))
    otelcol_config(attributes_spec("metrics", "delete"))


def test_transform_setting_trace_id_on_metrics() -> None:
    spec = with_changes(processors={"transform/ids": {"metric_statements": [
        {"context": "datapoint", "statements": ['set(attributes["trace_id"], "x")']}]}})
    spec["pipelines"]["metrics"]["extra_processors"] = ["transform/ids"]
    assert "spec.processors.transform/ids.metric_statements[0].statements[0]" in render_error(spec)


def test_resource_attributes_high_cardinality_with_metrics() -> None:
    message = render_error(with_changes(resource_attributes={"session.id": "abc"}))
    assert "spec.resource_attributes.session.id" in message
    spec = base_spec()
    del spec["pipelines"]["metrics"]
    del spec["backends"]["mimir"]
    spec["resource_attributes"] = {"session.id": "abc"}
    otelcol_config(spec)  # no metrics pipeline: nothing is promoted to a metric label


def test_resource_attributes_are_upserted_after_memory_limiter() -> None:
    config = otelcol_config(with_changes(resource_attributes={"deployment.environment": "lab"}))
    assert config["processors"]["resource"] == {"attributes": [
        {"key": "deployment.environment", "value": "lab", "action": "upsert"}]}
    assert config["service"]["pipelines"]["logs"]["processors"] == ["memory_limiter", "resource"]


# ---------------------------------------------------------------- lint: port clashes

def test_two_receivers_on_one_port() -> None:
    spec = with_changes(receivers={"otlp": {}, "otlp/edge": {"grpc": "0.0.0.0:4317", "http": None}})
    spec["pipelines"]["traces"]["receivers"].append("otlp/edge")
    message = render_error(spec)
    assert "spec.receivers.otlp/edge.grpc: 0.0.0.0:4317 clashes with 0.0.0.0:4317 set at spec.receivers.otlp.grpc" \
        in message


def test_two_receivers_on_distinct_ports() -> None:
    spec = with_changes(receivers={"otlp": {}, "otlp/edge": {"grpc": "127.0.0.1:5317", "http": "127.0.0.1:5318"}})
    spec["pipelines"]["traces"]["receivers"].append("otlp/edge")
    assert "otlp/edge" in otelcol_config(spec)["receivers"]


def test_telemetry_port_clash_with_receiver() -> None:
    message = render_error(with_changes(telemetry={"metrics_address": "127.0.0.1:4318"}))
    assert "spec.telemetry.metrics_address: 127.0.0.1:4318 clashes with 0.0.0.0:4318" in message


def test_same_port_on_distinct_hosts_is_fine() -> None:
    spec = with_changes(receivers={"otlp": {"grpc": "127.0.0.1:4317", "http": "127.0.0.2:4317"}})
    otelcol_config(spec)


def test_override_port_clash_is_rejected() -> None:
    spec = with_changes(overrides={"extensions": {"health_check": {"endpoint": "0.0.0.0:4317"}}})
    assert "clashes with" in render_error(spec)


# ---------------------------------------------------------------- overrides and extra processors

def test_overrides_deep_merge() -> None:
    spec = with_changes(overrides={"exporters": {"otlp_grpc/tempo": {
        "compression": "zstd", "sending_queue": {"queue_size": 5000}, "timeout": None}}})
    exporter = otelcol_config(spec)["exporters"]["otlp_grpc/tempo"]
    assert exporter["compression"] == "zstd"
    assert exporter["sending_queue"]["queue_size"] == 5000
    assert exporter["sending_queue"]["enabled"] is True  # merged, not replaced
    assert "timeout" not in exporter  # null removes


def test_overrides_unknown_section() -> None:
    message = render_error(with_changes(overrides={"pipelines": {}}))
    assert "spec.overrides.pipelines: unknown key; accepted keys: connectors, exporters, extensions, processors" in \
        message


def test_extra_processors_position() -> None:
    spec = with_changes(processors={"filter/health": {"error_mode": "ignore"}, "attributes/scrub": {
        "actions": [{"key": "http.request.header.authorization", "action": "delete"}]}},
        resource_attributes={"deployment.environment": "lab"})
    spec["pipelines"]["traces"]["extra_processors"] = ["filter/health", "attributes/scrub"]
    spec["pipelines"]["traces"]["sampling"] = {"tail": {"policies": [
        {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}]}}
    processors = otelcol_config(spec)["service"]["pipelines"]["traces"]["processors"]
    assert processors == ["memory_limiter", "resource", "filter/health", "attributes/scrub", "tail_sampling/traces"]


def test_memory_limiter_first_is_enforced_after_overrides() -> None:
    spec = with_changes(overrides={"service": {"pipelines": {"logs": {"processors": []}}}})
    assert "config.service.pipelines.logs.processors: memory_limiter must be the first processor" in \
        render_error(spec)


# ---------------------------------------------------------------- sampling

def test_tail_sampling_rendering() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["sampling"] = {"tail": {"decision_wait": "5s", "num_traces": 1000, "policies": [
        {"name": "all", "type": "probabilistic", "probabilistic": {"sampling_percentage": 5}}]}}
    config = otelcol_config(spec)
    assert config["processors"]["tail_sampling/traces"]["decision_wait"] == "5s"


def test_sampling_on_metrics_is_rejected() -> None:
    spec = base_spec()
    spec["pipelines"]["metrics"]["sampling"] = {"probabilistic": {"percentage": 5}}
    assert "spec.pipelines.metrics.sampling: sampling applies to traces pipelines only" in render_error(spec)


def test_sampling_percentage_out_of_range() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["sampling"] = {"probabilistic": {"percentage": 150}}
    assert "spec.pipelines.traces.sampling.probabilistic.percentage: 150 is out of range" in render_error(spec)


def test_tail_policy_needs_its_settings() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["sampling"] = {"tail": {"policies": [{"name": "slow", "type": "latency"}]}}
    assert "spec.pipelines.traces.sampling.tail.policies[0]: a policy of type 'latency' needs" in render_error(spec)


# ---------------------------------------------------------------- wrong types never give a traceback

@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda s: s.update(pipelines=["traces"]), "spec.pipelines: expected a mapping"),
    (lambda s: s["pipelines"]["traces"].update(exporters="tempo"), "spec.pipelines.traces.exporters: expected a list"),
    (lambda s: s["pipelines"]["traces"].update(exporters=[1]), "spec.pipelines.traces.exporters[0]: expected a non"),
    (lambda s: s["pipelines"]["traces"].update(exporters=[]), "spec.pipelines.traces.exporters: a pipeline needs"),
    (lambda s: s["pipelines"]["traces"].update(exporterz=["tempo"]), "spec.pipelines.traces.exporterz: unknown key"),
    (lambda s: s["pipelines"].update(traces=None), "spec.pipelines.traces: expected a mapping"),
    (lambda s: s["backends"].update(tempo="tempo.lab"), "spec.backends.tempo: expected a mapping"),
    (lambda s: s["backends"]["tempo"].update(port="4317"), "spec.backends.tempo.port: expected an integer"),
    (lambda s: s["backends"]["tempo"].update(port=70000), "spec.backends.tempo.port: 70000 is out of range"),
    (lambda s: s["backends"]["tempo"].pop("type"), "spec.backends.tempo.type: missing; accepted: tempo, jaeger, mimir"),
    (lambda s: s.update(colector_version="1"), "spec.colector_version: unknown key; accepted keys:"),
    (lambda s: s.update(resource_attributes={"a": ["b"]}), "spec.resource_attributes.a: expected a string value"),
    (lambda s: s.update(receivers={"otlp": "0.0.0.0:4317"}), "spec.receivers.otlp: expected a mapping"),
    (lambda s: s.update(receivers={"kafka": {}}), "spec.receivers.kafka: unknown receiver type 'kafka'"),
    (lambda s: s.update(connectors={"count": {}}), "spec.connectors.count: unknown connector type 'count'"),
    (lambda s: s.update(processors={"Bad Id": {}}), "spec.processors.Bad Id: 'Bad Id' is not a component id"),
    (lambda s: s.update(memory={"host_mib": 2048, "check_interval": 5}), "spec.memory.check_interval: expected a Go"),
    (lambda s: s.update(persistent_queue="yes"), "spec.persistent_queue: expected a mapping"),
    (lambda s: s.update(overrides={"exporters": []}), "spec.overrides.exporters: expected a mapping"),
    (lambda s: s.update(pipelines={}), "spec.pipelines: missing or empty"),
    (lambda s: s["backends"]["tempo"].update(tls="on"), "spec.backends.tempo.tls: expected a mapping"),
    (lambda s: s["backends"].update({"bad name": {"type": "debug"}}), "spec.backends.bad name: 'bad name' is not"),
])
def test_wrong_input_names_the_key(mutate: Any, expected: str) -> None:
    spec = base_spec()
    mutate(spec)
    assert expected in render_error(spec)


GARBAGE_SPECS = [None, 1, "spec", [], {"memory": None},
                 {"memory": {"host_mib": 2048}, "pipelines": {1: {}}}]


@pytest.mark.parametrize("spec", GARBAGE_SPECS)
def test_garbage_is_an_ansible_error(spec: Any) -> None:
    render_error(spec)


def test_override_garbage_is_an_ansible_error() -> None:
    render_error(with_changes(overrides={"service": {"pipelines": {"traces": {"exporters": [["x"]]}}}}))
    render_error(with_changes(overrides={"service": {"pipelines": "none"}}))
    render_error(with_changes(overrides={"receivers": {"otlp": {"protocols": {"grpc": {"endpoint": 1}}}}}))


def test_input_is_not_modified() -> None:
    spec = connector_spec()
    spec["overrides"] = {"exporters": {"otlp_grpc/tempo": {"compression": "zstd"}}}
    before = copy.deepcopy(spec)
    otelcol_config(spec)
    assert spec == before


def test_docs_full_example_renders() -> None:
    import re
    from pathlib import Path

    import yaml

    docs = Path(__file__).resolve().parents[4] / "docs" / "otelcol_config.md"
    block = re.search(r"## Full example\n\n```yaml\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)
    assert block is not None, "docs/otelcol_config.md lost its full example"
    spec = yaml.safe_load(block.group(1))["otelcol_spec"]
    config = otelcol_config(spec)
    assert config["service"]["pipelines"]["traces/sampled"]["exporters"] == ["otlp_grpc/tempo"]
    assert otelcol_gomemlimit(spec) == "1310MiB"


# ---------------------------------------------------------------- every problem at once, sorted by path

def test_problems_of_every_stage_in_one_error_sorted_by_path() -> None:
    spec = base_spec()
    spec["backends"]["tempo"]["port"] = "4317"               # read: backend field
    spec["backends"]["tempo"]["timeout"] = 5                 # read: same backend, second field
    spec["batch"] = {"sizer": "items", "min_size": 0}        # read: top-level section
    spec["memory"] = {"host_mib": 2048, "check_interval": 5, "color": "red"}  # read: memory, two problems
    spec["pipelines"]["logs"]["exporters"] = ["nope"]        # lint: reference
    spec["telemetry"] = {"log_level": "loud"}
    message = render_error(spec)
    lines = message.splitlines()
    assert lines[0] == "otelcol_config: 8 problem(s) in the spec:"
    paths = [line.split(": ", 1)[0] for line in lines[1:]]
    assert paths == [
        "  - spec.backends.loki",
        "  - spec.backends.tempo.port",
        "  - spec.backends.tempo.timeout",
        "  - spec.batch.min_size",
        "  - spec.memory.check_interval",
        "  - spec.memory.color",
        "  - spec.pipelines.logs.exporters[0]",
        "  - spec.telemetry.log_level",
    ]
    # The backend that could not be read is not also called undefined where a pipeline uses it.
    assert "'tempo' is not defined" not in message


def test_problems_sort_list_indexes_as_numbers() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["exporters"] = ["tempo"] + [f"missing{index}" for index in range(1, 12)]
    lines = render_error(spec).splitlines()[1:]
    indexes = [int(line.split("exporters[", 1)[1].split("]", 1)[0]) for line in lines if "exporters[" in line]
    assert indexes == list(range(1, 12))


def test_single_problem_uses_the_same_format() -> None:
    message = render_error(with_changes(telemetry={"log_level": "loud"}))
    assert message.splitlines() == [
        "otelcol_config: 1 problem(s) in the spec:",
        "  - spec.telemetry.log_level: 'loud' is not accepted; accepted: debug, info, warn, error",
    ]


def test_broken_pipeline_does_not_make_components_unused() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["exporters"] = "tempo"
    message = render_error(spec)
    assert "spec.pipelines.traces.exporters: expected a list" in message
    assert "defined but no pipeline" not in message


# ---------------------------------------------------------------- wrong types that used to crash

def test_override_processor_list_as_mapping_names_the_path() -> None:
    spec = with_changes(overrides={"service": {"pipelines": {"traces": {"processors": {"memory_limiter": {}}}}}})
    message = render_error(spec)
    assert "config.service.pipelines.traces.processors: must be a list (set through spec.overrides)" in message
    assert "internal error" not in message


def test_override_processor_list_as_list_is_accepted() -> None:
    spec = with_changes(overrides={"service": {"pipelines": {"traces": {"processors": ["memory_limiter"]}}}})
    assert otelcol_config(spec)["service"]["pipelines"]["traces"]["processors"] == ["memory_limiter"]


@pytest.mark.parametrize("buckets", [5, 1.5, True, "10ms"])
def test_histogram_buckets_not_a_list_names_the_path(buckets: Any) -> None:
    spec = connector_spec()
    spec["connectors"]["spanmetrics"]["histogram_buckets"] = buckets
    message = render_error(spec)
    assert "spec.connectors.spanmetrics.histogram_buckets: expected a list of Go durations" in message
    assert "internal error" not in message


def test_histogram_buckets_list_is_accepted() -> None:
    spec = connector_spec()
    spec["connectors"]["spanmetrics"]["histogram_buckets"] = ["5ms", "50ms"]
    config = otelcol_config(spec)
    assert config["connectors"]["span_metrics"]["histogram"]["explicit"]["buckets"] == ["5ms", "50ms"]


@pytest.mark.parametrize("action", [["upsert"], {"upsert": True}, "promote", None])
def test_action_name_not_a_known_string_names_the_path(action: Any) -> None:
    spec = with_changes(processors={"attributes/ids": {"actions": [{"key": "team", "action": action}]}})
    spec["pipelines"]["metrics"]["extra_processors"] = ["attributes/ids"]
    message = render_error(spec)
    assert "spec.processors.attributes/ids.actions[0].action: expected one of insert, update, upsert" in message
    assert "internal error" not in message


def test_resource_processor_actions_are_checked_under_attributes() -> None:
    spec = with_changes(processors={"resource/team": {"attributes": ["team"]}})
    spec["pipelines"]["logs"]["extra_processors"] = ["resource/team"]
    assert "spec.processors.resource/team.attributes[0]: expected an action mapping" in render_error(spec)
    spec["processors"]["resource/team"]["attributes"] = [{"key": "team", "value": "a", "action": "upsert"}]
    assert "resource/team" in otelcol_config(spec)["processors"]


def test_override_extension_list_and_queue_storage_with_wrong_types() -> None:
    message = render_error(with_changes(overrides={"service": {"extensions": [["health_check"]]}}))
    assert "config.service.extensions[0]: expected an extension id string, got ['health_check']" in message
    message = render_error(with_changes(overrides={"exporters": {"otlp_grpc/tempo": {"sending_queue": {
        "storage": ["file_storage"]}}}}))
    assert "config.exporters.otlp_grpc/tempo.sending_queue.storage: expected an extension id string" in message


# ---------------------------------------------------------------- accepted by the filter, refused by the collector

def forward_loop_spec(hops: int) -> Dict[str, Any]:
    """traces -> forward/hop0 -> traces/hop1 -> ... -> back to traces after `hops` connectors."""
    spec = base_spec()
    spec["connectors"] = {f"forward/hop{index}": {} for index in range(hops)}
    names = ["traces"] + [f"traces/hop{index}" for index in range(1, hops)]
    for index, pipeline_id in enumerate(names):
        pipeline = spec["pipelines"].setdefault(pipeline_id, {"receivers": [], "exporters": []})
        pipeline["exporters"].append(f"forward/hop{index}")
        target = names[(index + 1) % hops]
        spec["pipelines"].setdefault(target, {"receivers": [], "exporters": []})["receivers"].append(
            f"forward/hop{index}")
    return spec


def test_forward_connector_feeding_its_own_pipeline_is_a_cycle() -> None:
    message = render_error(forward_loop_spec(1))
    assert ("spec.pipelines.traces.exporters[1]: connector 'forward/hop0' sends data back into pipeline 'traces' "
            "(traces -> forward/hop0 -> traces)") in message


def test_connector_cycle_through_two_pipelines() -> None:
    message = render_error(forward_loop_spec(2))
    assert ("spec.pipelines.traces.exporters[1]: connector 'forward/hop0' sends data back into pipeline 'traces' "
            "(traces -> forward/hop0 -> traces/hop1 -> forward/hop1 -> traces)") in message
    assert message.count("sends data back") == 1  # one cycle, reported once


def test_forward_chain_without_a_cycle_is_accepted() -> None:
    spec = base_spec()
    spec["connectors"] = {"forward/a": {}, "forward/b": {}}
    spec["pipelines"]["traces"]["exporters"].append("forward/a")
    spec["pipelines"]["traces/a"] = {"receivers": ["forward/a"], "exporters": ["forward/b"]}
    spec["pipelines"]["traces/b"] = {"receivers": ["forward/b"], "exporters": ["tempo"]}
    assert "traces/b" in otelcol_config(spec)["service"]["pipelines"]


@pytest.mark.parametrize("dimension", ["service.name", "span.name", "span.kind", "status.code"])
def test_spanmetrics_dimension_the_connector_adds_itself(dimension: str) -> None:
    spec = connector_spec()
    spec["connectors"]["spanmetrics"]["dimensions"] = ["http.route", dimension]
    assert (f"spec.connectors.spanmetrics.dimensions[1]: {dimension!r} is a dimension the connector always adds"
            in render_error(spec))


def test_dimension_listed_twice() -> None:
    spec = connector_spec()
    spec["connectors"]["spanmetrics"]["dimensions"] = ["http.route", "rpc.method", "http.route"]
    spec["connectors"]["servicegraph"]["dimensions"] = ["http.route", "http.route"]
    message = render_error(spec)
    assert "spec.connectors.spanmetrics.dimensions[2]: 'http.route' is listed twice" in message
    assert "spec.connectors.servicegraph.dimensions[1]: 'http.route' is listed twice" in message


def test_distinct_dimensions_are_accepted() -> None:
    spec = connector_spec()
    spec["connectors"]["spanmetrics"]["dimensions"] = ["http.route", "rpc.method", "span_kind_detail"]
    assert len(otelcol_config(spec)["connectors"]["span_metrics"]["dimensions"]) == 3


@pytest.mark.parametrize(("change", "path"), [
    (lambda s: s.update(memory={"host_mib": 2048, "check_interval": "0s"}), "spec.memory.check_interval"),
    (lambda s: s.update(batch={"flush_timeout": "0ms"}), "spec.batch.flush_timeout"),
    (lambda s: s.update(batch={"flush_timeout": "0h0m0.0s"}), "spec.batch.flush_timeout"),
    (lambda s: s["connectors"]["spanmetrics"].update(metrics_flush_interval="0s"),
     "spec.connectors.spanmetrics.metrics_flush_interval"),
])
def test_zero_durations_where_the_collector_needs_a_positive_one(change: Any, path: str) -> None:
    spec = connector_spec()
    change(spec)
    assert f"{path}: " in render_error(spec)
    assert "is zero; the collector needs a positive duration" in render_error(spec)


def test_positive_durations_are_accepted() -> None:
    spec = connector_spec()
    spec.update(memory={"host_mib": 2048, "check_interval": "500ms"}, batch={"flush_timeout": "0.5s"})
    spec["connectors"]["spanmetrics"]["metrics_flush_interval"] = "1m0s"
    config = otelcol_config(spec)
    assert config["processors"]["memory_limiter"]["check_interval"] == "500ms"
    assert config["connectors"]["span_metrics"]["metrics_flush_interval"] == "1m0s"


def sampled_spec(percentage: Any) -> Dict[str, Any]:
    spec = base_spec()
    spec["pipelines"]["traces"]["sampling"] = {"probabilistic": {"percentage": percentage}}
    return spec


@pytest.mark.parametrize("percentage", [1e-16, 1.38e-15])
def test_sampling_percentage_the_sampler_cannot_represent(percentage: float) -> None:
    assert (f"spec.pipelines.traces.sampling.probabilistic.percentage: {percentage} is below the smallest rate"
            in render_error(sampled_spec(percentage)))


@pytest.mark.parametrize("percentage", [0, 1.39e-15, 0.01, 100])
def test_representable_sampling_percentages_are_accepted(percentage: float) -> None:
    config = otelcol_config(sampled_spec(percentage))
    assert config["processors"]["probabilistic_sampler/traces"]["sampling_percentage"] == percentage


def test_names_over_the_collector_length_limit() -> None:
    long_name = "b" * 1025
    spec = base_spec()
    spec["backends"][long_name] = spec["backends"].pop("tempo")
    spec["pipelines"]["traces"]["exporters"] = [long_name]
    spec["processors"] = {"attributes/" + "p" * 1025: {"actions": []}}
    spec["pipelines"]["logs/" + "l" * 1025] = {"exporters": ["loki"]}
    message = render_error(spec)
    assert f"spec.backends.{long_name}: the name is 1025 characters long; the collector accepts at most 1024" in message
    assert "spec.processors.attributes/" + "p" * 1025 + ": the name after '/' is 1025 characters long" in message
    assert "spec.pipelines.logs/" + "l" * 1025 + ": the name after '/' is 1025 characters long" in message


def test_sampler_named_after_a_long_pipeline_is_over_the_limit() -> None:
    spec = sampled_spec(10)
    spec["pipelines"]["traces/" + "t" * 1020] = spec["pipelines"].pop("traces")
    assert "the sampler of this pipeline is named 'traces_ttttttttttttt'... (1027 characters)" in render_error(spec)


def test_names_at_the_collector_length_limit_are_accepted() -> None:
    name = "b" * 1024
    spec = base_spec()
    spec["backends"][name] = spec["backends"].pop("tempo")
    spec["pipelines"]["traces"]["exporters"] = [name]
    spec["pipelines"]["logs/" + "l" * 1024] = {"exporters": ["loki"]}
    config = otelcol_config(spec)
    assert f"otlp_grpc/{name}" in config["exporters"]


def test_tail_sampling_policy_of_unknown_type() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["sampling"] = {"tail": {"policies": [{"name": "x", "type": "errors_only",
                                                                      "errors_only": {}}]}}
    assert ("spec.pipelines.traces.sampling.tail.policies[0].type: 'errors_only' is not accepted; accepted: "
            "always_sample, and, boolean_attribute") in render_error(spec)


def test_tail_sampling_policies_of_known_types_are_accepted() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["sampling"] = {"tail": {"policies": [
        {"name": "all", "type": "always_sample"},
        {"name": "big", "type": "span_count", "span_count": {"min_spans": 50}},
        {"name": "flagged", "type": "boolean_attribute", "boolean_attribute": {"key": "debug", "value": True}}]}}
    assert len(otelcol_config(spec)["processors"]["tail_sampling/traces"]["policies"]) == 3


# ---------------------------------------------------------------- accepted and silently wrong

def test_memory_limit_above_what_memory_limiter_holds() -> None:
    assert ("spec.memory.limit_mib: 4294967296 is out of range; accepted: an integer >= 32 and <= 4294967295"
            in render_error(with_changes(memory={"limit_mib": 2 ** 32})))
    assert ("spec.memory.host_mib: 5368709120 is out of range; accepted: an integer >= 128 and <= 5368709119"
            in render_error(with_changes(memory={"host_mib": 5368709120})))


def test_memory_limit_at_the_32_bit_maximum_is_accepted() -> None:
    assert otelcol_config(with_changes(memory={"limit_mib": 2 ** 32 - 1}))["processors"]["memory_limiter"][
        "limit_mib"] == 2 ** 32 - 1
    assert otelcol_config(with_changes(memory={"host_mib": 5368709119}))["processors"]["memory_limiter"][
        "limit_mib"] == 2 ** 32 - 1


@pytest.mark.parametrize(("change", "expected"), [
    (lambda s: s["backends"]["tempo"].update(host="tempo.lab\n"), "spec.backends.tempo.host: 'tempo.lab\\n'"),
    (lambda s: s["backends"].update({"extra\n": {"type": "debug"}}), "spec.backends.extra\\n: 'extra\\n' contains a control"),
    (lambda s: s.update(processors={"attributes/x\n": {}}), "spec.processors.attributes/x\\n: 'attributes/x\\n' contains"),
    (lambda s: s.update(memory={"host_mib": 2048, "check_interval": "1s\n"}), "spec.memory.check_interval: expected"),
    (lambda s: s.update(batch={"flush_timeout": "200ms\n"}), "spec.batch.flush_timeout: expected a Go duration"),
    (lambda s: s.update(receivers={"otlp": {"grpc": "0.0.0.0:4317\n"}}), "spec.receivers.otlp.grpc: '0.0.0.0:4317\\n'"),
    (lambda s: s.update(receivers={"otlp": {}, "prometheus/self": {"scrape_configs": [
        {"job_name": "self", "targets": ["127.0.0.1:8888\n"]}]}}),
     "spec.receivers.prometheus/self.scrape_configs[0].targets[0]: '127.0.0.1:8888\\n'"),
    (lambda s: s.update(receivers={"otlp": {"grpc": "0.0.0.0:٤٣١٧"}}), "spec.receivers.otlp.grpc: '0.0.0.0:٤٣١٧' is not"),
    (lambda s: s.update(collector_version="0.١٥٩.0"), "spec.collector_version: expected a collector version"),
    (lambda s: s["pipelines"].update({"logs/copy\n": {"exporters": ["loki"]}}), "spec.pipelines.logs/copy\\n: the part"),
    (lambda s: s["backends"]["tempo"].update(tenant="lab\n"), "spec.backends.tempo.tenant: 'lab\\n' contains a control"),
])
def test_trailing_newlines_and_non_ascii_digits_are_refused(change: Any, expected: str) -> None:
    spec = base_spec()
    change(spec)
    assert expected in render_error(spec)


def test_plain_ascii_values_are_accepted() -> None:
    spec = with_changes(receivers={"otlp": {"grpc": "0.0.0.0:4317"}}, collector_version="0.159.0")
    spec["backends"]["tempo"].update(host="tempo.lab", tenant="lab")
    assert otelcol_config(spec)["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == "0.0.0.0:4317"


@pytest.mark.parametrize(("first", "second"), [
    ("localhost:4317", "127.0.0.1:4317"),
    ("LOCALHOST:4317", "[::1]:4317"),
    ("[::1]:4317", "[0:0:0:0:0:0:0:1]:4317"),
    ("[0:0:0:0:0:0:0:0]:4317", "10.0.0.1:4317"),
])
def test_one_host_spelled_two_ways_is_a_port_clash(first: str, second: str) -> None:
    spec = with_changes(receivers={"otlp": {"grpc": first, "http": None}, "otlp/two": {"grpc": second, "http": None}})
    spec["pipelines"]["traces"]["receivers"] = ["otlp", "otlp/two"]
    assert "spec.receivers.otlp/two.grpc: " in render_error(spec)
    assert "two listeners cannot share a port" in render_error(spec)


def test_distinct_hosts_on_one_port_are_accepted() -> None:
    spec = with_changes(receivers={"otlp": {"grpc": "localhost:4317", "http": None},
                                   "otlp/two": {"grpc": "10.0.0.1:4317", "http": None}})
    spec["pipelines"]["traces"]["receivers"] = ["otlp", "otlp/two"]
    assert set(otelcol_config(spec)["receivers"]) == {"otlp", "otlp/two"}


# ---------------------------------------------------------------- cardinality holes

def metrics_processor_spec(name: str, config: Dict[str, Any]) -> Dict[str, Any]:
    spec = with_changes(processors={name: config})
    spec["pipelines"]["metrics"]["extra_processors"] = [name]
    return spec


def test_resource_processor_upserting_a_request_id_in_metrics() -> None:
    spec = metrics_processor_spec("resource/ids", {"attributes": [
        {"key": "team", "value": "a", "action": "upsert"},
        {"key": "request_id", "from_attribute": "x-request-id", "action": "upsert"}]})
    assert ("spec.processors.resource/ids.attributes[1].key: processor 'resource/ids' is in metrics pipeline "
            "'metrics' and sets 'request_id'") in render_error(spec)


def test_resource_processor_with_bounded_keys_is_accepted() -> None:
    spec = metrics_processor_spec("resource/ids", {"attributes": [
        {"key": "team", "value": "a", "action": "upsert"}, {"key": "user.id", "action": "delete"}]})
    assert "resource/ids" in otelcol_config(spec)["processors"]


def test_extract_pattern_creating_a_user_id_in_metrics() -> None:
    spec = metrics_processor_spec("attributes/route", {"actions": [
        {"key": "http.route", "pattern": "^/users/(?P<user_id>[0-9]+)/(?P<area>[a-z]+)$", "action": "extract"}]})
    message = render_error(spec)
    assert ("spec.processors.attributes/route.actions[0].pattern: processor 'attributes/route' is in metrics "
            "pipeline 'metrics' and sets 'user_id'") in message
    assert "'area'" not in message


def test_extract_pattern_with_bounded_groups_is_accepted() -> None:
    spec = metrics_processor_spec("attributes/route", {"actions": [
        {"key": "user_id", "pattern": "^/(?P<area>[a-z]+)/", "action": "extract"}]})
    assert "attributes/route" in otelcol_config(spec)["processors"]


@pytest.mark.parametrize("key", ["user.email", "email", "customer_email_address", "e-mail", "session",
                                 "http.session_key", "jsessionid", "user.name", "client.address"])
def test_personal_and_session_identifiers_as_dimensions(key: str) -> None:
    spec = connector_spec()
    spec["connectors"]["spanmetrics"]["dimensions"] = [key]
    assert f"spec.connectors.spanmetrics.dimensions[0]: {key!r} is a high-cardinality attribute" in render_error(spec)


@pytest.mark.parametrize("key", ["mail.server", "session.count", "user.role", "client.library"])
def test_similar_bounded_dimensions_are_accepted(key: str) -> None:
    spec = connector_spec()
    spec["connectors"]["spanmetrics"]["dimensions"] = [key]
    assert otelcol_config(spec)["connectors"]["span_metrics"]["dimensions"] == [{"name": key}]


# ---------------------------------------------------------------- removed features named in unknown keys

@pytest.mark.parametrize(("change", "expected"), [
    (lambda s: s.update(memory_ballast={"size_mib": 512}),
     "spec.memory_ballast: unknown key (the memory_ballast extension was removed in collector 0.109.0; set GOMEMLIMIT"),
    (lambda s: s.update(extensions={"memory_ballast": "0.0.0.0:1"}),
     "spec.extensions.memory_ballast: unknown key (the memory_ballast extension was removed in collector 0.109.0"),
    (lambda s: s["memory"].update(ballast_size_mib=512),
     "spec.memory.ballast_size_mib: unknown key (memory_limiter's ballast_size_mib went with the memory_ballast"),
    (lambda s: s["backends"]["tempo"].update(batcher={"enabled": True}),
     "spec.backends.tempo.batcher: unknown key (the exporters' experimental batcher became sending_queue.batch"),
])
def test_unknown_key_naming_a_removed_feature_says_what_replaced_it(change: Any, expected: str) -> None:
    spec = base_spec()
    change(spec)
    assert expected in render_error(spec)


def test_unknown_key_without_history_has_no_hint() -> None:
    message = render_error(with_changes(colour="blue"))
    assert "spec.colour: unknown key; accepted keys: backends, batch" in message


# ---------------------------------------------------------------- the collector distribution

def test_default_distribution_is_upstream_contrib() -> None:
    spec = with_changes(processors={"groupbyattrs": {}})
    spec["pipelines"]["traces"]["extra_processors"] = ["groupbyattrs"]
    assert "groupbyattrs" in otelcol_config(spec)["processors"]
    spec = with_changes(processors={"madeup": {}})
    spec["pipelines"]["traces"]["extra_processors"] = ["madeup"]
    assert ("processor type 'madeup' is not in the collector distribution (upstream otelcol-contrib 0.159.0, the "
            "default; give spec.distribution for another build)") in render_error(spec)


@pytest.mark.parametrize("distribution", [
    LAB_MANIFEST,
    {"receivers": ["otlp"], "processors": ["memory_limiter", "groupbyattrs"], "exporters": ["otlp_grpc", "otlp_http"],
     "extensions": ["health_check"]},
    {"receivers": [{"name": "otlp", "stability": {"traces": "Stable"}}], "processors": [{"name": "memory_limiter"},
     {"name": "groupbyattrs"}], "exporters": [{"name": "otlp_grpc"}, {"name": "otlp_http"}],
     "extensions": [{"name": "health_check"}]},
    ["otlp", "memory_limiter", "groupbyattrs", "otlp_grpc", "otlp_http", "health_check"],
])
def test_own_distribution_as_manifest_components_output_mapping_or_list(distribution: Any) -> None:
    spec = with_changes(distribution=distribution, processors={"groupbyattrs": {}})
    spec["pipelines"] = {"traces": {"exporters": ["tempo"], "extra_processors": ["groupbyattrs"]},
                         "metrics": {"exporters": ["mimir"]}, "logs": {"exporters": ["loki"]}}
    if distribution is LAB_MANIFEST:
        assert "processor type 'groupbyattrs' is not in the collector distribution" in render_error(spec)
    else:
        assert "groupbyattrs" in otelcol_config(spec)["processors"]


def test_components_the_filter_emits_must_be_in_the_distribution() -> None:
    spec = with_changes(distribution={"receivers": ["otlp"], "processors": ["memorylimiter"],
                                      "exporters": ["otlp", "otlphttp"], "extensions": ["healthcheck"]},
                        persistent_queue={"directory": "/var/lib/otelcol"})
    spec["pipelines"]["traces"]["sampling"] = {"probabilistic": {"percentage": 10}}
    message = render_error(spec)
    assert ("spec.pipelines.traces.sampling: needs the processor type 'probabilistic_sampler', which is not in the "
            "collector distribution (spec.distribution)") in message
    assert "spec.persistent_queue: needs the extension type 'file_storage'" in message
    assert message.count("needs the") == 2


def test_distribution_with_wrong_types_names_the_path() -> None:
    message = render_error(with_changes(distribution={"processors": "batch", "receiver": [], "exporters": [1]}))
    assert "spec.distribution.processors: expected a list, got str" in message
    assert "spec.distribution.receiver: unknown key" in message
    assert "spec.distribution.exporters[0]: expected a type name, a module path" in message
    assert "spec.distribution: expected an OCB manifest" in render_error(with_changes(distribution="contrib"))


def test_header_and_resource_attribute_values_with_a_newline_are_refused() -> None:
    spec = with_changes(resource_attributes={"team": "a\n", "ok": "b"})
    spec["backends"]["tempo"]["headers"] = {"X-Team": "a\nX-Injected: 1"}
    message = render_error(spec)
    assert "spec.backends.tempo.headers.X-Team: 'X-Team': 'a\\nX-Injected: 1' contains a control character" in message
    assert "spec.resource_attributes.team: 'team': 'a\\n' contains a control character" in message
    assert "resource_attributes.ok" not in message


def test_header_and_resource_attribute_values_without_control_characters_are_accepted() -> None:
    spec = with_changes(resource_attributes={"team": "a b"})
    spec["backends"]["tempo"]["headers"] = {"X-Team": "a b"}
    assert otelcol_config(spec)["exporters"]["otlp_grpc/tempo"]["headers"] == {"X-Team": "a b"}


def test_tail_sampling_sub_policy_of_unknown_type() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["sampling"] = {"tail": {"policies": [
        {"name": "both", "type": "and", "and": {"and_sub_policy": [
            {"name": "slow", "type": "latency", "latency": {"threshold_ms": 100}},
            {"name": "odd", "type": "errors_only", "errors_only": {}}]}},
        {"name": "bad", "type": "nope"}]}}
    message = render_error(spec)
    assert "spec.pipelines.traces.sampling.tail.policies[0].and.and_sub_policy[1].type: 'errors_only' is not" in message
    assert "spec.pipelines.traces.sampling.tail.policies[1].type: 'nope' is not accepted" in message


def test_tail_sampling_sub_policies_of_known_types_are_accepted() -> None:
    spec = base_spec()
    spec["pipelines"]["traces"]["sampling"] = {"tail": {"policies": [
        {"name": "both", "type": "and", "and": {"and_sub_policy": [
            {"name": "slow", "type": "latency", "latency": {"threshold_ms": 100}},
            {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}]}}]}}
    assert otelcol_config(spec)["processors"]["tail_sampling/traces"]["policies"][0]["type"] == "and"


def test_default_ports_are_read_from_the_stack_catalogue(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backend's default port is written once, in the stack catalogue: the
    filter reads it from there, so changing it there changes the filter."""
    import dataclasses

    from ansible_collections.observability.lgtm.plugins.module_utils import stack_catalogue

    prometheus = stack_catalogue.CATALOGUE["prometheus"]
    moved = dataclasses.replace(prometheus, ports={**prometheus.ports,
                                                   "http": dataclasses.replace(prometheus.ports["http"], number=19090)})
    monkeypatch.setitem(stack_catalogue.CATALOGUE, "prometheus", moved)
    spec = with_changes(backends={"metrics": {"type": "prometheus", "host": "prom.lab"}},
                        pipelines={"metrics": {"exporters": ["metrics"]}})
    exporters = otelcol_config(spec)["exporters"]
    assert [cfg["endpoint"] for cfg in exporters.values()] == ["http://prom.lab:19090/api/v1/otlp"]
