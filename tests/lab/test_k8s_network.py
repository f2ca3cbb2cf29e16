"""lab/k8s/network.py: the network plan of a node, the guards in it (the host's
FORWARD drops towards every uplink, the blackhole for the Service range and the
pod-traffic drop inside the node's namespace), their exact undo, and the verdict
on a guard's check. Everything is computed; nothing touches the machine's
network (the recorded-changes test writes only under tmp_path)."""
from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
from k8s import layout, network, node  # noqa: E402  (lab/ is not a package)

NODE = node.node_at(layout.Layout(), 0)
FORWARD_ETH0 = ["FORWARD", "-i", "lgtmk8s-h", "-o", "eth0", "-j", "DROP"]


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


def test_the_plan_is_made_of_the_guards_and_puts_them_in_place_before_any_address():
    plan = network.network_plan(NODE, ["eth0"])
    guards = [*network.host_guards(NODE, ["eth0"]), *network.node_guards(NODE)]
    assert [change for change in plan if change.guard] == guards
    names = [change.name for change in plan]
    assert max(names.index(guard.name) for guard in guards) < names.index("addresses")
    assert network.host_guards(NODE, []) == []


def test_host_guards_drop_towards_each_uplink_and_undo_exactly_that_rule():
    guards = network.host_guards(NODE, ["eth0"])
    assert [guard.name for guard in guards] == ["host: drop lgtmk8s-h -> eth0",
                                                "host: drop lgtmk8s-h -> eth0 (IPv6)"]
    for guard, tool in zip(guards, ("iptables", "ip6tables")):
        assert guard.guard
        assert guard.add == [[tool, "-w", "-I", *FORWARD_ETH0]]
        assert guard.undo == [[tool, "-w", "-D", *FORWARD_ETH0]]
        assert guard.check == [tool, "-w", "-C", *FORWARD_ETH0]
        assert not guard.check_output
    assert [guard.name for guard in network.host_guards(NODE, ["eth0"], ip6tables=False)] == \
        ["host: drop lgtmk8s-h -> eth0"]


def test_node_guards_live_in_the_nodes_namespace():
    blackhole, pod_drop = network.node_guards(NODE)
    enter = ["nsenter", "--net=/run/netns/lgtm-k8s", "--"]
    assert blackhole.add == [[*enter, "ip", "route", "add", "blackhole", "10.96.0.0/16"]]
    assert blackhole.check == [*enter, "ip", "route", "show", "type", "blackhole", "10.96.0.0/16"]
    # `ip route show` exits 0 with no route: only its output proves the blackhole.
    assert blackhole.check_output
    out = ["FORWARD", "-s", "10.244.0.0/24", "-o", "lgtmk8s-n"]
    drop = [*out, "-j", "DROP"]
    # Each inserted at the top: the accepts for the lab's links and pods end up above the drop.
    assert pod_drop.add == [[*enter, "iptables", "-w", "-t", "mangle", "-I", *rule]
                            for rule in (drop, [*out, "-d", "10.250.0.0/24", "-j", "ACCEPT"],
                                         [*out, "-d", "10.244.0.0/16", "-j", "ACCEPT"])]
    assert pod_drop.check == [*enter, "iptables", "-w", "-t", "mangle", "-C", *drop]
    # Deleting the namespace removes both: no undo of their own.
    assert blackhole.undo == [] and pod_drop.undo == []


def test_guards_of_another_node_name_its_own_veth_namespace_and_ranges():
    second = node.node_at(layout.Layout(), 1)
    forward = network.host_guards(second, ["eth0"], ip6tables=False)[0]
    assert forward.add == [["iptables", "-w", "-I", "FORWARD", "-i", second.host_veth, "-o", "eth0",
                            "-j", "DROP"]]
    for guard in network.node_guards(second):
        assert guard.add[0][:2] == ["nsenter", f"--net=/run/netns/{second.netns}"]
    assert second.pod_cidr in network.node_guards(second)[1].add[0]


def test_a_guard_is_in_place_only_when_its_check_passes():
    forward, _ipv6 = network.host_guards(NODE, ["eth0"])
    blackhole, _pod_drop = network.node_guards(NODE)
    assert network.guard_in_place(forward, 0, "")
    assert not network.guard_in_place(forward, 1, "iptables: Bad rule")
    assert network.guard_in_place(blackhole, 0, "blackhole 10.96.0.0/16\n")
    assert not network.guard_in_place(blackhole, 0, "\n")
    assert not network.guard_in_place(blackhole, 2, "blackhole 10.96.0.0/16")


def test_tear_down_undoes_every_recorded_change_in_reverse_and_nothing_else():
    plan = network.network_plan(NODE, ["eth0"])
    undo = network.undo_commands(plan)
    assert undo == [
        ("host: route 10.244.0.0/24 via the node",
         ["ip", "route", "delete", "10.244.0.0/24", "via", "10.250.0.2", "dev", "lgtmk8s-h"]),
        ("host: route 10.96.0.0/16 via the node",
         ["ip", "route", "delete", "10.96.0.0/16", "via", "10.250.0.2", "dev", "lgtmk8s-h"]),
        ("host: forward between the lab's nodes",
         ["iptables", "-w", "-D", "FORWARD", "-i", "lgtmk8s+", "-o", "lgtmk8s+", "-j", "ACCEPT"]),
        ("veth", ["ip", "link", "delete", "lgtmk8s-h"]),
        ("host: drop lgtmk8s-h -> eth0 (IPv6)", ["ip6tables", "-w", "-D", *FORWARD_ETH0]),
        ("host: drop lgtmk8s-h -> eth0", ["iptables", "-w", "-D", *FORWARD_ETH0]),
        ("netns", ["ip", "netns", "delete", "lgtm-k8s"]),
    ]
    # An `up` that failed half-way recorded only what it began: only that is undone.
    assert network.undo_commands(plan[:2]) == [
        ("host: drop lgtmk8s-h -> eth0", ["iptables", "-w", "-D", *FORWARD_ETH0]),
        ("netns", ["ip", "netns", "delete", "lgtm-k8s"])]


def test_a_workers_plan_routes_its_pods_only_and_leaves_the_host_wide_changes_to_the_control_plane_node():
    worker = node.node_at(layout.Layout(), 2)
    names = [change.name for change in network.network_plan(worker, ["eth0"])]
    assert "host: route 10.244.2.0/24 via the node" in names
    assert "host: route 10.96.0.0/16 via the node" not in names
    assert "host: forward between the lab's nodes" not in names


def test_recorded_changes_read_back_as_they_were_made(tmp_path):
    here = node.node_at(layout.Layout(run=tmp_path / "run", runtime=tmp_path / "runtime"), 0)
    assert network.load_changes(here) == []
    plan = network.network_plan(here, ["eth0"])
    here.runtime.mkdir()
    # The record's format (one JSON object of Change's fields per change) is what
    # an `up` of any version wrote: `down` must read it back.
    here.changes.write_text(json.dumps([vars(change) for change in plan], indent=1))
    assert network.load_changes(here) == plan
    assert set(json.loads(here.changes.read_text())[1]) == {"name", "add", "undo", "guard", "check",
                                                            "check_output"}


def test_an_undo_of_something_already_gone_is_no_problem():
    assert network.already_gone("iptables: Bad rule (does a matching rule exist in that chain?).")
    assert network.already_gone('Cannot find device "lgtmk8s-h"')
    assert not network.already_gone("iptables: Permission denied")


def test_uplinks_and_conflicts_from_ip_json():
    routes = [{"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"},
              {"dst": "172.17.0.0/16", "dev": "docker0"}, {"dst": "10.96.5.0/24", "dev": "tun0"}]
    ranges = network.lab_ranges([NODE])
    assert network.uplinks_from([r for r in routes if r["dst"] == "default"]) == ["eth0"]
    assert network.conflicts(routes, ranges) == ["10.96.5.0/24 dev tun0"]
    assert network.conflicts(routes[:2], ranges) == []


def test_lab_ranges_do_not_overlap():
    nets = [ipaddress.ip_network(c) for c in (str(node.LINKS), layout.SERVICE_CIDR, layout.POD_CIDR)]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    assert ipaddress.ip_address(layout.DNS_IP) in ipaddress.ip_network(layout.SERVICE_CIDR)
    # Each node's pod range is its own /24 of the cluster's.
    assert network.lab_ranges([NODE]) == sorted({NODE.link_cidr, layout.SERVICE_CIDR, layout.POD_CIDR, NODE.pod_cidr})
