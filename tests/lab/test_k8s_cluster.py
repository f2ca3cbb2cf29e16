"""lab/k8s/cluster.py: the kubeadm configuration and the cluster's processes.
Nothing here starts a process."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
from k8s import cluster, layout, node  # noqa: E402  (lab/ is not a package)

LAYOUT = layout.Layout(run=Path("/c/run"), runtime=Path("/run/x"), containerd_root=Path("/c/ctd"),
                       bin=Path("/c/bin"))
NODE = node.node_at(LAYOUT, 0)


def test_kubeadm_config_pins_the_version_and_the_ranges():
    init, config = yaml.safe_load_all(cluster.kubeadm_config(LAYOUT, NODE, "1.34.4"))
    assert init["nodeRegistration"]["name"] == NODE.name
    assert init["nodeRegistration"]["criSocket"] == "unix:///run/x/containerd/containerd.sock"
    assert config["kubernetesVersion"] == "v1.34.4"
    assert config["networking"]["serviceSubnet"] == "10.96.0.0/16"
    assert config["certificatesDir"] == "/c/run/pki"


def test_processes_run_from_the_lab_binaries_in_start_order():
    procs = cluster.processes(LAYOUT, NODE)
    assert [p.name for p in procs] == ["containerd", "etcd", "kube-apiserver", "kube-controller-manager",
                                       "kube-scheduler", "kubelet", "kube-proxy"]
    for process in procs[1:]:
        assert process.argv[0] == f"/c/bin/{process.name}"
    apiserver = procs[2].argv
    assert "--authorization-mode=Node,RBAC" in apiserver
    assert "--service-cluster-ip-range=10.96.0.0/16" in apiserver
    assert "--leader-elect=false" in procs[3].argv and "--leader-elect=false" in procs[4].argv


def test_the_api_server_is_on_the_control_plane_nodes_address():
    assert cluster.api_url(node.node_at(layout.Layout(), 0)) == "https://10.250.0.2:6443"
    assert "--advertise-address=10.250.0.2" in cluster.processes(LAYOUT, NODE)[2].argv
