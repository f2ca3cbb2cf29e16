# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 7, Kubernetes needs: what the workload running a configuration needs from the cluster.

It reads the final configuration (after overrides), so that what the collector
runs and what it is granted cannot drift apart: the RBAC rules of its
ClusterRole, for the k8sattributes processors it has, and the environment
variables they read (the node's name, from the downward API). A configuration
without k8sattributes (a gateway, a host collector) needs nothing.

The rules follow "Role-based access control" in the processor's README and
the informers ``internal/kube/client.go`` starts (contrib v0.159.0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, List, Set, Tuple

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Config
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import is_k8s_attributes

VERBS = ["get", "list", "watch"]

# API group -> its resources, in the order the rules list them.
RESOURCES: Dict[str, Tuple[str, ...]] = {
    "": ("pods", "namespaces", "nodes"),
    "apps": ("replicasets", "deployments", "statefulsets", "daemonsets"),
    "batch": ("jobs",),
}

# The informer a metadata key starts, beyond pods and namespaces (which every
# k8sattributes processor watches).
METADATA_RESOURCES = {
    "k8s.node.uid": "nodes",
    "k8s.deployment.uid": "replicasets",
    "k8s.cronjob.uid": "jobs",
}

# The informers extract.labels and extract.annotations start, by their 'from'.
FROM_RESOURCES = {
    "node": ("nodes",),
    "deployment": ("replicasets", "deployments"),
    "statefulset": ("statefulsets",),
    "daemonset": ("daemonsets",),
    "job": ("jobs",),
}


def mapping_at(value: Any, key: str) -> Mapping:
    """value[key] when both are mappings, else empty (overrides may hold anything; the collector checks it)."""
    item = value.get(key) if isinstance(value, Mapping) else None
    return item if isinstance(item, Mapping) else {}


def list_at(value: Mapping, key: str) -> List[Any]:
    """value[key] when it is a list, else empty."""
    item = value.get(key)
    return item if isinstance(item, list) else []


def watched_resources(processor: Mapping) -> Set[str]:
    """The resources one k8sattributes processor watches; none in passthrough mode (it only tags the pod's IP)."""
    if processor.get("passthrough") is True:
        return set()
    extract = mapping_at(processor, "extract")
    metadata = [key for key in list_at(extract, "metadata") if isinstance(key, str)]
    resources = {"pods", "namespaces"}
    resources.update(METADATA_RESOURCES[key] for key in metadata if key in METADATA_RESOURCES)
    if "k8s.deployment.name" in metadata and extract.get("deployment_name_from_replicaset") is False:
        resources.add("replicasets")
    for rule in list_at(extract, "labels") + list_at(extract, "annotations"):
        source = rule.get("from", "pod") if isinstance(rule, Mapping) else "pod"
        if isinstance(source, str):
            resources.update(FROM_RESOURCES.get(source, ()))
    return resources


def kubernetes_needs(config: Config) -> Dict[str, List[Config]]:
    """The ClusterRole rules and the container environment the configuration's k8sattributes processors need."""
    resources: Set[str] = set()
    env_names: List[str] = []
    for processor_id, processor in (config.get("processors") or {}).items():
        if not isinstance(processor_id, str) or not is_k8s_attributes(processor_id):
            continue
        processor = processor if isinstance(processor, Mapping) else {}
        resources |= watched_resources(processor)
        env_name = mapping_at(processor, "filter").get("node_from_env_var")
        if isinstance(env_name, str) and env_name and env_name not in env_names:
            env_names.append(env_name)
    rules: List[Config] = []
    for group, group_resources in RESOURCES.items():
        listed = [resource for resource in group_resources if resource in resources]
        if listed:
            rules.append({"apiGroups": [group], "resources": listed, "verbs": list(VERBS)})
    env = [{"name": name, "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}} for name in env_names]
    return {"cluster_role_rules": rules, "env": env}
