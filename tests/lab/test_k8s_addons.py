"""lab/k8s/addons.py: CoreDNS, the default StorageClass and the volume
provisioner's decisions. Nothing here talks to an API server."""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
from k8s import addons  # noqa: E402  (lab/ is not a package)


def test_coredns_has_no_loop_no_forward_and_the_fixed_service_ip():
    docs = {d["kind"]: d for d in addons.coredns_manifests("registry.k8s.io/coredns/coredns:v1.12.4")}
    corefile = docs["ConfigMap"]["data"]["Corefile"]
    assert "loop" not in corefile.split() and "forward" not in corefile
    assert docs["Service"]["spec"]["clusterIP"] == "10.96.0.10"
    container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["imagePullPolicy"] == "Never"


def test_storage_class_is_the_default():
    sc = addons.storage_class()
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc["provisioner"] == addons.PROVISIONER
    # The scheduler waits for the claim while binding the pod, not in its unschedulable queue.
    assert sc["volumeBindingMode"] == "WaitForFirstConsumer"


def claim(name: str, phase: str = "Pending", klass: str = addons.STORAGE_CLASS, **spec):
    return {"metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"},
            "spec": {"storageClassName": klass, "accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}, **spec},
            "status": {"phase": phase}}


def test_provisioner_makes_one_pv_per_pending_claim_of_its_class():
    claims = [claim("a"), claim("b", phase="Bound", volumeName="pv"), claim("c", klass="other"),
              claim("d", volumeMode="Block"), claim("e")]
    existing = [addons.persistent_volume_for(claim("e"), Path("/v/e"))]
    assert [c["metadata"]["name"] for c in addons.claims_to_provision(claims, existing)] == ["a"]
    volume = addons.persistent_volume_for(claim("a"), Path("/v/a"))
    assert volume["spec"]["claimRef"]["uid"] == "uid-a"
    assert volume["spec"]["capacity"]["storage"] == "1Gi"
    assert volume["spec"]["hostPath"]["path"] == "/v/a"
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Delete"


def test_provisioner_deletes_only_its_released_volumes():
    ours = addons.persistent_volume_for(claim("a"), Path("/v/a"))
    released = {**ours, "status": {"phase": "Released"}}
    foreign = {**released, "metadata": {"name": "x", "annotations": {}}}
    bound = {**ours, "status": {"phase": "Bound"}}
    assert addons.volumes_to_delete([released, foreign, bound]) == [released]
