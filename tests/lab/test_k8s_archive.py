"""lab/k8s/archive.py: the docker-archive tars the lab writes without Docker,
and the names containerd gives their images."""
from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
from k8s import archive  # noqa: E402  (lab/ is not a package)


def test_image_archive_is_what_ctr_imports(tmp_path):
    binary = tmp_path / "pause"
    binary.write_bytes(b"\x7fELF...")
    path = tmp_path / "pause.tar"
    archive.write_image_archive(path, ["registry.k8s.io/pause:3.10"],
                                [archive.single_file_layer({"pause": binary})],
                                {"Entrypoint": ["/pause"]}, "recipe-1")
    with tarfile.open(path) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))[0]
        config = json.load(tar.extractfile(manifest["Config"]))
        layer = tar.extractfile(manifest["Layers"][0]).read()
    assert manifest["RepoTags"] == ["registry.k8s.io/pause:3.10"]
    assert config["config"]["Entrypoint"] == ["/pause"]
    assert config["config"]["Labels"]["org.observability.lgtm.recipe"] == "recipe-1"
    assert config["rootfs"]["diff_ids"] == [f"sha256:{archive.layer_digest(layer)}"]
    with tarfile.open(fileobj=io.BytesIO(layer)) as inner:
        member = inner.getmember("pause")
        assert member.mode == 0o755 and member.uid == 0
    assert archive.archive_manifest(path) == (["registry.k8s.io/pause:3.10"], manifest["Config"])


def test_image_history_names_the_same_creator_as_the_cached_images():
    """The history is part of the config digest containerd's import record compares:
    a new text would import every image again."""
    config = archive.image_config(["a", "b"], {}, "r")
    assert config["history"] == [{"created_by": "observability.lgtm lab/k8s_lab.py"}] * 2


@pytest.mark.parametrize(("tag", "ref"), [
    ("registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10"),
    ("docker.io/otel/opentelemetry-collector-contrib:0.159.0", "docker.io/otel/opentelemetry-collector-contrib:0.159.0"),
    ("prom/prometheus:v3.16.0", "docker.io/prom/prometheus:v3.16.0"),
    ("busybox:1", "docker.io/library/busybox:1"),
    ("localhost:5000/x:1", "localhost:5000/x:1"),
])
def test_normalized_ref(tag, ref):
    assert archive.normalized_ref(tag) == ref
