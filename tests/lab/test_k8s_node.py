"""lab/k8s/node.py: the configuration of a node's containerd, CNI, kubelet and
kube-proxy, and what `down` reads from its containers. Nothing here starts a
process."""
from __future__ import annotations

import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
from k8s import layout, node  # noqa: E402  (lab/ is not a package)

LAYOUT = layout.Layout(run=Path("/c/run"), runtime=Path("/run/x"), containerd_root=Path("/c/ctd"),
                       bin=Path("/c/bin"))
NODE = node.node_at(LAYOUT, 0)


def test_containerd_config():
    config = tomllib.loads(node.containerd_config(NODE, "registry.k8s.io/pause:3.10"))
    assert config["version"] == 2
    assert config["root"] == "/c/ctd" and config["state"] == "/run/x/containerd"
    assert config["grpc"]["address"] == "/run/x/containerd/containerd.sock"
    cri = config["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["restrict_oom_score_adj"] is True
    assert cri["sandbox_image"] == "registry.k8s.io/pause:3.10"
    runc = cri["containerd"]["runtimes"]["runc"]
    assert runc["options"]["SystemdCgroup"] is False and runc["options"]["Root"] == "/run/x/runc"
    assert cri["cni"] == {"bin_dir": "/usr/lib/cni", "conf_dir": "/c/run/cni/net.d"}


def test_cni_conflist_uses_the_pod_range_and_no_masquerade():
    bridge = node.cni_conflist(NODE)["plugins"][0]
    assert bridge["type"] == "bridge" and bridge["isGateway"] and bridge["hairpinMode"]
    assert bridge["ipMasq"] is False
    assert bridge["ipam"]["ranges"] == [[{"subnet": layout.POD_CIDR}]]
    assert len(bridge["bridge"]) <= 15


def test_kubelet_config():
    config = node.kubelet_config(LAYOUT, NODE)
    assert config["cgroupDriver"] == "cgroupfs" and config["failCgroupV1"] is False
    assert config["clusterDNS"] == [layout.DNS_IP]
    assert config["imageGCHighThresholdPercent"] == 100
    assert config["containerRuntimeEndpoint"] == "unix:///run/x/containerd/containerd.sock"


def test_kube_proxy_config():
    config = node.kube_proxy_config(LAYOUT, NODE)
    assert config["mode"] == "iptables" and config["conntrack"]["maxPerCore"] == 0
    assert config["clusterCIDR"] == layout.POD_CIDR


def test_down_finds_the_network_namespace_of_a_pod_sandbox():
    spec = {"linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"},
                                     {"type": "network", "path": "/var/run/netns/cni-1234"}]}}
    assert node.network_namespaces(spec) == ["/var/run/netns/cni-1234"]
    # A container joining its sandbox's namespace by /proc path is not a file to remove.
    joined = {"linux": {"namespaces": [{"type": "network", "path": "/proc/42/ns/net"}]}}
    assert node.network_namespaces(joined) == []
    assert node.network_namespaces({}) == []
