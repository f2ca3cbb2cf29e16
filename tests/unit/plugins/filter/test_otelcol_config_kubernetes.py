# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""spec.kubernetes: the agent (DaemonSet) and gateway (StatefulSet) configurations, one case per rule."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import otelcol_config
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_distribution import UPSTREAM_CONTRIB
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    K8S_ATTRIBUTES_METADATA_KEYS, KUBERNETES_AGENT_METADATA, KUBERNETES_NODE_NAME_ENV,
)

AGENT = "a Kubernetes agent (spec.kubernetes.role: agent)"
GATEWAY_ENDPOINT = "otelcol-gateway.observability.svc:4317"
DOCS = Path(__file__).resolve().parents[4] / "docs" / "otelcol_config.md"


def documented_blocks() -> List[Any]:
    """The YAML blocks of the docs' "Kubernetes: agent and gateway" section, in order."""
    section = re.search(r"## Kubernetes: agent and gateway\n(.*?)\n## ", DOCS.read_text(encoding="utf-8"), re.S)
    assert section is not None, "docs/otelcol_config.md lost its Kubernetes section"
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", section.group(1), re.S)]


def documented_spec(name: str) -> Dict[str, Any]:
    """A documented example spec: 'otelcol_agent_spec' or 'otelcol_gateway_spec'."""
    return next(block[name] for block in documented_blocks() if isinstance(block, dict) and name in block)


def agent_spec() -> Dict[str, Any]:
    """An agent: OTLP from the node's pods, everything to the gateway."""
    return {
        "memory": {"limit_mib": 400},
        "kubernetes": {"role": "agent"},
        "backends": {"gateway": {"type": "otlp", "endpoint": GATEWAY_ENDPOINT}},
        "pipelines": {signal: {"exporters": ["gateway"]} for signal in ("traces", "metrics", "logs")},
    }


def host_spec() -> Dict[str, Any]:
    """What a gateway does: span metrics, sampling, the exporters and the persistent queue."""
    return {
        "memory": {"limit_mib": 2000},
        "backends": {"tempo": {"type": "tempo", "host": "tempo"}, "mimir": {"type": "mimir", "host": "mimir"},
                     "loki": {"type": "loki", "host": "loki"}},
        "connectors": {"spanmetrics": {}, "forward/sampled": {}},
        "pipelines": {
            "traces": {"exporters": ["spanmetrics", "forward/sampled"]},
            "traces/sampled": {"receivers": ["forward/sampled"], "exporters": ["tempo"],
                               "sampling": {"tail": {"policies": [{"name": "all", "type": "always_sample"}]}}},
            "metrics": {"receivers": ["otlp", "spanmetrics"], "exporters": ["mimir"]},
            "logs": {"exporters": ["loki"]},
        },
        "persistent_queue": {"directory": "/var/lib/otelcol/queue"},
    }


def gateway_spec() -> Dict[str, Any]:
    return dict(host_spec(), kubernetes={"role": "gateway"})


def render_error(spec: Any, *args: Any) -> str:
    with pytest.raises(AnsibleFilterError) as caught:
        otelcol_config(spec, *args)
    return str(caught.value)


# ---------------------------------------------------------------- rendering

def test_agent_tags_every_pipeline_right_after_memory_limiter() -> None:
    spec = agent_spec()
    spec["resource_attributes"] = {"deployment.environment": "lab"}
    spec["processors"] = {"attributes/scrub": {"actions": [{"key": "password", "action": "delete"}]}}
    spec["pipelines"]["logs"]["extra_processors"] = ["attributes/scrub"]
    config = otelcol_config(spec)
    pipelines = config["service"]["pipelines"]
    assert pipelines["traces"]["processors"] == ["memory_limiter", "k8s_attributes", "resource"]
    assert pipelines["metrics"]["processors"] == ["memory_limiter", "k8s_attributes", "resource"]
    assert pipelines["logs"]["processors"] == ["memory_limiter", "k8s_attributes", "resource", "attributes/scrub"]
    assert list(config["processors"])[:2] == ["memory_limiter", "k8s_attributes"]


def test_agent_k8s_attributes_defaults() -> None:
    assert otelcol_config(agent_spec())["processors"]["k8s_attributes"] == {
        "auth_type": "serviceAccount",
        "filter": {"node_from_env_var": "K8S_NODE_NAME"},
        "extract": {"metadata": ["k8s.pod.name", "k8s.pod.uid", "k8s.namespace.name", "k8s.deployment.name",
                                 "k8s.node.name", "k8s.pod.start_time"]},
        "pod_association": [
            {"sources": [{"from": "resource_attribute", "name": "k8s.pod.ip"}]},
            {"sources": [{"from": "resource_attribute", "name": "k8s.pod.uid"}]},
            {"sources": [{"from": "connection"}]},
        ],
    }
    assert KUBERNETES_NODE_NAME_ENV == "K8S_NODE_NAME"
    assert set(KUBERNETES_AGENT_METADATA) <= set(K8S_ATTRIBUTES_METADATA_KEYS)


def test_agent_node_name_env_and_metadata() -> None:
    spec = agent_spec()
    spec["kubernetes"].update(node_name_env="NODE", metadata=["k8s.pod.name", "k8s.node.uid", "service.name"])
    processor = otelcol_config(spec)["processors"]["k8s_attributes"]
    assert processor["filter"] == {"node_from_env_var": "NODE"}
    assert processor["extract"] == {"metadata": ["k8s.pod.name", "k8s.node.uid", "service.name"]}


def test_agent_processor_name_follows_the_version() -> None:
    old = otelcol_config(agent_spec(), "0.145.0")
    assert "k8sattributes" in old["processors"] and "k8s_attributes" not in old["processors"]
    assert old["service"]["pipelines"]["traces"]["processors"] == ["memory_limiter", "k8sattributes"]
    batching = otelcol_config(agent_spec(), "0.120.0")["service"]["pipelines"]["traces"]["processors"]
    assert batching == ["memory_limiter", "k8sattributes", "batch"]
    assert "k8s_attributes" in otelcol_config(agent_spec(), "0.146.0")["processors"]


def test_agent_overrides_reach_the_processor() -> None:
    spec = agent_spec()
    spec["overrides"] = {"processors": {"k8s_attributes": {"wait_for_metadata": True}}}
    assert otelcol_config(spec)["processors"]["k8s_attributes"]["wait_for_metadata"] is True


def test_agent_may_forward_and_send_some_signals_elsewhere() -> None:
    spec = agent_spec()
    spec["backends"]["loki"] = {"type": "loki", "host": "loki"}
    spec["connectors"] = {"forward/copy": {}}
    spec["pipelines"]["logs"]["exporters"] = ["loki", "forward/copy"]
    spec["pipelines"]["logs/copy"] = {"receivers": ["forward/copy"], "exporters": ["gateway"]}
    config = otelcol_config(spec)
    assert config["service"]["pipelines"]["logs/copy"]["processors"] == ["memory_limiter", "k8s_attributes"]


def test_gateway_renders_as_the_same_spec_without_kubernetes() -> None:
    assert otelcol_config(gateway_spec()) == otelcol_config(host_spec())
    assert "k8s_attributes" not in otelcol_config(gateway_spec())["processors"]


@pytest.mark.parametrize("value", [None, {"role": "gateway"}])
def test_kubernetes_null_or_gateway_changes_nothing(value: Any) -> None:
    assert otelcol_config(dict(host_spec(), kubernetes=value)) == otelcol_config(host_spec())


# ---------------------------------------------------------------- spec.kubernetes itself

def test_role_is_required() -> None:
    spec = agent_spec()
    spec["kubernetes"] = {"metadata": ["k8s.pod.name"]}
    assert "spec.kubernetes.role: missing; accepted: agent (a DaemonSet" in render_error(spec)


@pytest.mark.parametrize("role", ["daemonset", "Agent", ""])
def test_role_must_be_agent_or_gateway(role: str) -> None:
    spec = agent_spec()
    spec["kubernetes"]["role"] = role
    message = render_error(spec)
    assert "spec.kubernetes.role: " in message
    assert "accepted: agent, gateway" in message or "expected a non-empty string" in message


def test_unknown_kubernetes_key() -> None:
    spec = agent_spec()
    spec["kubernetes"]["namespace"] = "observability"
    assert ("spec.kubernetes.namespace: unknown key; accepted keys: metadata, node_data, node_name_env, role, storage_size"
            in render_error(spec))


@pytest.mark.parametrize("key, value", [("node_name_env", "K8S_NODE_NAME"), ("metadata", ["k8s.pod.name"])])
def test_agent_only_keys_are_refused_on_a_gateway(key: str, value: Any) -> None:
    spec = gateway_spec()
    spec["kubernetes"][key] = value
    assert (f"spec.kubernetes.{key}: only an agent (role: agent) takes {key}: a gateway runs no k8sattributes "
            f"processor") in render_error(spec)


def test_a_gateways_disk_queue_takes_half_its_claim() -> None:
    """The gateway's claim holds its disk queue: the bound is half the claim unless the spec gives one that fits."""
    spec = gateway_spec()
    spec["kubernetes"]["storage_size"] = "3Gi"
    spec["persistent_queue"] = {"directory": "/var/lib/otelcol/queue"}
    queues = [exporter["sending_queue"] for exporter in otelcol_config(spec)["exporters"].values()]
    assert {(queue["sizer"], queue["queue_size"]) for queue in queues} == {("bytes", 1536 * 2 ** 20 // 3)}
    spec["persistent_queue"]["max_mib"] = 1537
    assert ("spec.persistent_queue.max_mib: 1537 MiB does not fit twice in the gateway's claim "
            "(spec.kubernetes.storage_size, 3072 MiB)") in render_error(spec)


def test_an_agent_has_no_claim() -> None:
    spec = agent_spec()
    spec["kubernetes"]["storage_size"] = "1Gi"
    assert ("spec.kubernetes.storage_size: only a gateway (role: gateway) has a claim; an agent's DaemonSet pod "
            "keeps no queue on disk") in render_error(spec)


def test_metadata_must_be_known_k8sattributes_keys() -> None:
    spec = agent_spec()
    spec["kubernetes"]["metadata"] = ["k8s.pod.name", "k8s.pod.labels", "k8s.pod.name"]
    message = render_error(spec)
    assert ("spec.kubernetes.metadata[1]: 'k8s.pod.labels' is not a metadata key of the k8sattributes processor "
            "(the collector refuses it); accepted: k8s.namespace.name, k8s.pod.name") in message
    assert "spec.kubernetes.metadata[2]: 'k8s.pod.name' is listed twice" in message


def test_metadata_must_not_be_empty() -> None:
    spec = agent_spec()
    spec["kubernetes"]["metadata"] = []
    assert "spec.kubernetes.metadata: give at least one key, or leave metadata out for the default" in \
        render_error(spec)


@pytest.mark.parametrize("name", ["1NODE", "NODE-NAME", "node name"])
def test_node_name_env_must_be_a_variable_name(name: str) -> None:
    spec = agent_spec()
    spec["kubernetes"]["node_name_env"] = name
    assert f"spec.kubernetes.node_name_env: {name!r} is not an environment variable name" in render_error(spec)


@pytest.mark.parametrize("path, value, expected", [
    ((), "agent", "spec.kubernetes: expected a mapping (dict), got str 'agent'"),
    ((), ["agent"], "spec.kubernetes: expected a mapping (dict), got list"),
    (("role",), 1, "spec.kubernetes.role: expected a non-empty string, got int 1"),
    (("role",), ["agent"], "spec.kubernetes.role: expected a non-empty string, got list"),
    (("node_name_env",), 5, "spec.kubernetes.node_name_env: expected a non-empty string, got int 5"),
    (("node_name_env",), None, "spec.kubernetes.node_name_env: expected a non-empty string, got null"),
    (("metadata",), "k8s.pod.name", "spec.kubernetes.metadata: expected a list of strings, got str"),
    (("metadata",), {"k8s.pod.name": True}, "spec.kubernetes.metadata: expected a list of strings, got dict"),
    (("metadata", 0), 3, "spec.kubernetes.metadata[0]: expected a non-empty string, got int 3"),
])
def test_wrong_types_name_the_path(path: tuple, value: Any, expected: str) -> None:
    spec = agent_spec()
    spec["kubernetes"]["metadata"] = ["k8s.pod.name"]
    if not path:
        spec["kubernetes"] = value
    elif len(path) == 1:
        spec["kubernetes"][path[0]] = value
    else:
        spec["kubernetes"][path[0]][path[1]] = value
    assert expected in render_error(spec)


# ---------------------------------------------------------------- the agent's rules

@pytest.mark.parametrize("sampling", [{"probabilistic": {"percentage": 10}},
                                      {"tail": {"policies": [{"name": "all", "type": "always_sample"}]}}])
def test_agent_must_not_sample(sampling: Dict[str, Any]) -> None:
    spec = agent_spec()
    spec["pipelines"]["traces"]["sampling"] = sampling
    assert (f"spec.pipelines.traces.sampling: {AGENT} must not sample: it sees only the spans from the pods of its "
            f"own node, not whole traces") in render_error(spec)


@pytest.mark.parametrize("processor_id", ["tail_sampling", "probabilistic_sampler/x"])
def test_agent_must_not_have_a_sampling_processor(processor_id: str) -> None:
    spec = agent_spec()
    spec["processors"] = {processor_id: {}}
    spec["pipelines"]["traces"]["extra_processors"] = [processor_id]
    assert f"spec.processors.{processor_id}: {AGENT} must not sample" in render_error(spec)


@pytest.mark.parametrize("connector_id", ["spanmetrics", "span_metrics", "servicegraph", "service_graph/calls"])
def test_agent_must_not_have_span_metrics_or_service_graph(connector_id: str) -> None:
    spec = agent_spec()
    spec["connectors"] = {connector_id: {}}
    spec["pipelines"]["traces"]["exporters"].append(connector_id)
    spec["pipelines"]["metrics"]["receivers"] = ["otlp", connector_id]
    message = render_error(spec)
    assert f"spec.connectors.{connector_id}: {AGENT} must not have a " in message
    assert "put the connector on the gateway" in message


def test_agent_must_not_have_a_persistent_queue_in_its_pod() -> None:
    spec = agent_spec()
    spec["persistent_queue"] = {"directory": "/var/lib/otelcol/queue"}
    message = render_error(spec)
    assert (f"spec.persistent_queue: {AGENT} keeps a persistent queue only where its data folder lives on its node "
            f"(spec.kubernetes.node_data: true; the otel_collector role sets it from "
            f"otel_collector_kubernetes_node_data_dir): a DaemonSet pod's own folders go with the pod; remove "
            f"persistent_queue from the agent's spec (where a default spec sets it, set it to null or to "
            f"{{enabled: false}})") in message


def test_agent_with_its_data_on_its_node_keeps_a_disk_queue() -> None:
    spec = agent_spec()
    spec["kubernetes"]["node_data"] = True
    spec["persistent_queue"] = {"directory": "/var/lib/otelcol/queue"}
    config = otelcol_config(spec)
    assert config["extensions"]["file_storage/queue"]["directory"] == "/var/lib/otelcol/queue"
    assert config["exporters"]["otlp_grpc/gateway"]["sending_queue"]["storage"] == "file_storage/queue"


def test_node_data_is_an_agents_boolean() -> None:
    spec = agent_spec()
    spec["kubernetes"]["node_data"] = "yes please"
    assert "spec.kubernetes.node_data" in render_error(spec)
    gateway = gateway_spec()
    gateway["kubernetes"]["node_data"] = True
    assert "spec.kubernetes.node_data: only an agent (role: agent) takes node_data" in render_error(gateway)


@pytest.mark.parametrize("queue", [None, {"enabled": False, "directory": "/var/lib/otelcol/queue"}])
def test_agent_queue_switched_off_as_the_message_says(queue: Any) -> None:
    spec = agent_spec()
    spec["persistent_queue"] = queue
    assert "file_storage/queue" not in otelcol_config(spec)["extensions"]


def test_agent_must_export_to_an_otlp_backend() -> None:
    spec = agent_spec()
    spec["backends"] = {"tempo": {"type": "tempo", "host": "tempo"}, "console": {"type": "debug"}}
    spec["pipelines"] = {"traces": {"exporters": ["tempo"]}, "logs": {"exporters": ["console"]}}
    assert (f"spec.kubernetes.role: {AGENT} forwards to the gateway, but no pipeline exports to a backend of type "
            f"'otlp'; add one, e.g. gateway: {{type: otlp, endpoint: 'otelcol-gateway.<namespace>.svc:4317'}}"
            ) in render_error(spec)


def test_an_unreadable_backend_is_not_also_reported_as_a_missing_gateway() -> None:
    spec = agent_spec()
    spec["backends"]["gateway"]["endpoint"] = "http://no-scheme-for-grpc:4317"
    message = render_error(spec)
    assert "spec.backends.gateway.endpoint: a grpc endpoint is host:port without a scheme" in message
    assert "forwards to the gateway" not in message


def test_the_gateway_may_do_everything_the_agent_may_not() -> None:
    config = otelcol_config(gateway_spec())
    assert "tail_sampling/traces_sampled" in config["processors"]
    assert "span_metrics" in config["connectors"]
    assert "file_storage/queue" in config["extensions"]


# ---------------------------------------------------------------- an explicit k8sattributes processor

@pytest.mark.parametrize("spec_factory", [host_spec, gateway_spec])
@pytest.mark.parametrize("processor_id", ["k8sattributes", "k8s_attributes/pods"])
def test_explicit_k8sattributes_needs_the_agent_role(spec_factory: Any, processor_id: str) -> None:
    spec = spec_factory()
    spec["processors"] = {processor_id: {}}
    spec["pipelines"]["logs"]["extra_processors"] = [processor_id]
    assert (f"spec.processors.{processor_id}: k8sattributes belongs on the Kubernetes agent, which receives straight "
            f"from the pods; set spec.kubernetes.role: agent and the filter renders it") in render_error(spec)


def test_explicit_k8sattributes_on_the_agent_points_to_its_settings() -> None:
    spec = agent_spec()
    spec["processors"] = {"k8sattributes/extra": {}}
    spec["pipelines"]["logs"]["extra_processors"] = ["k8sattributes/extra"]
    assert ("spec.processors.k8sattributes/extra: the agent renders its own k8s_attributes processor from "
            "spec.kubernetes; choose its metadata with spec.kubernetes.metadata, or change it through "
            "spec.overrides.processors.k8s_attributes") in render_error(spec)


def test_a_wrong_role_gives_no_advice_about_the_role() -> None:
    spec = host_spec()
    spec["kubernetes"] = {"role": "agnet"}
    spec["processors"] = {"k8sattributes": {}}
    spec["pipelines"]["logs"]["extra_processors"] = ["k8sattributes"]
    message = render_error(spec)
    assert "spec.kubernetes.role: 'agnet' is not accepted; accepted: agent, gateway" in message
    assert "spec.processors.k8sattributes" not in message


# ---------------------------------------------------------------- the collector distribution

def test_upstream_contrib_has_k8sattributes_under_both_names() -> None:
    assert UPSTREAM_CONTRIB.has("processors", "k8s_attributes")
    assert UPSTREAM_CONTRIB.has("processors", "k8sattributes")


def test_agent_needs_k8sattributes_in_the_distribution() -> None:
    spec = agent_spec()
    spec["distribution"] = {"receivers": ["otlp"], "processors": ["memory_limiter"], "exporters": ["otlp_grpc"],
                            "extensions": ["health_check"]}
    assert ("spec.kubernetes: needs the processor type 'k8s_attributes', which is not in the collector distribution "
            "(spec.distribution)") in render_error(spec)
    spec["distribution"]["processors"].append("k8s_attributes")
    assert "k8s_attributes" in otelcol_config(copy.deepcopy(spec))["processors"]
