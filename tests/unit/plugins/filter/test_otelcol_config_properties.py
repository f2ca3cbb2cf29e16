# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests: many valid specs render to configurations the real collector accepts.

The collector binary is the lab build (lab/otelcol-builder.yaml); its path comes
from the LGTM_OTELCOL_BIN environment variable, which `make test` sets after
building it. Without it the collector test fails on purpose: a config filter
that was never checked by the collector it targets is not tested.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
import yaml

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import (
    BACKEND_TYPES,
    COMPONENT_KINDS,
    DEFAULT_COLLECTOR_VERSION,
    SIGNALS,
    otelcol_config,
    otelcol_gomemlimit,
    parse_version,
    versioned_type,
)
from ansible_collections.observability.lgtm.plugins.filter.otelcol_kubernetes_needs import otelcol_kubernetes_needs
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    K8S_ATTRIBUTES_METADATA_KEYS,
    KUBERNETES_AGENT_METADATA,
    KUBERNETES_NODE_NAME_ENV,
)

from test_otelcol_config_kubernetes import documented_spec

COLLECTOR_ENV = "LGTM_OTELCOL_BIN"
# The lab's build is not upstream's otelcol-contrib: every spec validated by the lab
# collector names the lab's component list (the OCB manifest it was built from).
LAB_MANIFEST: Dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[4] / "lab" / "otelcol-builder.yaml").read_text(encoding="utf-8"))
GENERATED_SPECS = 25

# The persistent queue directory must be writable; the collector may create it.
QUEUE_ROOT = Path(tempfile.mkdtemp(prefix="otelcol-queue-"))

SAFE_RESOURCE_KEYS = ["deployment.environment", "service.namespace", "host.name", "cloud.region"]
SAFE_DIMENSIONS = ["http.route", "http.request.method", "http.response.status_code", "rpc.method"]

# Signal-specific backend types per signal; otlp and debug take every signal.
SIGNAL_KINDS = {"traces": ["tempo", "jaeger"], "metrics": ["mimir", "prometheus"], "logs": ["loki", "victorialogs"]}
TENANT_KINDS = frozenset({"tempo", "mimir", "loki", "otlp"})


@st.composite
def listen_ports(draw: Any) -> List[int]:
    return draw(st.lists(st.integers(min_value=20000, max_value=60000), min_size=8, max_size=8, unique=True))


@st.composite
def backend_for(draw: Any, kind: str, name: str) -> Dict[str, Any]:
    if kind == "tempo":
        backend: Dict[str, Any] = {"type": "tempo", "host": f"{name}.lab",
                                   "protocol": draw(st.sampled_from(["grpc", "http"]))}
    elif kind == "mimir":
        backend = {"type": "mimir", "host": f"{name}.lab",
                   "protocol": draw(st.sampled_from(["otlp", "remote_write"]))}
    elif kind == "loki":
        backend = {"type": "loki", "host": f"{name}.lab"}
    elif kind == "jaeger":
        backend = {"type": "jaeger", "host": f"{name}.lab", "protocol": draw(st.sampled_from(["grpc", "http"]))}
    elif kind == "prometheus":
        backend = {"type": "prometheus", "host": f"{name}.lab",
                   "protocol": draw(st.sampled_from(["otlp", "remote_write"]))}
    elif kind == "victorialogs":
        backend = {"type": "victorialogs", "host": f"{name}.lab"}
        if draw(st.booleans()):
            backend["headers"] = {"AccountID": "1", "ProjectID": "2"}
    elif kind == "otlp":
        if draw(st.booleans()):
            backend = {"type": "otlp", "protocol": "grpc", "endpoint": f"{name}.lab:4317"}
        else:
            backend = {"type": "otlp", "protocol": "http", "endpoint": f"https://{name}.lab:4318",
                       "tls": {"enabled": True, "insecure_skip_verify": draw(st.booleans())}}
    else:
        return {"type": "debug", "verbosity": draw(st.sampled_from(["basic", "normal", "detailed"]))}
    # Jaeger, Prometheus and VictoriaLogs have no tenant header (the filter rejects 'tenant').
    if draw(st.booleans()) and kind in TENANT_KINDS:
        backend["tenant"] = draw(st.sampled_from(["lab", "team-a"]))
    if draw(st.booleans()) and kind != "debug":
        backend["auth"] = {"username": "collector", "password": "secret"}
    if draw(st.booleans()):
        backend["queue_size"] = draw(st.integers(min_value=1, max_value=20000))
    return backend


@st.composite
def specs(draw: Any) -> Dict[str, Any]:
    ports = draw(listen_ports())
    spec: Dict[str, Any] = {
        "memory": draw(st.one_of(
            st.fixed_dictionaries({"host_mib": st.integers(min_value=256, max_value=65536)}),
            st.fixed_dictionaries({"limit_mib": st.integers(min_value=64, max_value=32768)}),
        )),
        "receivers": {"otlp": {"grpc": f"0.0.0.0:{ports[0]}", "http": f"127.0.0.1:{ports[1]}"}},
        "extensions": {"health_check": f"0.0.0.0:{ports[2]}"},
        "telemetry": {"metrics_address": f"127.0.0.1:{ports[3]}",
                      "log_level": draw(st.sampled_from(["debug", "info", "warn", "error"])),
                      "metrics_level": draw(st.sampled_from(["basic", "normal", "detailed"]))},
        "backends": {},
        "pipelines": {},
        "distribution": LAB_MANIFEST,
    }
    if draw(st.booleans()):
        spec["extensions"]["pprof"] = f"127.0.0.1:{ports[4]}"
    if draw(st.booleans()):
        spec["extensions"]["zpages"] = f"127.0.0.1:{ports[5]}"

    signals = draw(st.lists(st.sampled_from(["traces", "metrics", "logs"]), min_size=1, max_size=3, unique=True))
    for signal in signals:
        kinds = draw(st.lists(st.sampled_from([*SIGNAL_KINDS[signal], "otlp", "debug"]), min_size=1, max_size=4,
                              unique=True))
        names = []
        for kind in kinds:
            name = f"{kind}-{signal}"
            spec["backends"][name] = draw(backend_for(kind, name))
            names.append(name)
        spec["pipelines"][signal] = {"receivers": ["otlp"], "exporters": names}

    if "metrics" in signals and draw(st.booleans()):
        spec["receivers"]["prometheus/self"] = {"scrape_configs": [
            {"job_name": "otelcol", "targets": [f"127.0.0.1:{ports[3]}"], "scrape_interval": "15s"}]}
        spec["pipelines"]["metrics"]["receivers"].append("prometheus/self")
    if draw(st.booleans()):
        spec["receivers"]["otlp/edge"] = {"grpc": f"0.0.0.0:{ports[6]}", "http": None}
        spec["pipelines"][signals[0]]["receivers"].append("otlp/edge")

    add_connectors(draw, spec, signals)
    add_processors(draw, spec, signals)
    if "traces" in signals and draw(st.booleans()):
        spec["pipelines"]["traces"]["sampling"] = draw(st.one_of(
            st.fixed_dictionaries({"probabilistic": st.fixed_dictionaries(
                {"percentage": st.floats(min_value=0.1, max_value=100)})}),
            st.just({"tail": {"decision_wait": "5s", "num_traces": 10000, "policies": [
                {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}},
                {"name": "slow", "type": "latency", "latency": {"threshold_ms": 500}},
                {"name": "some", "type": "probabilistic", "probabilistic": {"sampling_percentage": 10}}]}}),
        ))
    if draw(st.booleans()):
        spec["resource_attributes"] = {key: "lab" for key in draw(
            st.lists(st.sampled_from(SAFE_RESOURCE_KEYS), min_size=1, max_size=3, unique=True))}
    if draw(st.booleans()):
        spec["persistent_queue"] = {"directory": str(QUEUE_ROOT / draw(st.sampled_from(["a", "b"])))}
        # Remote write keeps its queue in memory: beside a disk queue the spec must say so.
        for backend in spec["backends"].values():
            if backend.get("protocol") == "remote_write":
                backend["persistent"] = False
        if draw(st.booleans()):
            # From the least that leaves every queue 4 MiB of the bound: at most one per backend and
            # one per pipeline (an intake's).
            spec["persistent_queue"]["max_mib"] = draw(st.integers(
                min_value=4 * (len(spec["backends"]) + len(spec["pipelines"])), max_value=4096))
    if draw(st.booleans()):
        # Either sizer; a min_size in bytes up to 4 MiB fits in every disk queue's share.
        spec["batch"] = {"flush_timeout": draw(st.sampled_from(["100ms", "1s"])),
                         "sizer": draw(st.sampled_from(["bytes", "items"])),
                         "min_size": draw(st.integers(min_value=1, max_value=4 * 1024 * 1024)), "max_size": 0}
    if draw(st.booleans()):
        first = next(iter(spec["backends"].values()))
        if first["type"] == "tempo" and first["protocol"] == "grpc":
            spec["overrides"] = {"exporters": {f"otlp_grpc/{next(iter(spec['backends']))}": {
                "compression": "zstd", "sending_queue": {"num_consumers": 4}}}}
    return spec


def add_connectors(draw: Any, spec: Dict[str, Any], signals: List[str]) -> None:
    if "traces" in signals and "metrics" in signals and draw(st.booleans()):
        spec["connectors"] = {
            "spanmetrics": {"dimensions": draw(st.lists(st.sampled_from(SAFE_DIMENSIONS), max_size=3, unique=True)),
                            "histogram_buckets": ["10ms", "100ms", "1s", "10s"],
                            "metrics_flush_interval": "15s"},
            "servicegraph": {"dimensions": draw(st.lists(st.sampled_from(SAFE_DIMENSIONS), max_size=2, unique=True)),
                             "store_ttl": "2s", "store_max_items": 1000},
        }
        spec["pipelines"]["traces"]["exporters"] += ["spanmetrics", "servicegraph"]
        spec["pipelines"]["metrics"]["receivers"] += ["spanmetrics", "servicegraph"]
    if "logs" in signals and draw(st.booleans()):
        # logs -> forward -> a second logs pipeline
        spec.setdefault("connectors", {})["forward/copy"] = {}
        spec["pipelines"]["logs"]["exporters"].append("forward/copy")
        spec["backends"]["debug-copy"] = {"type": "debug"}
        spec["pipelines"]["logs/copy"] = {"receivers": ["forward/copy"], "exporters": ["debug-copy"]}


def add_processors(draw: Any, spec: Dict[str, Any], signals: List[str]) -> None:
    candidates = {
        "attributes/scrub": {"actions": [{"key": "http.request.header.authorization", "action": "delete"},
                                         {"key": "team", "value": "lab", "action": "upsert"}]},
        "filter/noise": {"error_mode": "ignore"},
        "transform/tidy": {"error_mode": "ignore"},
    }
    for signal in signals:
        chosen = draw(st.lists(st.sampled_from(sorted(candidates)), max_size=3, unique=True))
        for processor_id in chosen:
            config = dict(candidates[processor_id])
            if processor_id == "filter/noise":
                config = {"error_mode": "ignore", **filter_for(signal)}
            if processor_id == "transform/tidy":
                config = {"error_mode": "ignore", **transform_for(signal)}
            spec.setdefault("processors", {})[f"{processor_id}_{signal}"] = config
            spec["pipelines"][signal].setdefault("extra_processors", []).append(f"{processor_id}_{signal}")


def filter_for(signal: str) -> Dict[str, Any]:
    if signal == "traces":
        return {"traces": {"span": ['attributes["url.path"] == "/healthz"']}}
    if signal == "metrics":
        return {"metrics": {"metric": ['name == "noise"']}}
    return {"logs": {"log_record": ['severity_number < SEVERITY_NUMBER_INFO']}}


def transform_for(signal: str) -> Dict[str, Any]:
    key = {"traces": "trace_statements", "metrics": "metric_statements", "logs": "log_statements"}[signal]
    return {key: [{"context": "resource", "statements": ['set(attributes["lab.tidy"], "yes")']}]}


def assert_best_practice(config: Dict[str, Any]) -> None:
    """Checks that hold for every rendered config, collector or not."""
    assert set(config) == set(COMPONENT_KINDS) | {"service"}
    service = config["service"]
    assert "health_check" in service["extensions"]
    assert set(service["extensions"]) == set(config["extensions"])
    used = {kind: set() for kind in COMPONENT_KINDS}
    for pipeline in service["pipelines"].values():
        assert pipeline["processors"][0] == "memory_limiter"
        assert "batch" not in pipeline["processors"]  # 0.159: exporters batch themselves
        for role, kinds in (("receivers", ("receivers", "connectors")), ("processors", ("processors",)),
                            ("exporters", ("exporters", "connectors"))):
            for item in pipeline[role]:
                owner = [kind for kind in kinds if item in config[kind]]
                assert owner, f"{item} is not defined"
                used[owner[0]].add(item)
    for kind in ("receivers", "processors", "exporters", "connectors"):
        assert used[kind] == set(config[kind])
    for exporter_id, exporter in config["exporters"].items():
        if exporter_id.startswith(("otlp_grpc/", "otlp_http/")):
            assert exporter["sending_queue"]["enabled"] and exporter["retry_on_failure"]["enabled"]
            assert "batch" in exporter["sending_queue"]
            storage = exporter["sending_queue"].get("storage")
            assert storage is None or storage in service["extensions"]
        elif exporter_id.startswith("prometheus_remote_write/"):
            assert exporter["remote_write_queue"]["enabled"] and exporter["retry_on_failure"]["enabled"]
    for receiver_id, receiver in config["receivers"].items():
        for protocol in receiver.get("protocols", {}).values():
            host, _colon, port = protocol["endpoint"].rpartition(":")
            assert host and int(port) > 0
    readers = service["telemetry"]["metrics"]["readers"]
    assert readers[0]["pull"]["exporter"]["prometheus"]["port"] > 0


@settings(max_examples=100, deadline=None)
@given(specs())
def test_rendered_configs_follow_best_practice(spec: Dict[str, Any]) -> None:
    config = otelcol_config(spec)
    assert_best_practice(config)
    assert yaml.safe_load(yaml.safe_dump(config)) == config
    assert otelcol_gomemlimit(spec).endswith("MiB")


@settings(max_examples=150, deadline=None)
@given(type_name=st.sampled_from(sorted(BACKEND_TYPES)), signal=st.sampled_from(SIGNALS), data=st.data())
def test_backend_signals_and_endpoints_follow_the_table(type_name: str, signal: str, data: Any) -> None:
    """Every backend type renders to its table row for its signals and is rejected, by path, for the others."""
    backend = data.draw(backend_for(type_name, "target"))
    assert backend["type"] == type_name, f"backend_for() does not generate backend type {type_name!r} yet"
    spec = {"memory": {"limit_mib": 512}, "backends": {"target": backend},
            "pipelines": {signal: {"receivers": ["otlp"], "exporters": ["target"]}}}
    row = BACKEND_TYPES[type_name]
    if signal not in row.signals:
        with pytest.raises(AnsibleFilterError) as caught:
            otelcol_config(spec)
        assert (f"spec.pipelines.{signal}.exporters[0]: backend 'target' is of type {type_name}, which accepts "
                f"only {', '.join(row.signals)}, not {signal}") in str(caught.value)
        return
    config = otelcol_config(spec)
    version = parse_version(DEFAULT_COLLECTOR_VERSION, "default")
    protocol = row.protocols.get(backend.get("protocol", next(iter(row.protocols), "")))
    exporter_type = versioned_type("exporters", protocol.exporter if protocol else "debug", version)
    exporter = config["exporters"][f"{exporter_type}/target"]
    assert config["service"]["pipelines"][signal]["exporters"] == [f"{exporter_type}/target"]
    if row.addressing == "host":
        scheme = "" if protocol.is_grpc else "https://" if "tls" in backend else "http://"
        assert exporter["endpoint"] == f"{scheme}target.lab:{protocol.port}{protocol.path}"


def collector_binary() -> str:
    path = os.environ.get(COLLECTOR_ENV)
    if not path:
        pytest.fail(
            f"{COLLECTOR_ENV} is not set. These property tests run the lab collector's `validate` command on "
            f"every rendered config. `make test` builds the collector from lab/otelcol-builder.yaml and sets "
            f"{COLLECTOR_ENV}; to run pytest by hand, build it first and export "
            f"{COLLECTOR_ENV}=/path/to/otelcol-contrib."
        )
    if not os.access(path, os.X_OK):
        pytest.fail(f"{COLLECTOR_ENV}={path} is not an executable file; `make test` builds the collector there.")
    return path


def validate_with_collector(binary: str, config: Dict[str, Any], env: Optional[Dict[str, str]] = None) -> None:
    """The collector's `validate` accepts the config; env is added to the collector's environment."""
    with tempfile.TemporaryDirectory(prefix="otelcol-config-") as directory:
        config_file = Path(directory) / "config.yaml"
        config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        result = subprocess.run([binary, "validate", f"--config={config_file}"], capture_output=True, text=True,
                                timeout=120, check=False, env={**os.environ, **(env or {})})
        assert result.returncode == 0, (
            f"collector rejected the rendered config (exit {result.returncode}):\n{result.stderr}\n{result.stdout}\n"
            f"--- config ---\n{config_file.read_text(encoding='utf-8')}"
        )


@settings(max_examples=GENERATED_SPECS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs())
def run_collector_validate(binary: str, spec: Dict[str, Any]) -> None:
    validate_with_collector(binary, otelcol_config(spec))


def test_rendered_configs_pass_collector_validate() -> None:
    binary = collector_binary()
    run_collector_validate(binary)


def test_documented_example_passes_collector_validate() -> None:
    """The examples of docs/otelcol_config.md must be accepted by the collector as written."""
    binary = collector_binary()
    docs = Path(__file__).resolve().parents[4] / "docs" / "otelcol_config.md"
    block = re.search(r"## Full example\n\n```yaml\n(.*?)```", docs.read_text(encoding="utf-8"), re.S)
    assert block is not None, "docs/otelcol_config.md lost its full example"
    spec = yaml.safe_load(block.group(1))["otelcol_spec"]
    # The documented directory is not writable on a test machine; everything else stays as documented.
    spec["persistent_queue"]["directory"] = str(QUEUE_ROOT / "doc")
    spec["distribution"] = LAB_MANIFEST
    validate_with_collector(binary, otelcol_config(spec))
    block = re.search(r"## Example: Jaeger, Prometheus and VictoriaLogs\n.*?```yaml\n(.*?)```",
                      docs.read_text(encoding="utf-8"), re.S)
    assert block is not None, "docs/otelcol_config.md lost its Jaeger/Prometheus/VictoriaLogs example"
    spec = yaml.safe_load(block.group(1))["otelcol_spec"]
    spec["distribution"] = LAB_MANIFEST
    validate_with_collector(binary, otelcol_config(spec))


def boundary_specs() -> List[Dict[str, Any]]:
    """The accepted side of each rule the collector would otherwise refuse: these must pass its validate."""
    def base() -> Dict[str, Any]:
        return {"memory": {"limit_mib": 512, "check_interval": "500ms"},
                "receivers": {"otlp": {"grpc": "127.0.0.1:34317", "http": "127.0.0.1:34318"}},
                "extensions": {"health_check": "127.0.0.1:33133"},
                "telemetry": {"metrics_address": "127.0.0.1:38888"},
                "batch": {"flush_timeout": "1ms"},
                "backends": {"t": {"type": "debug"}, "m": {"type": "debug"}},
                "pipelines": {"traces": {"exporters": ["t"]}, "metrics": {"exporters": ["m"]}},
                "distribution": LAB_MANIFEST}

    long_names = base()
    long_names["backends"]["b" * 1024] = long_names["backends"].pop("t")
    long_names["pipelines"]["traces"]["exporters"] = ["b" * 1024]
    long_names["pipelines"]["traces/" + "t" * 1017] = {"exporters": ["b" * 1024],
                                                       "sampling": {"probabilistic": {"percentage": 50}}}
    smallest_rate = base()
    smallest_rate["pipelines"]["traces"]["sampling"] = {"probabilistic": {"percentage": 1.39e-15}}
    tail = base()
    tail["pipelines"]["traces"]["sampling"] = {"tail": {"policies": [
        {"name": "all", "type": "always_sample"},
        {"name": "big", "type": "span_count", "span_count": {"min_spans": 50}},
        {"name": "flagged", "type": "boolean_attribute", "boolean_attribute": {"key": "debug", "value": True}},
        {"name": "both", "type": "and", "and": {"and_sub_policy": [
            {"name": "slow", "type": "latency", "latency": {"threshold_ms": 100}},
            {"name": "errors", "type": "status_code", "status_code": {"status_codes": ["ERROR"]}}]}}]}}
    connectors = base()
    connectors["connectors"] = {"spanmetrics": {"dimensions": ["http.route", "rpc.method"],
                                                "metrics_flush_interval": "1s"},
                                "forward/a": {}, "forward/b": {}}
    connectors["pipelines"]["traces"]["exporters"] += ["spanmetrics", "forward/a"]
    connectors["pipelines"]["metrics"]["receivers"] = ["otlp", "spanmetrics"]
    connectors["pipelines"]["traces/a"] = {"receivers": ["forward/a"], "exporters": ["forward/b"]}
    connectors["pipelines"]["traces/b"] = {"receivers": ["forward/b"], "exporters": ["t"]}
    smallest_disk_queue = base()
    smallest_disk_queue["backends"] = {"t": {"type": "jaeger", "host": "127.0.0.1"},
                                       "m": {"type": "prometheus", "host": "127.0.0.1"}}
    smallest_disk_queue["persistent_queue"] = {"directory": str(QUEUE_ROOT / "smallest"), "max_mib": 8}
    return [long_names, smallest_rate, tail, connectors, smallest_disk_queue]


@pytest.mark.parametrize("index", range(5))
def test_rule_boundaries_pass_collector_validate(index: int) -> None:
    binary = collector_binary()
    validate_with_collector(binary, otelcol_config(boundary_specs()[index]))


# ---------------------------------------------------------------- Kubernetes: agent and gateway

# Connectors that need whole traces: the gateway's, never an agent's.
WHOLE_TRACE_CONNECTORS = ("spanmetrics", "servicegraph")
GATEWAY = {"type": "otlp", "endpoint": "otelcol-gateway.observability.svc:4317"}


@st.composite
def agent_specs(draw: Any) -> Dict[str, Any]:
    """A generated spec made an agent's: no sampling, span metrics or queue; the top-level pipelines to the gateway."""
    spec = draw(specs())
    for pipeline in spec["pipelines"].values():
        pipeline.pop("sampling", None)
        for role in ("receivers", "exporters"):
            pipeline[role] = [name for name in pipeline[role] if name not in WHOLE_TRACE_CONNECTORS]
    for name in WHOLE_TRACE_CONNECTORS:
        spec.get("connectors", {}).pop(name, None)
    spec.pop("persistent_queue", None)
    spec["backends"]["gateway"] = dict(GATEWAY)
    for pipeline_id in SIGNALS:
        if pipeline_id in spec["pipelines"]:
            spec["pipelines"][pipeline_id]["exporters"].append("gateway")
    kubernetes: Dict[str, Any] = {"role": "agent"}
    if draw(st.booleans()):
        kubernetes["node_name_env"] = draw(st.sampled_from(["K8S_NODE_NAME", "NODE_NAME", "_node"]))
    if draw(st.booleans()):
        kubernetes["metadata"] = draw(st.lists(st.sampled_from(K8S_ATTRIBUTES_METADATA_KEYS), min_size=1, max_size=8,
                                               unique=True))
    spec["kubernetes"] = kubernetes
    return spec


def node_env(spec: Dict[str, Any]) -> Dict[str, str]:
    """The environment the agent's pod has: its node's name (the downward API), for `validate`."""
    return {spec["kubernetes"].get("node_name_env", KUBERNETES_NODE_NAME_ENV): "node-1"}


@settings(max_examples=100, deadline=None)
@given(agent_specs())
def test_agent_configs_tag_every_pipeline_and_leave_whole_traces_to_the_gateway(spec: Dict[str, Any]) -> None:
    config = otelcol_config(spec)
    assert_best_practice(config)
    for pipeline in config["service"]["pipelines"].values():
        assert pipeline["processors"][:2] == ["memory_limiter", "k8s_attributes"]
    assert not [name for name in config["processors"] if name.startswith(("tail_sampling", "probabilistic_sampler"))]
    assert not [name for name in config["connectors"] if name.startswith(("span_metrics", "service_graph"))]
    assert "file_storage/queue" not in config["extensions"]
    processor = config["processors"]["k8s_attributes"]
    assert processor["extract"]["metadata"] == spec["kubernetes"].get("metadata", list(KUBERNETES_AGENT_METADATA))
    needs = otelcol_kubernetes_needs(spec)
    assert needs["env"] == [{"name": processor["filter"]["node_from_env_var"],
                             "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    assert needs["cluster_role_rules"][0]["resources"][:2] == ["pods", "namespaces"]


@settings(max_examples=100, deadline=None)
@given(agent_specs())
def test_an_agents_egress_names_every_exporter_endpoint_and_the_api_server(spec: Dict[str, Any]) -> None:
    """Every host:port an exporter of the rendered config sends to is among the NetworkPolicy's
    destinations (or the egress stays open), and an agent reads the API."""
    egress = otelcol_kubernetes_needs(spec)["egress"]
    if egress is None:
        return
    assert egress["kubernetes_api"] is True
    allowed = {(item["host"], item["port"]) for item in egress["to"]}
    assert all(isinstance(host, str) and 0 < port < 65536 for host, port in allowed)
    for exporter in otelcol_config(spec)["exporters"].values():
        endpoint = exporter.get("endpoint") if isinstance(exporter, dict) else None
        if isinstance(endpoint, str):
            authority = endpoint.split("://", 1)[-1].split("/", 1)[0]
            host, _colon, port = authority.rpartition(":")
            if port.isdigit():
                assert (host.lower(), int(port)) in allowed, (endpoint, sorted(allowed))


@settings(max_examples=100, deadline=None)
@given(specs())
def test_gateway_configs_are_the_host_configs(spec: Dict[str, Any]) -> None:
    assert otelcol_config(dict(spec, kubernetes={"role": "gateway"})) == otelcol_config(spec)
    needs = otelcol_kubernetes_needs(dict(spec, kubernetes={"role": "gateway"}))
    # No RBAC and no environment; the node folders and the destinations are the ones the same
    # receivers and exporters have anywhere, and no API access.
    host_needs = otelcol_kubernetes_needs(spec)
    assert needs == {"cluster_role_rules": [], "env": [], "node_files": host_needs["node_files"],
                     "egress": host_needs["egress"]}
    assert needs["egress"] is None or needs["egress"]["kubernetes_api"] is False


@settings(max_examples=GENERATED_SPECS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.one_of(agent_specs(), specs().map(lambda spec: dict(spec, kubernetes={"role": "gateway"}))))
def run_kubernetes_collector_validate(binary: str, spec: Dict[str, Any]) -> None:
    env = node_env(spec) if spec["kubernetes"]["role"] == "agent" else {}
    validate_with_collector(binary, otelcol_config(spec), env)


def test_agent_and_gateway_configs_pass_collector_validate() -> None:
    """k8sattributes validates without a cluster; its node_from_env_var only needs the variable set."""
    run_kubernetes_collector_validate(collector_binary())


def test_documented_kubernetes_examples_pass_collector_validate() -> None:
    """The agent and gateway examples of docs/otelcol_config.md, as written (the gateway's queue directory aside)."""
    binary = collector_binary()
    agent, gateway = documented_spec("otelcol_agent_spec"), documented_spec("otelcol_gateway_spec")
    gateway["persistent_queue"]["directory"] = str(QUEUE_ROOT / "doc-gateway")
    for spec in (agent, gateway):
        spec["distribution"] = LAB_MANIFEST
    validate_with_collector(binary, otelcol_config(agent), node_env(agent))
    validate_with_collector(binary, otelcol_config(gateway))
