"""lab/k8s/network.py: the network plan of a node (guards and their undo) and
the host routes in the lab's way. Nothing here touches the machine's network."""
from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
from k8s import layout, network, node  # noqa: E402  (lab/ is not a package)

NODE = node.node_at(layout.Layout(), 0)


def test_network_plan_guards_come_first_and_every_host_change_is_undone():
    plan = network.network_plan(NODE, ["eth0"])
    names = [change.name for change in plan]
    assert names[0] == "netns"
    # The host's FORWARD drop exists before the veth does.
    assert names.index("host: drop lgtmk8s-h -> eth0") < names.index("veth")
    guards = [change for change in plan if change.guard]
    assert {g.name for g in guards} == {
        "host: drop lgtmk8s-h -> eth0", "host: drop lgtmk8s-h -> eth0 (IPv6)",
        "node: blackhole for the service range", "node: drop pod traffic towards the uplink"}
    assert all(guard.check for guard in guards)
    forward = next(c for c in plan if c.name == "host: drop lgtmk8s-h -> eth0")
    assert forward.add == [["iptables", "-w", "-I", "FORWARD", "-i", "lgtmk8s-h", "-o", "eth0", "-j", "DROP"]]
    assert forward.undo == [["iptables", "-w", "-D", "FORWARD", "-i", "lgtmk8s-h", "-o", "eth0", "-j", "DROP"]]
    # Everything on the host side has an undo; inside the namespace, deleting it is the undo.
    for change in plan:
        host_side = any(argv[0] != "nsenter" for argv in change.add)
        if host_side and change.name != "addresses":
            assert change.undo, change.name
    routes = [c for c in plan if c.name.startswith("host: route")]
    assert {r.add[0][3] for r in routes} == {"10.96.0.0/16", "10.244.0.0/24"}
    assert all(r.add[0][4:6] == ["via", "10.250.0.2"] for r in routes)
    node_commands = [argv for change in plan for argv in change.add if argv[0] == "nsenter"]
    assert all(argv[1] == "--net=/run/netns/lgtm-k8s" for argv in node_commands)


def test_network_plan_guards_every_uplink():
    plan = network.network_plan(NODE, ["eth0", "wlan0"], ip6tables=False)
    assert {c.name for c in plan if c.guard and c.name.startswith("host")} == {
        "host: drop lgtmk8s-h -> eth0", "host: drop lgtmk8s-h -> wlan0"}


def test_uplinks_and_conflicts_from_ip_json():
    routes = [{"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"},
              {"dst": "172.17.0.0/16", "dev": "docker0"}, {"dst": "10.96.5.0/24", "dev": "tun0"}]
    ranges = network.lab_ranges([NODE])
    assert network.uplinks_from([r for r in routes if r["dst"] == "default"]) == ["eth0"]
    assert network.conflicts(routes, ranges) == ["10.96.5.0/24 dev tun0"]
    assert network.conflicts(routes[:2], ranges) == []


def test_lab_ranges_do_not_overlap():
    nets = [ipaddress.ip_network(c) for c in (NODE.link_cidr, layout.SERVICE_CIDR, layout.POD_CIDR)]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    assert ipaddress.ip_address(layout.DNS_IP) in ipaddress.ip_network(layout.SERVICE_CIDR)
