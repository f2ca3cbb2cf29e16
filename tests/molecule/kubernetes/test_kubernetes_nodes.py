"""The gateway tier across the lab cluster's nodes: a worker drained, then a worker lost, each while
orders are sent; nothing lost and every trace whole on one gateway pod. The lost node, removed
from the cluster, comes back and joins again.

The cluster has a control-plane node (tainted) and two workers (lab/k8s), each with its own network
namespace, containerd, kubelet and kube-proxy; the gateway's two pods spread over the workers. Each
proof counts the orders the shop answered (sent) against the complete traces Jaeger holds (stored),
the traces whose spans two gateway pods handled (split) and the spans stored twice, and prints the
time the tier took to be whole again (recovered_s). The controls are the other proofs of this
scenario that show what each mechanism prevents: the queue-off runs of the reliability scenario and
the agents' routing by trace ID (test_kubernetes.py).

The shop keeps its spans in memory until it exports them, and a lost node takes them with it: that
is the application's loss, not the tier's. So before the faults the worker that will go (the victim)
is left with nothing but its agent and one gateway pod; the shop, the backends and CoreDNS run on the
other worker.
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest
from lgtm_stack import wait_for
from test_kubernetes import (GATEWAY_SELECTOR, NAMESPACE, control_plane, counted_fault, get, k8s_lab, kubectl,
                             node_names, orders_during, ready)
from test_kubernetes import jaeger  # noqa: F401 # pylint: disable=unused-import

OUT_OF_SERVICE_KEY = "node.kubernetes.io/out-of-service"
OUT_OF_SERVICE = f"{OUT_OF_SERVICE_KEY}=nodeshutdown:NoExecute"
FIGURES: dict[str, Any] = {}


def node_ready(name: str) -> bool:
    node = json.loads(kubectl("get", "node", name, "-o", "json"))
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


def pods_on(node: str) -> list[dict[str, Any]]:
    """The stack's pods on the node that have not finished (a validation Job's pod has)."""
    return [pod for pod in get("pods")["items"] if pod["spec"].get("nodeName") == node
            and pod["status"].get("phase") not in ("Succeeded", "Failed")]


def owner_kind(pod: dict[str, Any]) -> str:
    return next((owner["kind"] for owner in pod["metadata"].get("ownerReferences", [])), "")


def gateway_pod(ordinal: int) -> dict[str, Any]:
    """The gateway pod of that ordinal; {} while it does not exist (deleted, not yet recreated)."""
    answer = kubectl("get", "pod", "-n", NAMESPACE, f"otelcol-gateway-{ordinal}", "-o", "json", "--ignore-not-found")
    return json.loads(answer) if answer.strip() else {}


def settled() -> bool:
    """Every Deployment and the StatefulSet of the stack at its replicas, all ready."""
    workloads = get("deployments")["items"] + get("statefulsets")["items"]
    return all(w["status"].get("readyReplicas", 0) == w["spec"]["replicas"] ==
               w["status"].get("updatedReplicas", w["spec"]["replicas"]) for w in workloads)


@pytest.fixture(scope="module")
def workers() -> tuple[str, str]:
    """(victim, survivor): the victim is the worker of gateway pod 1, left with nothing but its agent
    and that gateway pod; the survivor runs everything else of the stack (and CoreDNS)."""
    names = node_names()
    workers = [name for name in names if name != control_plane()]
    victim = gateway_pod(1)["spec"]["nodeName"]
    assert victim in workers, f"gateway pod 1 runs on {victim}, not on a worker of {workers}"
    (survivor,) = [name for name in workers if name != victim]
    kubectl("cordon", victim)
    try:
        for pod in pods_on(victim):
            if owner_kind(pod) == "ReplicaSet":
                kubectl("delete", "pod", "-n", NAMESPACE, pod["metadata"]["name"], "--wait=true")
        coredns = json.loads(kubectl("get", "pods", "-n", "kube-system", "-l", "k8s-app=kube-dns", "-o", "json"))
        for pod in coredns["items"]:
            if pod["spec"].get("nodeName") == victim:
                kubectl("delete", "pod", "-n", "kube-system", pod["metadata"]["name"], "--wait=true")
        assert wait_for(settled, seconds=240, interval=1), get("pods")
    finally:
        kubectl("uncordon", victim)
    left = sorted(owner_kind(pod) for pod in pods_on(victim))
    assert left == ["DaemonSet", "StatefulSet"], [pod["metadata"]["name"] for pod in pods_on(victim)]
    return victim, survivor


def test_the_cluster_has_a_tainted_control_plane_and_two_workers_and_the_gateway_pods_spread_over_the_workers():
    names = node_names()
    assert len(names) == 3 and all(node_ready(name) for name in names), names
    control = control_plane()
    placed = sorted(pod["spec"]["nodeName"] for pod in get("pods", selector=GATEWAY_SELECTOR)["items"])
    assert control not in placed and len(set(placed)) == 2, placed
    agents = sorted(pod["spec"]["nodeName"] for pod in get("pods", selector="app.kubernetes.io/name=otelcol-agent")["items"])
    assert agents == names


def test_draining_the_worker_of_a_gateway_pod_during_orders_loses_none_and_keeps_each_trace_whole(jaeger, workers):
    """`kubectl drain` evicts the gateway pod (its PodDisruptionBudget allows one), which the StatefulSet
    starts on the other worker on its own claim, while the agents route around it."""
    victim, survivor = workers
    before = gateway_pod(1)["metadata"]["uid"]
    try:
        sent, errors, recovered = orders_during(lambda: kubectl(
            "drain", victim, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=240s"), "drain")
        moved = gateway_pod(1)
    finally:
        kubectl("uncordon", victim)
    assert moved["metadata"]["uid"] != before and moved["spec"]["nodeName"] == survivor, moved["spec"]
    lost, split = counted_fault(jaeger, "DRAIN", sent, errors, recovered)
    FIGURES["drain_recovered_s"] = round(recovered, 1)
    assert lost == 0, f"{lost} of {len(sent)} traces lost while {victim} was drained"
    assert not split, f"traces split over gateway pods while {victim} was drained: {split}"


def lose(victim: str, survivor: str) -> Callable[[], None]:
    """The victim's processes and containers killed (`k8s_lab.py node-stop`); once the API sees the node
    NotReady, the out-of-service taint an operator sets on a node that is gone (non-graceful node
    shutdown), which lets the cluster delete its pods and the StatefulSet start gateway pod 1 on the
    survivor, on the same claim."""
    def fault() -> None:
        k8s_lab("node-stop", victim, timeout=300)
        assert wait_for(lambda: not node_ready(victim), seconds=180, interval=1), f"{victim} still Ready"
        kubectl("taint", "node", victim, OUT_OF_SERVICE)

        def replaced() -> bool:
            pod = gateway_pod(1)
            return bool(pod) and pod["spec"].get("nodeName") == survivor and ready(pod)
        assert wait_for(replaced, seconds=240, interval=1), gateway_pod(1).get("status")
    return fault


def test_losing_the_worker_of_a_gateway_pod_during_orders_loses_none_and_keeps_each_trace_whole(jaeger, workers):
    victim, survivor = workers
    # Back on the victim (the drain moved it away): the spread puts the new pod on the emptier worker.
    before = gateway_pod(1)["metadata"]["uid"]
    kubectl("delete", "pod", "-n", NAMESPACE, "otelcol-gateway-1", "--wait=true")
    assert wait_for(lambda: ready(gateway_pod(1)) and gateway_pod(1)["metadata"]["uid"] != before,
                    seconds=180, interval=1), gateway_pod(1).get("status")
    assert gateway_pod(1)["spec"]["nodeName"] == victim, gateway_pod(1)["spec"]
    started = time.monotonic()
    try:
        sent, errors, recovered = orders_during(lose(victim, survivor), "node-loss")
    finally:
        # The lost node removed from the cluster, as an operator does, and the machine back: its kubelet
        # registers it again (a node joining), and the agents' DaemonSet starts its pod there.
        kubectl("delete", "node", victim, "--wait=true")
        k8s_lab("node-start", victim, timeout=300)
    agents = "app.kubernetes.io/name=otelcol-agent"
    back = wait_for(lambda: node_ready(victim) and settled() and sorted(
        pod["spec"]["nodeName"] for pod in get("pods", selector=agents)["items"] if ready(pod)) ==
        node_names(), seconds=240, interval=1)
    node_back_s = time.monotonic() - started
    joined = json.loads(kubectl("get", "node", victim, "-o", "json"))
    lost, split = counted_fault(jaeger, "NODE-LOSS", sent, errors, recovered, f" node_back_s={node_back_s:.1f}")
    FIGURES["node_loss_recovered_s"] = round(recovered, 1)
    assert back, f"{victim} and the stack did not come back: {get('pods')['items']}"
    assert not [t for t in joined["spec"].get("taints", []) if t["key"] == OUT_OF_SERVICE_KEY], joined["spec"]
    assert lost == 0, f"{lost} of {len(sent)} traces lost when {victim} was lost"
    assert not split, f"traces split over gateway pods when {victim} was lost: {split}"
