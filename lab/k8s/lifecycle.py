"""`up`, `down` and the cluster's state: the order in which the network, the
guards, the configs, the processes and the add-ons come and go. Today the
cluster is one node, the first (node_at(layout, 0)), which also runs the
control plane."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import buildkit
from buildkit import StepFailed

from .addons import coredns_manifests, storage_class
from .build import built, load_pins
from .cluster import (Api, api_url, apply, cluster_admins, deployment_ready, exists, kubeadm_phases,
                      kubectl, node_ready, processes)
from .host import Steps, env, read_pid, sh, start, stop, wait_for
from .layout import ADMIN_CONF, ENTRY_POINT, Layout
from .network import apply_network, conflicts, lab_ranges, missing_guards, network_plan, undo_network, \
    uplinks_from
from .node import (Node, create_cgroups, ctr, import_images, mounts_under, node_at, remove_cgroups,
                   remove_containers, shim_pids, write_node_configs)


def control_plane_node(layout: Layout) -> Node:
    """The node the control plane runs on (and, today, the only one)."""
    return node_at(layout, 0)


def cluster_state(layout: Layout, node: Node) -> str:
    """'up' (every process running and the API ready), 'down' (nothing of the
    cluster left), or 'partial'."""
    names = [process.name for process in processes(layout, node)] + ["provisioner"]
    running = [name for name in names if read_pid(layout, name) is not None]
    if not running and not node.changes.exists() and not node.netns_path.exists():
        return "down"
    if len(running) == len(names) and node.changes.exists():
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
                 "nsenter", "ip"):
        if shutil.which(tool, path=env()["PATH"]) is None:
            raise StepFailed(f"{tool} is missing; `lab/setup.sh` installs the Debian packages")
    if not Path("/usr/lib/cni/bridge").exists():
        raise StepFailed("/usr/lib/cni/bridge is missing: install containernetworking-plugins")
    routes = json.loads(sh(["ip", "-j", "route", "show"]).stdout or "[]")
    in_the_way = conflicts(routes, lab_ranges(nodes))
    if in_the_way:
        raise StepFailed(f"host routes overlap the lab's ranges: {'; '.join(in_the_way)}")
    return [route for route in routes if route.get("dst") == "default"]


def up(layout: Layout) -> None:
    pins = load_pins()
    node = control_plane_node(layout)
    url = api_url(node)
    state = cluster_state(layout, node)
    if state == "up":
        print(f"k8s: already up; API {url}, kubeconfig {ADMIN_CONF}")
        return
    if state == "partial":
        raise StepFailed("the cluster is partly up (a process died or an `up` failed); "
                         "run `lab/k8s_lab.py down` first")
    default_routes = preflight(pins, [node])
    uplinks = uplinks_from(default_routes)
    steps = Steps()
    print(f"k8s: up (logs: {buildkit.LOGS}/k8s-*.log)", flush=True)
    shutil.rmtree(layout.run, ignore_errors=True)
    ADMIN_CONF.unlink(missing_ok=True)
    steps.step(f"network namespace, veth and guards (uplinks: {', '.join(uplinks) or 'none'})",
               lambda: apply_network(node, network_plan(node, uplinks, shutil.which("ip6tables") is not None)))
    missing = missing_guards(node)
    if missing:
        raise StepFailed(f"guards missing right after set-up: {', '.join(missing)}")
    steps.step("cgroups", lambda: create_cgroups(node))

    def configs() -> None:
        layout.volumes.mkdir(parents=True, exist_ok=True)
        write_node_configs(layout, node, pins["pause"]["image"])
        kubeadm_phases(layout, node, pins["kubernetes"]["version"])
    steps.step("configs and PKI", configs)
    procs = {process.name: process for process in processes(layout, node)}
    api = Api(layout, node)

    def containerd() -> None:
        start(layout, "containerd", procs["containerd"].argv, node.enter)
        wait_for("containerd", lambda: ctr(node, "version", timeout=5).returncode == 0, layout, 60,
                 ["containerd"])
        imported = import_images(node)
        if imported:
            print(f"  k8s: imported {', '.join(imported)}")
    steps.step("containerd", containerd)

    def control_plane() -> None:
        start(layout, "etcd", procs["etcd"].argv, node.enter)
        start(layout, "kube-apiserver", procs["kube-apiserver"].argv, node.enter)
        wait_for("the API server", lambda: api.get("/readyz") == "ok", layout, 180,
                 ["etcd", "kube-apiserver"])
        cluster_admins(layout)
        for name in ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"):
            start(layout, name, procs[name].argv, node.enter)
        start(layout, "provisioner", [sys.executable, str(ENTRY_POINT), "provisioner"])
        shutil.copy(layout.kubeconfigs / "admin.conf", ADMIN_CONF)
        ADMIN_CONF.chmod(0o600)
    steps.step("etcd, API server, controller-manager, scheduler, kubelet, kube-proxy", control_plane)
    watched = list(procs) + ["provisioner"]
    steps.step("node Ready", lambda: wait_for("node Ready", lambda: node_ready(api, node), layout, 180,
                                              watched))
    steps.step("CoreDNS and the default StorageClass",
               lambda: apply([*coredns_manifests(pins["coredns"]["image"]), storage_class()]))
    steps.step("default ServiceAccount", lambda: wait_for(
        "the default ServiceAccount", lambda: exists(api, "/api/v1/namespaces/default/serviceaccounts/default"),
        layout, 120, watched))
    steps.step("CoreDNS rollout", lambda: wait_for(
        "CoreDNS", lambda: deployment_ready(api, "kube-system", "coredns"), layout, 180, watched))
    print(f"k8s: ready in {steps.elapsed():.1f}s; API {url}; kubeconfig {ADMIN_CONF}", flush=True)


def drain(layout: Layout, node: Node) -> None:
    """Let kubelet tear the pods down (their network, volumes and containers): stop
    what would recreate them, delete them all, wait until no container runs."""
    stop(layout, "kube-controller-manager")
    stop(layout, "kube-scheduler")
    stop(layout, "provisioner")
    if read_pid(layout, "kubelet") is None or read_pid(layout, "kube-apiserver") is None:
        return
    kubectl(["delete", "pods", "--all", "--all-namespaces", "--grace-period=2", "--wait=false"],
            layout.kubeconfigs / "admin.conf")

    api = Api(layout, node)

    def all_gone() -> bool:
        # kubelet lets a pod object go only once it stopped the pod's sandbox,
        # which tears down its network.
        if api.get("/api/v1/pods")["items"]:
            return False
        tasks = ctr(node, "tasks", "ls", timeout=10).stdout.splitlines()[1:]
        return not [line for line in tasks if "RUNNING" in line]
    try:
        wait_for("kubelet to stop every pod", all_gone, layout, 90)
    except StepFailed as timeout:
        print(f"  k8s: {timeout}; killing what is left", flush=True)


def down(layout: Layout) -> None:
    steps = Steps()
    node = control_plane_node(layout)
    if cluster_state(layout, node) == "down":
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
    attempt("pods stopped by kubelet", lambda: drain(layout, node))
    for name in ("kube-proxy", "kubelet", "kube-apiserver", "etcd"):
        stop(layout, name)
    if read_pid(layout, "containerd") is not None:
        attempt("containers removed", lambda: remove_containers(node))
    stop(layout, "containerd")
    for pid in shim_pids(node):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print("  k8s: processes stopped", flush=True)

    def unmount() -> None:
        for point in mounts_under(*node.folders):
            if sh(["umount", point], check=False).returncode != 0:
                sh(["umount", "-l", point], check=False)
    steps.step("unmounted", unmount)
    busy = remove_cgroups(node)
    problems = undo_network(node)
    print("  k8s: guards, routes, veth and namespace removed", flush=True)
    shutil.rmtree(layout.run, ignore_errors=True)
    shutil.rmtree(layout.runtime, ignore_errors=True)
    ADMIN_CONF.unlink(missing_ok=True)
    for problem in [*warnings, *problems, *(f"cgroup still busy: {group}" for group in busy)]:
        print(f"  k8s: WARNING {problem}", flush=True)
    print(f"k8s: down in {steps.elapsed():.1f}s", flush=True)
