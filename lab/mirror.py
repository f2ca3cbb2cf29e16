"""The lab's artifact mirror: release files under upstream's paths, served on
loopback, so the roles install through the same download and checksum code
path as production and only the base URL (`lgtm_artifact_mirror`) differs.

Two sources fill it:
- `build`: the Apache-licensed components (collector, Jaeger, Prometheus,
  VictoriaLogs) built from their published Go modules, packed under upstream's
  file names with upstream-format checksum files, each at its pinned release and
  at the release before it (`upgrade_from` in versions.yml, named
  COMPONENT@VERSION, for the upgrade scenario); `build` also builds the lab's
  own tools (telemetrygen, the throughput benchmark's load generator), which no
  role installs: they stay under build/lab-tools/ and are never served;
- `import DIR`: upstream release files a user downloaded themselves (the
  Grafana stack, which the lab never builds, and the data source plugins the
  grafana role installs, `grafana_plugin_releases`), each verified against
  upstream's checksum file before it is served.

    mirror.py build [COMPONENT ...]   build what is missing or corrupt (cache hits cost nothing);
                                      COMPONENT@VERSION names an upgrade_from release
    mirror.py build --only before     only the upgrade_from releases (--only pinned: all others);
                                      lab/setup.sh builds the two side by side
    mirror.py build --machine aarch64 [COMPONENT ...]
                                      cross-build the pinned releases for an arm64 host, under
                                      upstream's arm64 names beside this machine's (on demand only:
                                      neither the set-up nor `make test` builds them)
    mirror.py import DIR              serve the upstream release files found below DIR
    mirror.py has COMPONENT ...       exit 0 when the mirror holds each one's pinned release
    mirror.py verify                  check every built artifact against its checksum file
    mirror.py serve | stop | url      run the plain HTTP server on loopback
    mirror.py path otel_collector     print where the built collector binary is (for tests)
    mirror.py path telemetrygen       print where the built telemetrygen binary is (benchmarks)
    mirror.py artifact COMPONENT ...  print the sha256 and path of each served release artifact
                                      that matches its checksum file (lab/k8s_lab.py builds
                                      images from them)

Where a release lives in the mirror is not written here: it is the role's own
`<role>_artifact_url` and `<role>_checksum_url`, rendered from the role's
defaults with the mirror as base URL.

Layout under $LGTM_CACHE (default ~/.cache/observability-lgtm):
    mirror/   the served tree: paths match the upstream sites' paths
    build/    per component and version work trees; build/lab-tools/<tool>/<version>/
              holds a lab tool's binary and its checksum file (lab only, not served)
    stamps/   what each built release was built from, and its file digests
    logs/     one log per build step; a failure names the log to read
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

import buildkit
from buildkit import StepFailed, go_build, module_source, run, sha256_of, write_digest_file, write_sums_file, write_tar_gz
from stack_catalogue import CATALOGUE

LAB_DIR = Path(__file__).resolve().parent
REPO = LAB_DIR.parent
CACHE = buildkit.CACHE
MIRROR = CACHE / "mirror"
BUILD = CACHE / "build"
STAMPS = CACHE / "stamps"
MIRROR_ADDRESS = os.environ.get("LGTM_MIRROR_ADDRESS", "127.0.0.1")
MIRROR_PORT = int(os.environ.get("LGTM_MIRROR_PORT", "8765"))
# A placeholder base URL: rendering a role's URLs under it gives the path.
BASE = "http://mirror.invalid"

# Components whose releases users bring (`import`): AGPL-licensed, never built here.
IMPORTED = ("grafana", "tempo", "mimir", "loki")
# The role whose plugin archives users bring too (`import`), and its list of them.
PLUGIN_ROLE = "grafana"
PLUGIN_RELEASES = "grafana_plugin_releases"


@dataclass(frozen=True)
class ReleasePaths:
    """Where a role downloads a release from, relative to the mirror root."""
    directory: Path
    artifact: str
    checksum_file: str


# The machine architecture the lab builds for and serves: this machine's (Go builds natively).
# `build --machine aarch64` cross-builds the pinned releases for another one on demand
# (pure Go, CGO off), served beside this machine's under upstream's names for it.
MACHINE = platform.machine()
MACHINES: tuple[str, ...] = CATALOGUE.MACHINES
GO_ARCHITECTURES: dict[str, str] = dict(CATALOGUE.GO_ARCHITECTURES)


def role_release_paths(role: str, role_vars: dict[str, object] | None = None, machine: str = MACHINE) -> ReleasePaths:
    """Render the role's artifact and checksum URLs from its defaults (Ansible's
    own templating, as the play does) with the mirror as base URL, for the machine
    architecture (this machine's unless named) as the role's upstream names it (the stack
    catalogue's, which the role's vars read); role_vars select another release
    than the pinned one (upgrade_from_role_vars)."""
    overrides: dict[str, object] = {**(role_vars or {}), "lgtm_artifact_mirror": BASE,
                                    f"{role}_release_architecture": CATALOGUE.release_architectures(machine)[role]}
    rendered = buildkit.render_role_templates(
        REPO / "roles" / role, {kind: "{{ %s_%s_url }}" % (role, kind) for kind in ("artifact", "checksum")},
        overrides)
    return release_paths(role, rendered["artifact"], rendered["checksum"])


@dataclass(frozen=True)
class PluginRelease:
    """A data source plugin archive the grafana role downloads: where, and the digest its checksum file lists."""
    paths: ReleasePaths
    algorithm: str


def plugin_releases() -> list[PluginRelease]:
    """Each entry of the grafana role's plugin list, its URLs rendered from the role's defaults (Ansible's
    templating, as the play does) with the mirror as base URL."""
    defaults_file = REPO / "roles" / PLUGIN_ROLE / "defaults" / "main.yml"
    entries = yaml.safe_load(defaults_file.read_text())[PLUGIN_RELEASES]
    found = []
    for index, entry in enumerate(entries):
        rendered = buildkit.render_role_templates(
            REPO / "roles" / PLUGIN_ROLE,
            {kind: "{{ %s[%d].%s_url }}" % (PLUGIN_RELEASES, index, kind) for kind in ("artifact", "checksum")},
            {"lgtm_artifact_mirror": BASE})
        paths = release_paths(f"{PLUGIN_RELEASES}[{index}]", rendered["artifact"], rendered["checksum"])
        found.append(PluginRelease(paths, str(entry.get("checksum_algorithm", "sha256"))))
    return found


def release_paths(owner: str, artifact_url: str, checksum_url: str) -> ReleasePaths:
    """Where the files of two rendered URLs live in the mirror; both must be under the mirror base, side by side."""
    for url in (artifact_url, checksum_url):
        if not url.startswith(BASE + "/"):
            raise StepFailed(f"{owner}: {url} is not under the mirror base; the role must build "
                             f"its URLs on lgtm_artifact_mirror")
    artifact, checksum = (Path(url[len(BASE) + 1:]) for url in (artifact_url, checksum_url))
    if artifact.parent != checksum.parent:
        raise StepFailed(f"{owner}: artifact and checksum file are in different directories")
    return ReleasePaths(artifact.parent, artifact.name, checksum.name)


def lab_tool_paths(tool: str, version: str) -> ReleasePaths:
    """Where a lab tool's binary lives, relative to BUILD: no role downloads it,
    so it has no upstream path and stays out of the served tree."""
    return ReleasePaths(Path("lab-tools") / tool / version, tool, f"{tool}.sha256")


@dataclass
class Release:
    """One built component version: where it lives and what it holds. A role's
    release lives in the mirror (root MIRROR), a lab tool's under BUILD. `name`
    is the component for its pinned release, COMPONENT@VERSION for the release
    before it; build steps log under it. `pins` are what the recipe builds from."""
    component: str
    version: str
    paths: ReleasePaths
    build: Callable[["Release", dict], None] = field(repr=False, default=lambda r, p: None)
    root: Path = MIRROR
    name: str = ""
    pins: dict = field(default_factory=dict)
    machine: str = MACHINE

    def __post_init__(self) -> None:
        self.name = self.name or self.component

    @property
    def foreign(self) -> str:
        """'' for this machine's build, else the Go name of the architecture it is built for."""
        return "" if self.machine == MACHINE else GO_ARCHITECTURES[self.machine]

    @property
    def directory(self) -> Path:
        return self.root / self.paths.directory

    @property
    def artifact(self) -> Path:
        return self.directory / self.paths.artifact

    @property
    def checksum_file(self) -> Path:
        return self.directory / self.paths.checksum_file

    @property
    def stamp(self) -> Path:
        return STAMPS / f"{self.component}-{self.version}{'-' + self.foreign if self.foreign else ''}.json"

    def workdir(self) -> Path:
        path = BUILD / self.component / self.version / self.foreign
        path.mkdir(parents=True, exist_ok=True)
        return path


# Bump a component's revision when its recipe below changes in a way that
# changes the artifact; the cache then rebuilds it once.
RECIPE_REVISIONS = {"otel_collector": 1, "jaeger": 1, "prometheus": 2, "victorialogs": 1,
                    "telemetrygen": 1}


def recipe_key(component: str, pins: dict) -> str:
    material = {"pins": pins, "revision": RECIPE_REVISIONS[component],
                "go": subprocess.run(["go", "env", "GOVERSION"], capture_output=True,
                                     text=True, check=True).stdout.strip()}
    if component == "otel_collector":
        material["manifest"] = hashlib.sha256(collector_manifest(pins)).hexdigest()
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def cache_state(release: Release, key: str) -> str:
    """'hit', 'missing' or a reason the cached copy cannot be served."""
    if not release.stamp.exists():
        return "missing"
    stamp = json.loads(release.stamp.read_text())
    if stamp.get("recipe") != key:
        return "recipe changed"
    for name, digest in stamp["sha256"].items():
        path = release.directory / name
        if not path.exists():
            return f"{name} missing"
        if sha256_of(path) != digest:
            return f"{name} corrupt (sha256 mismatch)"
    if not release.checksum_file.exists():
        return f"{release.paths.checksum_file} missing"
    # A checksum file of the whole release (Jaeger's, Prometheus') lists every architecture's file.
    if buildkit.read_sums_file(release.checksum_file, release.paths.artifact) != stamp["sha256"].get(
            release.paths.artifact):
        return f"{release.paths.checksum_file} lacks {release.paths.artifact}"
    return "hit"


def shares_checksum_file(release: Release) -> bool:
    """Whether the release's checksum file also lists the files of another architecture."""
    return any(role_release_paths(release.component, machine=other).checksum_file == release.paths.checksum_file
               for other in MACHINES if other != release.machine) if release.root == MIRROR else False


class CrossBuild:
    """Go builds for another machine architecture while it is open: the Go tools read GOOS
    and GOARCH from the environment that every build step passes on."""

    def __init__(self, release: Release) -> None:
        self.target = {"GOOS": "linux", "GOARCH": release.foreign} if release.foreign else {}
        self.saved: dict[str, str | None] = {}

    def __enter__(self) -> "CrossBuild":
        for key, value in self.target.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value
        return self

    def __exit__(self, *_exc: object) -> None:
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_release(release: Release) -> None:
    pins = release.pins
    key = recipe_key(release.component, pins)
    state = cache_state(release, key)
    if state == f"{release.paths.checksum_file} missing" and release.component in SUMS_ONLY:
        SUMS_ONLY[release.component](release)
        print(f"{release.component} {release.version}: cached, {release.paths.checksum_file} written", flush=True)
        return
    if state == "hit":
        print(f"{release.component} {release.version}: cached", flush=True)
        return
    print(f"{release.component} {release.version}: building ({state})", flush=True)
    started = time.monotonic()
    release.stamp.unlink(missing_ok=True)
    release.directory.mkdir(parents=True, exist_ok=True)
    release.artifact.unlink(missing_ok=True)
    if not shares_checksum_file(release):
        release.checksum_file.unlink(missing_ok=True)
    with CrossBuild(release):
        release.build(release, pins)
    STAMPS.mkdir(parents=True, exist_ok=True)
    release.stamp.write_text(json.dumps(
        {"recipe": key, "sha256": {release.paths.artifact: sha256_of(release.artifact)},
         "seconds": round(time.monotonic() - started)}, indent=2))
    print(f"{release.component} {release.version}: built in {time.monotonic() - started:.0f}s",
          flush=True)


# --- recipes: one per component, each producing upstream's file layout -------------

def collector_manifest(pins: dict) -> bytes:
    """The ocb manifest a collector release is built from: lab/otelcol-builder.yaml
    itself for the pinned release; for the release before it, the same manifest
    with every module version replaced through pins['module_versions'] (each
    release's versions, core v0.x and v1.x and contrib) and the distribution's
    version set, less the modules named in pins['leave_out'] (whose source at
    that release the module proxy refuses)."""
    source = LAB_DIR / "otelcol-builder.yaml"
    replaced = pins.get("module_versions")
    if not replaced:
        return source.read_bytes()
    left_out = set(pins.get("leave_out", []))
    manifest = yaml.safe_load(source.read_text())
    manifest["dist"]["version"] = pins["version"]
    found = set()
    for section, entries in manifest.items():
        kept = []
        for entry in entries if isinstance(entries, list) else [entries]:
            if not isinstance(entry, dict) or "gomod" not in entry:
                kept.append(entry)
                continue
            module, version = entry["gomod"].split()
            found.add(module)
            if module in left_out:
                continue
            if version not in replaced:
                raise StepFailed(f"otel_collector {pins['version']}: {section} module {module} {version} "
                                 f"has no replacement in upgrade_from.module_versions {replaced}")
            kept.append({**entry, "gomod": f"{module} {replaced[version]}"})
        if isinstance(entries, list):
            manifest[section] = kept
        elif kept:
            manifest[section] = kept[0]
    if left_out - found:
        raise StepFailed(f"otel_collector {pins['version']}: upgrade_from.leave_out names modules the manifest "
                         f"does not have: {sorted(left_out - found)}")
    return yaml.safe_dump(manifest, sort_keys=False, width=1000).encode()


def build_otel_collector(release: Release, pins: dict) -> None:
    work = release.workdir()
    builder = buildkit.TOOLS / "bin" / f"ocb-{pins['builder_version']}"
    buildkit.TOOLS.mkdir(parents=True, exist_ok=True)
    if not builder.exists():
        # GOBIN of its own: two builders installed at once must not meet in one `builder` file.
        gobin = buildkit.TOOLS / f"install-ocb-{pins['builder_version']}"
        run(release.name, "install-ocb",
            ["go", "install", f"{pins['builder_module']}@{pins['builder_version']}"],
            cwd=buildkit.TOOLS, env={"GOBIN": str(gobin)})
        builder.parent.mkdir(parents=True, exist_ok=True)
        (gobin / "builder").rename(builder)
        gobin.rmdir()
    (work / "builder.yaml").write_bytes(collector_manifest(pins))
    run(release.name, "ocb", [str(builder), "--config", "builder.yaml", "--gcflags", buildkit.COMPILER_FLAGS],
        cwd=work)
    readme = work / "README.md"
    readme.write_text("OpenTelemetry Collector built with the OpenTelemetry Collector Builder from\n"
                      "observability.lgtm's lab/otelcol-builder.yaml.\n")
    write_tar_gz(release.artifact, {"otelcol-contrib": work / "_build" / "otelcol-contrib",
                                    "README.md": readme})
    SUMS_ONLY["otel_collector"](release)


def build_jaeger(release: Release, pins: dict) -> None:
    """Upstream's scripts/build/package-deploy.sh: jaeger-<v2>-linux-<arch>/jaeger
    in a tarball (upstream adds the example-hotrod demo, which no role uses),
    and one `shasum -b` file for the release."""
    work = release.workdir()
    src = module_source(release.name, pins["module"], pins["module_version"], work / "src")
    flag = "github.com/jaegertracing/jaeger/internal/version"
    top = release.paths.artifact.removesuffix(".tar.gz")
    binary = work / "stage" / "jaeger"
    binary.parent.mkdir(exist_ok=True)
    go_build(release.name, src.path, "./cmd/jaeger", binary,
             [f"-X {flag}.latestVersion=v{release.version}", f"-X {flag}.commitSHA={src.version}",
              f"-X {flag}.date={src.time}"])
    write_tar_gz(release.artifact, {"jaeger": binary, "LICENSE": src.path / "LICENSE"}, top=top)
    write_sums_file(release.checksum_file, {release.paths.artifact: release.artifact},
                    binary_marker=True)


def build_prometheus(release: Release, pins: dict) -> None:
    """Upstream's .promu.yml: prometheus and promtool with its version ldflags,
    the tarball files it lists, and sha256sums.txt. The web UI's assets are
    built by npm upstream (tag builtinassets); the lab build serves the API only.
    Built with upstream's `remove_all_sd` tag (plugins/*.go): no service discovery
    but file and HTTP, as no config of the stack uses one; it compiles 1.7 million
    lines of Go instead of 4.0 (`go list -deps`), half the cold build. A user's host
    runs upstream's release, which has them all."""
    work = release.workdir()
    src = module_source(release.name, pins["module"], pins["module_version"], work / "src")
    flag = "github.com/prometheus/common/version"
    ldflags = [f"-X {flag}.Version={release.version}", f"-X {flag}.Revision={src.version}",
               f"-X {flag}.Branch=release-{release.version.rsplit('.', 1)[0]}",
               f"-X {flag}.BuildUser=observability-lgtm-lab", f"-X {flag}.BuildDate={src.time}"]
    members = {}
    for name in ("prometheus", "promtool"):
        output = work / "stage" / name
        output.parent.mkdir(exist_ok=True)
        go_build(release.name, src.path, f"./cmd/{name}", output, ldflags, tags=["netgo", "remove_all_sd"])
        members[name] = output
    members.update({"prometheus.yml": src.path / "documentation/examples/prometheus.yml",
                    "LICENSE": src.path / "LICENSE", "NOTICE": src.path / "NOTICE"})
    # promu's tarball: one top directory named as the tarball, prometheus-<v>.linux-<arch>.
    write_tar_gz(release.artifact, members, top=release.paths.artifact.removesuffix(".tar.gz"))
    write_sums_file(release.checksum_file, {release.paths.artifact: release.artifact})


def build_victorialogs(release: Release, pins: dict) -> None:
    """Upstream's Makefile (release-victoria-logs-goos-goarch): the binary
    victoria-logs-prod alone in the tarball; the checksum file lists both."""
    work = release.workdir()
    src = module_source(release.name, pins["module"], pins["module_version"], work / "src")
    binary = work / "stage" / "victoria-logs-prod"
    binary.parent.mkdir(exist_ok=True)
    stamp = src.time[:19].replace("-", "").replace(":", "").replace("T", "-")
    go_build(release.name, src.path, "./app/victoria-logs", binary,
             ["-X 'github.com/VictoriaMetrics/VictoriaMetrics/lib/buildinfo.Version="
              f"victoria-logs-{stamp}-tags-v{release.version}-0'"], tags=["netgo", "osusergo"])
    write_tar_gz(release.artifact, {"victoria-logs-prod": binary})
    write_sums_file(release.checksum_file, {release.paths.artifact: release.artifact,
                                            "victoria-logs-prod": binary})


def build_telemetrygen(release: Release, pins: dict) -> None:
    """A lab tool: the load generator of benchmarks/collector_throughput.py, built
    as upstream's Makefile does (`go build -trimpath .` in cmd/telemetrygen; it has
    no version ldflags). One bare binary and a `sha256sum` line for it."""
    work = release.workdir()
    src = module_source(release.name, pins["module"], pins["module_version"], work / "src")
    go_build(release.name, src.path, ".", release.artifact, [])
    write_sums_file(release.checksum_file, {release.paths.artifact: release.artifact})


# Checksum files a recipe writes from its artifact alone: when only that file is
# missing (its upstream changed its name or form), it is rewritten from the
# intact artifact instead of rebuilding. Since 0.158.0 the collector's release
# has one `<artifact>.sha256` per artifact holding the digest alone (goreleaser's
# `checksum: split: true`, opentelemetry-collector-releases #1582).
SUMS_ONLY: dict[str, Callable[[Release], None]] = {
    "otel_collector": lambda release: write_digest_file(release.checksum_file, release.artifact),
}

RECIPES: dict[str, Callable[[Release, dict], None]] = {
    "otel_collector": build_otel_collector,
    "jaeger": build_jaeger,
    "prometheus": build_prometheus,
    "victorialogs": build_victorialogs,
}
# Built like the components, never served, installed by no role.
LAB_TOOLS: dict[str, Callable[[Release, dict], None]] = {
    "telemetrygen": build_telemetrygen,
}
# `mirror.py path NAME`: the binary each buildable name runs.
BINARIES: dict[str, Callable[[Release], Path]] = {
    "otel_collector": lambda release: release.workdir() / "_build" / "otelcol-contrib",
    "telemetrygen": lambda release: release.artifact,
}


def pinned(pins: dict, component: str) -> dict:
    """What the pinned release is built from: the component's entry less its upgrade_from."""
    return {key: value for key, value in pins[component].items() if key != "upgrade_from"}


def upgrade_from(pins: dict, component: str) -> dict | None:
    """What the release before the pinned one is built from (the entry with its
    upgrade_from keys in place of its own), or None where none builds here."""
    before = pins[component].get("upgrade_from") or {}
    if "version" not in before:
        return None
    return {**pinned(pins, component), **{key: value for key, value in before.items() if key != "role_vars"}}


def upgrade_from_role_vars(pins: dict, component: str) -> dict[str, object]:
    """The role variables that select the release before the pinned one."""
    before = pins[component]["upgrade_from"]
    return {f"{component}_version": before["version"], **before.get("role_vars", {})}


def releases(pins: dict, machine: str = MACHINE) -> dict[str, Release]:
    """Every release the lab builds; for another machine architecture, the pinned ones only."""
    if machine != MACHINE:
        return {name: Release(name, pins[name]["version"], role_release_paths(name, machine=machine), recipe,
                              pins=pinned(pins, name), machine=machine)
                for name, recipe in RECIPES.items()}
    built = {name: Release(name, pins[name]["version"], role_release_paths(name), recipe,
                           pins=pinned(pins, name))
             for name, recipe in RECIPES.items()}
    for name, recipe in RECIPES.items():
        before = upgrade_from(pins, name)
        if before:
            release = Release(name, before["version"], role_release_paths(name, upgrade_from_role_vars(pins, name)),
                              recipe, name=f"{name}@{before['version']}", pins=before)
            built[release.name] = release
    built.update({name: Release(name, pins[name]["version"],
                                lab_tool_paths(name, pins[name]["version"]), recipe, root=BUILD,
                                pins=pinned(pins, name))
                  for name, recipe in LAB_TOOLS.items()})
    return built


def load_pins() -> dict:
    # LGTM_VERSIONS lets a test point the builder at other pins.
    return yaml.safe_load(Path(os.environ.get("LGTM_VERSIONS", LAB_DIR / "versions.yml")).read_text())


# --- upstream release files a user brings -------------------------------------

def verified_digest(paths: ReleasePaths, folder: Path, algorithm: str = "sha256") -> str:
    """The artifact's digest once it matches upstream's checksum file in folder."""
    listed = buildkit.read_sums_file(folder / paths.checksum_file, paths.artifact, algorithm)
    if listed is None:
        raise StepFailed(f"{paths.checksum_file} lists no {algorithm} for {paths.artifact}")
    actual = buildkit.digest_of(folder / paths.artifact, algorithm)
    if actual != listed:
        raise StepFailed(f"{paths.artifact}: {algorithm} {actual} differs from {listed} in "
                         f"{paths.checksum_file}; nothing was imported")
    return actual


def import_releases(source: Path) -> list[str]:
    """Copy each pinned Grafana-stack release and each plugin archive of the
    grafana role (grafana_plugin_releases) found below source into the mirror,
    once every one found matched upstream's checksum file beside it (one folder
    per release: Tempo's and Loki's are both named SHA256SUMS); a single
    mismatch imports nothing. Returns the components and plugin archives found."""
    wanted = [(role, role_release_paths(role), "sha256") for role in IMPORTED]
    wanted += [(release.paths.artifact, release.paths, release.algorithm) for release in plugin_releases()]
    verified = []
    for name, paths, algorithm in wanted:
        artifacts = sorted(source.rglob(paths.artifact))
        if not artifacts:
            print(f"{name}: {paths.artifact} not found below {source}")
            continue
        folder = artifacts[0].parent
        if not (folder / paths.checksum_file).is_file():
            raise StepFailed(f"{name}: {folder} holds {paths.artifact} but not upstream's "
                             f"{paths.checksum_file} beside it; nothing was imported")
        verified_digest(paths, folder, algorithm)
        verified.append((name, paths, folder, algorithm))
    for name, paths, folder, algorithm in verified:
        target = MIRROR / paths.directory
        target.mkdir(parents=True, exist_ok=True)
        for file_name in (paths.artifact, paths.checksum_file):
            shutil.copy2(folder / file_name, target / file_name)
        print(f"{name}: {paths.artifact} verified against {paths.checksum_file} ({algorithm}), served at "
              f"{mirror_url()}/{paths.directory / paths.artifact}")
    return [entry[0] for entry in verified]


def has_release(component: str) -> bool:
    """True when the mirror serves the role's pinned release and it matches its checksum file."""
    paths = role_release_paths(component)
    folder = MIRROR / paths.directory
    if not (folder / paths.artifact).is_file() or not (folder / paths.checksum_file).is_file():
        return False
    try:
        verified_digest(paths, folder)
    except StepFailed:
        return False
    return True


# --- serving --------------------------------------------------------------------

PIDFILE = CACHE / "mirror.pid"


def mirror_url() -> str:
    return f"http://{MIRROR_ADDRESS}:{MIRROR_PORT}"


# A file at the mirror's root naming the folder it serves: the port may be held by
# the mirror of another cache (another checkout's, or a HOME of a cold run), whose
# files must never pass for this one's.
ROOT_MARK = ".lgtm-mirror-root"


def served_root() -> str | None:
    """The folder the mirror answering on the port serves ("" when it names none), None when none answers."""
    try:
        with urllib.request.urlopen(mirror_url() + "/" + ROOT_MARK, timeout=2) as answer:
            return answer.read().decode().strip()
    except urllib.error.HTTPError:
        return ""
    except OSError:
        return None


def serving() -> bool:
    """Whether this cache's mirror answers; another folder's on the port is an error naming it."""
    root = served_root()
    if root is None:
        return False
    if root != str(MIRROR.resolve()):
        raise StepFailed(f"{mirror_url()} serves {root or 'a folder that is not a lab mirror'}, not {MIRROR.resolve()}: "
                         "stop that server (`lab/mirror.py stop` with its LGTM_CACHE) or set LGTM_MIRROR_PORT")
    return True


def serve() -> None:
    # Marked before asking: a server of this folder started before the mark existed shows it at once.
    MIRROR.mkdir(parents=True, exist_ok=True)
    (MIRROR / ROOT_MARK).write_text(str(MIRROR.resolve()) + "\n")
    if serving():
        print(f"mirror already serving at {mirror_url()}")
        return
    log = buildkit.log_path("mirror", "serve")
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", MIRROR_ADDRESS,
                                 "--directory", str(MIRROR), str(MIRROR_PORT)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    PIDFILE.write_text(str(proc.pid))
    for _attempt in range(50):
        if serving():
            print(f"mirror serving {MIRROR} at {mirror_url()}")
            return
        time.sleep(0.1)
    raise StepFailed(f"mirror: HTTP server did not start; read {log}")


def stop() -> None:
    if PIDFILE.exists():
        try:
            os.kill(int(PIDFILE.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass
        PIDFILE.unlink()


def only(known: dict[str, Release], which: str) -> list[str]:
    """The names of the upgrade_from releases (which="before"; releases() names them
    COMPONENT@VERSION), or of every other release and lab tool (which="pinned").

    The older releases come in the reverse order of the pinned ones: lab/setup.sh builds the
    two lists side by side, and a component's two releases built at the same time compile
    what they share twice, as neither finds it in the build cache yet. What they share (Go
    source compiled with the same dependencies, `go list -deps` of both releases): 24 % of
    the collector's, 30 % of Jaeger's, 21 % of Prometheus'."""
    names = [name for name, release in known.items() if (release.name != release.component) == (which == "before")]
    return names[::-1] if which == "before" else names


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("command", choices=["build", "import", "has", "verify", "serve", "stop",
                                            "url", "path", "artifact"])
    parser.add_argument("arguments", nargs="*")
    parser.add_argument("--only", choices=["pinned", "before"],
                        help="build: only the upgrade_from releases (before) or all the others (pinned)")
    parser.add_argument("--machine", choices=MACHINES, default=MACHINE,
                        help="build, verify, artifact: the pinned releases for this machine architecture "
                             "(default this machine's; another is cross-built on demand, never by make)")
    args = parser.parse_intermixed_args()
    try:
        if args.command == "import":
            if len(args.arguments) != 1 or not Path(args.arguments[0]).is_dir():
                parser.error("import takes one folder holding upstream release files")
            import_releases(Path(args.arguments[0]))
            return 0
        if args.command == "has":
            unknown = sorted(set(args.arguments) - set(IMPORTED) - set(RECIPES))
            if unknown or not args.arguments:
                parser.error(f"has takes components of {sorted((*IMPORTED, *RECIPES))}")
            return 0 if all(has_release(name) for name in args.arguments) else 1
        if args.command == "serve":
            serve()
            return 0
        if args.command == "stop":
            stop()
            return 0
        if args.command == "url":
            print(mirror_url())
            return 0
        pins = load_pins()
        if args.machine != MACHINE and args.command not in ("build", "verify", "artifact"):
            parser.error("--machine goes with build, verify and artifact")
        known = releases(pins, args.machine)
        wanted = args.arguments or list(known)
        if args.only:
            if args.command != "build" or args.arguments:
                parser.error("--only goes with build and no component names")
            wanted = only(known, args.only)
        unknown = sorted(set(wanted) - set(known))
        if unknown:
            parser.error(f"unknown component(s) {unknown}; choose from {sorted(known)}")
        if args.command == "build":
            for name in wanted:
                build_release(known[name])
        elif args.command == "verify":
            states = {name: cache_state(known[name], recipe_key(known[name].component, known[name].pins))
                      for name in wanted}
            for name, state in states.items():
                print(f"{name}: {state}")
            return 0 if all(state == "hit" for state in states.values()) else 1
        elif args.command == "artifact":
            if set(wanted) - set(RECIPES):
                parser.error(f"artifact takes components of {sorted(RECIPES)}")
            for name in wanted:
                paths = role_release_paths(name, machine=args.machine)
                try:
                    digest = verified_digest(paths, MIRROR / paths.directory)
                except (StepFailed, OSError):
                    print(f"ERROR: {name}: the mirror serves no release matching its checksum "
                          f"file; run `lab/mirror.py build {name}`", file=sys.stderr)
                    return 1
                print(f"{digest}  {MIRROR / paths.directory / paths.artifact}")
        else:  # path
            if len(wanted) != 1 or wanted[0] not in BINARIES:
                parser.error(f"path takes exactly one of: {', '.join(BINARIES)}")
            print(BINARIES[wanted[0]](known[wanted[0]]))
    except StepFailed as failure:
        print(f"ERROR: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
