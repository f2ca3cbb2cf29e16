"""Where the lab Kubernetes keeps things, and the facts every node shares:
the cache folders, the Service and pod ranges, and the cluster's state folders
(Layout). A node's own names, addresses and folders are in node.py."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import buildkit

LAB_DIR = Path(__file__).resolve().parent.parent
REPO = LAB_DIR.parent
# The command line: `up` starts the provisioner loop through it, and the loop's
# pid is recognised by this file name in its command line.
ENTRY_POINT = LAB_DIR / "k8s_lab.py"
CACHE = buildkit.CACHE
K8S = CACHE / "k8s"
GO_DIRS = K8S / "go"
SRC = K8S / "src"
BIN = K8S / "bin"
IMAGES = K8S / "images"
STAMPS = CACHE / "stamps"
PINS_FILE = LAB_DIR / "kubernetes.yml"
ADMIN_CONF = K8S / "admin.conf"

SERVICE_CIDR = "10.96.0.0/16"
# The cluster's pod range; each node takes a /24 of it (node.py).
POD_CIDR = "10.244.0.0/16"
DNS_IP = "10.96.0.10"
API_PORT = 6443
CLUSTER_NAME = "lgtm-lab"
# A control-plane node (tainted: only what tolerates it runs there) and two workers.
NODE_COUNT = 3
# The folders of `run` a DaemonSet's hostPath names (the scenarios point the agent at
# them): each node sees its own copy at the same path, so an agent reads its node only.
PER_NODE_FOLDERS = ("pod-logs", "node-data")


@dataclass(frozen=True)
class Layout:
    """Where a cluster keeps its state: `run` is new on every `up`; `runtime` is
    volatile (tmpfs); `containerd_root` keeps imported images across `down`.
    The first node's folders are these very folders (node.py); `nodes` is how
    many nodes the cluster has."""
    run: Path = K8S / "run"
    runtime: Path = Path("/run/lgtm-k8s")
    containerd_root: Path = K8S / "containerd"
    bin: Path = BIN
    nodes: int = NODE_COUNT

    @property
    def pki(self) -> Path:
        return self.run / "pki"

    @property
    def kubeconfigs(self) -> Path:
        return self.run / "kubeconfig"

    @property
    def volumes(self) -> Path:
        return self.run / "volumes"

    @property
    def pids(self) -> Path:
        return self.runtime / "pids"
