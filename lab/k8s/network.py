"""What `up` changes on the machine's network for one node, and the guards
among those changes, so that nothing sent to a pod or Service address can
leave the machine:

- on the host, FORWARD drops from the node's host veth to every uplink (IPv4
  and IPv6), in place before the veth exists;
- in the node's namespace, a blackhole route for the Service range (a ClusterIP
  without kube-proxy rules goes nowhere instead of out of the default route)
  and a drop of pod traffic out of the namespace to anything but the lab's
  nodes (the host's veths, the nodes' addresses) and pods.

Pod traffic between nodes goes through the host: a route to each node's pod
range via its node, and FORWARD accepts between the lab's veths only.

Each change is recorded before it is made; tear-down undoes exactly the
recorded changes, last first, also after a set-up that failed half-way. The
plan, its undo and the verdict on a guard's check are pure (tested in
tests/lab/test_k8s_network.py); only apply_network, undo_network and
missing_guards run commands.
"""
from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any, Iterable

from .host import sh
from .layout import POD_CIDR, SERVICE_CIDR
from .node import LINKS, Node


@dataclass(frozen=True)
class Change:
    """One change to the machine: how to make it, undo it and (for a guard) check it.
    `check` passes when it exits 0 and, if `check_output`, prints something.
    Recorded as JSON with exactly these fields (`vars`), so a record written by an
    earlier `up` is still read by `down`."""
    name: str
    add: list[list[str]]
    undo: list[list[str]]
    guard: bool = False
    check: list[str] | None = None
    check_output: bool = False


# --- the guards ---------------------------------------------------------------------

def host_guards(node: Node, uplinks: list[str], ip6tables: bool = True) -> list[Change]:
    """On the host: drop whatever the node's veth forwards to an uplink, so the node
    reaches the host and nothing beyond it. Undone rule by rule (`-D` of the same rule)."""
    guards = []
    for uplink in uplinks:
        rule = ["FORWARD", "-i", node.host_veth, "-o", uplink, "-j", "DROP"]
        guards.append(Change(f"host: drop {node.host_veth} -> {uplink}",
                             [["iptables", "-w", "-I", *rule]], [["iptables", "-w", "-D", *rule]],
                             True, ["iptables", "-w", "-C", *rule]))
        if ip6tables:
            guards.append(Change(f"host: drop {node.host_veth} -> {uplink} (IPv6)",
                                 [["ip6tables", "-w", "-I", *rule]], [["ip6tables", "-w", "-D", *rule]],
                                 True, ["ip6tables", "-w", "-C", *rule]))
    return guards


def pod_exits(node: Node) -> list[list[str]]:
    """The mangle FORWARD rules for pod traffic leaving the node's namespace, in the
    order they are inserted (each at the top): a drop, then above it an accept for
    the lab's links and one for the cluster's pods. mangle FORWARD runs before filter
    FORWARD, where kube-proxy inserts its own jumps."""
    out = ["FORWARD", "-s", node.pod_cidr, "-o", node.node_veth]
    return [[*out, "-j", "DROP"], [*out, "-d", str(LINKS), "-j", "ACCEPT"], [*out, "-d", POD_CIDR, "-j", "ACCEPT"]]


def node_guards(node: Node) -> list[Change]:
    """Inside the node's namespace: the Service range is a blackhole, and pod traffic
    towards the node's veth is dropped unless it is for the lab's nodes or pods.
    Deleting the namespace removes both, so they need no undo of their own."""
    enter = node.enter
    drop, *accepts = pod_exits(node)
    return [
        Change("node: blackhole for the service range",
               [[*enter, "ip", "route", "add", "blackhole", SERVICE_CIDR]], [], True,
               [*enter, "ip", "route", "show", "type", "blackhole", SERVICE_CIDR], True),
        Change("node: drop pod traffic towards the uplink",
               [[*enter, "iptables", "-w", "-t", "mangle", "-I", *rule] for rule in (drop, *accepts)], [], True,
               [*enter, "iptables", "-w", "-t", "mangle", "-C", *drop]),
    ]


def forward_between_nodes() -> Change:
    """On the host, with the control-plane node: forwarding between the lab's veths
    (Docker sets FORWARD's policy to DROP); towards an uplink the guards drop first."""
    rule = ["FORWARD", "-i", "lgtmk8s+", "-o", "lgtmk8s+", "-j", "ACCEPT"]
    return Change("host: forward between the lab's nodes", [["iptables", "-w", "-I", *rule]],
                  [["iptables", "-w", "-D", *rule]], False, ["iptables", "-w", "-C", *rule])


def guard_in_place(change: Change, returncode: int, stdout: str) -> bool:
    """Whether a guard's check, having exited with returncode and printed stdout, found it."""
    return returncode == 0 and (not change.check_output or bool(stdout.strip()))


# --- the whole plan -----------------------------------------------------------------

def network_plan(node: Node, uplinks: list[str], ip6tables: bool = True) -> list[Change]:
    """Every change `up` makes to the network for the node, in order: the guards come
    before any address exists, and every component starts only after all of them."""
    enter = node.enter
    changes = [Change("netns", [["ip", "netns", "add", node.netns]],
                      [["ip", "netns", "delete", node.netns]])]
    changes += host_guards(node, uplinks, ip6tables)
    changes.append(Change("veth", [["ip", "link", "add", node.host_veth, "type", "veth", "peer", "name",
                                    node.node_veth, "netns", node.netns]],
                          [["ip", "link", "delete", node.host_veth]]))
    changes += node_guards(node)
    changes += [
        Change("node: sysctls", [[*enter, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                                 [*enter, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]], []),
        Change("addresses", [["ip", "addr", "add", f"{node.host_ip}/30", "dev", node.host_veth],
                             ["ip", "link", "set", node.host_veth, "up"],
                             [*enter, "ip", "addr", "add", f"{node.node_ip}/30", "dev", node.node_veth],
                             [*enter, "ip", "link", "set", node.node_veth, "up"],
                             [*enter, "ip", "link", "set", "lo", "up"],
                             [*enter, "ip", "route", "add", "default", "via", node.host_ip]], []),
    ]
    # The host reaches the node's pods through the node, and ClusterIPs through the
    # control-plane node (kube-proxy DNATs there).
    if node.control_plane:
        changes.append(forward_between_nodes())
    for cidr in ([SERVICE_CIDR] if node.control_plane else []) + [node.pod_cidr]:
        route = [cidr, "via", node.node_ip, "dev", node.host_veth]
        changes.append(Change(f"host: route {cidr} via the node", [["ip", "route", "add", *route]],
                              [["ip", "route", "delete", *route]], False,
                              ["ip", "route", "show", "exact", cidr], True))
    return changes


def undo_commands(changes: list[Change]) -> list[tuple[str, list[str]]]:
    """What tear-down runs for recorded changes, by change name: last change first."""
    return [(change.name, argv) for change in reversed(changes) for argv in change.undo]


def uplinks_from(routes: list[dict[str, Any]]) -> list[str]:
    """The devices of the host's default routes (`ip -j route show default`)."""
    return sorted({route["dev"] for route in routes if route.get("dev")})


def lab_ranges(nodes: Iterable[Node]) -> list[str]:
    """Every address range the lab routes on the host: the nodes' links, the Service
    range and the pod ranges."""
    ranges = [SERVICE_CIDR, POD_CIDR]
    for node in nodes:
        ranges += [node.link_cidr, node.pod_cidr]
    return sorted(set(ranges))


def conflicts(routes: list[dict[str, Any]], ranges: list[str]) -> list[str]:
    """Host routes that overlap the lab's ranges (`ip -j route show`): `up` refuses them."""
    ours = [ipaddress.ip_network(cidr) for cidr in ranges]
    found = []
    for route in routes:
        if route.get("dst") in (None, "default"):
            continue
        network = ipaddress.ip_network(route["dst"], strict=False)
        if any(network.overlaps(net) for net in ours):
            found.append(f"{route['dst']} dev {route.get('dev', '?')}")
    return found


# --- making, recording, undoing and checking the changes ----------------------------

def load_changes(node: Node) -> list[Change]:
    """The changes recorded for the node (none when nothing is recorded)."""
    if not node.changes.exists():
        return []
    return [Change(**entry) for entry in json.loads(node.changes.read_text())]


def apply_network(node: Node, plan: list[Change]) -> None:
    """Make each change, recording it first: `down` undoes exactly what was recorded,
    also after an `up` that failed half-way."""
    done: list[Change] = []
    node.runtime.mkdir(parents=True, exist_ok=True)
    for change in plan:
        done.append(change)
        node.changes.write_text(json.dumps([vars(c) for c in done], indent=1))
        for argv in change.add:
            sh(argv)


def already_gone(stderr: str) -> bool:
    """Whether an undo failed only because what it removes is not there any more."""
    return any(text in stderr for text in ("No such", "Cannot find device", "does not exist",
                                           "Bad rule", "No chain/target/match"))


def undo_network(node: Node) -> list[str]:
    """Undo the recorded changes, last first; returns what could not be undone."""
    problems = []
    for name, argv in undo_commands(load_changes(node)):
        proc = sh(argv, check=False)
        if proc.returncode != 0 and not already_gone(proc.stderr):
            problems.append(f"{name}: `{' '.join(argv)}`: {proc.stderr.strip()}")
    node.changes.unlink(missing_ok=True)
    return problems


def missing_guards(node: Node) -> list[str]:
    """Each recorded guard whose check fails, by name."""
    missing = []
    for change in load_changes(node):
        if not change.guard or change.check is None:
            continue
        proc = sh(change.check, check=False)
        if not guard_in_place(change, proc.returncode, proc.stdout):
            missing.append(change.name)
    return missing
