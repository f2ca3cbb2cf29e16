"""Build the stack's real binaries from their Go modules and serve them as an
artifact mirror shaped like the upstream release sites.

The roles install from upstream release URLs; pointing them at this mirror
changes only the base URL, so the lab exercises the same download, checksum
and unpack code path that production uses.

    mirror.py build [COMPONENT ...]   build what is missing or corrupt (cache hits cost nothing)
    mirror.py verify                  check every cached artifact against its checksum file
    mirror.py serve | stop | url      run the plain HTTP server on loopback
    mirror.py path otel_collector     print where the built collector binary is (for tests)

Layout under $LGTM_CACHE (default ~/.cache/observability-lgtm):
    mirror/   the served tree: paths match the upstream sites' paths
    build/    per component and version work trees
    stamps/   what each cached release was built from, and its file digests
    logs/     one log per build step; a failure names the log to read
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

LAB_DIR = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("LGTM_CACHE", Path.home() / ".cache" / "observability-lgtm"))
MIRROR = CACHE / "mirror"
BUILD = CACHE / "build"
STAMPS = CACHE / "stamps"
LOGS = CACHE / "logs"
TOOLS = CACHE / "tools"
MIRROR_ADDRESS = os.environ.get("LGTM_MIRROR_ADDRESS", "127.0.0.1")
MIRROR_PORT = int(os.environ.get("LGTM_MIRROR_PORT", "8765"))

# Bump a component's revision when its recipe below changes in a way that
# changes the artifact; the cache then rebuilds it once.
SUMDB_GAPS = ["github.com/open-telemetry/opentelemetry-collector-contrib", "github.com/grafana/tempo"]

RECIPE_REVISIONS = {"otel_collector": 1, "loki": 1, "mimir": 1, "tempo": 1, "grafana": 1}


class StepFailed(Exception):
    """A build step failed; the message names the step and its log."""


def log_path(component: str, step: str) -> Path:
    LOGS.mkdir(parents=True, exist_ok=True)
    return LOGS / f"{component}-{step}.log"


def run(component: str, step: str, argv: list[str], cwd: Path | None = None,
        env: dict[str, str] | None = None) -> str:
    """Run one build step, its output going to a log named after the step."""
    log = log_path(component, step)
    started = time.monotonic()
    with log.open("w") as out:
        out.write(f"$ {' '.join(argv)}\n(cwd {cwd})\n")
        out.flush()
        proc = subprocess.run(argv, cwd=cwd, env={**os.environ, **go_env(), **(env or {})},
                              stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise StepFailed(f"{component}: step '{step}' failed (exit {proc.returncode}); read {log}")
    print(f"  {component}: {step} ok ({time.monotonic() - started:.0f}s)", flush=True)
    return log.read_text()


def go_env() -> dict[str, str]:
    # Release binaries upstream are static; GOTOOLCHAIN=local stops go from
    # trying to download another toolchain that a go.mod might ask for.
    # The checksum database reached through the module proxy here lacks records
    # for some modules (it answers 404); only those prefixes skip the lookup, and
    # go.sum still pins what was downloaded.
    return {"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=mod",
            "GOBIN": str(TOOLS / "bin"), "GONOSUMDB": ",".join(SUMDB_GAPS)}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def module_source(component: str, module: str, version: str, dest: Path,
                  expected_sum: str | None = None) -> Path:
    """Fetch a published module through the Go module proxy and copy it to a
    writable tree (the module cache is read-only, and builds write go.sum).

    Where the checksum database has no record of the module, its pins carry
    the module's h1: hash (`module_sum`), and a download that differs fails."""
    TOOLS.mkdir(parents=True, exist_ok=True)
    out = run(component, "download", ["go", "mod", "download", "-json", f"{module}@{version}"],
              cwd=TOOLS)
    info = json.loads(out[out.index("{"):])
    if "Error" in info:
        raise StepFailed(f"{component}: download of {module}@{version} failed: {info['Error']}")
    if expected_sum and info.get("Sum") != expected_sum:
        raise StepFailed(f"{component}: {module}@{version} has hash {info.get('Sum')}, "
                         f"lab/versions.yml pins {expected_sum}")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(info["Dir"], dest)
    for path in [dest, *dest.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    return dest


def go_build(component: str, src: Path, package: str, output: Path, ldflags: list[str]) -> None:
    run(component, f"go-build-{output.name}",
        ["go", "build", "-trimpath", "-ldflags", " ".join(["-s", "-w", *ldflags]),
         "-o", str(output), package], cwd=src)


def write_tar_gz(archive: Path, members: dict[str, Path], top: str | None = None) -> None:
    """Pack files (and directories) as upstream does: fixed names, owner root."""
    def reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info
    with tarfile.open(archive, "w:gz") as tar:
        for name, source in members.items():
            arcname = f"{top}/{name}" if top else name
            tar.add(source, arcname=arcname, filter=reset)


def write_zip(archive: Path, members: dict[str, Path]) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, source in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, source.read_bytes())


def write_sums_file(path: Path, files: list[Path]) -> None:
    """The `sha256sum` format upstream's SHA256SUMS and checksums.txt use."""
    path.write_text("".join(f"{sha256_of(f)}  {f.name}\n" for f in files))


@dataclass
class Release:
    """One component version in the mirror: where it lives and what it holds."""
    component: str
    version: str
    directory: Path            # inside MIRROR, upstream's path
    artifacts: list[str]       # file names in directory, checksummed
    checksum_files: list[str]  # upstream-format checksum files in directory
    build: Callable[["Release", dict], None] = field(repr=False, default=lambda r, p: None)

    @property
    def stamp(self) -> Path:
        return STAMPS / f"{self.component}-{self.version}.json"

    def workdir(self) -> Path:
        path = BUILD / self.component / self.version
        path.mkdir(parents=True, exist_ok=True)
        return path


def recipe_key(component: str, pins: dict) -> str:
    material = {"pins": pins, "revision": RECIPE_REVISIONS[component],
                "go": subprocess.run(["go", "env", "GOVERSION"], capture_output=True,
                                     text=True, check=True).stdout.strip()}
    if component == "otel_collector":
        material["manifest"] = sha256_of(LAB_DIR / "otelcol-builder.yaml")
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
    for name in release.checksum_files:
        if not (release.directory / name).exists():
            return f"{name} missing"
    return "hit"


def build_release(release: Release, pins: dict) -> None:
    key = recipe_key(release.component, pins)
    state = cache_state(release, key)
    if state == "hit":
        print(f"{release.component} {release.version}: cached", flush=True)
        return
    print(f"{release.component} {release.version}: building ({state})", flush=True)
    started = time.monotonic()
    release.stamp.unlink(missing_ok=True)
    release.directory.mkdir(parents=True, exist_ok=True)
    for name in release.artifacts + release.checksum_files:
        (release.directory / name).unlink(missing_ok=True)
    release.build(release, pins)
    digests = {name: sha256_of(release.directory / name) for name in release.artifacts}
    STAMPS.mkdir(parents=True, exist_ok=True)
    release.stamp.write_text(json.dumps({"recipe": key, "sha256": digests,
                                         "seconds": round(time.monotonic() - started)}, indent=2))
    print(f"{release.component} {release.version}: built in {time.monotonic() - started:.0f}s",
          flush=True)


# --- recipes: one per component, each producing upstream's file names ---------

def build_otel_collector(release: Release, pins: dict) -> None:
    work = release.workdir()
    TOOLS.mkdir(parents=True, exist_ok=True)
    builder = TOOLS / "bin" / f"ocb-{pins['builder_version']}"
    if not builder.exists():
        run("otel_collector", "install-ocb",
            ["go", "install", f"{pins['builder_module']}@{pins['builder_version']}"], cwd=TOOLS)
        (TOOLS / "bin" / "builder").rename(builder)
    shutil.copy(LAB_DIR / "otelcol-builder.yaml", work / "builder.yaml")
    run("otel_collector", "ocb", [str(builder), "--config", "builder.yaml"], cwd=work)
    binary = work / "_build" / "otelcol-contrib"
    stage = work / "stage"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    (stage / "README.md").write_text(
        "OpenTelemetry Collector built with the OpenTelemetry Collector Builder from\n"
        "observability.lgtm's lab/otelcol-builder.yaml.\n")
    archive = release.directory / release.artifacts[0]
    write_tar_gz(archive, {"otelcol-contrib": binary, "README.md": stage / "README.md"})
    write_sums_file(release.directory / release.checksum_files[0], [archive])


def build_loki(release: Release, pins: dict) -> None:
    work = release.workdir()
    src = module_source("loki", pins["module"], pins["module_version"], work / "src")
    # pkg/push is a nested module, so the module zip lacks the directory that
    # Loki's relative replace points at; its published version is the same code.
    run("loki", "drop-relative-replace",
        ["go", "mod", "edit", "-dropreplace", "github.com/grafana/loki/pkg/push"], cwd=src)
    flag = "github.com/grafana/loki/v3/pkg/util/build"
    ldflags = [f"-X {flag}.Version={release.version}", f"-X {flag}.Branch=release",
               f"-X {flag}.Revision={pins['module_version']}"]
    binaries = {"loki": "./cmd/loki", "logcli": "./cmd/logcli"}
    artifacts = []
    for name, package in binaries.items():
        output = work / f"{name}-linux-amd64"
        go_build("loki", src, package, output, ldflags)
        archive = release.directory / f"{name}-linux-amd64.zip"
        write_zip(archive, {output.name: output})
        artifacts.append(archive)
    write_sums_file(release.directory / "SHA256SUMS", artifacts)


def build_mimir(release: Release, pins: dict) -> None:
    work = release.workdir()
    src = module_source("mimir", pins["module"], pins["module_version"], work / "src")
    flag = "github.com/grafana/mimir/pkg/util/version"
    binary = release.directory / "mimir-linux-amd64"
    go_build("mimir", src, "./cmd/mimir", binary,
             [f"-X {flag}.Version={release.version}", f"-X {flag}.Branch=release-3.0",
              f"-X {flag}.Revision={pins['module_version'][-12:]}"])
    # Mimir publishes one checksum file per artifact.
    write_sums_file(release.directory / "mimir-linux-amd64-sha-256", [binary])


def build_tempo(release: Release, pins: dict) -> None:
    work = release.workdir()
    src = module_source("tempo", pins["module"], pins["module_version"], work / "src",
                        pins["module_sum"])
    ldflags = [f"-X main.Version={release.version}", "-X main.Branch=main",
               f"-X main.Revision={pins['module_version'][-12:]}"]
    members = {}
    for name in ("tempo", "tempo-cli"):
        output = work / "stage" / name
        output.parent.mkdir(exist_ok=True)
        go_build("tempo", src, f"./cmd/{name}", output, ldflags)
        members[name] = output
    members["LICENSE"] = src / "LICENSE"
    archive = release.directory / release.artifacts[0]
    write_tar_gz(archive, members)
    write_sums_file(release.directory / "SHA256SUMS", [archive])


def build_grafana(release: Release, pins: dict) -> None:
    from grafana_recipe import build  # noqa: E402  (kept apart: it is the largest recipe)
    build(release, pins, sys.modules[__name__])


def releases(pins: dict) -> dict[str, Release]:
    gh = MIRROR / "github.com"
    otel, loki, mimir = pins["otel_collector"], pins["loki"], pins["mimir"]
    tempo, grafana = pins["tempo"], pins["grafana"]
    return {
        "otel_collector": Release(
            "otel_collector", otel["version"],
            MIRROR / "open-telemetry/opentelemetry-collector-releases/releases/download"
            / f"v{otel['version']}",
            [f"otelcol-contrib_{otel['version']}_linux_amd64.tar.gz"],
            ["opentelemetry-collector-releases_otelcol-contrib_checksums.txt"],
            build_otel_collector),
        "loki": Release("loki", loki["version"],
                        MIRROR / "grafana/loki/releases/download" / f"v{loki['version']}",
                        ["loki-linux-amd64.zip", "logcli-linux-amd64.zip"], ["SHA256SUMS"],
                        build_loki),
        "mimir": Release("mimir", mimir["version"],
                         MIRROR / "grafana/mimir/releases/download" / f"mimir-{mimir['version']}",
                         ["mimir-linux-amd64"], ["mimir-linux-amd64-sha-256"], build_mimir),
        "tempo": Release("tempo", tempo["version"],
                         MIRROR / "grafana/tempo/releases/download" / f"v{tempo['version']}",
                         [f"tempo_{tempo['version']}_linux_amd64.tar.gz"], ["SHA256SUMS"],
                         build_tempo),
        "grafana": Release("grafana", grafana["version"], MIRROR / "oss/release",
                           [f"grafana-{grafana['version']}.linux-amd64.tar.gz"],
                           [f"grafana-{grafana['version']}.linux-amd64.tar.gz.sha256"],
                           build_grafana),
    }


def load_pins() -> dict:
    # LGTM_VERSIONS lets a test point the builder at other pins.
    return yaml.safe_load(Path(os.environ.get("LGTM_VERSIONS", LAB_DIR / "versions.yml")).read_text())


# --- serving --------------------------------------------------------------------

PIDFILE = CACHE / "mirror.pid"


def mirror_url() -> str:
    return f"http://{MIRROR_ADDRESS}:{MIRROR_PORT}"


def serving() -> bool:
    try:
        with urllib.request.urlopen(mirror_url() + "/", timeout=2):
            return True
    except OSError:
        return False


def serve() -> None:
    if serving():
        print(f"mirror already serving at {mirror_url()}")
        return
    MIRROR.mkdir(parents=True, exist_ok=True)
    log = log_path("mirror", "serve").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", MIRROR_ADDRESS,
                             "--directory", str(MIRROR), str(MIRROR_PORT)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    PIDFILE.write_text(str(proc.pid))
    for _attempt in range(50):
        if serving():
            print(f"mirror serving {MIRROR} at {mirror_url()}")
            return
        time.sleep(0.1)
    raise StepFailed(f"mirror: HTTP server did not start; read {log.name}")


def stop() -> None:
    if PIDFILE.exists():
        try:
            os.kill(int(PIDFILE.read_text()), signal.SIGTERM)
        except ProcessLookupError:
            pass
        PIDFILE.unlink()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("command", choices=["build", "verify", "serve", "stop", "url", "path"])
    parser.add_argument("components", nargs="*")
    args = parser.parse_args()
    sys.path.insert(0, str(LAB_DIR))
    pins = load_pins()
    known = releases(pins)
    wanted = args.components or list(known)
    unknown = sorted(set(wanted) - set(known))
    if unknown:
        parser.error(f"unknown component(s) {unknown}; choose from {sorted(known)}")
    try:
        if args.command == "build":
            for name in wanted:
                build_release(known[name], pins[name])
        elif args.command == "verify":
            bad = {name: cache_state(known[name], recipe_key(name, pins[name])) for name in wanted}
            for name, state in bad.items():
                print(f"{name}: {state}")
            return 0 if all(state == "hit" for state in bad.values()) else 1
        elif args.command == "serve":
            serve()
        elif args.command == "stop":
            stop()
        elif args.command == "path":
            if wanted != ["otel_collector"]:
                parser.error("path takes exactly: otel_collector")
            print(known["otel_collector"].workdir() / "_build" / "otelcol-contrib")
        else:
            print(mirror_url())
    except StepFailed as failure:
        print(f"ERROR: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
