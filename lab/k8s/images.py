"""The stack's images for the lab cluster: the lab's Debian 12 base plus the
binaries of the artifact mirror's verified release tarballs at upstream's image
paths, with upstream's entrypoint and user (the demo shop: this collection's
own files). Each image is rebuilt only when its recipe digest changes."""
from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

import buildkit
from buildkit import StepFailed, run, sha256_of

from .archive import write_image_archive
from .host import read_pid, sh
from .layout import CACHE, IMAGES, LAB_DIR, REPO, Layout
from .node import Node, import_images

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
    lgtm-lab/debian:12 (named after the recipe digest images.sh gives it)."""
    recipe = sh(["bash", str(IMAGES_SH), "--recipe"]).stdout.strip()
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


def images(layout: Layout, nodes: list[Node], wanted: list[str]) -> None:
    """Build the wanted lab images (all when none is named); import them into every
    running node's containerd (a node that is not running imports them when it starts)."""
    unknown = sorted(set(wanted) - set(IMAGE_SPECS))
    if unknown:
        raise StepFailed(f"unknown component(s) {unknown}; choose from {sorted(IMAGE_SPECS)}")
    components = wanted or list(IMAGE_SPECS)
    artifacts = release_artifacts([c for c in components if c != "demo_shop"])
    for component in components:
        build_image(component, artifacts.get(component))
    running = [node for node in nodes if read_pid(layout, node.process("containerd")) is not None]
    if not running:
        print("k8s: the cluster is not up; `up` imports the images")
    for node in running:
        imported = import_images(node)
        print(f"k8s: imported {', '.join(imported) or 'nothing new'} into the containerd of {node.name}")
