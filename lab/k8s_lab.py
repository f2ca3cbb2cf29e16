"""The lab's single-node Kubernetes: upstream Kubernetes, etcd and CoreDNS built
from their published Go modules and run as plain processes in a network
namespace of their own, with guards so that nothing sent to a pod or Service
address can leave the machine.

    k8s_lab.py build                 build the binaries and the pause/CoreDNS images (cached)
    k8s_lab.py up                    start the cluster (when already up: report and exit 0)
    k8s_lab.py down                  stop it, remove what `up` added; caches stay
    k8s_lab.py guards                exit 1 naming each guard that is missing
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
    k8s/run/       the running cluster's state (PKI, etcd, kubelet): new on every `up`
    k8s/admin.conf the admin kubeconfig (API server https://10.250.0.2:6443)
    stamps/k8s-*.json  what each build was made from; logs/k8s-*.log one log per step
Volatile state (pid files, sockets, what `up` changed on the host) is in /run/lgtm-k8s.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

import buildkit
from buildkit import StepFailed, run, sha256_of

LAB_DIR = Path(__file__).resolve().parent
REPO = LAB_DIR.parent
CACHE = buildkit.CACHE
K8S = CACHE / "k8s"
GO_DIRS = K8S / "go"
SRC = K8S / "src"
BIN = K8S / "bin"
IMAGES = K8S / "images"
STAMPS = CACHE / "stamps"
PINS_FILE = LAB_DIR / "kubernetes.yml"

# Bump a component's revision when its recipe below changes in a way that
# changes what it produces; the cache then rebuilds it once.
RECIPE_REVISIONS = {"kubernetes": 1, "etcd": 1, "coredns": 1, "pause": 1}


def load_pins() -> dict[str, Any]:
    """The versions in lab/kubernetes.yml (LGTM_K8S_VERSIONS points a test elsewhere)."""
    return yaml.safe_load(Path(os.environ.get("LGTM_K8S_VERSIONS", PINS_FILE)).read_text())


def go_cache_env() -> dict[str, str]:
    """These builds keep Go caches of their own (about 4 GB), so a cold build is
    measurable without touching anyone else's caches, and cleaning them is safe."""
    return {"GOCACHE": str(GO_DIRS / "cache"), "GOMODCACHE": str(GO_DIRS / "mod")}


def go_version() -> str:
    return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True,
                          check=True).stdout.strip()


# --- recipes: pure parts (tested) -------------------------------------------------

def wrapper_go_mod(upstream_go_mod: str, module: str, version: str, staging_version: str) -> str:
    """The go.mod of a module that builds `module`'s commands: k8s.io/kubernetes
    replaces its k8s.io/* staging modules with folders its published zip lacks,
    so the wrapper replaces each with the published module instead, and keeps
    upstream's `go` and `godebug` lines (`go install` refuses replace directives)."""
    lines = upstream_go_mod.splitlines()
    keep = [line for line in lines if line.startswith(("go ", "godebug "))]
    staged = []
    for line in lines:
        fields = line.split()
        if "=>" in fields and fields[-1].startswith("./staging/"):
            staged.append(fields[fields.index("=>") - 1])
    if not staged:
        raise StepFailed(f"{module}@{version}: its go.mod replaces no staging module; "
                         "the wrapper recipe no longer fits")
    return "\n".join(["module k8sbuild", "", *keep, "", f"require {module} {version}", "",
                      "replace (", *(f"\t{name} => {name} {staging_version}" for name in sorted(staged)),
                      ")", ""])


def kubernetes_ldflags(version: str, build_date: str) -> list[str]:
    """The version variables upstream's hack/lib/version.sh sets, for both packages it sets them in."""
    major, minor = version.split(".")[:2]
    values = {"gitVersion": f"v{version}", "gitMajor": major, "gitMinor": minor,
              "gitTreeState": "clean", "buildDate": build_date}
    return [f"-X {package}.{name}={value}"
            for package in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version")
            for name, value in values.items()]


ETCD_MAIN = """// etcd's own main package (go.etcd.io/etcd/v3's main.go) is not in the server
// module; this is the same three lines.
package main

import (
\t"os"

\t"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
\tetcdmain.Main(os.Args)
}
"""

# The sandbox ("pause") container: hold the pod's namespaces, reap children,
# exit on SIGINT/SIGTERM. Upstream's is build/pause/linux/pause.c in Kubernetes.
PAUSE_C = r"""#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void quit(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }

int main(void) {
  struct sigaction quit_action = {.sa_handler = quit};
  struct sigaction reap_action = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  if (sigaction(SIGINT, &quit_action, NULL) < 0 || sigaction(SIGTERM, &quit_action, NULL) < 0 ||
      sigaction(SIGCHLD, &reap_action, NULL) < 0)
    return 1;
  for (;;) pause();
}
"""


@dataclass(frozen=True)
class Component:
    """One thing `build` makes: its outputs under BIN (or IMAGES) and its recipe."""
    name: str
    outputs: tuple[Path, ...]
    build: Callable[[dict[str, Any]], None]

    @property
    def stamp(self) -> Path:
        return STAMPS / f"k8s-{self.name}.json"


def recipe_key(name: str, pins: dict[str, Any], go: str) -> str:
    """What a component's build depends on: its pins, its recipe revision, the Go
    toolchain (not for pause), and the sources written here."""
    material: dict[str, Any] = {"pins": pins.get(name, {}), "revision": RECIPE_REVISIONS[name]}
    if name == "kubernetes":
        material["go"] = go
    elif name == "etcd":
        material.update(go=go, main=ETCD_MAIN)
    elif name == "coredns":
        material["go"] = go
    elif name == "pause":
        material["source"] = PAUSE_C
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def cache_state(stamp: Path, outputs: Iterable[Path], key: str) -> str:
    """'hit', 'missing' or why a stamped build cannot be reused."""
    if not stamp.exists():
        return "missing"
    recorded = json.loads(stamp.read_text())
    if recorded.get("recipe") != key:
        return "recipe changed"
    for path in outputs:
        if not path.exists():
            return f"{path.name} missing"
        if recorded.get("sha256", {}).get(path.name) != sha256_of(path):
            return f"{path.name} changed since it was built"
    return "hit"


# --- recipes: the builds --------------------------------------------------------

def download_info(component: str, module: str, version: str) -> dict[str, Any]:
    GO_DIRS.mkdir(parents=True, exist_ok=True)
    out = run(component, "download", ["go", "mod", "download", "-json", f"{module}@{version}"],
              cwd=GO_DIRS, env=go_cache_env())
    info = json.loads(out[out.index("{"):])
    if "Error" in info:
        raise StepFailed(f"{component}: download of {module}@{version} failed: {info['Error']}")
    return info


def build_kubernetes(pins: dict[str, Any]) -> None:
    pin = pins["kubernetes"]
    version = f"v{pin['version']}"
    info = download_info("k8s-kubernetes", pin["module"], version)
    work = SRC / "kubernetes"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "go.mod").write_text(wrapper_go_mod(Path(info["GoMod"]).read_text(), pin["module"],
                                                version, pin["staging_version"]))
    BIN.mkdir(parents=True, exist_ok=True)
    ldflags = " ".join(["-s", "-w", *kubernetes_ldflags(pin["version"], info.get("Time", ""))])
    # One `go build` for all commands: they share most packages, and one
    # invocation compiles each package once on both cores.
    run("k8s-kubernetes", "go-build",
        ["go", "build", "-trimpath", "-ldflags", ldflags, "-o", f"{BIN}/",
         *(f"{pin['module']}/cmd/{name}" for name in pin["commands"])],
        cwd=work, env=go_cache_env())


def build_etcd(pins: dict[str, Any]) -> None:
    pin = pins["etcd"]
    work = SRC / "etcd"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "go.mod").write_text(f"module etcdbuild\n\ngo 1.24\n\nrequire {pin['module']} "
                                 f"v{pin['version']}\n")
    (work / "main.go").write_text(ETCD_MAIN)
    BIN.mkdir(parents=True, exist_ok=True)
    run("k8s-etcd", "go-build", ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o",
                                 str(BIN / "etcd"), "."], cwd=work, env=go_cache_env())


def build_coredns(pins: dict[str, Any]) -> None:
    pin = pins["coredns"]
    BIN.mkdir(parents=True, exist_ok=True)
    run("k8s-coredns", "go-install",
        ["go", "install", "-trimpath", "-ldflags", "-s -w", f"{pin['module']}@v{pin['version']}"],
        cwd=GO_DIRS, env={**go_cache_env(), "GOBIN": str(BIN)})
    write_image_archive(IMAGES / "coredns.tar", [pin["image"]],
                        [single_file_layer({"coredns": BIN / "coredns"})],
                        {"Entrypoint": ["/coredns"], "ExposedPorts": {"53/tcp": {}, "53/udp": {}}},
                        recipe_key("coredns", pins, go_version()))


def build_pause(pins: dict[str, Any]) -> None:
    work = SRC / "pause"
    work.mkdir(parents=True, exist_ok=True)
    (work / "pause.c").write_text(PAUSE_C)
    BIN.mkdir(parents=True, exist_ok=True)
    run("k8s-pause", "gcc", ["gcc", "-Os", "-static", "-Wall", "-Werror", "-o", str(BIN / "pause"),
                             "pause.c"], cwd=work)
    run("k8s-pause", "strip", ["strip", str(BIN / "pause")], cwd=work)
    write_image_archive(IMAGES / "pause.tar", [pins["pause"]["image"]],
                        [single_file_layer({"pause": BIN / "pause"})], {"Entrypoint": ["/pause"]},
                        recipe_key("pause", pins, ""))


def components(pins: dict[str, Any]) -> dict[str, Component]:
    commands = tuple(BIN / name for name in pins["kubernetes"]["commands"])
    return {
        "kubernetes": Component("kubernetes", commands, build_kubernetes),
        "etcd": Component("etcd", (BIN / "etcd",), build_etcd),
        "coredns": Component("coredns", (BIN / "coredns", IMAGES / "coredns.tar"), build_coredns),
        "pause": Component("pause", (BIN / "pause", IMAGES / "pause.tar"), build_pause),
    }


def build(wanted: list[str] | None = None) -> None:
    """Build what is missing or whose recipe changed; a cache hit costs a digest."""
    pins = load_pins()
    go = go_version()
    for name, component in components(pins).items():
        if wanted and name not in wanted:
            continue
        key = recipe_key(name, pins, "" if name == "pause" else go)
        state = cache_state(component.stamp, component.outputs, key)
        if state == "hit":
            print(f"{name}: cached", flush=True)
            continue
        print(f"{name}: building ({state})", flush=True)
        started = time.monotonic()
        component.stamp.unlink(missing_ok=True)
        component.build(pins)
        STAMPS.mkdir(parents=True, exist_ok=True)
        component.stamp.write_text(json.dumps(
            {"recipe": key, "sha256": {path.name: sha256_of(path) for path in component.outputs},
             "seconds": round(time.monotonic() - started)}, indent=2))
        print(f"{name}: built in {time.monotonic() - started:.0f}s", flush=True)


def built(pins: dict[str, Any]) -> list[str]:
    """The components whose build is missing or stale (empty: ready to run)."""
    go = go_version()
    return [name for name, component in components(pins).items()
            if cache_state(component.stamp, component.outputs,
                           recipe_key(name, pins, "" if name == "pause" else go)) != "hit"]


# --- image archives ----------------------------------------------------------------

def single_file_layer(files: dict[str, Path], mode: int = 0o755) -> bytes:
    """An uncompressed layer tar holding files at the given paths, owner root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        directories = sorted({str(Path(name).parent) for name in files} - {"."})
        for directory in directories:
            info = tarfile.TarInfo(directory)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, source in sorted(files.items()):
            data = source.read_bytes()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


Layer = bytes | Path  # a layer tar's content, or a file holding it


def layer_digest(layer: Layer) -> str:
    return hashlib.sha256(layer).hexdigest() if isinstance(layer, bytes) else sha256_of(layer)


def image_config(layers: list[str], config: dict[str, Any], recipe: str) -> dict[str, Any]:
    """The image configuration a docker-archive carries: the layers' diff IDs (their
    sha256 digests, given), the
    run configuration and the recipe digest as a label (what the cache compares)."""
    run_config = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                  **config}
    run_config["Labels"] = {**config.get("Labels", {}), "org.observability.lgtm.recipe": recipe}
    return {"architecture": "amd64", "os": "linux", "config": run_config,
            "rootfs": {"type": "layers",
                       "diff_ids": [f"sha256:{digest}" for digest in layers]},
            "history": [{"created_by": "observability.lgtm lab/k8s_lab.py"} for _layer in layers]}


def write_image_archive(path: Path, tags: list[str], layers: list[Layer], config: dict[str, Any],
                        recipe: str) -> None:
    """Write a docker-archive (what `docker save` writes; `ctr images import` reads
    it) without Docker: nothing is pulled, no daemon is needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digests = [layer_digest(layer) for layer in layers]
    config_bytes = json.dumps(image_config(digests, config, recipe), sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_names = [f"{digest}/layer.tar" for digest in digests]
    manifest = [{"Config": config_name, "RepoTags": tags, "Layers": layer_names}]
    partial = path.with_suffix(".part")
    with tarfile.open(partial, "w") as tar:
        for name, data in {"manifest.json": json.dumps(manifest).encode(),
                           config_name: config_bytes}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        for name, layer in zip(layer_names, layers):
            info = tarfile.TarInfo(name)
            info.mode = 0o644
            if isinstance(layer, bytes):
                info.size = len(layer)
                tar.addfile(info, io.BytesIO(layer))
            else:
                info.size = layer.stat().st_size
                with layer.open("rb") as handle:
                    tar.addfile(info, handle)
    partial.rename(path)


# --- the cluster: addresses, names and paths ------------------------------------------

NETNS = "lgtm-k8s"
NETNS_PATH = Path("/run/netns") / NETNS
HOST_VETH, NODE_VETH = "lgtmk8s-h", "lgtmk8s-n"
HOST_IP, NODE_IP = "10.250.0.1", "10.250.0.2"
LINK_CIDR = "10.250.0.0/30"
SERVICE_CIDR = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/24"
DNS_IP = "10.96.0.10"
API_PORT = 6443
API_URL = f"https://{NODE_IP}:{API_PORT}"
NODE_NAME = "lgtm-lab"
CGROUP_ROOT = "lgtm-k8s"
STORAGE_CLASS = "lab-hostpath"
PROVISIONER = "lab.observability.lgtm/hostpath"
ADMIN_CONF = K8S / "admin.conf"
# Everything below nsenter runs in the node's network namespace. Not `ip netns
# exec`: it remounts /sys and hides the cgroup v1 mounts kubelet and runc need.
IN_NODE = ["nsenter", f"--net={NETNS_PATH}", "--"]


@dataclass(frozen=True)
class Layout:
    """Where a cluster keeps its state: `run` is new on every `up`; `runtime` is
    volatile (tmpfs); `containerd_root` keeps imported images across `down`."""
    run: Path = K8S / "run"
    runtime: Path = Path("/run/lgtm-k8s")
    containerd_root: Path = K8S / "containerd"
    bin: Path = BIN

    @property
    def pki(self) -> Path:
        return self.run / "pki"

    @property
    def kubeconfigs(self) -> Path:
        return self.run / "kubeconfig"

    @property
    def socket(self) -> Path:
        return self.runtime / "containerd" / "containerd.sock"

    @property
    def cni_conf(self) -> Path:
        return self.run / "cni" / "net.d"

    @property
    def volumes(self) -> Path:
        return self.run / "volumes"

    @property
    def pids(self) -> Path:
        return self.runtime / "pids"

    @property
    def changes(self) -> Path:
        """What `up` changed on the host, recorded before each change is made."""
        return self.runtime / "changes.json"


# --- configuration files (pure; tests/lab/test_k8s_lab.py) -----------------------------

def containerd_config(layout: Layout, sandbox_image: str) -> str:
    """containerd's config (version 2): its own root, state, socket and runc root so
    nothing collides with Docker's containerd. restrict_oom_score_adj is mandatory
    here: this kernel refuses to lower oom_score_adj, and without it every pod
    sandbox fails (runc: can't get final child's PID from pipe: EOF)."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{layout.containerd_root}"
state = "{layout.runtime / 'containerd'}"

[grpc]
  address = "{layout.socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{layout.containerd_root / 'opt'}"

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
  Root = "{layout.runtime / 'runc'}"

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{layout.cni_conf}"
"""


def cni_conflist(layout: Layout) -> dict[str, Any]:
    """One bridge for the pods (gateway, hairpin for a pod reaching itself
    through its Service), addresses from POD_CIDR, hostPort support; no masquerade:
    pod traffic never needs to leave the node's namespace."""
    return {"cniVersion": "1.0.0", "name": "lgtm-k8s", "plugins": [
        {"type": "bridge", "bridge": "lgtmk8s-br", "isGateway": True, "ipMasq": False,
         "hairpinMode": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_CIDR}]],
                  "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(layout.run / "cni" / "ipam")}},
        {"type": "portmap", "capabilities": {"portMappings": True}}]}


def kubeadm_config(layout: Layout, version: str) -> str:
    """Only for `kubeadm init phase certs|kubeconfig`: the full `kubeadm init`
    is skipped. kubernetesVersion is set so that kubeadm never looks one up."""
    init = {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "InitConfiguration",
            "localAPIEndpoint": {"advertiseAddress": NODE_IP, "bindPort": API_PORT},
            "nodeRegistration": {"name": NODE_NAME, "criSocket": f"unix://{layout.socket}",
                                 "taints": []}}
    cluster = {"apiVersion": "kubeadm.k8s.io/v1beta4", "kind": "ClusterConfiguration",
               "kubernetesVersion": f"v{version}", "clusterName": "lgtm-lab",
               "certificatesDir": str(layout.pki),
               "controlPlaneEndpoint": f"{NODE_IP}:{API_PORT}",
               "networking": {"serviceSubnet": SERVICE_CIDR, "podSubnet": POD_CIDR,
                              "dnsDomain": "cluster.local"},
               "apiServer": {"certSANs": [NODE_IP, "127.0.0.1", "localhost"]},
               "etcd": {"local": {"dataDir": str(layout.run / "etcd")}}}
    return yaml.safe_dump_all([init, cluster], sort_keys=False)


def kubelet_config(layout: Layout) -> dict[str, Any]:
    """cgroupfs (containerd 1.6 cannot report its driver), cgroup v1 allowed
    (1.35+ refuse it by default), a cgroup root of its own, no image garbage
    collection (images cannot be pulled back) and very low eviction thresholds."""
    return {"apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "cgroupDriver": "cgroupfs", "cgroupRoot": f"/{CGROUP_ROOT}", "failCgroupV1": False,
            "containerRuntimeEndpoint": f"unix://{layout.socket}",
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(layout.pki / "ca.crt")}},
            "authorization": {"mode": "Webhook"},
            "clusterDNS": [DNS_IP], "clusterDomain": "cluster.local",
            # The host's resolvers are unreachable from the node: give pods none.
            "resolvConf": "",
            "podLogsDir": str(layout.run / "pod-logs"),
            "healthzBindAddress": "127.0.0.1",
            "failSwapOn": False,
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%",
                             "imagefs.available": "1%", "nodefs.inodesFree": "1%"},
            "rotateCertificates": False, "serverTLSBootstrap": False}


def kube_proxy_config(layout: Layout) -> dict[str, Any]:
    """iptables mode (this kernel has no IPVS), conntrack limits left alone
    (the namespace cannot set the global ones)."""
    return {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "mode": "iptables", "clusterCIDR": POD_CIDR, "hostnameOverride": NODE_NAME,
            "clientConnection": {"kubeconfig": str(layout.kubeconfigs / "admin.conf")},
            "metricsBindAddress": "127.0.0.1:10249", "healthzBindAddress": "127.0.0.1:10256",
            "conntrack": {"maxPerCore": 0}, "oomScoreAdj": 0}


@dataclass(frozen=True)
class Process:
    """One long-running cluster process: started in the node's namespace."""
    name: str
    argv: list[str]


def processes(layout: Layout) -> list[Process]:
    """The cluster's processes in start order (stop order is the reverse)."""
    pki, conf, b = layout.pki, layout.kubeconfigs, layout.bin
    run_dir = layout.run
    return [
        Process("containerd", ["containerd", "--config", str(run_dir / "containerd.toml")]),
        Process("etcd", [
            str(b / "etcd"), "--name", NODE_NAME, "--data-dir", str(run_dir / "etcd"),
            "--listen-client-urls", "https://127.0.0.1:2379",
            "--advertise-client-urls", "https://127.0.0.1:2379",
            "--listen-peer-urls", "https://127.0.0.1:2380",
            "--initial-advertise-peer-urls", "https://127.0.0.1:2380",
            "--initial-cluster", f"{NODE_NAME}=https://127.0.0.1:2380",
            "--listen-metrics-urls", "http://127.0.0.1:2381",
            "--cert-file", str(pki / "etcd/server.crt"), "--key-file", str(pki / "etcd/server.key"),
            "--trusted-ca-file", str(pki / "etcd/ca.crt"), "--client-cert-auth",
            "--peer-cert-file", str(pki / "etcd/peer.crt"), "--peer-key-file", str(pki / "etcd/peer.key"),
            "--peer-trusted-ca-file", str(pki / "etcd/ca.crt"), "--peer-client-cert-auth",
            # A throwaway lab cluster: no fsync, so a busy disk does not stall the API.
            "--unsafe-no-fsync", "--snapshot-count", "10000"]),
        Process("kube-apiserver", [
            str(b / "kube-apiserver"), f"--advertise-address={NODE_IP}", f"--secure-port={API_PORT}",
            "--allow-privileged=true", "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            "--etcd-servers=https://127.0.0.1:2379", f"--etcd-cafile={pki / 'etcd/ca.crt'}",
            f"--etcd-certfile={pki / 'apiserver-etcd-client.crt'}",
            f"--etcd-keyfile={pki / 'apiserver-etcd-client.key'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            "--kubelet-preferred-address-types=InternalIP",
            f"--proxy-client-cert-file={pki / 'front-proxy-client.crt'}",
            f"--proxy-client-key-file={pki / 'front-proxy-client.key'}",
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-username-headers=X-Remote-User",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}"]),
        Process("kube-controller-manager", [
            str(b / "kube-controller-manager"), f"--kubeconfig={conf / 'controller-manager.conf'}",
            f"--authentication-kubeconfig={conf / 'controller-manager.conf'}",
            f"--authorization-kubeconfig={conf / 'controller-manager.conf'}",
            "--bind-address=127.0.0.1", f"--client-ca-file={pki / 'ca.crt'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}",
            f"--cluster-signing-key-file={pki / 'ca.key'}",
            f"--requestheader-client-ca-file={pki / 'front-proxy-ca.crt'}",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--use-service-account-credentials=true", "--leader-elect=false"]),
        Process("kube-scheduler", [
            str(b / "kube-scheduler"), f"--kubeconfig={conf / 'scheduler.conf'}",
            f"--authentication-kubeconfig={conf / 'scheduler.conf'}",
            f"--authorization-kubeconfig={conf / 'scheduler.conf'}",
            "--bind-address=127.0.0.1", "--leader-elect=false"]),
        Process("kubelet", [
            str(b / "kubelet"), f"--config={run_dir / 'kubelet.yaml'}",
            f"--kubeconfig={conf / 'kubelet.conf'}", f"--root-dir={run_dir / 'kubelet'}",
            f"--cert-dir={run_dir / 'kubelet-pki'}", f"--node-ip={NODE_IP}",
            f"--hostname-override={NODE_NAME}"]),
        Process("kube-proxy", [str(b / "kube-proxy"), f"--config={run_dir / 'kube-proxy.yaml'}"]),
    ]


def coredns_manifests(image: str) -> list[dict[str, Any]]:
    """CoreDNS as kubeadm deploys it, from the locally imported image: cluster
    names only (no `forward`: the host's resolvers are out of reach; no `loop`)."""
    labels = {"k8s-app": "kube-dns"}
    corefile = """.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    prometheus :9153
    cache 30
    reload
    loadbalance
}
"""
    meta = {"name": "coredns", "namespace": "kube-system"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": "system:coredns"},
         "rules": [{"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                    "verbs": ["list", "watch"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                    "verbs": ["list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:coredns"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": "system:coredns"},
         "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": "kube-system"}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"Corefile": corefile}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {**meta, "labels": labels},
         "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                  "template": {"metadata": {"labels": labels}, "spec": {
                      "serviceAccountName": "coredns", "dnsPolicy": "Default",
                      "priorityClassName": "system-cluster-critical",
                      "containers": [{
                          "name": "coredns", "image": image, "imagePullPolicy": "Never",
                          "args": ["-conf", "/etc/coredns/Corefile"],
                          "ports": [{"name": "dns", "containerPort": 53, "protocol": "UDP"},
                                    {"name": "dns-tcp", "containerPort": 53, "protocol": "TCP"},
                                    {"name": "metrics", "containerPort": 9153, "protocol": "TCP"}],
                          "resources": {"requests": {"cpu": "50m", "memory": "40Mi"},
                                        "limits": {"memory": "170Mi"}},
                          "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns",
                                            "readOnly": True}],
                          "livenessProbe": {"httpGet": {"path": "/health", "port": 8080},
                                            "initialDelaySeconds": 10, "periodSeconds": 10},
                          "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181},
                                             "periodSeconds": 2}}],
                      "volumes": [{"name": "config", "configMap": {"name": "coredns"}}]}}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": "kube-system", "labels": labels},
         "spec": {"clusterIP": DNS_IP, "selector": labels,
                  "ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
                            {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
                            {"name": "metrics", "port": 9153, "protocol": "TCP"}]}},
    ]


def storage_class() -> dict[str, Any]:
    """The default StorageClass: PVCs without a class get it (DefaultStorageClass
    admission), and the lab's provisioner loop (`provision_once`) makes their PVs."""
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": STORAGE_CLASS,
                         "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete",
            "volumeBindingMode": "Immediate"}


def persistent_volume_for(claim: dict[str, Any], directory: Path) -> dict[str, Any]:
    """The PV that satisfies a pending claim: a hostPath folder on the one node,
    pre-bound to the claim (the PV controller completes the binding)."""
    meta, spec = claim["metadata"], claim["spec"]
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"pvc-{meta['uid']}",
                         "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER}},
            "spec": {"capacity": {"storage": spec["resources"]["requests"]["storage"]},
                     "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
                     "volumeMode": spec.get("volumeMode", "Filesystem"),
                     "persistentVolumeReclaimPolicy": "Delete",
                     "storageClassName": spec["storageClassName"],
                     "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                                  "namespace": meta["namespace"], "name": meta["name"],
                                  "uid": meta["uid"]},
                     "hostPath": {"path": str(directory), "type": "DirectoryOrCreate"}}}


def claims_to_provision(claims: list[dict[str, Any]], volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Pending claims of the lab's class that no PV names yet (Filesystem only)."""
    claimed = {(volume["spec"].get("claimRef") or {}).get("uid") for volume in volumes}
    return [claim for claim in claims
            if claim["spec"].get("storageClassName") == STORAGE_CLASS
            and not claim["spec"].get("volumeName")
            and claim.get("status", {}).get("phase", "Pending") == "Pending"
            and claim["spec"].get("volumeMode", "Filesystem") == "Filesystem"
            and claim["metadata"]["uid"] not in claimed
            and not claim["metadata"].get("deletionTimestamp")]


def volumes_to_delete(volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lab's PVs whose claim is gone (phase Released, reclaim policy Delete)."""
    return [volume for volume in volumes
            if volume["metadata"].get("annotations", {}).get("pv.kubernetes.io/provisioned-by")
            == PROVISIONER and volume.get("status", {}).get("phase") == "Released"
            and volume["spec"].get("persistentVolumeReclaimPolicy") == "Delete"]


# --- network: what `up` adds and `down` removes ---------------------------------------

@dataclass(frozen=True)
class Change:
    """One change to the machine: how to make it, undo it and (for a guard) check it.
    `check` passes when it exits 0 and, if `check_output`, prints something."""
    name: str
    add: list[list[str]]
    undo: list[list[str]]
    guard: bool = False
    check: list[str] | None = None
    check_output: bool = False


def network_plan(uplinks: list[str], ip6tables: bool = True) -> list[Change]:
    """Every change `up` makes to the network, in order: the guards come before
    any address exists, and every component starts only after all of them."""
    node = IN_NODE
    changes = [Change("netns", [["ip", "netns", "add", NETNS]], [["ip", "netns", "delete", NETNS]])]
    for uplink in uplinks:
        rule = ["FORWARD", "-i", HOST_VETH, "-o", uplink, "-j", "DROP"]
        changes.append(Change(f"host: drop {HOST_VETH} -> {uplink}", [["iptables", "-w", "-I", *rule]],
                              [["iptables", "-w", "-D", *rule]], True, ["iptables", "-w", "-C", *rule]))
        if ip6tables:
            changes.append(Change(f"host: drop {HOST_VETH} -> {uplink} (IPv6)",
                                  [["ip6tables", "-w", "-I", *rule]], [["ip6tables", "-w", "-D", *rule]],
                                  True, ["ip6tables", "-w", "-C", *rule]))
    # mangle FORWARD runs before filter FORWARD, where kube-proxy inserts its own jumps.
    pod_rule = ["FORWARD", "-s", POD_CIDR, "-o", NODE_VETH, "!", "-d", HOST_IP, "-j", "DROP"]
    changes += [
        Change("veth", [["ip", "link", "add", HOST_VETH, "type", "veth", "peer", "name", NODE_VETH,
                         "netns", NETNS]], [["ip", "link", "delete", HOST_VETH]]),
        Change("node: blackhole for the service range",
               [[*node, "ip", "route", "add", "blackhole", SERVICE_CIDR]], [], True,
               [*node, "ip", "route", "show", "type", "blackhole", SERVICE_CIDR], True),
        Change("node: drop pod traffic towards the uplink",
               [[*node, "iptables", "-w", "-t", "mangle", "-I", *pod_rule]], [], True,
               [*node, "iptables", "-w", "-t", "mangle", "-C", *pod_rule]),
        Change("node: sysctls", [[*node, "sysctl", "-qw", "net.ipv4.ip_forward=1"],
                                 [*node, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]], []),
        Change("addresses", [["ip", "addr", "add", f"{HOST_IP}/30", "dev", HOST_VETH],
                             ["ip", "link", "set", HOST_VETH, "up"],
                             [*node, "ip", "addr", "add", f"{NODE_IP}/30", "dev", NODE_VETH],
                             [*node, "ip", "link", "set", NODE_VETH, "up"],
                             [*node, "ip", "link", "set", "lo", "up"],
                             [*node, "ip", "route", "add", "default", "via", HOST_IP]], []),
    ]
    for cidr in (SERVICE_CIDR, POD_CIDR):
        route = [cidr, "via", NODE_IP, "dev", HOST_VETH]
        changes.append(Change(f"host: route {cidr} via the node", [["ip", "route", "add", *route]],
                              [["ip", "route", "delete", *route]], False,
                              ["ip", "route", "show", "exact", cidr], True))
    return changes


def uplinks_from(routes: list[dict[str, Any]]) -> list[str]:
    """The devices of the host's default routes (`ip -j route show default`)."""
    return sorted({route["dev"] for route in routes if route.get("dev")})


def conflicts(routes: list[dict[str, Any]]) -> list[str]:
    """Host routes that overlap the lab's ranges (`ip -j route show`): `up` refuses them."""
    ours = [ipaddress.ip_network(cidr) for cidr in (LINK_CIDR, SERVICE_CIDR, POD_CIDR)]
    found = []
    for route in routes:
        if route.get("dst") in (None, "default"):
            continue
        network = ipaddress.ip_network(route["dst"], strict=False)
        if any(network.overlaps(net) for net in ours):
            found.append(f"{route['dst']} dev {route.get('dev', '?')}")
    return found


# --- running things --------------------------------------------------------------

def env() -> dict[str, str]:
    """The environment cluster processes and tools run with (iptables, conntrack and
    runc live in sbin folders a login shell may lack)."""
    path = os.environ.get("PATH", "")
    for folder in ("/usr/local/sbin", "/usr/sbin", "/sbin"):
        if folder not in path.split(":"):
            path = f"{path}:{folder}"
    return {**os.environ, "PATH": path}


def sh(argv: list[str], check: bool = True, stdin: str | None = None,
       timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env(),
                          check=False, timeout=timeout)
    if check and proc.returncode != 0:
        raise StepFailed(f"`{' '.join(argv)}` failed (exit {proc.returncode}): "
                         f"{(proc.stderr or proc.stdout).strip()}")
    return proc


class Steps:
    """Timed, logged steps of `up` and `down`: one line each; a failure names the log."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def step(self, what: str, action: Callable[[], object]) -> None:
        begun = time.monotonic()
        action()
        print(f"  k8s: {what} ok ({time.monotonic() - begun:.1f}s)", flush=True)

    def elapsed(self) -> float:
        return time.monotonic() - self.started


def process_log(name: str) -> Path:
    return buildkit.log_path("k8s", name)


def read_pid(layout: Layout, name: str) -> int | None:
    """The pid of a cluster process still running under the name it was started with."""
    pidfile = layout.pids / name
    try:
        pid = int(pidfile.read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if state in ("Z", "X"):
        return None
    if not cmdline:
        # Empty while nsenter execs the component (and for a zombie, ruled out above).
        return pid
    expected = name if name != "provisioner" else "k8s_lab.py"
    return pid if any(Path(arg.decode(errors="replace")).name == expected
                      for arg in cmdline.split(b"\0")) else None


def start(layout: Layout, name: str, argv: list[str], in_node: bool = True) -> None:
    layout.pids.mkdir(parents=True, exist_ok=True)
    with process_log(name).open("w") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen([*IN_NODE, *argv] if in_node else argv, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env(), start_new_session=True)
    (layout.pids / name).write_text(str(proc.pid))


def stop(layout: Layout, name: str, timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL after timeout; only the pid this lab recorded."""
    pid = read_pid(layout, name)
    try:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while read_pid(layout, name) == pid and time.monotonic() < deadline:
                time.sleep(0.2)
            if read_pid(layout, name) == pid:
                os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    (layout.pids / name).unlink(missing_ok=True)


def wait_for(what: str, ready: Callable[[], bool], layout: Layout, timeout: float,
             watch: Iterable[str] = ()) -> None:
    """Poll until ready(); fail at once, naming its log, when a watched process died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if ready():
                return
        except (OSError, ValueError, StepFailed, subprocess.TimeoutExpired):
            pass
        for name in watch:
            if read_pid(layout, name) is None:
                raise StepFailed(f"{name} exited while waiting for {what}; read {process_log(name)}")
        if time.monotonic() > deadline:
            logs = ", ".join(str(process_log(name)) for name in watch) or "the logs in " + str(buildkit.LOGS)
            raise StepFailed(f"timed out after {timeout:.0f}s waiting for {what}; read {logs}")
        time.sleep(0.5)


# --- the API, from the host ------------------------------------------------------------

class Api:
    """The API server over HTTPS from the host, as the admin (client certificate
    taken from admin.conf): for readiness polls and the volume provisioner."""

    def __init__(self, layout: Layout) -> None:
        self.context = ssl.create_default_context(cafile=str(layout.pki / "ca.crt"))
        self.context.load_cert_chain(str(layout.runtime / "admin.crt"), str(layout.runtime / "admin.key"))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(
            API_URL + path, method=method, data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "Accept": "application/json"})
        with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
            payload = response.read()
        return json.loads(payload) if payload.startswith(b"{") else payload.decode()

    def get(self, path: str) -> Any:
        return self.call("GET", path)


def write_admin_client(layout: Layout, kubeconfig: Path) -> None:
    """The admin client certificate and key, out of the kubeconfig, for Api."""
    user = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]
    layout.runtime.mkdir(parents=True, exist_ok=True)
    for suffix, field in (("crt", "client-certificate-data"), ("key", "client-key-data")):
        target = layout.runtime / f"admin.{suffix}"
        target.write_bytes(base64.b64decode(user[field]))
        target.chmod(0o600)


def kubectl(args: list[str], kubeconfig: Path = ADMIN_CONF, stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return sh([str(BIN / "kubectl"), f"--kubeconfig={kubeconfig}", *args], stdin=stdin,
              timeout=timeout)


def apply(documents: list[dict[str, Any]], kubeconfig: Path = ADMIN_CONF) -> None:
    kubectl(["apply", "-f", "-"], kubeconfig, stdin=yaml.safe_dump_all(documents))


# --- the volume provisioner ---------------------------------------------------------

def provision_once(api: Api, volumes_dir: Path) -> None:
    """One pass: a hostPath PV (a new folder, writable by any pod user) for each
    pending claim of the lab's class; the folder and PV of each released volume removed."""
    claims = api.get("/api/v1/persistentvolumeclaims")["items"]
    volumes = api.get("/api/v1/persistentvolumes")["items"]
    for claim in claims_to_provision(claims, volumes):
        meta = claim["metadata"]
        directory = volumes_dir / f"{meta['namespace']}-{meta['name']}-{meta['uid'][:8]}"
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o777)
        api.call("POST", "/api/v1/persistentvolumes", persistent_volume_for(claim, directory))
        print(f"provisioned {directory} for {meta['namespace']}/{meta['name']}", flush=True)
    for volume in volumes_to_delete(volumes):
        path = Path(volume["spec"]["hostPath"]["path"])
        if path.parent == volumes_dir:
            shutil.rmtree(path, ignore_errors=True)
        api.call("DELETE", f"/api/v1/persistentvolumes/{volume['metadata']['name']}")
        print(f"deleted {volume['metadata']['name']} and {path}", flush=True)


def provisioner(layout: Layout) -> None:
    """The provisioner loop `up` starts (`k8s_lab.py provisioner`): every 2 seconds."""
    api = Api(layout)
    while True:
        try:
            provision_once(api, layout.volumes)
        except (OSError, ValueError, KeyError) as error:
            print(f"provisioner: {error}", flush=True)
        time.sleep(2)


# --- cgroups ---------------------------------------------------------------------------

def cgroup_hierarchies(kinds: tuple[str, ...] = ("cgroup",)) -> list[Path]:
    """Mount points of the cgroup file systems of the given kinds (v1: cgroup)."""
    hierarchies = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _sep, right = line.partition(" - ")
        if right.split()[0] in kinds:
            hierarchies.append(Path(left.split()[4]))
    return hierarchies


def create_cgroups() -> None:
    """kubelet's cgroupRoot in every v1 hierarchy, before kubelet starts (it refuses a
    missing one); cpuset needs its cpus and mems copied from the parent."""
    for hierarchy in cgroup_hierarchies():
        group = hierarchy / CGROUP_ROOT
        group.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if (hierarchy / name).exists() and not (group / name).read_text().strip():
                (group / name).write_text((hierarchy / name).read_text())


def remove_cgroups() -> list[str]:
    """Remove the cgroup trees under cgroupRoot, deepest first, also the one runc
    mirrors in the unified (v2) hierarchy; returns those still busy."""
    busy = []
    for hierarchy in cgroup_hierarchies(("cgroup", "cgroup2")):
        root = hierarchy / CGROUP_ROOT
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


# --- images in the cluster's containerd ------------------------------------------------

def ctr(layout: Layout, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return sh(["ctr", "-a", str(layout.socket), "-n", "k8s.io", *args], timeout=timeout)


def normalized_ref(tag: str) -> str:
    """An image name as containerd stores it: registry host added to short names."""
    first, _sep, rest = tag.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return tag
    return f"docker.io/{tag}" if rest else f"docker.io/library/{tag}"


def archive_manifest(archive: Path) -> tuple[list[str], str]:
    """The names ctr gives a docker-archive's images, and its config's file name
    (the config's digest: it covers every layer's digest and the recipe label)."""
    with tarfile.open(archive) as tar:
        member = tar.extractfile("manifest.json")
        if member is None:
            raise StepFailed(f"{archive} has no manifest.json")
        manifest = json.load(member)
    return [normalized_ref(tag) for entry in manifest for tag in entry["RepoTags"]], \
        ",".join(entry["Config"] for entry in manifest)


def import_images(layout: Layout) -> list[str]:
    """Import every image archive whose current build is not in containerd yet
    (the record lives with containerd's root, so it survives `down`)."""
    record_file = layout.containerd_root / "lgtm-imported.json"
    record = json.loads(record_file.read_text()) if record_file.exists() else {}
    present = set(ctr(layout, "images", "ls", "-q").stdout.split())
    imported = []
    for archive in sorted(IMAGES.glob("*.tar")):
        refs, digest = archive_manifest(archive)
        if all(ref in present and record.get(ref) == digest for ref in refs):
            continue
        ctr(layout, "images", "import", str(archive))
        record.update({ref: digest for ref in refs})
        imported += refs
    record_file.write_text(json.dumps(record, indent=2))
    return imported


# --- up, down, guards ------------------------------------------------------------------

def load_changes(layout: Layout) -> list[Change]:
    if not layout.changes.exists():
        return []
    return [Change(**entry) for entry in json.loads(layout.changes.read_text())]


def apply_network(layout: Layout, plan: list[Change]) -> None:
    """Make each change, recording it first: `down` undoes exactly what was recorded,
    also after an `up` that failed half-way."""
    done: list[Change] = []
    layout.runtime.mkdir(parents=True, exist_ok=True)
    for change in plan:
        done.append(change)
        layout.changes.write_text(json.dumps([vars(c) for c in done], indent=1))
        for argv in change.add:
            sh(argv)


def undo_network(layout: Layout) -> list[str]:
    """Undo the recorded changes, last first; returns what could not be undone."""
    problems = []
    for change in reversed(load_changes(layout)):
        for argv in change.undo:
            proc = sh(argv, check=False)
            if proc.returncode != 0 and not _already_gone(proc.stderr):
                problems.append(f"{change.name}: `{' '.join(argv)}`: {proc.stderr.strip()}")
    layout.changes.unlink(missing_ok=True)
    return problems


def _already_gone(stderr: str) -> bool:
    return any(text in stderr for text in ("No such", "Cannot find device", "does not exist",
                                           "Bad rule", "No chain/target/match"))


def missing_guards(layout: Layout) -> list[str]:
    """Each recorded guard whose check fails, by name."""
    missing = []
    for change in load_changes(layout):
        if not change.guard or change.check is None:
            continue
        proc = sh(change.check, check=False)
        if proc.returncode != 0 or (change.check_output and not proc.stdout.strip()):
            missing.append(change.name)
    return missing


def cluster_state(layout: Layout) -> str:
    """'up' (every process running and the API ready), 'down' (nothing of the
    cluster left), or 'partial'."""
    names = [process.name for process in processes(layout)] + ["provisioner"]
    running = [name for name in names if read_pid(layout, name) is not None]
    if not running and not layout.changes.exists() and not NETNS_PATH.exists():
        return "down"
    if len(running) == len(names) and layout.changes.exists():
        try:
            if Api(layout).get("/readyz") == "ok":
                return "up"
        except (OSError, ValueError):
            pass
    return "partial"


def preflight(pins: dict[str, Any]) -> list[dict[str, Any]]:
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
    in_the_way = conflicts(routes)
    if in_the_way:
        raise StepFailed(f"host routes overlap the lab's ranges: {'; '.join(in_the_way)}")
    return [route for route in routes if route.get("dst") == "default"]


def write_configs(layout: Layout, pins: dict[str, Any]) -> None:
    run_dir = layout.run
    for folder in (run_dir, layout.cni_conf, layout.volumes, layout.containerd_root):
        folder.mkdir(parents=True, exist_ok=True)
    (run_dir / "containerd.toml").write_text(containerd_config(layout, pins["pause"]["image"]))
    (layout.cni_conf / "10-lgtm-k8s.conflist").write_text(json.dumps(cni_conflist(layout), indent=2))
    (run_dir / "kubeadm.yaml").write_text(kubeadm_config(layout, pins["kubernetes"]["version"]))
    (run_dir / "kubelet.yaml").write_text(yaml.safe_dump(kubelet_config(layout)))
    (run_dir / "kube-proxy.yaml").write_text(yaml.safe_dump(kube_proxy_config(layout)))


def kubeadm_phases(layout: Layout) -> None:
    config = str(layout.run / "kubeadm.yaml")
    kubeadm = str(layout.bin / "kubeadm")
    run("k8s", "kubeadm-certs", [kubeadm, "init", "phase", "certs", "all", "--config", config])
    run("k8s", "kubeadm-kubeconfig", [kubeadm, "init", "phase", "kubeconfig", "all", "--config", config,
                                      "--kubeconfig-dir", str(layout.kubeconfigs)])
    write_admin_client(layout, layout.kubeconfigs / "admin.conf")


def cluster_admins(layout: Layout) -> None:
    """admin.conf's user is in group kubeadm:cluster-admins, which has no rights
    until `kubeadm init` binds it: bind it with super-admin.conf."""
    apply([{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": "kubeadm:cluster-admins"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "cluster-admin"},
            "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                          "name": "kubeadm:cluster-admins"}]}],
          layout.kubeconfigs / "super-admin.conf")


def node_ready(api: Api) -> bool:
    node = api.get(f"/api/v1/nodes/{NODE_NAME}")
    return any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])


def exists(api: Api, path: str) -> bool:
    try:
        api.get(path)
        return True
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        raise


def deployment_ready(api: Api, namespace: str, name: str) -> bool:
    deployment = api.get(f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
    status = deployment.get("status", {})
    return (status.get("observedGeneration") == deployment["metadata"]["generation"]
            and status.get("updatedReplicas") == deployment["spec"]["replicas"]
            and status.get("availableReplicas") == deployment["spec"]["replicas"])


def up(layout: Layout) -> None:
    pins = load_pins()
    state = cluster_state(layout)
    if state == "up":
        print(f"k8s: already up; API {API_URL}, kubeconfig {ADMIN_CONF}")
        return
    if state == "partial":
        raise StepFailed("the cluster is partly up (a process died or an `up` failed); "
                         "run `lab/k8s_lab.py down` first")
    default_routes = preflight(pins)
    uplinks = uplinks_from(default_routes)
    steps = Steps()
    print(f"k8s: up (logs: {buildkit.LOGS}/k8s-*.log)", flush=True)
    shutil.rmtree(layout.run, ignore_errors=True)
    ADMIN_CONF.unlink(missing_ok=True)
    steps.step(f"network namespace, veth and guards (uplinks: {', '.join(uplinks) or 'none'})",
               lambda: apply_network(layout, network_plan(uplinks, shutil.which("ip6tables") is not None)))
    missing = missing_guards(layout)
    if missing:
        raise StepFailed(f"guards missing right after set-up: {', '.join(missing)}")
    steps.step("cgroups", create_cgroups)
    steps.step("configs and PKI", lambda: (write_configs(layout, pins), kubeadm_phases(layout)))
    procs = {process.name: process for process in processes(layout)}
    api = Api(layout)

    def containerd() -> None:
        start(layout, "containerd", procs["containerd"].argv)
        wait_for("containerd", lambda: ctr(layout, "version", timeout=5).returncode == 0, layout, 60,
                 ["containerd"])
        imported = import_images(layout)
        if imported:
            print(f"  k8s: imported {', '.join(imported)}")
    steps.step("containerd", containerd)

    def control_plane() -> None:
        start(layout, "etcd", procs["etcd"].argv)
        start(layout, "kube-apiserver", procs["kube-apiserver"].argv)
        wait_for("the API server", lambda: api.get("/readyz") == "ok", layout, 180,
                 ["etcd", "kube-apiserver"])
        cluster_admins(layout)
        for name in ("kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy"):
            start(layout, name, procs[name].argv)
        start(layout, "provisioner", [sys.executable, str(Path(__file__).resolve()), "provisioner"],
              in_node=False)
        shutil.copy(layout.kubeconfigs / "admin.conf", ADMIN_CONF)
        ADMIN_CONF.chmod(0o600)
    steps.step("etcd, API server, controller-manager, scheduler, kubelet, kube-proxy", control_plane)
    watched = list(procs) + ["provisioner"]
    steps.step("node Ready", lambda: wait_for("node Ready", lambda: node_ready(api), layout, 180, watched))
    steps.step("CoreDNS and the default StorageClass",
               lambda: apply([*coredns_manifests(pins["coredns"]["image"]), storage_class()]))
    steps.step("default ServiceAccount", lambda: wait_for(
        "the default ServiceAccount", lambda: exists(api, "/api/v1/namespaces/default/serviceaccounts/default"),
        layout, 120, watched))
    steps.step("CoreDNS rollout", lambda: wait_for(
        "CoreDNS", lambda: deployment_ready(api, "kube-system", "coredns"), layout, 180, watched))
    print(f"k8s: ready in {steps.elapsed():.1f}s; API {API_URL}; kubeconfig {ADMIN_CONF}", flush=True)


def mounts_under(*roots: Path) -> list[str]:
    """Mount points below the given folders, deepest first."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == str(root) or point.startswith(f"{root}/") for root in roots):
            found.append(point)
    return sorted(set(found), key=lambda p: -p.count("/"))


def shim_pids(layout: Layout) -> list[int]:
    """containerd-shim processes serving this lab's containerd (and no other)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"containerd-shim-runc-v2") and \
                str(layout.socket).encode() in cmdline:
            pids.append(int(proc.name))
    return pids


def drain(layout: Layout) -> None:
    """Let kubelet tear the pods down (their network, volumes and containers): stop
    what would recreate them, delete them all, wait until no container runs."""
    stop(layout, "kube-controller-manager")
    stop(layout, "kube-scheduler")
    stop(layout, "provisioner")
    if read_pid(layout, "kubelet") is None or read_pid(layout, "kube-apiserver") is None:
        return
    kubectl(["delete", "pods", "--all", "--all-namespaces", "--grace-period=2", "--wait=false"],
            layout.kubeconfigs / "admin.conf")

    api = Api(layout)

    def all_gone() -> bool:
        # kubelet lets a pod object go only once it stopped the pod's sandbox,
        # which tears down its network.
        if api.get("/api/v1/pods")["items"]:
            return False
        tasks = ctr(layout, "tasks", "ls", timeout=10).stdout.splitlines()[1:]
        return not [line for line in tasks if "RUNNING" in line]
    try:
        wait_for("kubelet to stop every pod", all_gone, layout, 90)
    except StepFailed as timeout:
        print(f"  k8s: {timeout}; killing what is left", flush=True)


def network_namespaces(spec: dict[str, Any]) -> list[str]:
    """The network namespace files a container's OCI spec joins (a pod sandbox's)."""
    return [ns["path"] for ns in spec.get("linux", {}).get("namespaces", [])
            if ns.get("type") == "network" and ns.get("path", "").startswith(("/run/netns/", "/var/run/netns/"))]


def remove_containers(layout: Layout) -> None:
    """With containerd still running: kill and delete any task left, then every
    container with its snapshot (the images stay), and the network namespace
    file of any pod sandbox kubelet had not torn down yet."""
    namespaces: set[str] = set()
    for container in ctr(layout, "containers", "ls", "-q", timeout=10).stdout.split():
        info = sh(["ctr", "-a", str(layout.socket), "-n", "k8s.io", "containers", "info", container],
                  check=False)
        if info.returncode == 0:
            namespaces.update(network_namespaces(json.loads(info.stdout).get("Spec") or {}))
    for line in ctr(layout, "tasks", "ls", timeout=10).stdout.splitlines()[1:]:
        task = line.split()[0]
        sh(["ctr", "-a", str(layout.socket), "-n", "k8s.io", "tasks", "kill", "-s", "SIGKILL", task],
           check=False)
        sh(["ctr", "-a", str(layout.socket), "-n", "k8s.io", "tasks", "delete", "-f", task], check=False)
    for container in ctr(layout, "containers", "ls", "-q", timeout=10).stdout.split():
        sh(["ctr", "-a", str(layout.socket), "-n", "k8s.io", "containers", "delete", container],
           check=False)
    for path in sorted(namespaces):
        if Path(path).exists():
            sh(["umount", path], check=False)
            Path(path).unlink(missing_ok=True)


def down(layout: Layout) -> None:
    steps = Steps()
    if cluster_state(layout) == "down":
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
    attempt("pods stopped by kubelet", lambda: drain(layout))
    for name in ("kube-proxy", "kubelet", "kube-apiserver", "etcd"):
        stop(layout, name)
    if read_pid(layout, "containerd") is not None:
        attempt("containers removed", lambda: remove_containers(layout))
    stop(layout, "containerd")
    for pid in shim_pids(layout):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    print("  k8s: processes stopped", flush=True)

    def unmount() -> None:
        for point in mounts_under(layout.run, layout.runtime, layout.containerd_root):
            if sh(["umount", point], check=False).returncode != 0:
                sh(["umount", "-l", point], check=False)
    steps.step("unmounted", unmount)
    busy = remove_cgroups()
    problems = undo_network(layout)
    print("  k8s: guards, routes, veth and namespace removed", flush=True)
    shutil.rmtree(layout.run, ignore_errors=True)
    shutil.rmtree(layout.runtime, ignore_errors=True)
    ADMIN_CONF.unlink(missing_ok=True)
    for problem in [*warnings, *problems, *(f"cgroup still busy: {group}" for group in busy)]:
        print(f"  k8s: WARNING {problem}", flush=True)
    print(f"k8s: down in {steps.elapsed():.1f}s", flush=True)


# --- lab images: the artifact mirror's binaries at upstream's image paths -------------

# Bump when the image recipe below changes; every lab image is then rebuilt once.
IMAGE_REVISION = 1
IMAGES_SH = LAB_DIR / "images.sh"
SHOP_FILES = REPO / "roles" / "demo_shop" / "files"


@dataclass(frozen=True)
class ImageSpec:
    """A lab image: the files taken from the component's release tarball (by base
    name) and where upstream's image puts them, plus upstream's run configuration."""
    files: dict[str, str]
    config: dict[str, Any]
    directories: dict[str, int]  # folder -> owner uid


# Upstream's Dockerfiles: otelcol-contrib (opentelemetry-collector-releases),
# cmd/jaeger/Dockerfile, Prometheus' Dockerfile, VictoriaLogs'
# app/victoria-logs/multiarch/Dockerfile. The demo shop is this collection's own.
IMAGE_SPECS: dict[str, ImageSpec] = {
    "otel_collector": ImageSpec(
        {"otelcol-contrib": "/otelcol-contrib"},
        {"Entrypoint": ["/otelcol-contrib"], "User": "10001",
         "ExposedPorts": {"4317/tcp": {}, "4318/tcp": {}, "55679/tcp": {}}}, {}),
    "jaeger": ImageSpec(
        {"jaeger": "/cmd/jaeger/jaeger-linux"},
        {"Entrypoint": ["/cmd/jaeger/jaeger-linux"], "User": "10001",
         "Env": ["JAEGER_LISTEN_HOST=0.0.0.0"],
         "ExposedPorts": {f"{port}/tcp": {} for port in (4317, 4318, 5778, 9411, 13133, 16686)}}, {}),
    "prometheus": ImageSpec(
        {"prometheus": "/bin/prometheus", "promtool": "/bin/promtool",
         "prometheus.yml": "/etc/prometheus/prometheus.yml"},
        {"Entrypoint": ["/bin/prometheus"], "User": "nobody", "WorkingDir": "/prometheus",
         "Cmd": ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"],
         "ExposedPorts": {"9090/tcp": {}}, "Volumes": {"/prometheus": {}}},
        {"/prometheus": 65534, "/etc/prometheus": 65534}),
    "victorialogs": ImageSpec(
        {"victoria-logs-prod": "/victoria-logs-prod"},
        {"Entrypoint": ["/victoria-logs-prod"], "ExposedPorts": {"9428/tcp": {}}}, {}),
    "demo_shop": ImageSpec(
        {}, {"Entrypoint": ["python3", "/app/shop.py"], "User": "65534", "WorkingDir": "/app",
             "Env": ["PYTHONPATH=/app/site-packages", "PYTHONUNBUFFERED=1"],
             "ExposedPorts": {"8080/tcp": {}}}, {}),
}


def image_ref(component: str) -> str:
    """The image name the role's own `<component>_image` default renders to
    (upstream's name and tag), so that the lab and the roles cannot disagree."""
    role_dir = REPO / "roles" / component
    defaults = yaml.safe_load((role_dir / "defaults" / "main.yml").read_text()) or {}
    if f"{component}_image" not in defaults:
        raise StepFailed(f"roles/{component}/defaults/main.yml defines no {component}_image")
    return buildkit.render_role_templates(role_dir, {"ref": "{{ %s_image }}" % component})["ref"]


def base_layer() -> Path:
    """The lab's Debian 12 base: the root file system tar lab/images.sh imports as
    lgtm-lab/debian:12 (named after images.sh's own digest, as it names it)."""
    recipe = hashlib.sha256(IMAGES_SH.read_bytes()).hexdigest()[:16]
    path = CACHE / "images" / f"debian-12-{recipe}.tar"
    if not path.is_file():
        # images.sh keeps its tar; if it is gone but the image is there, export the image.
        label = sh(["docker", "image", "inspect", "-f",
                    '{{ index .Config.Labels "org.observability.lgtm.recipe" }}', "lgtm-lab/debian:12"],
                   check=False).stdout.strip()
        if label != recipe:
            raise StepFailed(f"{path} is missing: run `bash lab/images.sh 12` (lab/setup.sh does)")
        container = sh(["docker", "create", "lgtm-lab/debian:12"]).stdout.strip()
        try:
            run("k8s-images", "docker-export-base",
                ["docker", "export", "-o", str(path.with_suffix(".part")), container])
        finally:
            sh(["docker", "rm", container], check=False)
        path.with_suffix(".part").rename(path)
    return path


def base_symlinks(base: Path) -> dict[str, str]:
    """Top-level symbolic links of the base (merged /usr: bin -> usr/bin, ...), so
    a file for /bin/prometheus lands where /bin points."""
    links = {}
    with tarfile.open(base) as tar:
        for member in tar:
            name = member.name.removeprefix("./")
            if member.issym() and "/" not in name.rstrip("/"):
                links[name] = member.linkname.removeprefix("/")
    return links


def in_base(path: str, links: dict[str, str]) -> str:
    """path (absolute) as a layer member name, through the base's top-level links."""
    first, _sep, rest = path.lstrip("/").partition("/")
    return f"{links[first]}/{rest}" if first in links and rest else path.lstrip("/")


def layer_tar(files: dict[str, bytes], directories: dict[str, int], trees: dict[str, Path],
              executables: set[str]) -> bytes:
    """A layer: folders (with owners), files, and whole trees copied, owner root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        parents = {str(Path(name).parent) for name in [*files, *trees]} - {"."}
        for folder in sorted(parents | set(directories)):
            info = tarfile.TarInfo(folder)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            info.uid = info.gid = directories.get(folder, 0)
            tar.addfile(info)
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755 if name in executables else 0o644
            tar.addfile(info, io.BytesIO(data))

        def reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            return info
        for name, source in sorted(trees.items()):
            tar.add(source, arcname=name, filter=reset)
    return buffer.getvalue()


def release_artifacts(components: list[str]) -> dict[str, tuple[str, Path]]:
    """The sha256 and path of each component's release tarball that the artifact
    mirror serves (mirror.py names only one that matches its checksum file)."""
    if not components:
        return {}
    proc = subprocess.run([sys.executable, str(LAB_DIR / "mirror.py"), "artifact", *components],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise StepFailed(proc.stderr.strip() or f"mirror.py artifact {' '.join(components)} failed")
    lines = [line.split(maxsplit=1) for line in proc.stdout.splitlines()]
    return {component: (digest, Path(path)) for component, (digest, path) in zip(components, lines)}


def release_files(component: str, artifact: Path, wanted: Iterable[str]) -> dict[str, bytes]:
    """Files out of a release tarball, by base name."""
    found: dict[str, bytes] = {}
    with tarfile.open(artifact) as tar:
        for member in tar:
            base = Path(member.name).name
            if member.isfile() and base in wanted:
                handle = tar.extractfile(member)
                if handle is not None:
                    found[base] = handle.read()
    missing = set(wanted) - set(found)
    if missing:
        raise StepFailed(f"{component}: {sorted(missing)} not in its release tarball {artifact}")
    return found


def shop_site_packages() -> Path:
    """The demo shop's pinned dependencies for Debian 12's Python 3.11, wheels only,
    as the role bundles them; cached by the requirements file's digest."""
    requirements = SHOP_FILES / "requirements.txt"
    target = IMAGES / f"demo_shop-site-packages-{sha256_of(requirements)[:16]}"
    if not target.is_dir():
        partial = target.with_name(target.name + ".part")
        shutil.rmtree(partial, ignore_errors=True)
        run("k8s-images", "pip-demo-shop",
            [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "--no-deps", "--no-compile", "--only-binary=:all:", "--implementation", "cp",
             "--python-version", "3.11", "--platform", "manylinux_2_17_x86_64",
             "--platform", "manylinux2014_x86_64", "--platform", "any",
             "--target", str(partial), "--requirement", str(requirements)])
        partial.rename(target)
    return target


def image_key(component: str, ref: str, base: Path, artifact_digest: str) -> str:
    """The image's recipe digest: its name, base, inputs, spec and recipe revision."""
    spec = IMAGE_SPECS[component]
    if component == "demo_shop":
        material = {"shop.py": sha256_of(SHOP_FILES / "shop.py"),
                    "requirements": sha256_of(SHOP_FILES / "requirements.txt")}
    else:
        material = {"release": artifact_digest}
    return hashlib.sha256(json.dumps(
        {"component": component, "ref": ref, "base": base.name, "inputs": material,
         "spec": vars(spec), "revision": IMAGE_REVISION}, sort_keys=True).encode()).hexdigest()


def build_image(component: str, artifact: tuple[str, Path] | None) -> Path:
    """Build the component's image archive unless the cached one has the same recipe."""
    ref = image_ref(component)
    base = base_layer()
    key = image_key(component, ref, base, artifact[0] if artifact else "")
    archive = IMAGES / f"{component}.tar"
    stamp = IMAGES / f"{component}.json"
    if archive.exists() and stamp.exists() and json.loads(stamp.read_text()).get("recipe") == key:
        print(f"{component}: image {ref} cached", flush=True)
        return archive
    started = time.monotonic()
    spec = IMAGE_SPECS[component]
    links = base_symlinks(base)
    if artifact is None:  # the demo shop
        layer = layer_tar({"app/shop.py": (SHOP_FILES / "shop.py").read_bytes()}, {},
                          {"app/site-packages": shop_site_packages()}, set())
    else:
        inputs = release_files(component, artifact[1], spec.files)
        files = {in_base(spec.files[name], links): data for name, data in inputs.items()}
        executables = {in_base(spec.files[name], links) for name in spec.files
                       if not name.endswith((".yml", ".json"))}
        layer = layer_tar(files, {in_base(d, links): uid for d, uid in spec.directories.items()},
                          {}, executables)
    stamp.unlink(missing_ok=True)
    write_image_archive(archive, [ref], [base, layer], spec.config, key)
    stamp.write_text(json.dumps({"recipe": key, "ref": ref}, indent=2))
    print(f"{component}: image {ref} built in {time.monotonic() - started:.0f}s", flush=True)
    return archive


def images(layout: Layout, wanted: list[str]) -> None:
    unknown = sorted(set(wanted) - set(IMAGE_SPECS))
    if unknown:
        raise StepFailed(f"unknown component(s) {unknown}; choose from {sorted(IMAGE_SPECS)}")
    components = wanted or list(IMAGE_SPECS)
    artifacts = release_artifacts([c for c in components if c != "demo_shop"])
    for component in components:
        build_image(component, artifacts.get(component))
    if read_pid(layout, "containerd") is None:
        print("k8s: the cluster is not up; `up` imports the images")
        return
    imported = import_images(layout)
    print(f"k8s: imported {', '.join(imported) or 'nothing new'} into the cluster's containerd")


# --- command line ---------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("command", choices=["build", "up", "down", "guards", "images", "kubeconfig",
                                            "kubectl", "status", "provisioner"])
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    args = parser.parse_args()
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
            if not layout.changes.exists():
                print("k8s: the cluster is not up: no guards to check")
                return 2
            missing = missing_guards(layout)
            for name in missing:
                print(f"MISSING guard: {name}")
            if not missing:
                guards = [change.name for change in load_changes(layout) if change.guard]
                print("\n".join(f"ok: {name}" for name in guards))
            return 1 if missing else 0
        elif args.command == "images":
            images(layout, args.arguments)
        elif args.command == "kubeconfig":
            print(ADMIN_CONF)
        elif args.command == "kubectl":
            return subprocess.run([str(BIN / "kubectl"), f"--kubeconfig={ADMIN_CONF}", *args.arguments],
                                  check=False).returncode
        elif args.command == "status":
            print(cluster_state(layout))
        else:
            provisioner(layout)
    except StepFailed as failure:
        print(f"ERROR: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
