# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The otelcol_kubernetes_needs filter: the RBAC rules and environment a collector's workload needs."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.observability.lgtm.plugins.filter.otelcol_config import otelcol_config
from ansible_collections.observability.lgtm.plugins.filter.otelcol_kubernetes_needs import (
    FilterModule,
    otelcol_kubernetes_needs,
)

from test_otelcol_config_kubernetes import agent_spec, documented_blocks, documented_spec, gateway_spec, host_spec

VERBS = ["get", "list", "watch"]
NODE_NAME = {"name": "K8S_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}
PODS_AND_NAMESPACES = {"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": VERBS}


def agent_with(metadata: List[str], overrides: Any = None) -> Dict[str, Any]:
    spec = agent_spec()
    spec["kubernetes"]["metadata"] = metadata
    if overrides is not None:
        spec["overrides"] = {"processors": {"k8s_attributes": overrides}}
    return spec


def test_filter_module_exposes_the_filter() -> None:
    assert FilterModule().filters() == {"otelcol_kubernetes_needs": otelcol_kubernetes_needs}


def test_default_agent_needs_pods_namespaces_and_its_node_name() -> None:
    assert otelcol_kubernetes_needs(agent_spec()) == {
        "cluster_role_rules": [PODS_AND_NAMESPACES], "env": [NODE_NAME], "node_files": [],
        "egress": {"to": [{"host": "otelcol-gateway.observability.svc", "port": 4317}], "kubernetes_api": True}}


@pytest.mark.parametrize("spec_factory", [gateway_spec, host_spec])
def test_gateway_and_host_need_nothing(spec_factory: Any) -> None:
    assert otelcol_kubernetes_needs(spec_factory()) == {
        "cluster_role_rules": [], "env": [], "node_files": [],
        "egress": {"to": [{"host": "loki", "port": 3100}, {"host": "mimir", "port": 9009}, {"host": "tempo", "port": 4317}],
                   "kubernetes_api": False}}


def agent_reading(receivers: Dict[str, Any]) -> Dict[str, Any]:
    spec = agent_spec()
    spec["receivers"] = dict({"otlp": {}}, **receivers)
    spec["pipelines"]["logs"]["receivers"] = ["otlp"] + [r for r in receivers if r.startswith("filelog")]
    spec["pipelines"]["metrics"]["receivers"] = ["otlp"] + [r for r in receivers if r.startswith("hostmetrics")]
    return spec


def test_log_folders_and_the_nodes_root_are_mounted_read_only_where_the_config_reads_them() -> None:
    spec = agent_reading({
        "filelog/pods": {"include": ["/var/log/pods/*/*/*.log", "/var/log/pods/kube-system_*/*/*.log"],
                         "exclude": ["/var/log/pods/*_otelcol-*/*/*.log"], "format": "container",
                         "offsets_directory": "/var/lib/otelcol/offsets"},
        "filelog/app": {"include": ["/srv/app/logs/current.log", "/srv/app/*/x.log", "/opt/[ab]*/y.log"],
                        "offsets_directory": "/var/lib/otelcol/offsets"},
        "hostmetrics": {"root_path": "/hostfs"},
    })
    assert otelcol_kubernetes_needs(spec)["node_files"] == [
        {"path": "/opt", "mount_path": "/opt"},
        {"path": "/srv/app", "mount_path": "/srv/app"},
        {"path": "/var/log/pods", "mount_path": "/var/log/pods"},
        {"path": "/", "mount_path": "/hostfs"},
    ]


def test_host_metrics_without_a_root_path_read_the_pods_own_proc() -> None:
    assert otelcol_kubernetes_needs(agent_reading({"hostmetrics": {}}))["node_files"] == []


def kubelet_job(metrics_path: str, target: str = "${env:K8S_NODE_IP}:10250", **job: Any) -> Dict[str, Any]:
    return dict({"job_name": "kubelet-" + metrics_path.strip("/").replace("/", "-"), "targets": [target],
                 "metrics_path": metrics_path, "scheme": "https", "service_account": True}, **job)


def test_a_scrape_of_its_own_nodes_kubelet_with_the_service_account_is_granted_its_subresources() -> None:
    spec = agent_reading({"prometheus/kubelet": {"scrape_configs": [
        kubelet_job("/metrics/resource"), kubelet_job("/metrics/cadvisor"), kubelet_job("/stats/summary")]}})
    spec["pipelines"]["metrics"]["receivers"].append("prometheus/kubelet")
    needs = otelcol_kubernetes_needs(spec)
    assert needs["cluster_role_rules"] == [
        PODS_AND_NAMESPACES, {"apiGroups": [""], "resources": ["nodes/metrics", "nodes/stats"], "verbs": ["get"]}]
    assert needs["env"] == [NODE_NAME, {"name": "K8S_NODE_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}}]


@pytest.mark.parametrize("metrics_path,subresource", [
    ("/metrics", "metrics"), ("/metrics/probes", "metrics"), ("/stats/summary", "stats"), ("/logs/", "log"),
    ("/spec", "spec"), ("/pods", "proxy"), ("/metricsfoo", "proxy"),
])
def test_each_kubelet_path_is_granted_the_subresource_the_kubelet_checks(metrics_path: str, subresource: str) -> None:
    spec = agent_reading({"prometheus/kubelet": {"scrape_configs": [kubelet_job(metrics_path)]}})
    spec["pipelines"]["metrics"]["receivers"].append("prometheus/kubelet")
    assert otelcol_kubernetes_needs(spec)["cluster_role_rules"][-1] == {
        "apiGroups": [""], "resources": [f"nodes/{subresource}"], "verbs": ["get"]}


@pytest.mark.parametrize("job", [
    # Another host: not the kubelet, so nothing on nodes.
    kubelet_job("/metrics", target="kubernetes.default.svc:443"),
    # Its own credentials, not the pod's.
    kubelet_job("/metrics", service_account=False, bearer_token_file="/etc/token", insecure_skip_verify=True),
])
def test_other_scrapes_are_granted_nothing_on_nodes(job: Dict[str, Any]) -> None:
    spec = agent_reading({"prometheus/other": {"scrape_configs": [job]}})
    spec["pipelines"]["metrics"]["receivers"].append("prometheus/other")
    assert otelcol_kubernetes_needs(spec)["cluster_role_rules"] == [PODS_AND_NAMESPACES]


def test_downward_api_variables_the_config_reads_are_set_and_others_left_to_the_user() -> None:
    spec = agent_spec()
    spec["resource_attributes"] = {"k8s.pod.name": "${env:K8S_POD_NAME}", "team": "${env:TEAM}"}
    assert otelcol_kubernetes_needs(spec)["env"] == [
        NODE_NAME, {"name": "K8S_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]


def test_node_name_env_is_the_agents() -> None:
    spec = agent_spec()
    spec["kubernetes"]["node_name_env"] = "NODE"
    assert otelcol_kubernetes_needs(spec)["env"] == [
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]


@pytest.mark.parametrize("metadata, rules", [
    # Deployment names come from the ReplicaSet's name: no ReplicaSet watch (contrib v0.159.0).
    (["k8s.pod.name", "k8s.deployment.name", "k8s.node.name", "k8s.cronjob.name", "k8s.cluster.uid"],
     [PODS_AND_NAMESPACES]),
    (["k8s.node.uid"], [{"apiGroups": [""], "resources": ["pods", "namespaces", "nodes"], "verbs": VERBS}]),
    (["k8s.deployment.uid"], [PODS_AND_NAMESPACES, {"apiGroups": ["apps"], "resources": ["replicasets"],
                                                    "verbs": VERBS}]),
    (["k8s.cronjob.uid"], [PODS_AND_NAMESPACES, {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": VERBS}]),
    (["k8s.cronjob.uid", "k8s.node.uid", "k8s.deployment.uid"], [
        {"apiGroups": [""], "resources": ["pods", "namespaces", "nodes"], "verbs": VERBS},
        {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": VERBS},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": VERBS}]),
])
def test_rules_follow_the_metadata(metadata: List[str], rules: List[Dict[str, Any]]) -> None:
    assert otelcol_kubernetes_needs(agent_with(metadata))["cluster_role_rules"] == rules


def test_deployment_name_without_the_replicaset_name_trick_needs_replicasets() -> None:
    spec = agent_with(["k8s.deployment.name"], {"extract": {"deployment_name_from_replicaset": False}})
    assert otelcol_kubernetes_needs(spec)["cluster_role_rules"][1] == {
        "apiGroups": ["apps"], "resources": ["replicasets"], "verbs": VERBS}


def test_labels_and_annotations_from_other_kinds_through_overrides() -> None:
    spec = agent_with(["k8s.pod.name"], {"extract": {
        "labels": [{"key": "team", "from": "node"}, {"key": "app", "from": "deployment"},
                   {"key": "tier"}, {"key": "db", "from": "statefulset"}],
        "annotations": [{"key": "owner", "from": "daemonset"}, {"key": "batch", "from": "job"},
                        {"key": "cost", "from": "namespace"}]}})
    assert otelcol_kubernetes_needs(spec)["cluster_role_rules"] == [
        {"apiGroups": [""], "resources": ["pods", "namespaces", "nodes"], "verbs": VERBS},
        {"apiGroups": ["apps"], "resources": ["replicasets", "deployments", "statefulsets", "daemonsets"],
         "verbs": VERBS},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": VERBS},
    ]


def test_passthrough_needs_no_api_access() -> None:
    spec = agent_with(["k8s.node.uid"], {"passthrough": True})
    assert otelcol_kubernetes_needs(spec) == {
        "cluster_role_rules": [], "env": [NODE_NAME], "node_files": [],
        "egress": {"to": [{"host": "otelcol-gateway.observability.svc", "port": 4317}], "kubernetes_api": False}}


def test_env_follows_the_overridden_filter() -> None:
    assert otelcol_kubernetes_needs(agent_with(["k8s.pod.name"], {"filter": {"node_from_env_var": "N"}}))["env"] == [
        {"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    assert otelcol_kubernetes_needs(agent_with(["k8s.pod.name"], {"filter": None}))["env"] == []


@pytest.mark.parametrize("overrides", [
    {"extract": "junk"}, {"extract": {"metadata": "k8s.node.uid"}}, {"extract": {"metadata": [1, None]}},
    {"extract": {"labels": "x", "annotations": [1, {"from": 2}, {"from": "moon"}]}}, {"filter": ["x"]},
    {"filter": {"node_from_env_var": 3}}, {"passthrough": "yes"},
])
def test_odd_overrides_never_break_the_filter(overrides: Dict[str, Any]) -> None:
    needs = otelcol_kubernetes_needs(agent_with(["k8s.pod.name"], overrides))
    assert needs["cluster_role_rules"][0] == PODS_AND_NAMESPACES


def test_the_version_argument_and_the_old_processor_name() -> None:
    spec = agent_with(["k8s.node.uid"])
    assert "k8sattributes" in otelcol_config(spec, "0.145.0")["processors"]
    assert otelcol_kubernetes_needs(spec, "0.145.0") == otelcol_kubernetes_needs(spec)


def test_spec_problems_are_reported_under_the_filters_name() -> None:
    spec = agent_spec()
    spec["kubernetes"]["role"] = "node"
    with pytest.raises(AnsibleFilterError) as caught:
        otelcol_kubernetes_needs(spec)
    assert str(caught.value).splitlines() == [
        "otelcol_kubernetes_needs: 1 problem(s) in the spec:",
        "  - spec.kubernetes.role: 'node' is not accepted; accepted: agent, gateway"]


def test_documented_needs_and_processor_match_the_documented_agent() -> None:
    agent = documented_spec("otelcol_agent_spec")
    blocks = documented_blocks()
    assert otelcol_kubernetes_needs(agent) == next(block for block in blocks if "cluster_role_rules" in block)
    rendered = next(block for block in blocks if "processors" in block and "service" in block)
    config = otelcol_config(agent)
    assert config["processors"]["k8s_attributes"] == rendered["processors"]["k8s_attributes"]
    assert config["service"]["pipelines"]["traces"] == rendered["service"]["pipelines"]["traces"]
