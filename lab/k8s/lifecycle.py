"""`up`, `down` and the cluster's state: the order in which the network, the
guards, the configs, the processes (the NetworkPolicy enforcers last) and the
add-ons come and go, for every node (node_at(layout, i)); the first also runs
the control plane. A worker can
be stopped as a lost machine is (its processes and pods killed) and started
again (`stop_node`, `start_node`)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import buildkit
from buildkit import StepFailed

from .addons import coredns_manifests, storage_class
from .build import built, load_pins
from .cluster import (Api, api_url, apply, cluster_admins, deployment_ready, exists, kubeadm_phases,
                      kubectl, node_credentials, node_ready, processes)
from .host import Steps, env, read_pid, sh, start, stop, wait_for
from .layout import ADMIN_CONF, ENTRY_POINT, Layout
from .network import apply_network, conflicts, lab_ranges, missing_guards, network_plan, undo_network, \
    uplinks_from
from .node import (Node, containerd_process, create_cgroups, ctr, enforcing, import_images, kill_processes,
                   kubelet_processes, mount_namespace_of, mounts_under, node_at, node_processes,
                   policy_enforcer_process, remove_cgroups, remove_containers, write_node_configs)


def control_plane_node(layout: Layout) -> Node:
    """The node the control plane runs on."""
    return node_at(layout, 0)


def cluster_nodes(layout: Layout) -> list[Node]:
    """Every node of the cluster, the control-plane node first."""
    return [node_at(layout, index) for index in range(layout.nodes)]


def worker(layout: Layout, name: str) -> Node:
    """The worker node of that name; a clear error for any other name."""
    workers = {node.name: node for node in cluster_nodes(layout)[1:]}
    if name not in workers:
        raise StepFailed(f"no worker node named {name!r}; the workers are {', '.join(workers)}")
    return workers[name]


def enter(layout: Layout, node: Node) -> list[str]:
    """What puts a kubelet into its node: the network namespace, and on a worker the
    mount namespace its containerd made (containerd_process)."""
    if node.control_plane:
        return node.enter
    pid = read_pid(layout, node.process("containerd"))
    if pid is None:
        raise StepFailed(f"the containerd of {node.name} is not running")
    return ["nsenter", f"--net={node.netns_path}", mount_namespace_of(pid), "--"]


def cluster_state(layout: Layout, node: Node) -> str:
    """'up' (every process running and the API ready), 'down' (nothing of the
    cluster left), or 'partial'."""
    nodes = cluster_nodes(layout)
    names = [process.name for process in processes(layout, nodes)] + ["provisioner"]
    running = [name for name in names if read_pid(layout, name) is not None]
    recorded = [each for each in nodes if each.changes.exists() or each.netns_path.exists()]
    if not running and not recorded:
        return "down"
    if len(running) == len(names) and all(each.changes.exists() for each in nodes):
        try:
            if Api(layout, node).get("/readyz") == "ok":
                return "up"
        except (OSError, ValueError):
            pass
    return "partial"


def preflight(pins: dict[str, Any], nodes: list[Node]) -> list[dict[str, Any]]:
    """Refuse to start, changing nothing, when something is missing or in the way.
    Returns the host's default routes."""
    if os.geteuid() != 0:
        raise StepFailed("up needs root (network namespace, iptables, cgroups, mounts)")
    stale = built(pins)
    if stale:
        raise StepFailed(f"not built: {', '.join(stale)}; run `lab/k8s_lab.py build`")
    for tool in ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "conntrack",
                 "nsenter", "ip", "ipset"):
        if shutil.which(tool, path=env()["PATH"]) is None:
            raise StepFailed(f"{tool} is missing; `lab/setup.sh` installs the Debian packages")
    if not Path("/usr/lib/cni/bridge").exists():
        raise StepFailed("/usr/lib/cni/bridge is missing: install containernetworking-plugins")
    if len(nodes) > 1 and Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() != "1":
        raise StepFailed("the host does not forward IPv4 (net.ipv4.ip_forward=0): pod traffic between "
                         "the nodes goes through it; set it to 1 (Docker does when it starts)")
    routes = json.loads(sh(["ip", "-j", "route", "show"]).stdout or "[]")
    in_the_way = conflicts(routes, lab_ranges(nodes))
    if in_the_way:
        raise StepFailed(f"host routes overlap the lab's ranges: {'; '.join(in_the_way)}")
    return [route for route in routes if route.get("dst") == "default"]


def start_containerd(layout: Layout, node: Node) -> None:
    """The node's containerd, ready, with the lab's images imported."""
    process = containerd_process(layout, node)
    start(layout, process.name, process.argv, node.enter)
    wait_for(f"containerd of {node.name}", lambda: ctr(node, "version", timeout=5).returncode == 0, layout, 60,
             [process.name])
    imported = import_images(node)
    if imported:
        print(f"  k8s: {node.name}: imported {', '.join(imported)}")


def start_kubelet(layout: Layout, node: Node) -> None:
    """The node's kubelet and kube-proxy (its containerd runs)."""
    for process in kubelet_processes(layout, node):
        start(layout, process.name, process.argv, enter(layout, node))


def start_policy_enforcer(layout: Layout, node: Node) -> None:
    """The node's NetworkPolicy enforcer, once its chains filter the node's traffic."""
    process = policy_enforcer_process(layout, node)
    start(layout, process.name, process.argv, node.enter)
    wait_for(f"the NetworkPolicy enforcer of {node.name}", lambda: enforcing(node), layout, 60, [process.name])


def up(layout: Layout) -> None:
    pins = load_pins()
    nodes = cluster_nodes(layout)
    control = nodes[0]
    url = api_url(control)
    state = cluster_state(layout, control)
    if state == "up":
        print(f"k8s: already up; API {url}, kubeconfig {ADMIN_CONF}")
        return
    if state == "partial":
        raise StepFailed("the cluster is partly up (a process died or an `up` failed); "
                         "run `lab/k8s_lab.py down` first")
    default_routes = preflight(pins, nodes)
    uplinks = uplinks_from(default_routes)
    steps = Steps()
    print(f"k8s: up, {len(nodes)} nodes (logs: {buildkit.LOGS}/k8s-*.log)", flush=True)
    shutil.rmtree(layout.run, ignore_errors=True)
    ADMIN_CONF.unlink(missing_ok=True)
    ip6tables = shutil.which("ip6tables") is not None

    def networks() -> None:
        for node in nodes:
            apply_network(node, network_plan(node, uplinks, ip6tables))
    steps.step(f"network namespaces, veths and guards (uplinks: {', '.join(uplinks) or 'none'})", networks)
    missing = [f"{node.name}: {name}" for node in nodes for name in missing_guards(node)]
    if missing:
        raise StepFailed(f"guards missing right after set-up: {', '.join(missing)}")

    def cgroups() -> None:
        for node in nodes:
            create_cgroups(node)
    steps.step("cgroups", cgroups)

    def configs() -> None:
        layout.volumes.mkdir(parents=True, exist_ok=True)
        for node in nodes:
            write_node_configs(layout, node, pins["pause"]["image"])
        kubeadm_phases(layout, control, pins["kubernetes"]["version"])
        for node in nodes:
            node_credentials(layout, control, node)
    steps.step("configs and PKI", configs)
    procs = {process.name: process for process in processes(layout, nodes)}
    api = Api(layout, control)

    def containerds() -> None:
        for node in nodes:
            start_containerd(layout, node)
    steps.step("containerd on every node", containerds)

    def control_plane() -> None:
        start(layout, "etcd", procs["etcd"].argv, control.enter)
        start(layout, "kube-apiserver", procs["kube-apiserver"].argv, control.enter)
        wait_for("the API server", lambda: api.get("/readyz") == "ok", layout, 180,
                 ["etcd", "kube-apiserver"])
        cluster_admins(layout)
        for name in ("kube-controller-manager", "kube-scheduler"):
            start(layout, name, procs[name].argv, control.enter)
        for node in nodes:
            start_kubelet(layout, node)
        start(layout, "provisioner", [sys.executable, str(ENTRY_POINT), "provisioner"])
        shutil.copy(layout.kubeconfigs / "admin.conf", ADMIN_CONF)
        ADMIN_CONF.chmod(0o600)
    steps.step("etcd, API server, controller-manager, scheduler, kubelets, kube-proxies", control_plane)
    enforcers = [policy_enforcer_process(layout, node).name for node in nodes]
    steps.step("every node Ready", lambda: wait_for(
        "every node Ready", lambda: all(node_ready(api, node) for node in nodes), layout, 180,
        [name for name in procs if name not in enforcers] + ["provisioner"]))

    def start_enforcers() -> None:
        for node in nodes:
            start_policy_enforcer(layout, node)
    steps.step("NetworkPolicy enforcers (kube-router's firewall) on every node", start_enforcers)
    watched = list(procs) + ["provisioner"]
    # kubelet may not give itself a node-role label (NodeRestriction): the admin does.
    steps.step("control-plane role label", lambda: kubectl(
        ["label", "node", control.name, "node-role.kubernetes.io/control-plane=", "--overwrite"]))
    steps.step("CoreDNS and the default StorageClass",
               lambda: apply([*coredns_manifests(pins["coredns"]["image"]), storage_class()]))
    steps.step("default ServiceAccount", lambda: wait_for(
        "the default ServiceAccount", lambda: exists(api, "/api/v1/namespaces/default/serviceaccounts/default"),
        layout, 120, watched))
    steps.step("CoreDNS rollout", lambda: wait_for(
        "CoreDNS", lambda: deployment_ready(api, "kube-system", "coredns"), layout, 180, watched))
    print(f"k8s: ready in {steps.elapsed():.1f}s; API {url}; kubeconfig {ADMIN_CONF}", flush=True)


def drain(layout: Layout, nodes: list[Node]) -> None:
    """Let the kubelets tear the pods down (their network, volumes and containers): stop
    what would recreate them, delete them all, wait until no container runs."""
    stop(layout, "kube-controller-manager")
    stop(layout, "kube-scheduler")
    stop(layout, "provisioner")
    if read_pid(layout, "kube-apiserver") is None or all(
            read_pid(layout, node.process("kubelet")) is None for node in nodes):
        return
    kubectl(["delete", "pods", "--all", "--all-namespaces", "--grace-period=2", "--wait=false"],
            layout.kubeconfigs / "admin.conf")

    api = Api(layout, nodes[0])
    live = [node for node in nodes if read_pid(layout, node.process("kubelet")) is not None]

    def all_gone() -> bool:
        # kubelet lets a pod object go only once it stopped the pod's sandbox,
        # which tears down its network.
        bound = {pod["spec"].get("nodeName") for pod in api.get("/api/v1/pods")["items"]}
        if bound & {node.name for node in live}:
            return False
        return not any("RUNNING" in line for node in live
                       for line in ctr(node, "tasks", "ls", timeout=10).stdout.splitlines()[1:])
    try:
        wait_for("the kubelets to stop every pod", all_gone, layout, 90)
    except StepFailed as timeout:
        print(f"  k8s: {timeout}; killing what is left", flush=True)


def kill_node(layout: Layout, node: Node) -> list[int]:
    """Stop the node's NetworkPolicy enforcer, kube-proxy, kubelet and containerd, then kill
    its shims and every process in its cgroups (its containers): what the node ran is gone,
    as on a machine that went away. Returns the pids that would not die."""
    for process in reversed(node_processes(layout, node)):
        stop(layout, process.name)
    return kill_processes(node)


def stop_node(layout: Layout, name: str) -> None:
    """`node-stop NAME`: the worker is lost; the API learns it as a cluster would
    (the node's lease expires)."""
    node = worker(layout, name)
    left = kill_node(layout, node)
    if left:
        raise StepFailed(f"{node.name}: processes still running after SIGKILL: {left}")
    print(f"k8s: {node.name} stopped: kubelet, kube-proxy, kube-router, containerd and every container killed",
          flush=True)


def start_node(layout: Layout, name: str) -> None:
    """`node-start NAME`: a stopped worker comes back (containerd, kubelet, kube-proxy, its
    NetworkPolicy enforcer)."""
    node = worker(layout, name)
    if read_pid(layout, node.process("kubelet")) is not None:
        print(f"k8s: {node.name} runs already")
        return
    start_containerd(layout, node)
    start_kubelet(layout, node)
    api = Api(layout, control_plane_node(layout))
    wait_for(f"{node.name} Ready", lambda: node_ready(api, node), layout, 180,
             [process.name for process in [containerd_process(layout, node), *kubelet_processes(layout, node)]])
    start_policy_enforcer(layout, node)
    print(f"k8s: {node.name} started and Ready", flush=True)


def down(layout: Layout) -> None:
    steps = Steps()
    nodes = cluster_nodes(layout)
    if cluster_state(layout, nodes[0]) == "down":
        print("k8s: already down")
        return
    print("k8s: down", flush=True)
    warnings: list[str] = []

    def attempt(what: str, action: Callable[[], object]) -> None:
        """A step that must not stop the rest of `down` when it fails."""
        try:
            steps.step(what, action)
        except (StepFailed, OSError, subprocess.TimeoutExpired) as failure:
            warnings.append(f"{what}: {failure}")
    attempt("pods stopped by the kubelets", lambda: drain(layout, nodes))
    for node in nodes:
        containerd = containerd_process(layout, node).name  # stays until its containers are removed (below)
        for process in reversed(node_processes(layout, node)):
            if process.name != containerd:
                stop(layout, process.name)
    for name in ("kube-apiserver", "etcd"):
        stop(layout, name)
    for node in nodes:
        if read_pid(layout, node.process("containerd")) is not None:
            attempt(f"containers of {node.name} removed", lambda node=node: remove_containers(node))
        left = kill_node(layout, node)
        if left:
            warnings.append(f"{node.name}: processes still running after SIGKILL: {left}")
    print("  k8s: processes stopped", flush=True)

    def unmount() -> None:
        for node in nodes:
            for point in mounts_under(*node.folders):
                if sh(["umount", point], check=False).returncode != 0:
                    sh(["umount", "-l", point], check=False)
    steps.step("unmounted", unmount)
    busy = [group for node in nodes for group in remove_cgroups(node)]
    problems = [problem for node in reversed(nodes) for problem in undo_network(node)]
    print("  k8s: guards, routes, veths and namespaces removed", flush=True)
    shutil.rmtree(layout.run, ignore_errors=True)
    shutil.rmtree(layout.runtime, ignore_errors=True)
    ADMIN_CONF.unlink(missing_ok=True)
    for problem in [*warnings, *problems, *(f"cgroup still busy: {group}" for group in busy)]:
        print(f"  k8s: WARNING {problem}", flush=True)
    print(f"k8s: down in {steps.elapsed():.1f}s", flush=True)
