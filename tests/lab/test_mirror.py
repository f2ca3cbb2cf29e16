"""The artifact mirror serves only what matches its checksums.

These tests work on a copy of the real Mimir release that `make setup` built
(the smallest rebuild: one binary, its Go build cache warm), in a throwaway
cache directory, so the served mirror is never touched.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MIRROR_PY = REPO / "lab" / "mirror.py"
REAL_CACHE = Path(os.environ.get("LGTM_CACHE", Path.home() / ".cache" / "observability-lgtm"))
PINS = yaml.safe_load((REPO / "lab" / "versions.yml").read_text())
MIMIR_DIR = Path("grafana/mimir/releases/download") / f"mimir-{PINS['mimir']['version']}"


def mirror(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(MIRROR_PY), *args], capture_output=True, text=True,
                          env={**os.environ, "LGTM_CACHE": str(cache)}, check=False, timeout=1800)


@pytest.fixture()
def mimir_cache(tmp_path: Path) -> Path:
    """A cache holding a copy of the real, already built Mimir release."""
    real = REAL_CACHE / "mirror" / MIMIR_DIR
    stamp = REAL_CACHE / "stamps" / f"mimir-{PINS['mimir']['version']}.json"
    assert real.is_dir() and stamp.is_file(), "run `make setup` first: it builds the mirror"
    shutil.copytree(real, tmp_path / "mirror" / MIMIR_DIR)
    (tmp_path / "stamps").mkdir()
    shutil.copy(stamp, tmp_path / "stamps")
    return tmp_path


def checksum_file_digest(release_dir: Path) -> str:
    line = (release_dir / "mimir-linux-amd64-sha-256").read_text().split()
    assert line[1] == "mimir-linux-amd64"
    return line[0]


def test_every_cached_release_matches_its_checksums():
    result = mirror(REAL_CACHE, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": hit") == len(PINS)


def test_intact_release_is_a_cache_hit(mimir_cache: Path):
    result = mirror(mimir_cache, "build", "mimir")
    assert result.returncode == 0, result.stderr
    assert "cached" in result.stdout


def test_corrupt_artifact_is_detected_and_rebuilt(mimir_cache: Path):
    release = mimir_cache / "mirror" / MIMIR_DIR
    binary = release / "mimir-linux-amd64"
    with binary.open("r+b") as handle:
        handle.seek(4096)
        byte = handle.read(1)
        handle.seek(4096)
        handle.write(bytes([byte[0] ^ 0xFF]))

    verify = mirror(mimir_cache, "verify", "mimir")
    assert verify.returncode == 1
    assert "corrupt (sha256 mismatch)" in verify.stdout

    rebuild = mirror(mimir_cache, "build", "mimir")
    assert rebuild.returncode == 0, rebuild.stderr
    assert "building (mimir-linux-amd64 corrupt" in rebuild.stdout
    assert hashlib.sha256(binary.read_bytes()).hexdigest() == checksum_file_digest(release)
    assert mirror(mimir_cache, "verify", "mimir").returncode == 0


def test_unknown_component_is_refused_by_name():
    result = mirror(REAL_CACHE, "build", "prometheus")
    assert result.returncode != 0
    assert "unknown component(s) ['prometheus']" in result.stderr


def test_failed_go_step_names_the_step_and_its_log(tmp_path: Path):
    """A build that cannot fetch its module stops with the step and the log to read,
    and leaves no stamp behind, so nothing half-built is ever served."""
    pins = {**PINS, "mimir": {**PINS["mimir"], "version": "0.0.0-missing",
                              "module_version": "v0.0.0-20000101000000-000000000000"}}
    versions = tmp_path / "versions.yml"
    versions.write_text(yaml.safe_dump(pins))
    result = subprocess.run([sys.executable, str(MIRROR_PY), "build", "mimir"], capture_output=True,
                            text=True, check=False, timeout=600,
                            env={**os.environ, "LGTM_CACHE": str(tmp_path / "cache"),
                                 "LGTM_VERSIONS": str(versions)})
    assert result.returncode == 1
    log = tmp_path / "cache" / "logs" / "mimir-download.log"
    assert "ERROR: mimir: step 'download' failed" in result.stderr
    assert str(log) in result.stderr
    assert log.exists()
    assert not (tmp_path / "cache" / "stamps" / "mimir-0.0.0-missing.json").exists()
