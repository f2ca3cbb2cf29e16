"""Image archives in the docker-archive format (what `docker save` writes and
`ctr images import` reads), written without Docker: nothing is pulled and no
daemon is needed; and the names containerd gives their images."""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path
from typing import Any

from buildkit import StepFailed, sha256_of

Layer = bytes | Path  # a layer tar's content, or a file holding it

# Recorded in every image's history. It is part of the image configuration and
# so of its digest: changing it would make every cached image differ from what
# containerd holds and be imported again, so it keeps the name of the file that
# first wrote these archives.
CREATED_BY = "observability.lgtm lab/k8s_lab.py"


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
            "history": [{"created_by": CREATED_BY} for _layer in layers]}


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
