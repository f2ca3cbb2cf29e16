"""lab/k8s/node.py: what a node is (names, addresses, folders), the
configuration of its containerd, CNI, kubelet and kube-proxy, and what `down`
reads from its containers. Nothing here starts a process."""
from __future__ import annotations

import ipaddress
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
from k8s import layout, node  # noqa: E402  (lab/ is not a package)

LAYOUT = layout.Layout(run=Path("/c/run"), runtime=Path("/run/x"), containerd_root=Path("/c/ctd"),
                       bin=Path("/c/bin"))
NODE = node.node_at(LAYOUT, 0)


def test_the_first_node_is_the_lab_node_as_it_always_was():
    """Names, addresses and folders of the control-plane node: what README.md,
    /run/lgtm-k8s, the cache and the host's routes have always used."""
    first = node.node_at(layout.Layout(), 0)
    assert (first.name, first.netns, first.host_veth, first.node_veth) == \
        ("lgtm-lab", "lgtm-k8s", "lgtmk8s-h", "lgtmk8s-n")
    assert (first.host_ip, first.node_ip, first.link_cidr) == ("10.250.0.1", "10.250.0.2", "10.250.0.0/30")
    assert first.pod_cidr == "10.244.0.0/24" and layout.POD_CIDR == "10.244.0.0/16"
    assert first.control_plane and first.process("kubelet") == "kubelet"
    assert first.cgroup_root == "lgtm-k8s"
    assert first.netns_path == Path("/run/netns/lgtm-k8s")
    assert first.enter == ["nsenter", "--net=/run/netns/lgtm-k8s", "--"]
    assert first.folders == (layout.K8S / "run", Path("/run/lgtm-k8s"), layout.K8S / "containerd")
    assert first.socket == Path("/run/lgtm-k8s/containerd/containerd.sock")
    assert first.changes == Path("/run/lgtm-k8s/changes.json")
    assert first.cni_conf == layout.K8S / "run" / "cni" / "net.d"


def test_another_node_shares_nothing_that_must_be_its_own():
    first, second = node.node_at(LAYOUT, 0), node.node_at(LAYOUT, 1)
    for field in ("name", "netns", "host_veth", "node_veth", "host_ip", "node_ip", "link_cidr",
                  "pod_cidr", "cgroup_root", "run", "runtime", "containerd_root"):
        assert getattr(first, field) != getattr(second, field), field
    assert first.socket != second.socket and first.changes != second.changes
    assert not ipaddress.ip_network(first.link_cidr).overlaps(ipaddress.ip_network(second.link_cidr))
    assert not ipaddress.ip_network(first.pod_cidr).overlaps(ipaddress.ip_network(second.pod_cidr))
    assert (second.host_ip, second.node_ip) == ("10.250.0.5", "10.250.0.6")
    assert not second.control_plane and second.process("kubelet") == "kubelet@lgtm-lab-1"
    assert ipaddress.ip_network(second.pod_cidr).subnet_of(ipaddress.ip_network(layout.POD_CIDR))


@pytest.mark.parametrize("index", [0, 1, node.MAX_NODES - 1])
def test_a_node_has_valid_interface_names_and_its_addresses_in_its_link(index):
    each = node.node_at(LAYOUT, index)
    assert len(each.host_veth) <= 15 and len(each.node_veth) <= 15  # IFNAMSIZ - 1
    link = ipaddress.ip_network(each.link_cidr)
    assert link.prefixlen == 30
    assert ipaddress.ip_address(each.host_ip) in link and ipaddress.ip_address(each.node_ip) in link


@pytest.mark.parametrize("index", [-1, node.MAX_NODES])
def test_a_node_index_out_of_range_is_refused(index):
    with pytest.raises(ValueError):
        node.node_at(LAYOUT, index)


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
    assert bridge["ipam"]["ranges"] == [[{"subnet": NODE.pod_cidr}]]
    assert len(bridge["bridge"]) <= 15


def test_kubelet_config():
    config = node.kubelet_config(LAYOUT, NODE)
    assert config["cgroupDriver"] == "cgroupfs" and config["failCgroupV1"] is False
    assert config["clusterDNS"] == [layout.DNS_IP]
    assert config["imageGCHighThresholdPercent"] == 100
    assert config["containerRuntimeEndpoint"] == "unix:///run/x/containerd/containerd.sock"
    # Served with the certificate the cluster's CA signed (cluster.write_kubelet_serving_certificate).
    assert (config["tlsCertFile"], config["tlsPrivateKeyFile"]) == \
        ("/c/run/kubelet-serving.crt", "/c/run/kubelet-serving.key")


def test_kube_proxy_config():
    config = node.kube_proxy_config(LAYOUT, NODE)
    assert config["mode"] == "iptables" and config["conntrack"]["maxPerCore"] == 0
    assert config["clusterCIDR"] == layout.POD_CIDR


def test_a_nodes_processes_use_its_own_configs_and_address():
    kubelet, kube_proxy = node.kubelet_processes(LAYOUT, NODE)
    assert node.containerd_process(LAYOUT, NODE).argv == ["containerd", "--config", "/c/run/containerd.toml"]
    assert "--register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule" in kubelet.argv
    assert "--kubeconfig=/c/run/kubelet.conf" in kubelet.argv
    assert kubelet.argv[0] == "/c/bin/kubelet" and "--node-ip=10.250.0.2" in kubelet.argv
    assert "--hostname-override=lgtm-lab" in kubelet.argv
    # cAdvisor finds the node's own containerd (the containers' pod and name on their series).
    assert "--containerd=/run/x/containerd/containerd.sock" in kubelet.argv
    assert kube_proxy.argv == ["/c/bin/kube-proxy", "--config=/c/run/kube-proxy.yaml"]


def test_down_finds_the_network_namespace_of_a_pod_sandbox():
    spec = {"linux": {"namespaces": [{"type": "pid"}, {"type": "ipc"},
                                     {"type": "network", "path": "/var/run/netns/cni-1234"}]}}
    assert node.network_namespaces(spec) == ["/var/run/netns/cni-1234"]
    # A container joining its sandbox's namespace by /proc path is not a file to remove.
    joined = {"linux": {"namespaces": [{"type": "network", "path": "/proc/42/ns/net"}]}}
    assert node.network_namespaces(joined) == []
    assert node.network_namespaces({}) == []


def test_a_worker_runs_in_a_mount_namespace_of_its_own_with_its_folders_bound_over_the_shared_paths():
    """The agents' hostPath folders (PER_NODE_FOLDERS) are the same path on every node; a worker's
    containerd (and so its containers) sees its own folder there, the control-plane node the cluster's."""
    worker = node.node_at(LAYOUT, 1)
    process = node.containerd_process(LAYOUT, worker)
    assert process.name == "containerd@lgtm-lab-1"
    assert process.argv[:4] == ["unshare", "--mount", "--propagation", "slave"]
    script = process.argv[process.argv.index("-c") + 1]
    for name in layout.PER_NODE_FOLDERS:
        assert f"mount --bind /c/run/nodes/lgtm-lab-1/{name} /c/run/{name}" in script
    # kubelet's device plugin socket has one fixed path: each worker's kubelet binds its own.
    assert "mount --bind /c/run/nodes/lgtm-lab-1/device-plugins /var/lib/kubelet/device-plugins" in script
    assert script.endswith('exec "$@"') and process.argv[-3:] == ["containerd", "--config",
                                                                  "/c/run/nodes/lgtm-lab-1/containerd.toml"]
    assert node.own_mounts(LAYOUT, NODE) == []
    kubelet, kube_proxy = node.kubelet_processes(LAYOUT, worker)
    assert (kubelet.name, kube_proxy.name) == ("kubelet@lgtm-lab-1", "kube-proxy@lgtm-lab-1")
    assert not [arg for arg in kubelet.argv if arg.startswith("--register-with-taints")]
    assert "--kubeconfig=/c/run/nodes/lgtm-lab-1/kubelet.conf" in kubelet.argv
    # Every kubelet writes the pods' logs at the shared path: its own folder on a worker.
    assert node.kubelet_config(LAYOUT, worker)["podLogsDir"] == "/c/run/pod-logs"


def test_a_nodes_networkpolicy_enforcer_is_kube_routers_firewall_alone():
    """In the node's network namespace (lifecycle.start_policy_enforcer enters it), for its own pods;
    the router, the service proxy (GHSA-phqm-jgc3-qf8g concerns it) and the CNI set-up off."""
    enforcer = node.policy_enforcer_process(LAYOUT, node.node_at(LAYOUT, 2))
    assert enforcer.name == "kube-router@lgtm-lab-2" and enforcer.argv[0] == "/c/bin/kube-router"
    for flag in ("--hostname-override=lgtm-lab-2", "--run-firewall=true", "--run-router=false",
                 "--run-service-proxy=false", "--enable-cni=false", "--service-cluster-ip-range=10.96.0.0/16",
                 "--kubeconfig=/c/run/kubeconfig/admin.conf"):
        assert flag in enforcer.argv
    assert node.policy_enforcer_process(LAYOUT, NODE).name == "kube-router"


def test_a_nodes_processes_start_containerd_first_and_the_enforcer_last():
    """lifecycle stops a node's processes in the reverse order (kill_node, down)."""
    assert [process.name for process in node.node_processes(LAYOUT, node.node_at(LAYOUT, 1))] == [
        "containerd@lgtm-lab-1", "kubelet@lgtm-lab-1", "kube-proxy@lgtm-lab-1", "kube-router@lgtm-lab-1"]
