"""What the lab adds to a fresh cluster: CoreDNS (cluster names only), the
default StorageClass, and the small provisioner loop that gives each claim of
that class a hostPath volume on the node."""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from .cluster import Api
from .layout import DNS_IP, Layout
from .node import Node

STORAGE_CLASS = "lab-hostpath"
PROVISIONER = "lab.observability.lgtm/hostpath"


# CoreDNS as kubeadm configures it, for cluster names only (no `forward`: the host's resolvers
# are out of reach; no `loop`). The lab builds CoreDNS with the plugins these directives
# name and no others (lab/k8s/build.py).
COREFILE = """.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    cache 30
    reload
    loadbalance
}
"""


def coredns_manifests(image: str) -> list[dict[str, Any]]:
    """CoreDNS as kubeadm deploys it, from the locally imported image, with COREFILE."""
    labels = {"k8s-app": "kube-dns"}
    meta = {"name": "coredns", "namespace": "kube-system"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "system:coredns"},
         "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                    "verbs": ["list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:coredns"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "system:coredns"},
         "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"Corefile": COREFILE}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {**meta, "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "serviceAccountName": "coredns", "dnsPolicy": "Default",
                      "priorityClassName": "system-cluster-critical",
                      "containers": [{
                          "name": "coredns", "image": image, "imagePullPolicy": "Never",
                          "args": ["-conf", "/etc/coredns/Corefile"],
                          "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                    {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
                          "resources": {"requests": {"cpu": "50m", "memory": "40Mi"},
                                        "limits": {"memory": "170Mi"}},
                          "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns",
                                            "readOnly": True}],
                          "livenessProbe": {"httpGet": {"path": "/health", "port": 8080},
                                            "initialDelaySeconds": 10, "periodSeconds": 10},
                          "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181},
                                             "periodSeconds": 2}}],
                      "volumes": [{"name": "config", "configMap": {"name": "coredns"}}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
         "spec": {"clusterIP": DNS_IP, "selector": labels,
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                            {"name": "metrics", "port": 9153, "protocol": "TCP"}]}},
    ]


def storage_class() -> dict[str, Any]:
    """The default StorageClass: PVCs without a class get it (DefaultStorageClass
    admission), and the lab's provisioner loop (`provision_once`) makes their PVs.

    Bound when the first pod that uses a claim is scheduled (WaitForFirstConsumer), as
    node-local provisioners are: with Immediate binding the scheduler refuses a pod whose
    claim the loop has not yet bound ("pod has unbound immediate PersistentVolumeClaims")
    and, seen once in the kubernetes scenario (kube-scheduler 1.34.4), never retried it
    after the claim was bound until its five-minute flush of unschedulable pods: the
    Prometheus Deployment timed out. With delayed binding the scheduler waits for the
    claim inside the pod's binding instead (the loop's pre-bound PV satisfies it)."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS,
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "WaitForFirstConsumer"}


def persistent_volume_for(claim: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The PV that satisfies a pending claim: a hostPath folder on the one node,
    pre-bound to the claim (the PV controller completes the binding)."""
    meta, spec = claim["metadata"], claim["spec"]
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"pvc-{meta['uid']}",
                         "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
            "spec": {"capacity": {"storage": spec["resources"]["requests"]["storage"]},
                     "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                     "volumeMode": spec.get("volumeMode", "Filesystem"),
                     "persistentVolumeReclaimPolicy": "Delete",
                     "storageClassName": spec["storageClassName"],
                     "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                  "namespace": meta["namespace"], "name": meta["name"],
                                  "uid": meta["uid"]},
                     "hostPath": {"path": str(directory), "type": "DirectoryOrCreate"}}}


def claims_to_provision(claims: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pending claims of the lab's class that no PV names yet (Filesystem only)."""
    claimed = {(volume["spec"].get("claimRef") or {}).get("uid") for volume in volumes}
    return [claim for claim in claims
            if claim["spec"].get("storageClassName") == STORAGE_CLASS
            and not claim["spec"].get("volumeName")
            and claim.get("status", {}).get("phase", "Pending") == "Pending"
            and claim["spec"].get("volumeMode", "Filesystem") == "Filesystem"
            and claim["metadata"]["uid"] not in claimed
            and not claim["metadata"].get("deletionTimestamp")]


def volumes_to_delete(volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lab's PVs whose claim is gone (phase Released, reclaim policy Delete)."""
    return [volume for volume in volumes
            if volume["metadata"].get("annotations", {}).get("pv.kubernetes.io/provisioned-by")
            == PROVISIONER and volume.get("status", {}).get("phase") == "Released"
            and volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete"]


# --- the volume provisioner ---------------------------------------------------------

def provision_once(api: Api, volumes_dir: Path) -> None:
    """One pass: a hostPath PV (a new folder, writable by any pod user) for each
    pending claim of the lab's class; the folder and PV of each released volume removed."""
    claims = api.get("/api/v1/persistentvolumeclaims")["items"]
    volumes = api.get("/api/v1/persistentvolumes")["items"]
    for claim in claims_to_provision(claims, volumes):
        meta = claim["metadata"]
        directory = volumes_dir / f"{meta['namespace']}-{meta['name']}-{meta['uid'][:8]}"
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)
        api.call("POST", "/api/v1/persistentvolumes", persistent_volume_for(claim, directory))
        print(f"provisioned {directory} for {meta['namespace']}/{meta['name']}", flush=True)
    for volume in volumes_to_delete(volumes):
        path = Path(volume["spec"]["hostPath"]["path"])
        if path.parent == volumes_dir:
            shutil.rmtree(path, ignore_errors=True)
        api.call("DELETE", f"/api/v1/persistentvolumes/{volume['metadata']['name']}")
        print(f"deleted {volume['metadata']['name']} and {path}", flush=True)


def provisioner(layout: Layout, node: Node) -> None:
    """The provisioner loop `up` starts (`k8s_lab.py provisioner`): every 2 seconds."""
    api = Api(layout, node)
    while True:
        try:
            provision_once(api, layout.volumes)
        except (OSError, ValueError, KeyError) as error:
            print(f"provisioner: {error}", flush=True)
        time.sleep(2)
