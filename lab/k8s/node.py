"""One Kubernetes node of the lab: its names, addresses and folders (Node), the
configuration and processes of its containerd, kubelet and kube-proxy, its
cgroups, and the images and containers in its containerd.

A node lives in a network namespace of its own, joined to the host by a veth
pair; everything it listens on is inside that namespace, so two nodes never
collide on a port. The first node (index 0) is the control-plane node: the
control plane runs in its namespace and its folders are the cluster's (Layout).
Every other node (a worker) also has a mount namespace of its own, made when
its containerd starts and entered by its kubelet, in which its own folders are
bound over the cluster's PER_NODE_FOLDERS: a DaemonSet's hostPath there is the
node's own, as on separate machines.
"""
from __future__ import annotations

import ipaddress
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .archive import archive_manifest
from .host import Process, sh
from .layout import DNS_IP, IMAGES, PER_NODE_FOLDERS, POD_CIDR, SERVICE_CIDR, Layout

# Every node gets a /30 of LINKS for its veth pair (host side first) and a /24
# of NODE_POD_RANGES for its pods; index 0 gets the first of each.
LINKS = ipaddress.ip_network("10.250.0.0/24")
NODE_POD_RANGES = ipaddress.ip_network(POD_CIDR)
MAX_NODES = 64  # the /30s in LINKS
# Where every kubelet binds its device plugin registration socket: a constant of
# k8s.io/kubelet (deviceplugin/v1beta1 KubeletSocket), no flag or root-dir moves it. Each
# kubelet removes the socket it finds and binds its own, so kubelets starting together
# on one file system race (one failed with "bind: address already in use"): a worker
# gets its own folder there in its mount namespace (own_mounts).
KUBELET_DEVICE_PLUGINS = Path("/var/lib/kubelet/device-plugins")


@dataclass(frozen=True)
class Node:
    """Everything that tells one node apart from another: its Kubernetes name,
    network namespace, veth pair and addresses, pod range, cgroup root and folders."""
    index: int
    name: str
    netns: str
    host_veth: str
    node_veth: str
    host_ip: str
    node_ip: str
    link_cidr: str
    pod_cidr: str
    cgroup_root: str
    run: Path
    runtime: Path
    containerd_root: Path

    @property
    def control_plane(self) -> bool:
        return self.index == 0

    def process(self, program: str) -> str:
        """The name (pid file, log) of one of the node's processes: the program's own on
        the control-plane node, `program@node` on the others (host.read_pid reads it)."""
        return program if self.control_plane else f"{program}@{self.name}"

    @property
    def netns_path(self) -> Path:
        return Path("/run/netns") / self.netns

    @property
    def enter(self) -> list[str]:
        """The command prefix that runs a command in this node's network namespace.
        Not `ip netns exec`: it remounts /sys and hides the cgroup v1 mounts
        kubelet and runc need."""
        return ["nsenter", f"--net={self.netns_path}", "--"]

    @property
    def socket(self) -> Path:
        return self.runtime / "containerd" / "containerd.sock"

    @property
    def cni_conf(self) -> Path:
        return self.run / "cni" / "net.d"

    @property
    def containerd_config_file(self) -> Path:
        return self.run / "containerd.toml"

    @property
    def kubelet_config_file(self) -> Path:
        return self.run / "kubelet.yaml"

    @property
    def kubelet_serving_cert(self) -> Path:
        return self.run / "kubelet-serving.crt"

    @property
    def kubelet_serving_key(self) -> Path:
        return self.run / "kubelet-serving.key"

    @property
    def kubelet_kubeconfig(self) -> Path:
        return self.run / "kubelet.conf"

    @property
    def kube_proxy_config_file(self) -> Path:
        return self.run / "kube-proxy.yaml"

    @property
    def changes(self) -> Path:
        """What `up` changed on the host for this node, recorded before each change is made."""
        return self.runtime / "changes.json"

    @property
    def folders(self) -> tuple[Path, Path, Path]:
        """The node's state, volatile state and containerd root."""
        return self.run, self.runtime, self.containerd_root


def node_at(layout: Layout, index: int) -> Node:
    """The node with this index. Index 0 keeps the names, addresses and folders the
    single-node lab has always used; a later node gets the next /30 and /24, names
    ending in its index and folders of its own."""
    if not 0 <= index < MAX_NODES:
        raise ValueError(f"node index {index} is outside 0..{MAX_NODES - 1}")
    link = list(LINKS.subnets(new_prefix=30))[index]
    host_ip, node_ip = link.hosts()
    pods = list(NODE_POD_RANGES.subnets(new_prefix=24))[index]
    suffix = f"-{index}" if index else ""
    tag = str(index) if index else ""  # interface names have at most 15 characters
    name = f"lgtm-lab{suffix}"
    if index == 0:
        run, runtime, containerd_root = layout.run, layout.runtime, layout.containerd_root
    else:
        run, runtime = layout.run / "nodes" / name, layout.runtime / "nodes" / name
        containerd_root = layout.containerd_root.with_name(f"{layout.containerd_root.name}-{name}")
    return Node(index=index, name=name, netns=f"lgtm-k8s{suffix}", host_veth=f"lgtmk8s{tag}-h",
                node_veth=f"lgtmk8s{tag}-n", host_ip=str(host_ip), node_ip=str(node_ip),
                link_cidr=str(link), pod_cidr=str(pods), cgroup_root=f"lgtm-k8s{suffix}",
                run=run, runtime=runtime, containerd_root=containerd_root)


# --- configuration files (pure; tests/lab/test_k8s_node.py) ----------------------------

def containerd_config(node: Node, sandbox_image: str) -> str:
    """containerd's config (version 2): its own root, state, socket and runc root so
    nothing collides with Docker's containerd. restrict_oom_score_adj is mandatory
    here: this kernel refuses to lower oom_score_adj, and without it every pod
    sandbox fails (runc: can't get final child's PID from pipe: EOF)."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{node.containerd_root}"
state = "{node.runtime / 'containerd'}"

[grpc]
  address = "{node.socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{node.containerd_root / 'opt'}"

[{cri}]
  sandbox_image = "{sandbox_image}"
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = "{node.runtime / 'runc'}"

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{node.cni_conf}"
"""


def cni_conflist(node: Node) -> dict[str, Any]:
    """One bridge for the pods (gateway, hairpin for a pod reaching itself
    through its Service), addresses from the node's pod range, hostPort support;
    no masquerade: pod traffic never needs to leave the node's namespace. The
    names are the same on every node: each bridge is inside its node's namespace."""
    return {"cniVersion": "1.0.0", "name": "lgtm-k8s", "plugins": [
        {"type": "bridge", "bridge": "lgtmk8s-br", "isGateway": True, "ipMasq": False,
         "hairpinMode": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": node.pod_cidr}]],
                  "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(node.run / "cni" / "ipam")}},
        {"type": "portmap", "capabilities": {"portMappings": True}}]}


def kubelet_config(layout: Layout, node: Node) -> dict[str, Any]:
    """cgroupfs (containerd 1.6 cannot report its driver), cgroup v1 allowed
    (1.35+ refuse it by default), a cgroup root of its own, no image garbage
    collection (images cannot be pulled back) and very low eviction thresholds."""
    return {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "cgroupDriver": "cgroupfs", "cgroupRoot": f"/{node.cgroup_root}", "failCgroupV1": False,
            "containerRuntimeEndpoint": f"unix://{node.socket}",
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(layout.pki / "ca.crt")}},
            "authorization": {"mode": "Webhook"},
            "clusterDNS": [DNS_IP], "clusterDomain": "cluster.local",
            # The host's resolvers are unreachable from the node: give pods none.
            "resolvConf": "",
            # The same path on every node: a worker's own folder is bound over it in its
            # mount namespace (PER_NODE_FOLDERS), where the agents' hostPath finds it.
            "podLogsDir": str(layout.run / "pod-logs"),
            "healthzBindAddress": "127.0.0.1",
            "failSwapOn": False,
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                             "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
            # Served with a certificate the cluster's CA signed (what serverTLSBootstrap
            # gets from an approved CSR), so that a pod checks it against its service
            # account's ca.crt.
            "tlsCertFile": str(node.kubelet_serving_cert), "tlsPrivateKeyFile": str(node.kubelet_serving_key),
            "rotateCertificates": False, "serverTLSBootstrap": False}


def kube_proxy_config(layout: Layout, node: Node) -> dict[str, Any]:
    """iptables mode (this kernel has no IPVS), conntrack limits left alone
    (the namespace cannot set the global ones)."""
    return {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "mode": "iptables", "clusterCIDR": POD_CIDR, "hostnameOverride": node.name,
            "clientConnection": {"kubeconfig": str(layout.kubeconfigs / "admin.conf")},
            "metricsBindAddress": "127.0.0.1:10249", "healthzBindAddress": "127.0.0.1:10256",
            "conntrack": {"maxPerCore": 0}, "oomScoreAdj": 0}


def write_node_configs(layout: Layout, node: Node, sandbox_image: str) -> None:
    """The node's folders and its containerd, CNI, kubelet and kube-proxy configs."""
    for folder in (node.run, node.cni_conf, node.containerd_root, KUBELET_DEVICE_PLUGINS, node.run / "device-plugins",
                   *(base / name for base in (layout.run, node.run) for name in PER_NODE_FOLDERS)):
        folder.mkdir(parents=True, exist_ok=True)
    node.containerd_config_file.write_text(containerd_config(node, sandbox_image))
    (node.cni_conf / "10-lgtm-k8s.conflist").write_text(json.dumps(cni_conflist(node), indent=2))
    node.kubelet_config_file.write_text(yaml.safe_dump(kubelet_config(layout, node)))
    node.kube_proxy_config_file.write_text(yaml.safe_dump(kube_proxy_config(layout, node)))


def own_mounts(layout: Layout, node: Node) -> list[list[str]]:
    """The binds that give a worker its own PER_NODE_FOLDERS and kubelet device plugin folder
    (none on the control-plane node, whose folders are the cluster's and the host's)."""
    if node.control_plane:
        return []
    return [*(["mount", "--bind", str(node.run / name), str(layout.run / name)] for name in PER_NODE_FOLDERS),
            ["mount", "--bind", str(node.run / "device-plugins"), str(KUBELET_DEVICE_PLUGINS)]]


def containerd_process(layout: Layout, node: Node) -> Process:
    """A worker's containerd starts in a new mount namespace (its shims and containers
    inherit it), private towards the host, with the node's own folders bound in."""
    argv = ["containerd", "--config", str(node.containerd_config_file)]
    binds = own_mounts(layout, node)
    if binds:
        script = " && ".join(" ".join(bind) for bind in binds) + ' && exec "$@"'
        argv = ["unshare", "--mount", "--propagation", "slave", "--", "sh", "-c", script, "sh", *argv]
    return Process(node.process("containerd"), argv)


def mount_namespace_of(pid: int) -> str:
    """What nsenter takes to enter the mount namespace of a running process."""
    return f"--mount=/proc/{pid}/ns/mnt"


def kubelet_processes(layout: Layout, node: Node) -> list[Process]:
    """kubelet and kube-proxy of the node, from the lab's binaries (containerd first).
    The control-plane node registers with its taint: only pods that tolerate it run there."""
    b = layout.bin
    taints = ["--register-with-taints=node-role.kubernetes.io/control-plane:NoSchedule"] if node.control_plane else []
    return [
        Process(node.process("kubelet"), [
            str(b / "kubelet"), f"--config={node.kubelet_config_file}",
            f"--kubeconfig={node.kubelet_kubeconfig}", f"--root-dir={node.run / 'kubelet'}",
            f"--cert-dir={node.run / 'kubelet-pki'}", f"--node-ip={node.node_ip}",
            f"--hostname-override={node.name}",
            # cAdvisor inside the kubelet reads the containers' names from containerd at
            # this flag's socket (default /run/containerd/containerd.sock), not at the
            # runtime endpoint: without it every container's series lacks its pod and name.
            f"--containerd={node.socket}", *taints]),
        Process(node.process("kube-proxy"), [str(b / "kube-proxy"), f"--config={node.kube_proxy_config_file}"]),
    ]


def policy_enforcer_process(layout: Layout, node: Node) -> Process:
    """The node's NetworkPolicy enforcer: kube-router with its firewall only (iptables and
    ipsets in the node's network namespace, for the pods on this node). Its router, service
    proxy (kube-proxy is the lab's) and CNI set-up stay off; its health and metrics servers
    too, as nothing reads them (a cluster would)."""
    return Process(node.process("kube-router"), [
        str(layout.bin / "kube-router"), f"--kubeconfig={layout.kubeconfigs / 'admin.conf'}",
        f"--hostname-override={node.name}", "--run-firewall=true", "--run-router=false",
        "--run-service-proxy=false", "--enable-cni=false", f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--health-port=0", "--metrics-port=0"])


def node_processes(layout: Layout, node: Node) -> list[Process]:
    """The node's own processes in start order (stop order is the reverse): containerd, kubelet
    and kube-proxy, the NetworkPolicy enforcer."""
    return [containerd_process(layout, node), *kubelet_processes(layout, node), policy_enforcer_process(layout, node)]


# Chains kube-router's firewall puts in front of the filter table's INPUT, FORWARD and OUTPUT
# once it synced (pkg/controllers/netpol, ensureTopLevelChains).
ENFORCER_CHAINS = ("KUBE-ROUTER-INPUT", "KUBE-ROUTER-FORWARD", "KUBE-ROUTER-OUTPUT")


def enforcing(node: Node) -> bool:
    """Whether the node's filter table sends traffic through the enforcer's chains."""
    rules = sh([*node.enter, "iptables", "-S"], check=False).stdout
    return all(f"-j {chain}" in rules for chain in ENFORCER_CHAINS)


# --- cgroups ---------------------------------------------------------------------------

def cgroup_hierarchies(kinds: tuple[str, ...] = ("cgroup",)) -> list[Path]:
    """Mount points of the cgroup file systems of the given kinds (v1: cgroup)."""
    hierarchies = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _sep, right = line.partition(" - ")
        if right.split()[0] in kinds:
            hierarchies.append(Path(left.split()[4]))
    return hierarchies


def create_cgroups(node: Node) -> None:
    """kubelet's cgroupRoot in every v1 hierarchy, before kubelet starts (it refuses a
    missing one); cpuset needs its cpus and mems copied from the parent."""
    for hierarchy in cgroup_hierarchies():
        group = hierarchy / node.cgroup_root
        group.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if (hierarchy / name).exists() and not (group / name).read_text().strip():
                (group / name).write_text((hierarchy / name).read_text())


def kill_processes(node: Node, seconds: float = 10) -> list[int]:
    """SIGKILL the node's containerd shims and every process in the node's cgroups (its pods'
    containers and sandboxes), again until none is left or time runs out: a shim killed
    leaves its container running, reparented, so a node that goes away must lose its
    containers this way. Returns the pids still there."""
    def in_cgroups() -> set[int]:
        return {int(pid) for hierarchy in cgroup_hierarchies()[:1]
                for procs in (hierarchy / node.cgroup_root).rglob("cgroup.procs")
                for pid in procs.read_text().split()}
    deadline = time.monotonic() + seconds
    pids = set(shim_pids(node)) | in_cgroups()
    while pids:
        if time.monotonic() > deadline:
            return sorted(pids)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
        pids = in_cgroups()
    return []


def remove_cgroups(node: Node) -> list[str]:
    """Remove the cgroup trees under cgroupRoot, deepest first, also the one runc
    mirrors in the unified (v2) hierarchy; returns those still busy."""
    busy = []
    for hierarchy in cgroup_hierarchies(("cgroup", "cgroup2")):
        root = hierarchy / node.cgroup_root
        if not root.is_dir():
            continue
        for group in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
            try:
                group.rmdir()
            except OSError:
                pass
        try:
            root.rmdir()
        except OSError:
            busy.append(str(root))
    return busy


# --- images and containers in the node's containerd -----------------------------------

def ctr(node: Node, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """containerd's own client on the node's socket, in the namespace kubelet uses."""
    return sh(["ctr", "-a", str(node.socket), "-n", "k8s.io", *args], timeout=timeout)


def import_images(node: Node) -> list[str]:
    """Import every image archive whose current build is not in containerd yet
    (the record lives with containerd's root, so it survives `down`)."""
    record_file = node.containerd_root / "lgtm-imported.json"
    record = json.loads(record_file.read_text()) if record_file.exists() else {}
    present = set(ctr(node, "images", "ls", "-q").stdout.split())
    imported = []
    for archive in sorted(IMAGES.glob("*.tar")):
        refs, digest = archive_manifest(archive)
        if all(ref in present and record.get(ref) == digest for ref in refs):
            continue
        ctr(node, "images", "import", str(archive))
        record.update({ref: digest for ref in refs})
        imported += refs
    record_file.write_text(json.dumps(record, indent=2))
    return imported


def shim_pids(node: Node) -> list[int]:
    """containerd-shim processes serving this node's containerd (and no other)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"containerd-shim-runc-v2") and \
                str(node.socket).encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def network_namespaces(spec: dict[str, Any]) -> list[str]:
    """The network namespace files a container's OCI spec joins (a pod sandbox's)."""
    return [ns["path"] for ns in spec.get("linux", {}).get("namespaces", [])
            if ns.get("type") == "network" and ns.get("path", "").startswith(("/run/netns/", "/var/run/netns/"))]


def remove_containers(node: Node) -> None:
    """With containerd still running: kill and delete any task left, then every
    container with its snapshot (the images stay), and the network namespace
    file of any pod sandbox kubelet had not torn down yet."""
    client = ["ctr", "-a", str(node.socket), "-n", "k8s.io"]
    namespaces: set[str] = set()
    for container in ctr(node, "containers", "ls", "-q", timeout=10).stdout.split():
        info = sh([*client, "containers", "info", container], check=False)
        if info.returncode == 0:
            namespaces.update(network_namespaces(json.loads(info.stdout).get("Spec") or {}))
    for line in ctr(node, "tasks", "ls", timeout=10).stdout.splitlines()[1:]:
        task = line.split()[0]
        sh([*client, "tasks", "kill", "-s", "SIGKILL", task], check=False)
        sh([*client, "tasks", "delete", "-f", task], check=False)
    for container in ctr(node, "containers", "ls", "-q", timeout=10).stdout.split():
        sh([*client, "containers", "delete", container], check=False)
    for path in sorted(namespaces):
        if Path(path).exists():
            sh(["umount", path], check=False)
            Path(path).unlink(missing_ok=True)


def mounts_under(*roots: Path) -> list[str]:
    """Mount points below the given folders, deepest first."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == str(root) or point.startswith(f"{root}/") for root in roots):
            found.append(point)
    return sorted(set(found), key=lambda p: -p.count("/"))
