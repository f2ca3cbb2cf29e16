# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes objects for one component, built from the description its role
gives the shared lifecycle (``common_component``), so that one variable means
one thing on a host and on a cluster.

The configuration files a host role writes become one ConfigMap (and one Secret
for the files marked ``secret``) whose name carries a digest of their content:
a changed configuration is a new object, the workload's pod template names it,
and the rollout replaces the pods, while the pods still running keep the old,
unchanged object until they are gone. Before the workload changes, a Job runs
the component's own ``validate`` command on the new objects in the component's
image: a configuration the binary refuses fails the play with the running pods
untouched.

``build_manifests`` returns plain data; the role applies it with
kubernetes.core. Every problem is a ``ManifestError`` naming the key.
"""

from __future__ import annotations

import base64
import hashlib
import json
import posixpath
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple
from urllib.parse import urlsplit

from ansible_collections.observability.lgtm.plugins.module_utils.k8s_network_policy import (
    NetworkPolicyError,
    network_policy,
)

Object = Dict[str, Any]

PART_OF = "observability-lgtm"
MANAGED_BY = "observability.lgtm"
KINDS = ("Deployment", "DaemonSet", "StatefulSet")
TRAFFIC_POLICIES = ("Cluster", "Local")
# The unprivileged user every container runs as unless the role says otherwise.
DEFAULT_RUN_AS_USER = 10001
NAME_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# A PriorityClass name is a DNS subdomain.
SUBDOMAIN_PATTERN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# Priorities above this are reserved for the cluster's own system-* classes (the API server refuses
# them in any other class).
HIGHEST_USER_PRIORITY = 1_000_000_000
TOLERATION_KEYS = ("key", "operator", "value", "effect", "tolerationSeconds")
CONFIG_KEY_PATTERN = re.compile(r"[^-._a-zA-Z0-9]")


def headless_service_name(name: str) -> str:
    """The headless Service of a StatefulSet: one DNS record per ready pod (the agents' load
    balancing resolves it), beside the component's ClusterIP Service."""
    return f"{name}-headless"


class ManifestError(Exception):
    """A problem with a component's description, phrased for the user (key first)."""


def digest(value: Any) -> str:
    """A short, stable digest of JSON-able data: names a configuration's objects."""
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode("utf-8")).hexdigest()[:10]


def require(mapping: Mapping[str, Any], key: str, kind: type, path: str, default: Any = None) -> Any:
    """The value at key with the expected type, or default when absent or null."""
    value = mapping.get(key)
    if value is None:
        if default is None:
            raise ManifestError(f"{path}.{key}: required, missing")
        return default
    if kind is int and isinstance(value, str) and value.isdigit():
        return int(value)
    if kind is bool and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{path}.{key}: expected {kind.__name__}, got {type(value).__name__}")
    return value


def labels_for(name: str, version: str) -> Tuple[Dict[str, str], Dict[str, str]]:
    """The selector labels of a component's pods, and all labels of its objects."""
    selector = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF}
    labels = dict(selector, **{"app.kubernetes.io/managed-by": MANAGED_BY})
    if version:
        labels["app.kubernetes.io/version"] = re.sub(r"[^-._a-zA-Z0-9]", "-", version)[:63]
    return selector, labels


def metadata(name: str, namespace: Optional[str], labels: Dict[str, str]) -> Object:
    """Object metadata; cluster-scoped objects have no namespace."""
    meta: Object = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    return meta


def config_key(dest: str, taken: List[str]) -> str:
    """A ConfigMap key for a file: its base name, made unique and valid."""
    key = CONFIG_KEY_PATTERN.sub("-", posixpath.basename(dest)) or "file"
    candidate, index = key, 1
    while candidate in taken:
        index += 1
        candidate = f"{index}-{key}"
    taken.append(candidate)
    return candidate


def readiness_probe(component: Mapping[str, Any], kube: Mapping[str, Any], path: str) -> Optional[Object]:
    """An HTTP probe from the readiness URL the host lifecycle waits on; a TCP
    probe of its port when that URL needs credentials (readiness_auth): a probe's
    headers are in the pod spec, which anyone who may read the workload reads."""
    readiness = kube.get("readiness")
    if readiness is None:
        url = component.get("readiness_url") or ""
        if not url:
            return None
        parts = urlsplit(url)
        if not parts.port:
            raise ManifestError(f"{path}.readiness_url: {url!r} has no port; set kubernetes.readiness")
        if component.get("readiness_auth"):
            return {"tcpSocket": {"port": parts.port}}
        readiness = {"path": parts.path or "/", "port": parts.port, "scheme": (parts.scheme or "http").upper()}
    if not isinstance(readiness, Mapping):
        raise ManifestError(f"{path}.kubernetes.readiness: expected dict, got {type(readiness).__name__}")
    return {"httpGet": {"path": require(readiness, "path", str, f"{path}.kubernetes.readiness", "/"),
                        "port": require(readiness, "port", int, f"{path}.kubernetes.readiness"),
                        "scheme": readiness.get("scheme", "HTTP")}}


def read_ports(kube: Mapping[str, Any], path: str) -> List[Object]:
    """Container ports: name, port, protocol, optional host port, whether the Service exposes it."""
    ports = require(kube, "ports", list, path, [])
    result = []
    for index, port in enumerate(ports):
        where = f"{path}.ports[{index}]"
        if not isinstance(port, Mapping):
            raise ManifestError(f"{where}: expected dict, got {type(port).__name__}")
        entry = {"name": require(port, "name", str, where), "port": require(port, "port", int, where),
                 "protocol": require(port, "protocol", str, where, "TCP"),
                 "host_port": require(port, "host_port", int, where, 0),
                 "service": require(port, "service", bool, where, True)}
        if not 0 < entry["port"] < 65536:
            raise ManifestError(f"{where}.port: {entry['port']} is not a port number")
        result.append(entry)
    return result


def environment(component: Mapping[str, Any], kube: Mapping[str, Any], path: str,
                file_refs: Mapping[str, Object]) -> List[Object]:
    """The unit's environment (the same variables as on a host), the kubernetes
    overrides, variables whose value is a configuration file's content
    (env_from_files: name to the file's dest; a secret file's from the Secret,
    so the value is never in the pod spec), then any EnvVar objects (downward API values)."""
    unit = component.get("unit") or {}
    plain = dict(unit.get("environment") or {})
    plain.update(require(kube, "env", dict, path, {}))
    env: List[Object] = [{"name": str(key), "value": str(value)} for key, value in sorted(plain.items())]
    for name, dest in sorted(require(kube, "env_from_files", dict, path, {}).items()):
        if dest not in file_refs:
            raise ManifestError(f"{path}.env_from_files.{name}: {dest!r} is not the dest of one of the config_files")
        env.append({"name": str(name), "valueFrom": file_refs[dest]})
    env.extend(require(kube, "env_objects", list, path, []))
    return env


def config_objects(name: str, namespace: str, labels: Dict[str, str], component: Mapping[str, Any],
                   path: str) -> Tuple[List[Object], List[Object], List[Object], str, Dict[str, Object]]:
    """The configuration files as one ConfigMap and one Secret (when a file is
    secret), named by a digest of their content; the pod's volumes and mounts,
    and for each file's dest the reference an environment variable takes its value from."""
    files = require(component, "config_files", list, path, [])
    taken: List[str] = []
    plain: Dict[str, str] = {}
    secret: Dict[str, str] = {}
    mounts: List[Object] = []
    keys: Dict[str, Tuple[str, bool]] = {}
    for index, item in enumerate(files):
        where = f"{path}.config_files[{index}]"
        if not isinstance(item, Mapping):
            raise ManifestError(f"{where}: expected dict, got {type(item).__name__}")
        dest = require(item, "dest", str, where)
        content = require(item, "content", str, where, "")
        is_secret = require(item, "secret", bool, where, False)
        key = config_key(dest, taken)
        (secret if is_secret else plain)[key] = content
        keys[dest] = (key, is_secret)
        mounts.append({"name": "secret" if is_secret else "config", "mountPath": dest, "subPath": key,
                       "readOnly": True})
    config_digest = digest({"plain": plain, "secret": secret})
    config_name, secret_name = f"{name}-config-{config_digest}", f"{name}-secret-{config_digest}"
    file_refs = {dest: ({"secretKeyRef": {"name": secret_name, "key": key}} if is_secret
                        else {"configMapKeyRef": {"name": config_name, "key": key}})
                 for dest, (key, is_secret) in keys.items()}
    objects: List[Object] = []
    volumes: List[Object] = []
    if plain:
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "immutable": True,
                        "metadata": metadata(config_name, namespace, labels), "data": plain})
        volumes.append({"name": "config", "configMap": {"name": config_name}})
    if secret:
        objects.append({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "immutable": True,
                        "metadata": metadata(secret_name, namespace, labels),
                        "data": {key: base64.b64encode(value.encode("utf-8")).decode("ascii")
                                 for key, value in secret.items()}})
        volumes.append({"name": "secret", "secret": {"secretName": secret_name, "defaultMode": 0o440}})
    return objects, volumes, mounts, config_digest, file_refs


def security_contexts(kube: Mapping[str, Any], path: str, on_node: bool) -> Tuple[Object, Object]:
    """Pod and container security contexts: an unprivileged user, no privilege
    escalation, no capabilities, the runtime's seccomp profile and, where the
    binary allows, a read-only root filesystem. A pod that reads or writes the
    node's folders (on_node) runs as user 0 unless run_as_user says otherwise,
    still without any capability: the node's log files (mode 0640) and the
    folders a hostPath creates (0755) belong to root, whose owner bits then let it
    read and write them, while it can bypass no permission (no CAP_DAC_OVERRIDE
    or CAP_DAC_READ_SEARCH), change no owner and load nothing."""
    user = require(kube, "run_as_user", int, path, 0 if on_node else DEFAULT_RUN_AS_USER)
    if user == 0 and not on_node:
        raise ManifestError(f"{path}.run_as_user: 0 is root; only a pod that reads or writes the node's folders "
                            f"(node_files, node_data_dir) may run as root, and never with a capability")
    pod = {"runAsNonRoot": user != 0, "runAsUser": user, "runAsGroup": user, "fsGroup": user,
           "seccompProfile": {"type": "RuntimeDefault"}}
    container = {"allowPrivilegeEscalation": False, "privileged": False,
                 "readOnlyRootFilesystem": require(kube, "read_only_root_filesystem", bool, path, True),
                 "capabilities": {"drop": ["ALL"]}}
    return pod, container


def node_data_folder(node_data_dir: str, namespace: str, name: str, index: int) -> str:
    """Where a DaemonSet pod keeps its data directory number `index` on its node."""
    return posixpath.join(node_data_dir, namespace, name, f"data-{index}")


def data_volumes(name: str, namespace: str, component: Mapping[str, Any], kube: Mapping[str, Any], kind: str,
                 path: str) -> Tuple[List[Object], List[Object], Optional[str]]:
    """Volumes for the data directories (the first on a PersistentVolumeClaim
    when a storage size is set; a DaemonSet's on its node, under node_data_dir,
    when that is set, so that they outlive the pod), the writable directories and /tmp."""
    data_dirs = [str(item) for item in require(component, "data_dirs", list, path, [])]
    storage_size = require(kube, "storage_size", str, path, "")
    node_data_dir = require(kube, "node_data_dir", str, f"{path}.kubernetes", "")
    if storage_size and kind == "DaemonSet":
        raise ManifestError(f"{path}.kubernetes.storage_size: a DaemonSet keeps no claim; leave it empty")
    if node_data_dir and kind != "DaemonSet":
        raise ManifestError(f"{path}.kubernetes.node_data_dir: only a DaemonSet keeps its data on its node; "
                            f"leave it empty")
    if node_data_dir and not posixpath.isabs(node_data_dir):
        raise ManifestError(f"{path}.kubernetes.node_data_dir: {node_data_dir!r} is not an absolute path")
    volumes: List[Object] = []
    mounts: List[Object] = []
    claim = None
    writable = data_dirs + [str(item) for item in require(kube, "writable_dirs", list, path, [])]
    if "/tmp" not in writable:
        writable.append("/tmp")
    for index, directory in enumerate(writable):
        volume = f"data-{index}"
        if index == 0 and data_dirs and storage_size:
            claim = f"{name}-data"
            volumes.append({"name": volume, "persistentVolumeClaim": {"claimName": claim}})
        elif index < len(data_dirs) and node_data_dir:
            volumes.append({"name": volume, "hostPath": {"path": node_data_folder(node_data_dir, namespace, name, index),
                                                         "type": "DirectoryOrCreate"}})
        else:
            volumes.append({"name": volume, "emptyDir": {}})
        mounts.append({"name": volume, "mountPath": directory})
    return volumes, mounts, claim


def node_file_volumes(kube: Mapping[str, Any], path: str) -> Tuple[List[Object], List[Object]]:
    """Read-only hostPath volumes for the node's folders the configuration reads (node_files:
    {path, mount_path} each, from otelcol_kubernetes_needs). A hostPath is bind-mounted with the
    mounts below it, so the node's root comes with its /proc, /sys and file systems as they are
    when the pod starts; no mount propagation, which a node whose / is a private mount refuses
    ("path / is mounted on / but it is not a shared or slave mount", seen in the lab)."""
    volumes: List[Object] = []
    mounts: List[Object] = []
    for index, item in enumerate(require(kube, "node_files", list, path, [])):
        where = f"{path}.node_files[{index}]"
        if not isinstance(item, Mapping):
            raise ManifestError(f"{where}: expected dict, got {type(item).__name__}")
        host_path, mount_path = require(item, "path", str, where), require(item, "mount_path", str, where)
        for key, value in (("path", host_path), ("mount_path", mount_path)):
            if not posixpath.isabs(value):
                raise ManifestError(f"{where}.{key}: {value!r} is not an absolute path")
        volume = f"node-{index}"
        volumes.append({"name": volume, "hostPath": {"path": host_path, "type": "Directory"}})
        mounts.append({"name": volume, "mountPath": mount_path, "readOnly": True})
    return volumes, mounts


def tolerations_of(kube: Mapping[str, Any], path: str) -> List[Object]:
    """The pods' tolerations (Kubernetes' own fields), each checked for its keys and operator."""
    result = []
    for index, toleration in enumerate(require(kube, "tolerations", list, path, [])):
        where = f"{path}.tolerations[{index}]"
        if not isinstance(toleration, Mapping):
            raise ManifestError(f"{where}: expected dict, got {type(toleration).__name__}")
        unknown = sorted(str(key) for key in toleration if key not in TOLERATION_KEYS)
        if unknown:
            raise ManifestError(f"{where}: unknown key(s) {', '.join(unknown)}; a toleration has "
                                f"{', '.join(TOLERATION_KEYS)}")
        operator = toleration.get("operator", "Equal")
        if operator not in ("Equal", "Exists"):
            raise ManifestError(f"{where}.operator: {operator!r} is not one of Equal, Exists")
        if operator == "Exists" and toleration.get("value"):
            raise ManifestError(f"{where}.value: an Exists toleration takes no value")
        result.append(dict(toleration))
    return result


def priority_class_of(kube: Mapping[str, Any], path: str, labels: Dict[str, str]) -> Tuple[str, Optional[Object]]:
    """The pods' priority class name, and the PriorityClass to create when a value is given
    (none when the class is the cluster's own or another's, named without a value)."""
    name = require(kube, "priority_class", str, path, "")
    value = require(kube, "priority", int, path, 0)
    if not name:
        if value:
            raise ManifestError(f"{path}.priority: {value} needs a priority_class to name the class")
        return "", None
    if not SUBDOMAIN_PATTERN.match(name) or len(name) > 253:
        raise ManifestError(f"{path}.priority_class: {name!r} is not a Kubernetes object name")
    if not value:
        return name, None
    if name.startswith("system-"):
        raise ManifestError(f"{path}.priority_class: {name!r}: names starting with system- are the cluster's own")
    if not 0 < value <= HIGHEST_USER_PRIORITY:
        raise ManifestError(f"{path}.priority: {value} is not between 1 and {HIGHEST_USER_PRIORITY:,} "
                            "(higher values are the cluster's own)")
    return name, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": metadata(name, None, labels),
                  "value": value, "globalDefault": False, "preemptionPolicy": "PreemptLowerPriority",
                  "description": f"Pods of {labels['app.kubernetes.io/name']} ({PART_OF}): scheduled before, and "
                                 "in place of, ordinary workloads."}


def cluster_role_name(name: str, namespace: str) -> str:
    """The ClusterRole (and its binding) of a component: cluster-wide, so the namespace is in the name."""
    return f"{PART_OF}-{namespace}-{name}"


def removal_identity(name: str, namespace: str) -> Object:
    """What removal needs, from the name alone: the pods' label selector and the
    cluster-scoped objects the component may have (deleting a missing one is a no-op)."""
    selector, _labels = labels_for(name, "")
    role_name = cluster_role_name(name, namespace)
    return {"selector": ",".join(f"{key}={value}" for key, value in selector.items()),
            "cluster_objects": [{"kind": "ClusterRoleBinding", "name": role_name},
                                {"kind": "ClusterRole", "name": role_name}]}


def build_manifests(component: Any, namespace: Any, extra_labels: Any = None, removal: bool = False) -> Object:
    """Every object of one component on Kubernetes, in the order they are applied.

    Returns ``namespace`` (the Namespace object), ``config`` (the ServiceAccount,
    ConfigMap and Secret: what the validation Job needs),
    ``validate_job`` (a Job or None), ``objects`` (RBAC, claim, Service,
    workload), ``workload`` (kind and name), ``selector`` (the pods'
    label selector), ``config_names``, ``job_name`` and ``cluster_objects``
    (cluster-scoped kinds and names, which a label query in a namespace misses).
    With ``removal``, only the name is read (a removed component's configuration
    need not render) and only ``selector`` and ``cluster_objects`` are returned.
    """
    if not isinstance(component, Mapping):
        raise ManifestError(f"common_component: expected dict, got {type(component).__name__}")
    path = "common_component"
    name = require(component, "name", str, path)
    if not NAME_PATTERN.match(name) or len(name) > 40:
        raise ManifestError(f"{path}.name: {name!r} is not a Kubernetes name (lower case, digits, '-', at most 40)")
    if not isinstance(namespace, str) or not NAME_PATTERN.match(namespace):
        raise ManifestError(f"lgtm_kubernetes_namespace: {namespace!r} is not a Kubernetes namespace name")
    if removal:
        return removal_identity(name, namespace)
    kube = require(component, "kubernetes", dict, path)
    kpath = f"{path}.kubernetes"
    version = str(component.get("version") or "")
    selector, labels = labels_for(name, version)
    labels.update({str(k): str(v) for k, v in (extra_labels or {}).items()})
    kind = require(kube, "kind", str, kpath, "Deployment")
    if kind not in KINDS:
        raise ManifestError(f"{kpath}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    image = require(kube, "image", str, kpath)
    pull_policy = require(kube, "image_pull_policy", str, kpath, "IfNotPresent")
    command = [str(item) for item in require(kube, "command", list, kpath)]
    validate = [str(item) for item in require(kube, "validate", list, kpath, [])]
    ports = read_ports(kube, kpath)
    policy = require(kube, "internal_traffic_policy", str, kpath, "Cluster")
    if policy not in TRAFFIC_POLICIES:
        raise ManifestError(f"{kpath}.internal_traffic_policy: {policy!r} is not one of {', '.join(TRAFFIC_POLICIES)}")
    rules = require(kube, "cluster_role_rules", list, kpath, [])

    config, config_volumes, config_mounts, config_digest, file_refs = config_objects(name, namespace, labels, component,
                                                                                     path)
    volumes, data_mounts, claim = data_volumes(name, namespace, component, kube, kind, path)
    node_volumes, node_mounts = node_file_volumes(kube, kpath)
    data_on_node = any("hostPath" in volume for volume in volumes)
    on_node = bool(node_volumes) or data_on_node
    pod_security, container_security = security_contexts(kube, kpath, on_node)
    tolerations = tolerations_of(kube, kpath)
    priority_class, priority_class_object = priority_class_of(kube, kpath, labels)
    env = environment(component, kube, kpath, file_refs)
    probe = readiness_probe(component, kube, path)

    container: Object = {
        "name": name, "image": image, "imagePullPolicy": pull_policy, "command": command, "env": env,
        "ports": [dict({"name": p["name"], "containerPort": p["port"], "protocol": p["protocol"]},
                       **({"hostPort": p["host_port"]} if p["host_port"] else {})) for p in ports],
        "volumeMounts": config_mounts + data_mounts + node_mounts,
        "securityContext": container_security,
        "resources": require(kube, "resources", dict, kpath, {}),
    }
    if probe:
        container["readinessProbe"] = dict(probe, periodSeconds=2, failureThreshold=3)
        # A restart only for a process that stopped answering for a minute, well
        # after it first became ready.
        container["livenessProbe"] = dict(probe, initialDelaySeconds=30, periodSeconds=10, failureThreshold=6)
    pod_spec: Object = {
        "serviceAccountName": name,
        "automountServiceAccountToken": bool(rules),
        "securityContext": pod_security,
        "terminationGracePeriodSeconds": require(kube, "termination_grace_period", int, kpath, 30),
        "containers": [container],
        "volumes": config_volumes + volumes + node_volumes,
    }
    # Placement only: the validation Job below runs without them (its class may not exist yet).
    placement: Object = {}
    if tolerations:
        placement["tolerations"] = tolerations
    if priority_class:
        placement["priorityClassName"] = priority_class
    template = {"metadata": {"labels": dict(labels), "annotations": {"observability.lgtm/config": config_digest}},
                "spec": dict(pod_spec, **placement)}

    # The validation Job runs as the component's ServiceAccount: it comes first.
    service_account: Object = {"apiVersion": "v1", "kind": "ServiceAccount", "automountServiceAccountToken": False,
                               "metadata": metadata(name, namespace, labels)}
    objects: List[Object] = []
    cluster_objects: List[Object] = []
    if priority_class_object:
        objects.append(priority_class_object)
    if rules:
        role_name = cluster_role_name(name, namespace)
        objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                        "metadata": metadata(role_name, None, labels), "rules": rules})
        objects.append({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                        "metadata": metadata(role_name, None, labels),
                        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
                        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}]})
        cluster_objects = [{"kind": "ClusterRoleBinding", "name": role_name}, {"kind": "ClusterRole", "name": role_name}]
    replicas = 1 if kind == "DaemonSet" else require(kube, "replicas", int, kpath, 1)
    if replicas < 1:
        raise ManifestError(f"{kpath}.replicas: {replicas} is below 1")
    claim_template: Optional[Object] = None
    if claim:
        claim_spec: Object = {"accessModes": ["ReadWriteOnce"],
                              "resources": {"requests": {"storage": require(kube, "storage_size", str, kpath)}}}
        storage_class = require(kube, "storage_class", str, kpath, "")
        if storage_class:
            claim_spec["storageClassName"] = storage_class
        if kind == "StatefulSet":
            # A claim per pod, made from the template: the volume is the claim's (the pod lists none).
            claim_volume = next(volume for volume in volumes if "persistentVolumeClaim" in volume)
            template["spec"]["volumes"] = [volume for volume in template["spec"]["volumes"] if volume is not claim_volume]
            claim_template = {"metadata": {"name": claim_volume["name"], "labels": dict(labels)}, "spec": claim_spec}
        else:
            objects.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                            "metadata": metadata(claim, namespace, labels), "spec": claim_spec})
    service_ports = [{"name": p["name"], "port": p["port"], "targetPort": p["name"], "protocol": p["protocol"]}
                     for p in ports if p["service"]]
    if service_ports:
        objects.append({"apiVersion": "v1", "kind": "Service", "metadata": metadata(name, namespace, labels),
                        "spec": {"type": "ClusterIP", "selector": selector, "ports": service_ports,
                                 "internalTrafficPolicy": policy}})
    if require(kube, "network_policy", bool, kpath, False):
        try:
            objects.append(network_policy(metadata(name, namespace, labels), selector, ports, kube, kpath))
        except NetworkPolicyError as error:
            raise ManifestError(str(error)) from None
    if kind == "StatefulSet":
        # One address per ready pod: senders that pick the pod themselves (the agents' load
        # balancing by trace ID) resolve this name; a pod that is not ready is left out.
        objects.append({"apiVersion": "v1", "kind": "Service",
                        "metadata": metadata(headless_service_name(name), namespace, labels),
                        "spec": {"clusterIP": "None", "selector": selector, "publishNotReadyAddresses": False,
                                 "ports": service_ports}})
    if replicas > 1:
        # A voluntary eviction (a drain) takes one pod at a time; the others carry the load.
        objects.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                        "metadata": metadata(name, namespace, labels),
                        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector}}})
        # Spread over the nodes where it can be, on one node where it cannot (a one-node cluster).
        template["spec"]["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector}}]
    workload_spec: Object = {"selector": {"matchLabels": selector}, "template": template}
    if kind == "StatefulSet":
        workload_spec.update({
            "replicas": replicas, "serviceName": headless_service_name(name),
            # Pods start and stop together (none waits for another's readiness); an update
            # still replaces them one at a time, each back with its own claim and queue.
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "volumeClaimTemplates": [claim_template] if claim_template else [],
            # A claim outlives its pod and a scale-down: what a removed pod's queue still held
            # is sent by whichever pod takes that claim again.
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"}})
    elif kind == "Deployment":
        workload_spec["replicas"] = replicas
        # A volume a single node mounts cannot be shared by the old and the new
        # pod: replace, else surge so the old pod serves until the new is ready.
        workload_spec["strategy"] = ({"type": "Recreate"} if claim else
                                     {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    else:
        # A node's new pod may start beside its old one (surge: the node is never without one) only
        # where the two cannot clash: pods that keep data on their node would open the same queue and
        # offsets files (bbolt holds a lock on each), and a host port is bound once. Otherwise the old
        # pod goes first; its data waits on the node for the new one.
        node_bound = data_on_node or any(port["host_port"] for port in ports)
        workload_spec["updateStrategy"] = {"type": "RollingUpdate", "rollingUpdate": (
            {"maxUnavailable": 1, "maxSurge": 0} if node_bound else {"maxUnavailable": 0, "maxSurge": 1})}
    objects.append({"apiVersion": "apps/v1", "kind": kind, "metadata": metadata(name, namespace, labels),
                    "spec": workload_spec})

    job = None
    job_name = ""
    if validate and config:
        job_name = f"{name}-validate-{config_digest}"
        job_labels = dict(labels, **{"app.kubernetes.io/name": f"{name}-validate",
                                     "observability.lgtm/validates": name})
        job_container = dict(container, name="validate", command=validate, ports=[])
        for probe_key in ("readinessProbe", "livenessProbe"):
            job_container.pop(probe_key, None)
        # The Job checks the configuration only: empty folders stand in for the data and the node's.
        # It gets the service account token where the workload does: the collector refuses a
        # scrape job whose credentials file is missing.
        job_volumes = config_volumes + [{"name": volume["name"], "emptyDir": {}} for volume in volumes + node_volumes]
        job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata(job_name, namespace, job_labels),
               "spec": {"backoffLimit": 0, "activeDeadlineSeconds": 300,
                        "template": {"metadata": {"labels": job_labels},
                                     "spec": dict(pod_spec, restartPolicy="Never", containers=[job_container],
                                                  volumes=job_volumes)}}}
    # A workload of another kind under the same name is what an earlier release of the role
    # deployed (the gateway was a Deployment): it goes once this one is rolled out.
    superseded = ([{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": namespace}}]
                  if kind == "StatefulSet" else [])
    return {
        "superseded": superseded,
        "namespace": {"apiVersion": "v1", "kind": "Namespace",
                      "metadata": {"name": namespace, "labels": {"app.kubernetes.io/part-of": PART_OF}}},
        "config": [service_account] + config,
        "validate_job": job,
        "objects": objects,
        "workload": {"kind": kind, "name": name},
        "selector": ",".join(f"{key}={value}" for key, value in selector.items()),
        "config_names": [item["metadata"]["name"] for item in config],
        "job_name": job_name,
        "cluster_objects": cluster_objects,
        "secret": any(item["kind"] == "Secret" for item in config),
    }
