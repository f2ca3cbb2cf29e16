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

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "lab"))
from k8s import host, layout, network  # noqa: E402  (lab/ is not a package)
from k8s.node import node_at  # noqa: E402

LAYOUT = layout.Layout()
NODE = node_at(LAYOUT, 0)  # the cluster's one node


def test_the_cluster_is_up():
    assert NODE.changes.exists() and host.read_pid(LAYOUT, "kubelet") is not None, \
        "the lab Kubernetes is not up: the scenario's create step (`lab/k8s_lab.py up`) should have started it"


def sh(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, env=host.env(), check=False)


def node(*argv: str) -> subprocess.CompletedProcess[str]:
    return sh(*NODE.enter, *argv)


def test_every_recorded_guard_is_in_place():
    assert network.missing_guards(NODE) == []


def test_the_host_drops_node_traffic_towards_every_uplink():
    routes = json.loads(sh("ip", "-j", "route", "show", "default").stdout or "[]")
    uplinks = network.uplinks_from(routes)
    assert uplinks, "the host has no default route"
    for uplink in uplinks:
        rule = ["FORWARD", "-i", NODE.host_veth, "-o", uplink, "-j", "DROP"]
        assert sh("iptables", "-w", "-C", *rule).returncode == 0, f"no FORWARD drop towards {uplink}"


def test_the_service_range_is_a_blackhole_inside_the_node():
    routes = node("ip", "route", "show", "type", "blackhole").stdout
    assert layout.SERVICE_CIDR in routes


def test_pod_traffic_towards_the_uplink_is_dropped_inside_the_node():
    rule = ["FORWARD", "-s", NODE.pod_cidr, "-o", NODE.node_veth, "!", "-d", NODE.host_ip, "-j", "DROP"]
    assert node("iptables", "-w", "-t", "mangle", "-C", *rule).returncode == 0


def test_the_pod_bridge_does_not_masquerade_pods():
    """No per-pod NAT towards the outside (the bridge plugin's ipMasq): a pod's
    packet never passes as the node's."""
    rules = node("iptables", "-w", "-t", "nat", "-S", "POSTROUTING").stdout
    prefix = NODE.pod_cidr.rsplit(".", 1)[0] + "."
    assert not [rule for rule in rules.splitlines() if f"-s {prefix}" in rule], rules


def test_host_routes_lead_only_to_the_node():
    for cidr in (layout.SERVICE_CIDR, NODE.pod_cidr):
        route = sh("ip", "route", "show", "exact", cidr).stdout
        assert f"via {NODE.node_ip} dev {NODE.host_veth}" in route, cidr
