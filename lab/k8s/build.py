"""The lab Kubernetes' binaries and its two images of its own (pause and
CoreDNS), built from published Go modules (and a few lines of C for pause), each
cached under a stamp that records what it was made from.

The stamps hold a recipe key computed from data only (the pins, a recipe
revision, the Go version, the sources written here), never from this file, so
moving or editing the code around a recipe rebuilds nothing.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from buildkit import StepFailed, run, sha256_of

from .addons import COREFILE
from .archive import single_file_layer, write_image_archive
from .layout import BIN, GO_DIRS, IMAGES, PINS_FILE, SRC, STAMPS

# Bump a component's revision when its recipe below changes in a way that
# changes what it produces; the cache then rebuilds it once.
RECIPE_REVISIONS = {"kubernetes": 1, "etcd": 1, "coredns": 2, "pause": 1, "kube_router": 1}


def load_pins() -> dict[str, Any]:
    """The versions in lab/kubernetes.yml (LGTM_K8S_VERSIONS points a test elsewhere)."""
    return yaml.safe_load(Path(os.environ.get("LGTM_K8S_VERSIONS", PINS_FILE)).read_text())


def go_cache_env() -> dict[str, str]:
    """These builds keep Go caches of their own (about 4 GB), so a cold build is
    measurable without touching anyone else's caches, and cleaning them is safe."""
    return {"GOCACHE": str(GO_DIRS / "cache"), "GOMODCACHE": str(GO_DIRS / "mod")}


def go_version() -> str:
    """The Go toolchain's version: part of every Go component's recipe key."""
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


def corefile_directives(corefile: str) -> list[str]:
    """The plugin directives a Corefile uses: the first word of each line directly
    inside a server block (lines of a directive's own block are its options)."""
    directives: list[str] = []
    depth = 0
    for line in corefile.splitlines():
        words = line.split("#", 1)[0].split()
        if words and depth == 1 and words[0] != "}" and words[0] not in directives:
            directives.append(words[0])
        depth += line.count("{") - line.count("}")
    return directives


def plugin_packages(plugin_cfg: str, directives: list[str]) -> list[str]:
    """The Go packages of `directives`, from CoreDNS's plugin.cfg (`directive:package`
    lines, a bare package name meaning github.com/coredns/coredns/plugin/<name>)."""
    packages = {}
    for line in plugin_cfg.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            directive, package = line.strip().split(":", 1)
            packages[directive] = package if "/" in package else f"github.com/coredns/coredns/plugin/{package}"
    unknown = [name for name in directives if name not in packages]
    if unknown:
        raise StepFailed(f"coredns: the Corefile uses {unknown}, which plugin.cfg does not name")
    return [packages[name] for name in directives]


def coredns_main(packages: list[str]) -> str:
    """CoreDNS' own main (coredns.go), with the given plugins instead of every plugin
    (core/plugin): CoreDNS' documented way to build with a chosen set of plugins."""
    imports = "\n".join(f'\t_ "{package}"' for package in sorted(packages))
    return ("// CoreDNS with only the plugins the lab's Corefile uses (lab/k8s/addons.py).\n"
            "package main\n\nimport (\n\t\"github.com/coredns/coredns/coremain\"\n"
            f"{imports}\n)\n\nfunc main() {{\n\tcoremain.Run()\n}}\n")


def lean_go_mod(upstream_go_mod: str, module: str, version: str) -> str:
    """A module that builds `module`'s commands with its own go.mod's versions: the
    upstream go.mod under another module path, requiring the module itself."""
    lines = [f"module {module.rsplit('/', 1)[-1]}build" if line.startswith("module ") else line
             for line in upstream_go_mod.splitlines()]
    return "\n".join([*lines, "", f"require {module} {version}", ""])


def kube_router_ldflags(module: str, version: str, build_date: str) -> list[str]:
    """The version variables upstream's Makefile sets (pkg/version), so that the binary
    reports its release."""
    return [f"-X {module}/pkg/version.{name}={value}"
            for name, value in (("Version", f"v{version}"), ("BuildDate", build_date))]


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
    if name in ("kubernetes", "kube_router"):
        material["go"] = go
    elif name == "etcd":
        material.update(go=go, main=ETCD_MAIN)
    elif name == "coredns":
        material.update(go=go, corefile=COREFILE)
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
    """`go mod download -json` of one module version (its go.mod path, its time)."""
    GO_DIRS.mkdir(parents=True, exist_ok=True)
    out = run(component, "download", ["go", "mod", "download", "-json", f"{module}@{version}"],
              cwd=GO_DIRS, env=go_cache_env())
    info = json.loads(out[out.index("{"):])
    if "Error" in info:
        raise StepFailed(f"{component}: download of {module}@{version} failed: {info['Error']}")
    return info


def release_time(info: dict[str, Any]) -> str:
    """When the module version was published (the proxy's .info file; `go mod download
    -json` does not print it): the build date the binaries report."""
    return str(json.loads(Path(info["Info"]).read_text()).get("Time", "")) if info.get("Info") else ""


def wrapper_folder(name: str, pin: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    """The module version downloaded (its `go mod download -json`) and a new, empty folder
    under SRC for the module that builds it."""
    info = download_info(f"k8s-{name}", pin["module"], f"v{pin['version']}")
    work = SRC / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    BIN.mkdir(parents=True, exist_ok=True)
    return info, work


def lean_wrapper(name: str, pin: dict[str, Any]) -> tuple[dict[str, Any], Path]:
    """A wrapper folder with the module's own go.mod (lean_go_mod) and go.sum."""
    info, work = wrapper_folder(name, pin)
    (work / "go.mod").write_text(lean_go_mod(Path(info["GoMod"]).read_text(), pin["module"], f"v{pin['version']}"))
    shutil.copyfile(Path(info["Dir"]) / "go.sum", work / "go.sum")
    return info, work


def build_kubernetes(pins: dict[str, Any]) -> None:
    pin = pins["kubernetes"]
    info, work = wrapper_folder("kubernetes", pin)
    (work / "go.mod").write_text(wrapper_go_mod(Path(info["GoMod"]).read_text(), pin["module"],
                                                f"v{pin['version']}", pin["staging_version"]))
    ldflags = " ".join(["-s", "-w", *kubernetes_ldflags(pin["version"], release_time(info))])
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
    """CoreDNS at its own go.mod's versions, with the plugins COREFILE uses: every plugin
    (core/plugin) compiles the cloud providers' SDKs too, twice the packages (1,041 against
    525 by `go list -deps`)."""
    pin = pins["coredns"]
    info, work = lean_wrapper("coredns", pin)
    plugins = plugin_packages((Path(info["Dir"]) / "plugin.cfg").read_text(), corefile_directives(COREFILE))
    (work / "main.go").write_text(coredns_main(plugins))
    run("k8s-coredns", "go-build", ["go", "build", "-trimpath", "-ldflags", "-s -w", "-o",
                                    str(BIN / "coredns"), "."], cwd=work, env=go_cache_env())
    write_image_archive(IMAGES / "coredns.tar", [pin["image"]],
                        [single_file_layer({"coredns": BIN / "coredns"})],
                        {"Entrypoint": ["/coredns"], "ExposedPorts": {"53/tcp": {}, "53/udp": {}}},
                        recipe_key("coredns", pins, go_version()))


def build_kube_router(pins: dict[str, Any]) -> None:
    """kube-router at its own go.mod's versions (its go.mod has no replace directives)."""
    pin = pins["kube_router"]
    info, work = lean_wrapper("kube-router", pin)
    ldflags = " ".join(["-s", "-w", *kube_router_ldflags(pin["module"], pin["version"], release_time(info))])
    run("k8s-kube-router", "go-build", ["go", "build", "-trimpath", "-ldflags", ldflags, "-o",
                                        str(BIN / "kube-router"), f"{pin['module']}/{pin['command']}"],
        cwd=work, env=go_cache_env())


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
        "kube_router": Component("kube_router", (BIN / "kube-router",), build_kube_router),
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
