"""The stack's NetworkPolicies admit every connection the running stack makes, and the cluster refuses
the ones the issue forbids (an agent reaching past the gateways, a gateway reaching an agent).

The lab cluster enforces NetworkPolicy with kube-router's firewall on every node (lab/k8s/node.py,
policy_enforcer_process). Enforcement is tried for real: a TCP connection is opened from inside a
client pod's own network namespace (`nsenter --net=/proc/<pid>/ns/net`, so the packets carry the
pod's address) to a server pod; the forbidden ones must be refused, while the same client reaches
what it may and a pod without an egress policy reaches the same server port (the controls: the
refusal is the policy's, not a closed port). Beside that, the evaluation that does not depend on
an enforcer: the API server took every policy; the connections each pod of the stack holds are
read from its own network namespace (`/proc/<pid>/net/tcp[6]` of its container's process, sampled
for a few seconds) and each is evaluated against the policies of both ends with NetworkPolicy's
rules; and the forbidden ones are evaluated too.
"""
from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest

from test_kubernetes import NAMESPACE, get, kubectl

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "lab"))
from k8s import layout  # noqa: E402  (lab/ is not a package)
from k8s.lifecycle import cluster_nodes  # noqa: E402
from k8s.node import enforcing  # noqa: E402

LAYOUT = layout.Layout()
# Each node's containerd keeps its tasks (with each container's pid) in its own state folder.
TASKS = {node.name: node.runtime / "containerd" / "io.containerd.runtime.v2.task" / "k8s.io"
         for node in cluster_nodes(LAYOUT)}
STACK = ("otelcol-agent", "otelcol-gateway", "jaeger", "prometheus", "victorialogs")
ESTABLISHED, LISTEN = "01", "0A"
SAMPLE_S = 8
FIGURES: Dict[str, Any] = {}

Connection = Tuple[str, str, int]  # client pod, destination address, destination port


def addresses(hex_address: str) -> Tuple[str, int]:
    """An address and port of /proc/net/tcp[6] ('0100007F:1F90' is 127.0.0.1:8080)."""
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    # The kernel prints each 32-bit word in the machine's (little-endian) order.
    raw = b"".join(raw[index:index + 4][::-1] for index in range(0, len(raw), 4))
    address = ipaddress.ip_address(raw)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address), int(port, 16)


def sockets(pid: int) -> List[Tuple[str, str, int, str, int]]:
    """(state, local address, local port, remote address, remote port) of the TCP sockets in pid's namespace."""
    rows = []
    for table in ("tcp", "tcp6"):
        path = Path(f"/proc/{pid}/net/{table}")
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = addresses(fields[1]), addresses(fields[2])
            rows.append((fields[3], *local, *remote))
    return rows


def container_pid(pod: Dict[str, Any]) -> Optional[int]:
    """The process of the pod's first running container, from its node's containerd's task folder."""
    for status in pod["status"].get("containerStatuses") or []:
        container_id = (status.get("containerID") or "").split("://")[-1]
        pid_file = TASKS[pod["spec"]["nodeName"]] / container_id / "init.pid"
        if container_id and pid_file.exists():
            return int(pid_file.read_text().strip())
    return None


def matches(selector: Dict[str, Any], labels: Dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in (selector.get("matchLabels") or {}).items())


def peer_admits(peer: Dict[str, Any], address: str, pod: Optional[Dict[str, Any]]) -> bool:
    """One 'to'/'from' entry of a rule (the policy's own namespace for a pod selector)."""
    if "podSelector" in peer and "namespaceSelector" not in peer:
        return pod is not None and pod["metadata"]["namespace"] == NAMESPACE and \
            matches(peer["podSelector"], pod["metadata"].get("labels") or {})
    if "ipBlock" in peer:
        return ipaddress.ip_address(address) in ipaddress.ip_network(peer["ipBlock"]["cidr"])
    raise AssertionError(f"a peer this evaluation does not know: {peer}")


def rules_admit(rules: List[Dict[str, Any]], side: str, address: str, pod: Optional[Dict[str, Any]], port: int) -> bool:
    """NetworkPolicy's rule: some rule whose peers (none: any) and ports (none: any) both match."""
    for rule in rules:
        peers = rule.get(side)
        ports = rule.get("ports")
        if (not peers or any(peer_admits(peer, address, pod) for peer in peers)) and \
                (not ports or any(item.get("protocol", "TCP") == "TCP" and item["port"] == port for item in ports)):
            return True
    return False


def admitted(policies: List[Dict[str, Any]], client: Dict[str, Any], server_address: str,
             server: Optional[Dict[str, Any]], port: int) -> Tuple[bool, str]:
    """Whether the policies let client's pod connect to server_address:port (server: its pod, None off the pod network)."""
    def labels_of(pod: Dict[str, Any]) -> Dict[str, str]:
        return pod["metadata"].get("labels") or {}

    egress = [policy for policy in policies if "Egress" in policy["spec"].get("policyTypes", [])
              and matches(policy["spec"]["podSelector"], labels_of(client))]
    if egress and not any(rules_admit(policy["spec"].get("egress") or [], "to", server_address, server, port)
                          for policy in egress):
        return False, f"{client['metadata']['name']}'s egress"
    if server is None:
        return True, ""
    ingress = [policy for policy in policies if "Ingress" in policy["spec"].get("policyTypes", ["Ingress"])
               and matches(policy["spec"]["podSelector"], labels_of(server))]
    if ingress and not any(rules_admit(policy["spec"].get("ingress") or [], "from", client["status"]["podIP"],
                                       client, port) for policy in ingress):
        return False, f"{server['metadata']['name']}'s ingress"
    return True, ""


def pods_of(cluster: Dict[str, Any], name: str) -> List[Dict[str, Any]]:
    """The running pods of one component (its app.kubernetes.io/name)."""
    return [pod for pod in cluster["pods"] if pod["metadata"]["labels"].get("app.kubernetes.io/name") == name]


@pytest.fixture(scope="module")
def cluster() -> Dict[str, Any]:
    pods = [pod for pod in get("pods")["items"] if pod["status"].get("phase") == "Running"]
    services = get("services")["items"] + json.loads(kubectl("get", "services", "-n", "default", "-o", "json"))["items"]
    slices = get("endpointslices")["items"] + json.loads(
        kubectl("get", "endpointslices", "-n", "default", "-o", "json"))["items"]
    return {"pods": pods, "services": services, "slices": slices,
            "policies": get("networkpolicies")["items"]}


def destination(cluster: Dict[str, Any], address: str, port: int) -> List[Tuple[str, Optional[Dict[str, Any]], int]]:
    """Where a connection to address:port lands: a Service's address becomes each of its endpoints
    (at the target port), a pod's address that pod; anything else itself."""
    by_ip = {pod["status"].get("podIP"): pod for pod in cluster["pods"]}
    for service in cluster["services"]:
        if service["spec"].get("clusterIP") != address:
            continue
        name = next(item.get("name") for item in service["spec"]["ports"] if item["port"] == port)
        ends = [(endpoint_address, next(item["port"] for item in piece.get("ports") or [] if item.get("name") == name))
                for piece in cluster["slices"]
                if piece["metadata"].get("labels", {}).get("kubernetes.io/service-name") == service["metadata"]["name"]
                and piece["metadata"]["namespace"] == service["metadata"]["namespace"]
                for endpoint in piece.get("endpoints") or [] for endpoint_address in endpoint["addresses"]]
        return [(end, by_ip.get(end), end_port) for end, end_port in ends]
    return [(address, by_ip.get(address), port)]


@pytest.fixture(scope="module")
def connections(cluster) -> Dict[str, Set[Tuple[str, int]]]:
    """Per stack pod: the (address, port) of each connection it opened, sampled for SAMPLE_S seconds."""
    stack = [pod for pod in cluster["pods"] if pod["metadata"]["labels"].get("app.kubernetes.io/name") in STACK]
    pids = {pod["metadata"]["name"]: container_pid(pod) for pod in stack}
    assert all(pids.values()), f"no process found for {[name for name, pid in pids.items() if not pid]} under {TASKS}"
    found: Dict[str, Set[Tuple[str, int]]] = {name: set() for name in pids}
    deadline = time.monotonic() + SAMPLE_S
    while time.monotonic() < deadline:
        for name, pid in pids.items():
            rows = sockets(pid)
            listening = {port for state, _address, port, _remote, _rport in rows if state == LISTEN}
            found[name] |= {(remote, remote_port) for state, _address, port, remote, remote_port in rows
                            if state == ESTABLISHED and port not in listening
                            and not ipaddress.ip_address(remote).is_loopback}
        time.sleep(1)
    return found


def test_every_component_has_its_policy_in_the_cluster(cluster):
    names = {policy["metadata"]["name"] for policy in cluster["policies"]}
    assert set(STACK) <= names, sorted(names)
    agent = next(policy for policy in cluster["policies"] if policy["metadata"]["name"] == "otelcol-agent")
    gateway = next(policy for policy in cluster["policies"] if policy["metadata"]["name"] == "otelcol-gateway")
    assert agent["spec"]["policyTypes"] == ["Ingress", "Egress"] == gateway["spec"]["policyTypes"]


def test_every_connection_the_stack_holds_is_admitted_by_the_policies_of_both_ends(cluster, connections):
    pods = {pod["metadata"]["name"]: pod for pod in cluster["pods"]}
    refused, seen = [], set()
    for client_name, targets in connections.items():
        client = pods[client_name]
        for address, port in sorted(targets):
            for end, server, end_port in destination(cluster, address, port):
                verdict, by = admitted(cluster["policies"], client, end, server, end_port)
                what = (client["metadata"]["labels"]["app.kubernetes.io/name"],
                        server["metadata"]["labels"].get("app.kubernetes.io/name") if server else "off the pod network",
                        end_port)
                seen.add(what)
                if not verdict:
                    refused.append(f"{client_name} -> {address}:{port} ({end}:{end_port}) refused by {by}")
    FIGURES["connections"] = sorted(f"{client} -> {server}:{port}" for client, server, port in seen)
    print("FIGURES-NETWORK-POLICY", json.dumps(FIGURES))
    # Not vacuous: the agents' hop to the gateways, the gateways' to each backend, the API server.
    expected = {("otelcol-agent", "otelcol-gateway", 4317), ("otelcol-gateway", "jaeger", 4317),
                ("otelcol-gateway", "victorialogs", 9428)}
    assert expected <= seen, sorted(seen)
    assert any(client == "otelcol-agent" and server == "off the pod network" for client, server, _port in seen), sorted(seen)
    assert not refused, "\n".join(refused)


@pytest.mark.parametrize("client_name, server_name, port", [
    ("otelcol-agent", "victorialogs", 9428),   # an agent reaches the gateways only
    ("otelcol-gateway", "otelcol-agent", 4317),  # a gateway reaches the backends only
    ("otelcol-agent", "jaeger", 16686),
])
def test_the_policies_refuse_what_the_tiers_must_not_reach(cluster, client_name, server_name, port):
    client, server = pods_of(cluster, client_name)[0], pods_of(cluster, server_name)[0]
    verdict, by = admitted(cluster["policies"], client, server["status"]["podIP"], server, port)
    assert not verdict and by == f"{client['metadata']['name']}'s egress", by


# Run inside a pod's network namespace by connect_from: one TCP connect, its outcome as one word.
CONNECT = """
import errno, socket, sys
s = socket.socket(); s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("refused" if e.errno == errno.ECONNREFUSED else errno.errorcode.get(e.errno, str(e)))
"""


def connect_from(pod: Dict[str, Any], address: str, port: int, seconds: float = 5) -> str:
    """'connected', 'refused', 'timeout' or the errno's name: one TCP connection from the pod's network namespace."""
    pid = container_pid(pod)
    assert pid, f"no process found for {pod['metadata']['name']}"
    return subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "--", sys.executable, "-c", CONNECT, address,
                           str(port), str(seconds)], capture_output=True, text=True, check=True,
                          timeout=seconds + 10).stdout.strip()


def test_every_node_runs_the_enforcer():
    for node in cluster_nodes(LAYOUT):
        assert enforcing(node), f"{node.name}: kube-router's chains are not in its filter table"


@pytest.mark.parametrize("client_name, server_name, port, allowed_name, allowed_port", [
    # An agent reaches the gateways only: refused towards VictoriaLogs and Jaeger's UI, from
    # every agent (each node's, so on the server's node and on another).
    ("otelcol-agent", "victorialogs", 9428, "otelcol-gateway", 4317),
    ("otelcol-agent", "jaeger", 16686, "otelcol-gateway", 4317),
    # A gateway reaches the backends only: refused towards every agent.
    ("otelcol-gateway", "otelcol-agent", 4317, "victorialogs", 9428),
])
def test_the_cluster_refuses_what_the_tiers_must_not_reach(cluster, client_name, server_name, port, allowed_name,
                                                           allowed_port):
    clients, servers = pods_of(cluster, client_name), pods_of(cluster, server_name)
    allowed, control = pods_of(cluster, allowed_name)[0], pods_of(cluster, "shop-front")[0]
    assert clients and servers, (client_name, server_name)
    outcomes = {}
    for client in clients:
        for server in servers:
            where = "same node" if client["spec"]["nodeName"] == server["spec"]["nodeName"] else "across nodes"
            outcomes[(client["metadata"]["name"], server["metadata"]["name"], where)] = connect_from(
                client, server["status"]["podIP"], port)
        # The same client still reaches what it may.
        outcomes[(client["metadata"]["name"], allowed["metadata"]["name"], "allowed")] = connect_from(
            client, allowed["status"]["podIP"], allowed_port)
    # The control: a pod whose egress is open reaches the very port the policy refused.
    for server in servers:
        outcomes[(control["metadata"]["name"], server["metadata"]["name"], "control")] = connect_from(
            control, server["status"]["podIP"], port)
    print("FIGURES-NETWORK-POLICY-ENFORCED", json.dumps({f"{client_name} -> {server_name}:{port}": {
        " -> ".join(key[:2]) + f" ({key[2]})": outcome for key, outcome in outcomes.items()}}))
    wrong = {key: outcome for key, outcome in outcomes.items()
             if outcome != ("connected" if key[2] in ("allowed", "control") else "refused")}
    assert not wrong, wrong
    assert {key[2] for key in outcomes} >= {"control", "allowed", "same node", "across nodes"}, sorted(outcomes)
