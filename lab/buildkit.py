"""The build kit every lab recipe uses: logged build steps, Go module sources,
Go builds, and packing under upstream's archive and checksum-file formats.

It imports nothing from the lab's other modules, so recipes (lab/mirror.py)
depend on it and never the other way round.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("LGTM_CACHE", Path.home() / ".cache" / "observability-lgtm"))
LOGS = CACHE / "logs"
TOOLS = CACHE / "tools"

# The checksum database reached through the module proxy here has no records
# for the collector's contrib modules (it answers 404); only that prefix skips
# the lookup, and the go.sum the builder writes still pins what was downloaded.
SUMDB_GAPS = ["github.com/open-telemetry/opentelemetry-collector-contrib"]


class StepFailed(Exception):
    """A build step failed; the message names the step and its log."""


def log_path(component: str, step: str) -> Path:
    LOGS.mkdir(parents=True, exist_ok=True)
    return LOGS / f"{component}-{step}.log"


# Every package compiled without DWARF debug information: each build links with `-s -w`, which
# drops it from the binary anyway, so compiling it only costs time (etcd's build from an empty
# build cache: 78.5 -> 67.0 CPU seconds, 15 % less; a .text section of the same size, its
# addresses shifted by the 32 bytes the flag adds to the build settings that `go version -m`
# shows; the same version output). Given through GOFLAGS, and on
# the command line of a tool that passes -gcflags of its own (ocb), which would override GOFLAGS'.
COMPILER_FLAGS = "all=-dwarf=false"


def go_env() -> dict[str, str]:
    # Release binaries upstream are static; GOTOOLCHAIN=local stops go from
    # trying to download another toolchain that a go.mod might ask for; a
    # module's own go.work (Prometheus ships one) names folders its published
    # zip lacks, so builds use the module's go.mod alone. The compiler and linker are Go
    # programs that spend much of their time collecting garbage: GOGC=400 trades memory for
    # CPU (VictoriaLogs' build from an empty build cache: 8 % less CPU and wall time, peak
    # 470 -> 650 MiB a compile, median of 3 each; the collector's link stays at 2.4 GiB either
    # way). Recipe keys leave it out: the binaries are the same. The same goes for
    # COMPILER_FLAGS (above), which every build gets too.
    return {"CGO_ENABLED": "0", "GOTOOLCHAIN": "local", "GOWORK": "off",
            "GOFLAGS": f"-mod=mod -gcflags={COMPILER_FLAGS}",
            "GOBIN": str(TOOLS / "bin"), "GONOSUMDB": ",".join(SUMDB_GAPS), "GOGC": "400"}


def run(component: str, step: str, argv: list[str], cwd: Path | None = None,
        env: dict[str, str] | None = None) -> str:
    """Run one build step, its output going to a log named after the step;
    env adds to (and wins over) the Go build environment."""
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


def sha256_of(path: Path) -> str:
    return digest_of(path, "sha256")


def digest_of(path: Path, algorithm: str) -> str:
    """The file's digest by hashlib's name of the algorithm (sha256, or sha1 for a plugin's checksum file)."""
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class ModuleSource:
    """A published module copied into a writable tree."""
    path: Path
    version: str
    time: str  # the module version's commit time, as the proxy reports it


def module_source(component: str, module: str, version: str, dest: Path) -> ModuleSource:
    """Fetch a published module through the Go module proxy and copy it to a
    writable tree (the module cache is read-only, and builds write go.sum).
    Building inside the module's own tree keeps its go.mod, replaces included."""
    TOOLS.mkdir(parents=True, exist_ok=True)
    out = run(component, "download", ["go", "mod", "download", "-json", f"{module}@{version}"],
              cwd=TOOLS)
    info = json.loads(out[out.index("{"):])
    if "Error" in info:
        raise StepFailed(f"{component}: download of {module}@{version} failed: {info['Error']}")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(info["Dir"], dest)
    for path in [dest, *dest.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o200)
    return ModuleSource(dest, version, info.get("Time", ""))


def go_build(component: str, src: Path, package: str, output: Path, ldflags: list[str],
             tags: list[str] | None = None) -> None:
    argv = ["go", "build", "-trimpath", "-ldflags", " ".join(["-s", "-w", *ldflags])]
    if tags:
        argv += ["-tags", ",".join(tags)]
    run(component, f"go-build-{output.name}", [*argv, "-o", str(output), package], cwd=src)


def write_tar_gz(archive: Path, members: dict[str, Path], top: str | None = None) -> None:
    """Pack files as upstream does: fixed names, owner root, optional top directory."""
    def reset(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info
    with tarfile.open(archive, "w:gz") as tar:
        for name, source in members.items():
            tar.add(source, arcname=f"{top}/{name}" if top else name, filter=reset)


def write_zip(archive: Path, members: dict[str, Path]) -> None:
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, source in members.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o100755 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, source.read_bytes())


def write_digest_file(path: Path, source: Path) -> None:
    """The file's sha256 alone, as goreleaser's split checksum files hold it (no
    newline); Mimir's `-sha-256` files hold the same with one."""
    path.write_text(sha256_of(source))


def write_sums_file(path: Path, files: dict[str, Path], binary_marker: bool = False) -> None:
    """The `sha256sum` line format upstream checksum files use, one line per
    file under the name given; `shasum -b` (Jaeger) marks names with '*'. Lines of
    other files already there stay (a release's file lists every architecture's)."""
    separator = " *" if binary_marker else "  "
    lines = {name: f"{sha256_of(source)}{separator}{name}\n" for name, source in files.items()}
    if path.exists():
        for line in path.read_text().splitlines(keepends=True):
            name = line.split()[-1].lstrip("*") if line.strip() else ""
            lines.setdefault(name, line if line.endswith("\n") else line + "\n")
    path.write_text("".join(lines[name] for name in sorted(lines) if name))


def read_sums_file(path: Path, name: str, algorithm: str = "sha256") -> str | None:
    """The digest (sha256 unless `algorithm` says otherwise) a checksum file gives for
    `name`, read as the roles read it (the collection's plugins/module_utils/checksum_file.py:
    a digest alone, `sha256sum` or `shasum -b` lines, a path before the name as in the
    VictoriaLogs data source plugin's `sha1sum dist/<zip>`); None when it gives none."""
    checksum_file = collection_module("checksum_file")
    try:
        return checksum_file.digest_for(path.read_text(), name, str(path), algorithm)
    except checksum_file.ChecksumFileError:
        return None


def collection_module(name: str) -> ModuleType:
    """A module of the collection's plugins/module_utils that imports nothing of the
    collection, loaded from its file (once per process), so the lab reads what the
    roles read without the collection being installed."""
    key = f"lgtm_lab_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, REPO / "plugins" / "module_utils" / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[key] = module
        spec.loader.exec_module(module)
    return sys.modules[key]


def render_role_templates(role_dir: Path, templates: dict[str, str],
                          overrides: dict[str, object] | None = None) -> dict[str, str]:
    """Render templates over a role's defaults with Ansible's own templating, as a
    play does, so that the lab and the roles cannot disagree on a URL or a name.
    overrides win over the defaults (e.g. a base URL, a pinned version)."""
    import yaml
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    def trusted(value: object) -> object:
        # The defaults file is the role's own code: its templates are trusted, lists' and mappings' too.
        if isinstance(value, dict):
            return {key: trusted(item) for key, item in value.items()}
        if isinstance(value, list):
            return [trusted(item) for item in value]
        return trust_as_template(value) if isinstance(value, str) else value

    defaults = yaml.safe_load((role_dir / "defaults" / "main.yml").read_text()) or {}
    variables = {name: trusted(value) for name, value in {**defaults, **(overrides or {})}.items()}
    templar = Templar(loader=DataLoader(), variables=variables)
    return {name: str(templar.template(trust_as_template(template)))
            for name, template in templates.items()}
