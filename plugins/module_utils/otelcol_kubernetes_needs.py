# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 7, Kubernetes needs: what the workload running a configuration needs from the cluster.

It reads the final configuration (after overrides), so that what the collector
runs and what it is granted cannot drift apart: the RBAC rules of its
ClusterRole, for the k8sattributes processors it has and for the kubelet
endpoints it scrapes with its service account token, the environment
variables it reads from the downward API (the node's name and address...), and the node's
folders its receivers read (the folders of the filelog receivers' include
globs, the node's root for a hostmetrics receiver with a root_path), each
mounted read-only at the path the configuration names. A configuration without
k8sattributes, kubelet scrapes, downward API variables and node files (a
gateway, a host collector) needs nothing.

The k8sattributes rules follow "Role-based access control" in the processor's
README and the informers ``internal/kube/client.go`` starts (contrib v0.159.0);
the kubelet's follow the subresource its authorizer asks for a path
(``pkg/kubelet/server/auth.go``): nodes/metrics, stats, log or spec, and
nodes/proxy for any other path (the fallback newer kubelets keep).
"""

from __future__ import annotations

from collections.abc import Mapping
import posixpath
import re
from typing import Any, Dict, List, Set, Tuple

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Config
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_destinations import destinations, list_at, mapping_at
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    DOWNWARD_API_ENV,
    ENV_REFERENCE_PATTERN,
    NODE_IP_FIELD,
    NODE_NAME_FIELD,
    SERVICE_ACCOUNT_TOKEN_FILE,
    canonical_type,
    component_type,
    is_k8s_attributes,
)

VERBS = ["get", "list", "watch"]

ENV_REFERENCE = re.compile(ENV_REFERENCE_PATTERN)

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


GLOB_CHARACTERS = "*?[{"


def glob_folder(pattern: str) -> str:
    """The folder a file glob reads below: its path up to the first part with a glob character
    ('/var/log/pods/*/*/*.log' -> '/var/log/pods'; a plain file's folder for a plain path)."""
    parts = posixpath.normpath(pattern).split("/")
    fixed = []
    for part in parts[:-1]:
        if any(character in part for character in GLOB_CHARACTERS):
            break
        fixed.append(part)
    return "/".join(fixed) or "/"


def outermost(folders: List[str]) -> List[str]:
    """The folders that are not inside another of them, sorted."""
    result: List[str] = []
    for folder in sorted(set(folders)):
        if not any(folder == kept or folder.startswith(kept.rstrip("/") + "/") for kept in result):
            result.append(folder)
    return result


def node_files(config: Config) -> List[Config]:
    """The node's folders the receivers read, each {path, mount_path} (read-only): the folders of
    every filelog receiver's include globs at their own paths, and the node's root at a hostmetrics
    receiver's root_path (its scrapers read <root_path>/proc, /sys and the mounted filesystems)."""
    folders: List[str] = []
    roots: List[str] = []
    for receiver_id, receiver in (config.get("receivers") or {}).items():
        if not isinstance(receiver_id, str) or not isinstance(receiver, Mapping):
            continue
        receiver_type = canonical_type("receivers", component_type(receiver_id))
        if receiver_type == "filelog":
            folders += [glob_folder(item) for item in list_at(receiver, "include") if isinstance(item, str)]
        elif receiver_type == "hostmetrics" and isinstance(receiver.get("root_path"), str):
            roots.append(receiver["root_path"])
    mounts = [{"path": folder, "mount_path": folder} for folder in outermost(folders)]
    mounts += [{"path": "/", "mount_path": root} for root in sorted(set(roots))]
    return mounts


def referenced_env(value: Any) -> List[str]:
    """The names of the variables ${env:NAME} anywhere in a configuration, in the order first met."""
    names: List[str] = []
    if isinstance(value, Mapping):
        for item in value.values():
            names += referenced_env(item)
    elif isinstance(value, list):
        for item in value:
            names += referenced_env(item)
    elif isinstance(value, str):
        names += ENV_REFERENCE.findall(value)
    return list(dict.fromkeys(names))


def kubelet_subresource(metrics_path: str) -> str:
    """The node subresource the kubelet checks a request for (its authorizer's path mapping:
    /metrics... is 'metrics', /stats... 'stats', /logs... 'log', /spec... 'spec', anything else 'proxy')."""
    for prefix, subresource in (("/metrics", "metrics"), ("/stats", "stats"), ("/logs", "log"), ("/spec", "spec")):
        if metrics_path == prefix or metrics_path.startswith(prefix + "/"):
            return subresource
    return "proxy"


def kubelet_subresources(config: Config) -> List[str]:
    """The node subresources of the scrape jobs that send the pod's service account token to its own
    node's address (the kubelet's API), each named once, sorted."""
    subresources: Set[str] = set()
    for receiver_id, receiver in (config.get("receivers") or {}).items():
        if not isinstance(receiver_id, str) or canonical_type("receivers", component_type(receiver_id)) != "prometheus":
            continue
        for job in list_at(mapping_at(receiver, "config"), "scrape_configs"):
            if not isinstance(job, Mapping):
                continue
            token = mapping_at(job, "authorization").get("credentials_file")
            targets = [target for static in list_at(job, "static_configs") if isinstance(static, Mapping)
                       for target in list_at(static, "targets") if isinstance(target, str)]
            on_node = any(DOWNWARD_API_ENV.get(name) == NODE_IP_FIELD
                          for target in targets for name in ENV_REFERENCE.findall(target))
            if token == SERVICE_ACCOUNT_TOKEN_FILE and on_node:
                metrics_path = job.get("metrics_path", "/metrics")
                subresources.add(kubelet_subresource(metrics_path if isinstance(metrics_path, str) else "/metrics"))
    return sorted(subresources)


def kubernetes_needs(config: Config) -> Dict[str, List[Config]]:
    """The ClusterRole rules and the container environment the configuration needs (its
    k8sattributes processors' informers and node variable, the kubelet endpoints it scrapes
    with the service account's token, the downward API variables it reads), and the node's
    folders its receivers read."""
    resources: Set[str] = set()
    env_fields: Dict[str, str] = {}
    for processor_id, processor in (config.get("processors") or {}).items():
        if not isinstance(processor_id, str) or not is_k8s_attributes(processor_id):
            continue
        processor = processor if isinstance(processor, Mapping) else {}
        resources |= watched_resources(processor)
        env_name = mapping_at(processor, "filter").get("node_from_env_var")
        if isinstance(env_name, str) and env_name:
            env_fields.setdefault(env_name, NODE_NAME_FIELD)
    for name in referenced_env(config):
        if name in DOWNWARD_API_ENV:
            env_fields.setdefault(name, DOWNWARD_API_ENV[name])
    rules: List[Config] = []
    for group, group_resources in RESOURCES.items():
        listed = [resource for resource in group_resources if resource in resources]
        if listed:
            rules.append({"apiGroups": [group], "resources": listed, "verbs": list(VERBS)})
    subresources = kubelet_subresources(config)
    if subresources:
        rules.append({"apiGroups": [""], "resources": [f"nodes/{name}" for name in subresources], "verbs": ["get"]})
    env = [{"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}
           for name, field_path in env_fields.items()]
    egress = destinations(config)
    if egress is not None and resources:
        egress["kubernetes_api"] = True
    return {"cluster_role_rules": rules, "env": env, "node_files": node_files(config), "egress": egress}
