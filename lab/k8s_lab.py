"""The lab's Kubernetes: upstream Kubernetes, etcd, CoreDNS and kube-router (its
NetworkPolicy firewall only) built from their published Go modules and run as
plain processes, a control-plane node and two workers, each node in a network
namespace of its own, with guards so that nothing sent to a pod or Service
address can leave the machine.

    k8s_lab.py build                 build the binaries and the pause/CoreDNS images (cached)
    k8s_lab.py up                    start the cluster (when already up: report and exit 0)
    k8s_lab.py down                  stop it, remove what `up` added; caches stay
    k8s_lab.py guards                exit 1 naming each guard that is missing (every node)
    k8s_lab.py nodes                 print the nodes' names, control-plane node first
    k8s_lab.py node-stop NAME        a worker lost: its kubelet, kube-proxy, kube-router,
                                     containerd and containers killed
    k8s_lab.py node-start NAME       a stopped worker started again
    k8s_lab.py images [COMPONENT...] build the lab images from the artifact mirror's
                                     binaries and import them into the cluster
    k8s_lab.py kubeconfig            print the admin kubeconfig's path
    k8s_lab.py kubectl ARGS...       kubectl with that kubeconfig

Versions: lab/kubernetes.yml. Layout under $LGTM_CACHE (default
~/.cache/observability-lgtm):
    k8s/go/        this build's own Go build and module caches
    k8s/src/       the wrapper modules the binaries are built from
    k8s/bin/       the binaries
    k8s/images/    image archives (docker-archive tars) and their recipe digests
    k8s/containerd/  containerd's root: imported images survive `down`
    k8s/containerd-lgtm-lab-N/  each worker's containerd root
    k8s/run/       the running cluster's state (PKI, etcd, kubelet): new on every `up`;
                   a worker's in k8s/run/nodes/lgtm-lab-N/
    k8s/admin.conf the admin kubeconfig (API server https://10.250.0.2:6443)
    stamps/k8s-*.json  what each build was made from; logs/k8s-*.log one log per step
Volatile state (pid files, sockets, what `up` changed on the host) is in /run/lgtm-k8s.

This file is the command line only; the lab cluster itself is the package
lab/k8s/ (its __init__ lists the modules).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time

from buildkit import StepFailed
from k8s.addons import provisioner
from k8s.build import build
from k8s.images import images
from k8s.layout import ADMIN_CONF, BIN, Layout
from k8s.lifecycle import cluster_nodes, cluster_state, control_plane_node, down, start_node, stop_node, up
from k8s.network import load_changes, missing_guards

COMMANDS = ["build", "up", "down", "guards", "nodes", "node-stop", "node-start", "images", "kubeconfig", "kubectl",
            "status", "provisioner"]


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    return parser


def check_guards(layout: Layout) -> int:
    """`guards`: 0 when every recorded guard of every node is in place, 1 naming each
    missing one, 2 when a node is not up (nothing recorded)."""
    nodes = cluster_nodes(layout)
    absent = [node.name for node in nodes if not node.changes.exists()]
    if absent:
        print(f"k8s: not up ({', '.join(absent)}): no guards to check")
        return 2
    missing = [f"{node.name}: {name}" for node in nodes for name in missing_guards(node)]
    for name in missing:
        print(f"MISSING guard: {name}")
    if not missing:
        print("\n".join(f"ok: {node.name}: {change.name}" for node in nodes
                        for change in load_changes(node) if change.guard))
    return 1 if missing else 0


def one_name(arguments: list[str]) -> str:
    if len(arguments) != 1:
        raise StepFailed("name exactly one worker node (`k8s_lab.py nodes` lists them)")
    return arguments[0]


def main() -> int:
    args = argument_parser().parse_args()
    layout = Layout()
    try:
        if args.command == "build":
            started = time.monotonic()
            build(args.arguments or None)
            print(f"build: done in {time.monotonic() - started:.0f}s")
        elif args.command == "up":
            up(layout)
        elif args.command == "down":
            down(layout)
        elif args.command == "guards":
            return check_guards(layout)
        elif args.command == "images":
            images(layout, cluster_nodes(layout), args.arguments)
        elif args.command == "nodes":
            print("\n".join(node.name for node in cluster_nodes(layout)))
        elif args.command == "node-stop":
            stop_node(layout, one_name(args.arguments))
        elif args.command == "node-start":
            start_node(layout, one_name(args.arguments))
        elif args.command == "kubeconfig":
            print(ADMIN_CONF)
        elif args.command == "kubectl":
            return subprocess.run([str(BIN / "kubectl"), f"--kubeconfig={ADMIN_CONF}", *args.arguments],
                                  check=False).returncode
        elif args.command == "status":
            print(cluster_state(layout, control_plane_node(layout)))
        else:
            provisioner(layout, control_plane_node(layout))
    except StepFailed as failure:
        print(f"ERROR: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
