"""While the lab Kubernetes runs, nothing sent to a pod or Service address can
leave the machine: the guards `lab/k8s_lab.py up` set are all in place.

This checks the state of the lab while the cluster runs: the kubernetes
scenario's verify runs it after converging the stack onto the cluster.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "lab"))
from k8s import host, layout, network  # noqa: E402  (lab/ is not a package)
from k8s import node as node_module  # noqa: E402
from k8s.lifecycle import cluster_nodes  # noqa: E402

LAYOUT = layout.Layout()
NODES = cluster_nodes(LAYOUT)
CONTROL_PLANE = NODES[0]
each_node = pytest.mark.parametrize("node", NODES, ids=[node.name for node in NODES])


def test_the_cluster_is_up():
    assert len(NODES) == 3
    for node in NODES:
        assert node.changes.exists() and host.read_pid(LAYOUT, node.process("kubelet")) is not None, \
            f"{node.name} is not up: the scenario's create step (`lab/k8s_lab.py up`) should have started it"


def sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, env=host.env(), check=False)


def inside(node: node_module.Node, *argv: str) -> subprocess.CompletedProcess[str]:
    return sh(*node.enter, *argv)


@each_node
def test_every_recorded_guard_is_in_place(node):
    assert network.missing_guards(node) == []


@each_node
def test_the_host_drops_node_traffic_towards_every_uplink(node):
    routes = json.loads(sh("ip", "-j", "route", "show", "default").stdout or "[]")
    uplinks = network.uplinks_from(routes)
    assert uplinks, "the host has no default route"
    for uplink in uplinks:
        rule = ["FORWARD", "-i", node.host_veth, "-o", uplink, "-j", "DROP"]
        assert sh("iptables", "-w", "-C", *rule).returncode == 0, f"no FORWARD drop towards {uplink}"


@each_node
def test_the_service_range_is_a_blackhole_inside_the_node(node):
    routes = inside(node, "ip", "route", "show", "type", "blackhole").stdout
    assert layout.SERVICE_CIDR in routes


@each_node
def test_pod_traffic_leaves_the_node_only_for_the_labs_nodes_and_pods(node):
    """The node's mangle FORWARD: accepts towards the lab's links and pod range first, then the drop."""
    rules = inside(node, "iptables", "-w", "-t", "mangle", "-S", "FORWARD").stdout.splitlines()
    ours = [rule for rule in rules if f"-s {node.pod_cidr}" in rule]
    assert ours == [f"-A FORWARD -s {node.pod_cidr} -d {layout.POD_CIDR} -o {node.node_veth} -j ACCEPT",
                    f"-A FORWARD -s {node.pod_cidr} -d {node_module.LINKS} -o {node.node_veth} -j ACCEPT",
                    f"-A FORWARD -s {node.pod_cidr} -o {node.node_veth} -j DROP"], rules


@each_node
def test_the_pod_bridge_does_not_masquerade_pods(node):
    """No per-pod NAT towards the outside (the bridge plugin's ipMasq): a pod's
    packet never passes as the node's."""
    rules = inside(node, "iptables", "-w", "-t", "nat", "-S", "POSTROUTING").stdout
    prefix = node.pod_cidr.rsplit(".", 1)[0] + "."
    assert not [rule for rule in rules.splitlines() if f"-s {prefix}" in rule], rules


@each_node
def test_host_routes_lead_only_to_the_node(node):
    for cidr in ([layout.SERVICE_CIDR] if node.control_plane else []) + [node.pod_cidr]:
        route = sh("ip", "route", "show", "exact", cidr).stdout
        assert f"via {node.node_ip} dev {node.host_veth}" in route, cidr


def test_the_host_forwards_between_the_labs_veths_only():
    rules = sh("iptables", "-w", "-S", "FORWARD").stdout.splitlines()
    accepts = [rule for rule in rules if "lgtmk8s" in rule and rule.endswith("ACCEPT")]
    assert accepts == ["-A FORWARD -i lgtmk8s+ -o lgtmk8s+ -j ACCEPT"], rules
