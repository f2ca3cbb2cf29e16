"""Grafana OSS built from its published Go module and packed the way Grafana's
upstream `grafana-<version>.linux-amd64.tar.gz` is laid out.

mirror.py's build_grafana() calls build(release, pins, mirror); the helpers used
here (run, log_path, write_tar_gz, sha256_of, StepFailed, TOOLS, SUMDB_GAPS) live
there.

Why this recipe differs from the other components':

* The module proxy serves Grafana's `.zip` and `.info` for the pinned version
  but refuses its `.mod`, so `go mod download` cannot fetch it. The zip is
  fetched directly and checked against the Go module hash (`h1:`, dirhash
  Hash1) before anything in it is used.
* Grafana's tree is a Go workspace: go.work ties in nested modules
  (pkg/apimachinery, pkg/apiserver, ...) that a module zip excludes. The build
  runs without the workspace, on those modules' published versions cut from the
  same commit where the proxy serves them (see PINS for the one it does not,
  pkg/promlib, and for the two dependencies raised for the current Go).
* pkg/server/wire_gen.go is generated at build time (`make gen-go` upstream).
* Grafana's default database is SQLite through mattn/go-sqlite3, which needs
  cgo; like upstream's linux builds this one is built with CGO_ENABLED=1, and
  linked statically (netgo, osusergo) so the binary runs on any linux/amd64
  host, as upstream's does.
"""
from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from datetime import datetime, timezone
from pathlib import Path

# Per pinned Grafana module version:
#   h1      the module zip's Go checksum. The checksum database reached through
#           the proxy has no record of this pseudo-version (its lookup answers
#           404), so this value is trust on first use: computed from the zip
#           the proxy served when the pin was made, and recorded here in the
#           repository. When the checksum database does answer, its record
#           must match too; any mismatch fails the build.
#   nested  nested modules that go.work would have taken from the same tree.
#           The versions go.mod requires are older and partly refused by the
#           proxy (pkg/apimachinery's zip is), so the pseudo-versions cut from
#           the same commit are used: the same source the workspace build
#           compiles. The checksum database has no records for them either, so
#           their hashes are pinned the same way and written into go.sum, where
#           `go` verifies every download against them.
PINS = {
    "v1.9.2-0.20240808164224-787abccfbc9e": {
        "h1": "h1:3+mn2aD4C8Kk2Zpb8/3U50LZWv+8BbgHFfyAC30BT0c=",
        "nested": {
            "github.com/grafana/grafana/pkg/apimachinery": (
                "v0.0.0-20240808164224-787abccfbc9e",
                "h1:3vNpomyzv714Hgls5vn+fC0vgv8wUOSHepUl7PB5nUs=",
                "h1:ORVFiW/KNRY52lNjkGwnFWCxNVfE97bJG2jr2fetq0I="),
            "github.com/grafana/grafana/pkg/apiserver": (
                "v0.0.0-20240808164224-787abccfbc9e",
                "h1:gTqzipLXh87IwJp4dYKXIvcglRf2in/NsWTiceZ/TGg=",
                "h1:IjkDnlBhRhYhmnsXxczIL8XubXvt1Nz3zhudeSc3pIk="),
            "github.com/grafana/grafana/pkg/storage/unified/resource": (
                "v0.0.0-20240808164224-787abccfbc9e",
                "h1:gaO2LwOOTT3bCFxd3GhhkQxyAdBIJMxwVqTHYiz0Low=",
                "h1:qjrMzgBfzI2cBBGYBTX+smDvVdpKZZloYFZHF+8fLWk="),
        },
        # Dependencies raised because the pinned version no longer compiles
        # with the Go toolchain here. golang.org/x/tools v0.22.0's
        # internal/gcimporter uses internal/tokeninternal, whose size check on
        # go/token.FileSet fails with current Go ("invalid array length
        # -delta * delta"); v0.26.0 is the first release without that import.
        # godeltaprof v0.1.7 registers "/debug/pprof/delta_heap" on the default
        # mux at init, which since Go 1.23 conflicts with net/http/pprof's
        # "GET /debug/pprof/" and panics at start; v0.1.8 is its fix.
        "upgrades": {"golang.org/x/tools": "v0.26.0",
                     "github.com/grafana/pyroscope-go/godeltaprof": "v0.1.8"},
        # pkg/promlib is a nested module too, but no version of it from this
        # commit's era is served: its same-commit pseudo-version is refused,
        # v0.0.6 (2024-06, what go.mod requires) predates the API this tree's
        # pkg/tsdb/prometheus calls, and v0.0.7/v0.0.8 (2025) have renamed it
        # again and pull far newer SDK and Kubernetes modules. So v0.0.6 is
        # used and the prometheus wrapper is adapted to it (see
        # patch_prometheus_for_promlib_v006): queries, resources and health
        # checks go to promlib as before; the experimental admission and
        # conversion hooks (k8s-style datasource API, behind feature flags)
        # that v0.0.6 lacks are not offered.
        "patches": ["prometheus-promlib-v0.0.6"],
    },
}

# Upstream generates wire_gen.go with its own fork of google/wire kept as the
# nested module pkg/build/wire, which the proxy does not serve. google/wire's
# generator produces the same injector code (v0.6.0, its latest release). Its
# own pin of x/tools (v0.17.0) no longer compiles with current Go, so it is
# built in a small tool module against a newer x/tools.
WIRE_MODULE = "github.com/google/wire"
WIRE_VERSION = "v0.6.0"
WIRE_XTOOLS = "v0.48.0"

# Upstream's tarball holds these three binaries; grafana-server and grafana-cli
# are small deprecated wrappers that exec `grafana server` / `grafana cli`.
BINARIES = {"grafana": "./pkg/cmd/grafana",
            "grafana-server": "./pkg/cmd/grafana-server",
            "grafana-cli": "./pkg/cmd/grafana-cli"}
BUILD_TAGS = "oss,netgo,osusergo,sqlite_omit_load_extension"


def proxy_base() -> str:
    """The first module proxy `go env GOPROXY` names (never hard-coded)."""
    out = subprocess.run(["go", "env", "GOPROXY"], capture_output=True, text=True,
                         check=True).stdout.strip()
    first = out.split(",")[0].split("|")[0].strip()
    if first in ("", "direct", "off"):
        raise RuntimeError(f"GOPROXY is {out!r}: the Grafana zip needs a module proxy")
    return first.rstrip("/")


def escape_module_path(path: str) -> str:
    """Module path escaping for proxy URLs (upper case -> '!' + lower case)."""
    return "".join(f"!{c.lower()}" if c.isupper() else c for c in path)


def zip_h1(archive: Path) -> str:
    """Go's dirhash.HashZip (Hash1): sha256 over the sorted lines
    '<sha256 hex>  <file name>\\n' of every file in the zip, base64 encoded."""
    summary = hashlib.sha256()
    with zipfile.ZipFile(archive) as zf:
        names = sorted(info.filename for info in zf.infolist() if not info.is_dir())
        for name in names:
            if "\n" in name:
                raise ValueError(f"file name with a newline in {archive}: {name!r}")
            digest = hashlib.sha256()
            with zf.open(name) as member:
                for block in iter(lambda: member.read(1 << 20), b""):
                    digest.update(block)
            summary.update(f"{digest.hexdigest()}  {name}\n".encode())
    return "h1:" + base64.b64encode(summary.digest()).decode()


def sumdb_h1(proxy: str, module: str, version: str, log) -> str | None:
    """The checksum database's h1 for module@version via the proxy, or None
    when it has no record (404/410). The record is taken as the proxy serves it;
    the tree signature is not checked here (go itself does that for the rest)."""
    url = f"{proxy}/sumdb/sum.golang.org/lookup/{escape_module_path(module)}@{version}"
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            body = resp.read().decode()
    except urllib.error.HTTPError as err:
        if err.code in (404, 410):
            log(f"checksum database: no record for {module}@{version} (HTTP {err.code})")
            return None
        raise
    for line in body.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == module and parts[1] == version:
            log(f"checksum database: {line}")
            return parts[2]
    raise RuntimeError(f"checksum database answer for {module}@{version} has no h1 line")


class Logger:
    def __init__(self, mirror, step: str):
        self.path = mirror.log_path("grafana", step)
        self.handle = self.path.open("w")

    def __call__(self, message: str) -> None:
        self.handle.write(message + "\n")
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def fetch_module_zip(mirror, module: str, version: str, dest: Path) -> Path:
    """Download module@version's zip from the proxy and verify its h1."""
    started = time.monotonic()
    log = Logger(mirror, "fetch-module-zip")
    try:
        proxy = proxy_base()
        pin = PINS.get(version, {}).get("h1")
        expected = sumdb_h1(proxy, module, version, log)
        if expected is None:
            if pin is None:
                raise mirror.StepFailed(
                    f"grafana: the checksum database has no record of {module}@{version} and "
                    f"grafana_recipe.PINS pins no h1 for it; read {log.path}")
            expected = pin
            log(f"using the h1 pinned in grafana_recipe.PINS (trust on first use): {pin}")
        elif pin is not None and pin != expected:
            raise mirror.StepFailed(
                f"grafana: pinned h1 {pin} disagrees with the checksum database's {expected}")
        if dest.exists() and zip_h1(dest) == expected:
            log(f"{dest} already present and verified")
            print("  grafana: fetch-module-zip ok (already present, verified)", flush=True)
            return dest
        url = f"{proxy}/{escape_module_path(module)}/@v/{version}.zip"
        log(f"GET {url}")
        partial = dest.with_suffix(".part")
        with urllib.request.urlopen(url, timeout=600) as resp, partial.open("wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
        actual = zip_h1(partial)
        log(f"h1 of the downloaded zip: {actual}")
        if actual != expected:
            partial.unlink()
            raise mirror.StepFailed(
                f"grafana: {module}@{version} zip hash {actual} does not match {expected}; "
                f"read {log.path}")
        partial.replace(dest)
        log(f"verified, {dest.stat().st_size} bytes")
    except (OSError, RuntimeError, ValueError) as err:
        log(f"error: {err!r}")
        raise mirror.StepFailed(f"grafana: fetching {module}@{version} failed: {err}; "
                                f"read {log.path}") from err
    finally:
        log.close()
    print(f"  grafana: fetch-module-zip ok ({time.monotonic() - started:.0f}s)", flush=True)
    return dest


def unpack_module_zip(archive: Path, module: str, version: str, dest: Path) -> Path:
    prefix = f"{module}@{version}/"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    root = dest.resolve()
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            if not info.filename.startswith(prefix):
                raise ValueError(f"unexpected zip member {info.filename}")
            rel = info.filename[len(prefix):]
            target = (dest / rel).resolve()
            if root not in target.parents and target != root:
                raise ValueError(f"zip member escapes the tree: {info.filename}")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("wb") as out:
                shutil.copyfileobj(src, out)
    return dest


def prepare_module(mirror, src: Path, version: str, env: dict[str, str]) -> None:
    """Make the tree buildable as a plain module, without its workspace."""
    for name in ("go.work", "go.work.sum"):
        (src / name).unlink(missing_ok=True)
    # Relative replaces point into nested modules the zip excludes; drop them so
    # the published versions in require are used.
    mod = json.loads(subprocess.run(["go", "mod", "edit", "-json"], cwd=src, capture_output=True,
                                    text=True, check=True).stdout)
    edits = [f"-dropreplace={r['Old']['Path']}" for r in mod.get("Replace") or []
             if r["New"]["Path"].startswith(("./", "../"))]
    nested = PINS[version]["nested"]
    edits += [f"-require={path}@{pin[0]}" for path, pin in nested.items()]
    edits += [f"-require={path}@{ver}" for path, ver in PINS[version]["upgrades"].items()]
    if edits:
        mirror.run("grafana", "go-mod-edit", ["go", "mod", "edit", *edits], cwd=src, env=env)
    for name in PINS[version].get("patches", []):
        SOURCE_PATCHES[name](src)
    # Pin the nested modules' hashes in go.sum: go then verifies the downloads.
    with (src / "go.sum").open("a") as gosum:
        for path, (ver, h1, gomod_h1) in nested.items():
            gosum.write(f"{path} {ver} {h1}\n{path} {ver}/go.mod {gomod_h1}\n")


def patch_prometheus_for_promlib_v006(src: Path) -> None:
    """Adapt pkg/tsdb/prometheus to promlib v0.0.6 (see PINS): its ExtendOptions
    takes no logger, and it has no admission/conversion handlers. Each edit
    must match the tree exactly, or the build fails."""
    path = src / "pkg" / "tsdb" / "prometheus" / "prometheus.go"
    text = path.read_text()
    edits = [
        ("\t\tlib: promlib.NewService(httpClientProvider, plog, extendClientOpts),\n",
         "\t\t// promlib v0.0.6's ExtendOptions takes no logger (lab/grafana_recipe.py).\n"
         "\t\tlib: promlib.NewService(httpClientProvider, plog,\n"
         "\t\t\tfunc(ctx context.Context, settings backend.DataSourceInstanceSettings,"
         " clientOpts *sdkhttpclient.Options) error {\n"
         "\t\t\t\treturn extendClientOpts(ctx, settings, clientOpts, plog)\n"
         "\t\t\t}),\n"),
        ("func (s *Service) ValidateAdmission(ctx context.Context, req *backend.AdmissionRequest)"
         " (*backend.ValidationResponse, error) {\n"
         "\treturn s.lib.ValidateAdmission(ctx, req)\n}\n\n",
         ""),
        ("func (s *Service) MutateAdmission(ctx context.Context, req *backend.AdmissionRequest)"
         " (*backend.MutationResponse, error) {\n\treturn s.lib.MutateAdmission(ctx, req)\n}\n",
         ""),
        ("func (s *Service) ConvertObject(ctx context.Context, req *backend.ConversionRequest)"
         " (*backend.ConversionResponse, error) {\n\treturn s.lib.ConvertObject(ctx, req)\n}\n",
         ""),
    ]
    for old, new in edits:
        if text.count(old) != 1:
            raise RuntimeError(f"{path}: patch anchor not found exactly once: {old[:60]!r}")
        text = text.replace(old, new)
    path.write_text(text)


SOURCE_PATCHES = {"prometheus-promlib-v0.0.6": patch_prometheus_for_promlib_v006}


def wire_tool(mirror, env: dict[str, str]) -> Path:
    tools = Path(mirror.TOOLS)
    binary = tools / "bin" / f"wire-{WIRE_VERSION}"
    if binary.exists():
        return binary
    module_dir = tools / f"wire-{WIRE_VERSION}"
    module_dir.mkdir(parents=True, exist_ok=True)
    (module_dir / "go.mod").write_text(
        f"module lgtm.lab/wiretool\n\ngo 1.22\n\nrequire (\n\t{WIRE_MODULE} {WIRE_VERSION}\n"
        f"\tgolang.org/x/tools {WIRE_XTOOLS}\n)\n")
    (module_dir / "tools.go").write_text(
        f'//go:build tools\n\npackage tools\n\nimport _ "{WIRE_MODULE}/cmd/wire"\n')
    mirror.run("grafana", "install-wire", ["go", "install", f"{WIRE_MODULE}/cmd/wire"],
               cwd=module_dir, env=env)
    (tools / "bin" / "wire").rename(binary)
    return binary


def commit_time(module_version: str) -> int:
    """The pseudo-version's commit timestamp, as upstream's buildstamp."""
    stamp = module_version.split("-")[-2].split(".")[-1]
    return int(datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc).timestamp())


def public_files(src: Path) -> list[str]:
    """The part of public/ the server reads: HTML views, email templates (parsed
    at start; a missing glob is fatal), the home dashboard, and each core
    plugin's plugin.json (the core plugin source loads these) with the logos it
    names, whose URLs the plugin API hands out. Left out: the frontend bundle
    (public/build; the API works without it and the server only logs its
    absence), plugin sources, screenshots and plugin-bundled dashboards."""
    public = src / "public"
    # img/user_profile.png: the avatar service reads it at start.
    keep = {"robots.txt", "dashboards/home.json", "img/user_profile.png"}
    keep.update(str(p.relative_to(public)) for p in (public / "views").glob("*.html"))
    keep.update(str(p.relative_to(public)) for pattern in ("*.html", "*.txt")
                for p in (public / "emails").glob(pattern))
    for manifest in (public / "app" / "plugins").rglob("plugin.json"):
        keep.add(str(manifest.relative_to(public)))
        data = json.loads(manifest.read_text())
        info = data.get("info") or {}
        for ref in (info.get("logos") or {}).values():
            if not isinstance(ref, str) or not ref or "://" in ref:
                continue
            target = (manifest.parent / ref).resolve()
            if target.is_file() and public.resolve() in target.parents:
                keep.add(str(target.relative_to(public.resolve())))
    return sorted(keep)


def build(release, pins: dict, mirror) -> None:
    module, version = pins["module"], pins["module_version"]
    if version not in PINS:
        raise mirror.StepFailed(
            f"grafana: no pins for {module}@{version} in lab/grafana_recipe.py PINS "
            "(module h1 and same-commit nested module versions)")
    work = release.workdir()
    archive = fetch_module_zip(mirror, module, version, work / f"grafana-{version}.zip")
    src = unpack_module_zip(archive, module, version, work / "src")

    # The checksum database lacks records for the same-commit nested modules.
    nested = list(PINS[version]["nested"])
    env = {"GOWORK": "off", "CGO_ENABLED": "1",
           "GONOSUMDB": ",".join([*mirror.SUMDB_GAPS, *nested])}
    prepare_module(mirror, src, version, env)
    wire = wire_tool(mirror, env)
    mirror.run("grafana", "wire-gen", [str(wire), "gen", "-tags", "oss", "./pkg/server"],
               cwd=src, env=env)

    # Upstream's ldflags (pkg/build: GrafanaLDFlags), plus a static link.
    commit = version.rsplit("-", 1)[-1]
    ldflags = ["-w", f"-X main.version={release.version}", f"-X main.commit={commit}",
               f"-X main.buildstamp={commit_time(version)}", "-X main.buildBranch=main",
               "-linkmode=external", "-extldflags=-static"]
    top = f"grafana-v{release.version}"
    stage = work / "stage" / top
    shutil.rmtree(stage.parent, ignore_errors=True)
    (stage / "bin").mkdir(parents=True)
    for name, package in BINARIES.items():
        mirror.run("grafana", f"go-build-{name}",
                   ["go", "build", "-trimpath", "-tags", BUILD_TAGS, "-ldflags", " ".join(ldflags),
                    "-o", str(stage / "bin" / name), package], cwd=src, env=env)

    shutil.copytree(src / "conf", stage / "conf")
    for name in public_files(src):
        target = stage / "public" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / "public" / name, target)
    if (src / "plugins-bundled").is_dir():
        shutil.copytree(src / "plugins-bundled", stage / "plugins-bundled")
    for name in ("LICENSE", "NOTICE.md", "README.md"):
        if (src / name).exists():
            shutil.copy2(src / name, stage / name)
    (stage / "VERSION").write_text(release.version)
    for path in [stage, *stage.rglob("*")]:
        if path.is_dir() or path.parent.name == "bin":
            path.chmod(0o755)
        else:
            path.chmod(0o644)

    tarball = release.directory / release.artifacts[0]
    mirror.write_tar_gz(tarball, {top: stage})
    # Upstream's checksum file is the bare hex digest and a newline.
    (release.directory / release.checksum_files[0]).write_text(f"{mirror.sha256_of(tarball)}\n")
