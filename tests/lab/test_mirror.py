"""The artifact mirror serves only what matches its checksums.

Build tests work on a copy of the real VictoriaLogs release that `make setup`
built (the cheapest rebuild: one binary, its Go build cache warm), in a
throwaway cache directory, so the served mirror is never touched. Import
tests use files named as upstream names them, made here: what is under test
is that nothing reaches the mirror unless upstream's checksum file vouches
for it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
MIRROR_PY = REPO / "lab" / "mirror.py"
REAL_CACHE = Path(os.environ.get("LGTM_CACHE", Path.home() / ".cache" / "observability-lgtm"))
PINS = yaml.safe_load((REPO / "lab" / "versions.yml").read_text())
VL = PINS["victorialogs"]["version"]
VL_DIR = Path("VictoriaMetrics/VictoriaLogs/releases/download") / f"v{VL}"
VL_TARBALL = f"victoria-logs-linux-amd64-v{VL}.tar.gz"
VL_SUMS = f"victoria-logs-linux-amd64-v{VL}_checksums.txt"

sys.path.insert(0, str(REPO / "lab"))
import mirror as mirror_module  # noqa: E402  (lab/ is not a package)


def mirror(cache: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(MIRROR_PY), *args], capture_output=True, text=True,
                          env={**os.environ, "LGTM_CACHE": str(cache), **env}, check=False, timeout=1800)


@pytest.fixture()
def vl_cache(tmp_path: Path) -> Path:
    """A cache holding a copy of the real, already built VictoriaLogs release."""
    real = REAL_CACHE / "mirror" / VL_DIR
    stamp = REAL_CACHE / "stamps" / f"victorialogs-{VL}.json"
    assert real.is_dir() and stamp.is_file(), "run `make setup` first: it builds the mirror"
    shutil.copytree(real, tmp_path / "mirror" / VL_DIR)
    (tmp_path / "stamps").mkdir()
    shutil.copy(stamp, tmp_path / "stamps")
    return tmp_path


def listed_digest(release_dir: Path) -> str:
    lines = dict(reversed(line.split()) for line in (release_dir / VL_SUMS).read_text().splitlines())
    return lines[VL_TARBALL]


def test_every_built_release_matches_its_checksums():
    result = mirror(REAL_CACHE, "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": hit") == len(mirror_module.releases(PINS))


def test_mirror_paths_are_the_roles_own_urls():
    """The mirror serves each release where the role downloads it from."""
    paths = mirror_module.role_release_paths("jaeger")
    assert paths == mirror_module.ReleasePaths(
        Path("jaegertracing/jaeger/releases/download/v1.75.0"), "jaeger-2.12.0-linux-amd64.tar.gz",
        "jaeger-2.12.0.sha256sum.txt")
    assert mirror_module.role_release_paths("victorialogs").directory == VL_DIR


def test_intact_release_is_a_cache_hit(vl_cache: Path):
    result = mirror(vl_cache, "build", "victorialogs")
    assert result.returncode == 0, result.stderr
    assert "cached" in result.stdout


def test_corrupt_artifact_is_detected_and_rebuilt(vl_cache: Path):
    release = vl_cache / "mirror" / VL_DIR
    tarball = release / VL_TARBALL
    with tarball.open("r+b") as handle:
        handle.seek(4096)
        byte = handle.read(1)
        handle.seek(4096)
        handle.write(bytes([byte[0] ^ 0xFF]))

    verify = mirror(vl_cache, "verify", "victorialogs")
    assert verify.returncode == 1
    assert "corrupt (sha256 mismatch)" in verify.stdout

    rebuild = mirror(vl_cache, "build", "victorialogs")
    assert rebuild.returncode == 0, rebuild.stderr
    assert f"building ({VL_TARBALL} corrupt" in rebuild.stdout
    assert hashlib.sha256(tarball.read_bytes()).hexdigest() == listed_digest(release)
    assert mirror(vl_cache, "verify", "victorialogs").returncode == 0


def test_only_splits_the_releases_into_the_older_ones_and_the_rest():
    known = mirror_module.releases(PINS)
    before, pinned = mirror_module.only(known, "before"), mirror_module.only(known, "pinned")
    assert sorted(before + pinned) == sorted(known)
    assert before == [f"{name}@{entry['upgrade_from']['version']}" for name, entry in PINS.items()
                      if entry.get("upgrade_from", {}).get("version")][::-1]
    assert "otel_collector" in pinned and "telemetrygen" in pinned
    # Built side by side, a component's two releases do not start together (the collector's
    # first among the pinned ones, last among the older ones).
    assert pinned[0] == "otel_collector" and before[-1].startswith("otel_collector@")


def test_unknown_component_is_refused_by_name():
    result = mirror(REAL_CACHE, "build", "loki")
    assert result.returncode != 0
    assert "unknown component(s) ['loki']" in result.stderr


def test_failed_go_step_names_the_step_and_its_log(tmp_path: Path):
    """A build that cannot fetch its module stops with the step and the log to read,
    and leaves no stamp behind, so nothing half-built is ever served."""
    pins = {**PINS, "victorialogs": {**PINS["victorialogs"], "version": "0.0.0",
                                     "module_version": "v0.0.0-20000101000000-000000000000"}}
    versions = tmp_path / "versions.yml"
    versions.write_text(yaml.safe_dump(pins))
    result = mirror(tmp_path / "cache", "build", "victorialogs", LGTM_VERSIONS=str(versions))
    assert result.returncode == 1
    log = tmp_path / "cache" / "logs" / "victorialogs-download.log"
    assert "ERROR: victorialogs: step 'download' failed" in result.stderr
    assert str(log) in result.stderr
    assert log.exists()
    assert not (tmp_path / "cache" / "stamps" / "victorialogs-0.0.0.json").exists()


# --- upstream release files a user brings (`import`) ----------------------------

def release_files(downloads: Path, component: str, right_digest: bool = True) -> mirror_module.ReleasePaths:
    """Files under the names the role downloads, in a folder of their own, and
    a checksum file in upstream's format for them (a wrong digest when asked)."""
    paths = mirror_module.role_release_paths(component)
    folder = downloads / component
    folder.mkdir(parents=True)
    artifact = folder / paths.artifact
    artifact.write_bytes(os.urandom(4096))
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest() if right_digest else "0" * 64
    (folder / paths.checksum_file).write_text(f"{digest}  {paths.artifact}\n")
    return paths


def test_import_serves_files_that_match_upstreams_checksum_file(tmp_path: Path):
    source = tmp_path / "downloads"
    source.mkdir()
    paths = release_files(source, "tempo")
    release_files(source, "loki")  # also named SHA256SUMS upstream: one folder per release
    assert mirror(tmp_path / "cache", "has", "tempo").returncode == 1
    result = mirror(tmp_path / "cache", "import", str(source))
    assert result.returncode == 0, result.stderr
    served = tmp_path / "cache" / "mirror" / paths.directory
    assert (served / paths.artifact).read_bytes() == (source / "tempo" / paths.artifact).read_bytes()
    assert "grafana: " in result.stdout and "not found below" in result.stdout
    assert mirror(tmp_path / "cache", "has", "tempo", "loki").returncode == 0
    assert mirror(tmp_path / "cache", "has", "tempo", "grafana").returncode == 1


def test_import_refuses_a_checksum_mismatch_and_serves_nothing(tmp_path: Path):
    source = tmp_path / "downloads"
    source.mkdir()
    paths = release_files(source, "mimir", right_digest=False)
    result = mirror(tmp_path / "cache", "import", str(source))
    assert result.returncode == 1
    assert f"{paths.artifact}: sha256" in result.stderr and "nothing was imported" in result.stderr
    assert not (tmp_path / "cache" / "mirror" / paths.directory).exists()
    assert mirror(tmp_path / "cache", "has", "mimir").returncode == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_mirror_of_another_cache_on_the_port_is_refused_naming_its_folder(tmp_path: Path):
    """The port held by another cache's mirror (a cold run's beside a warm one) must not pass for this one."""
    port = str(free_port())
    other = tmp_path / "other-cache" / "mirror"
    other.mkdir(parents=True)
    (other / mirror_module.ROOT_MARK).write_text(f"{other}\n")
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "--directory", str(other),
                               port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _attempt in range(50):
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", int(port))) == 0:
                    break
            time.sleep(0.1)
        ours = tmp_path / "our-cache"
        result = mirror(ours, "serve", LGTM_MIRROR_PORT=port)
        assert result.returncode != 0
        assert f"serves {other}, not {ours / 'mirror'}" in result.stdout + result.stderr
        assert not (ours / "mirror.pid").exists()
    finally:
        server.terminate()
        server.wait(timeout=10)


# --- data source plugin archives the grafana role installs (`import`) ------------

def plugin_files(downloads: Path, right_digest: bool = True) -> mirror_module.ReleasePaths:
    """The VictoriaLogs data source plugin's zip and its checksum file as upstream's release holds them: a SHA-1
    `sha1sum dist/<zip>` line (the Makefile's vl-plugin-pack target), in a folder of their own."""
    [release] = mirror_module.plugin_releases()
    assert release.algorithm == "sha1"
    folder = downloads / "victorialogs-datasource"
    folder.mkdir(parents=True)
    archive = folder / release.paths.artifact
    archive.write_bytes(os.urandom(4096))
    digest = hashlib.sha1(archive.read_bytes()).hexdigest() if right_digest else "0" * 40
    (folder / release.paths.checksum_file).write_text(f"{digest}  dist/{release.paths.artifact}\n")
    return release.paths


def test_plugin_archives_live_where_the_grafana_role_downloads_them():
    [release] = mirror_module.plugin_releases()
    assert release.paths == mirror_module.ReleasePaths(
        Path("VictoriaMetrics/victorialogs-datasource/releases/download/v0.30.1"),
        "victoriametrics-logs-datasource-v0.30.1.zip", "victoriametrics-logs-datasource-v0.30.1_checksums_zip.txt")


def test_import_serves_a_plugin_archive_its_sha1_checksum_file_vouches_for(tmp_path: Path):
    source = tmp_path / "downloads"
    source.mkdir()
    paths = plugin_files(source)
    result = mirror(tmp_path / "cache", "import", str(source))
    assert result.returncode == 0, result.stderr
    served = tmp_path / "cache" / "mirror" / paths.directory
    assert (served / paths.artifact).read_bytes() == (source / "victorialogs-datasource" / paths.artifact).read_bytes()
    assert (served / paths.checksum_file).is_file()
    assert f"{paths.artifact}: {paths.artifact} verified against {paths.checksum_file} (sha1)" in result.stdout


def test_import_refuses_a_plugin_archive_that_does_not_match_and_serves_nothing(tmp_path: Path):
    source = tmp_path / "downloads"
    source.mkdir()
    plugin = plugin_files(source, right_digest=False)
    tempo = release_files(source, "tempo")  # a good release found alongside is not imported either
    result = mirror(tmp_path / "cache", "import", str(source))
    assert result.returncode == 1
    assert f"{plugin.artifact}: sha1" in result.stderr and "nothing was imported" in result.stderr
    assert not (tmp_path / "cache" / "mirror" / plugin.directory).exists()
    assert not (tmp_path / "cache" / "mirror" / tempo.directory).exists()


def test_another_machines_releases_are_named_as_upstream_names_them_for_it():
    """`build --machine aarch64`: the pinned releases only, under each upstream's arm64 names, with
    stamps and work folders of their own (this machine's cache is never touched by them)."""
    foreign = mirror_module.releases(PINS, "aarch64")
    assert sorted(foreign) == sorted(mirror_module.RECIPES)
    jaeger = foreign["jaeger"]
    assert jaeger.paths.artifact == "jaeger-2.12.0-linux-arm64.tar.gz"
    assert jaeger.paths.checksum_file == mirror_module.role_release_paths("jaeger").checksum_file
    assert foreign["victorialogs"].paths.artifact == f"victoria-logs-linux-arm64-v{VL}.tar.gz"
    assert jaeger.stamp.name == "jaeger-2.12.0-arm64.json"
    assert jaeger.workdir().name == "arm64"
    native = mirror_module.releases(PINS)["jaeger"]
    assert native.stamp.name == "jaeger-2.12.0.json" and native.foreign == ""


def test_a_release_wide_checksum_file_keeps_every_architectures_line(tmp_path: Path):
    """Jaeger's and Prometheus' checksum files list every architecture's archive: writing one
    architecture's line keeps the other's; VictoriaLogs' and the collector's are per archive."""
    sums = tmp_path / "jaeger-2.12.0.sha256sum.txt"
    amd64, arm64 = tmp_path / "amd64.tar.gz", tmp_path / "arm64.tar.gz"
    amd64.write_bytes(b"amd64")
    arm64.write_bytes(b"arm64")
    mirror_module.write_sums_file(sums, {"jaeger-2.12.0-linux-amd64.tar.gz": amd64}, binary_marker=True)
    mirror_module.write_sums_file(sums, {"jaeger-2.12.0-linux-arm64.tar.gz": arm64}, binary_marker=True)
    amd64.write_bytes(b"amd64, rebuilt")
    mirror_module.write_sums_file(sums, {"jaeger-2.12.0-linux-amd64.tar.gz": amd64}, binary_marker=True)
    assert sums.read_text() == (f"{hashlib.sha256(b'amd64, rebuilt').hexdigest()} *jaeger-2.12.0-linux-amd64.tar.gz\n"
                                f"{hashlib.sha256(b'arm64').hexdigest()} *jaeger-2.12.0-linux-arm64.tar.gz\n")
    foreign = mirror_module.releases(PINS, "aarch64")
    assert mirror_module.shares_checksum_file(foreign["jaeger"])
    assert mirror_module.shares_checksum_file(foreign["prometheus"])
    assert not mirror_module.shares_checksum_file(foreign["victorialogs"])
    assert not mirror_module.shares_checksum_file(foreign["otel_collector"])


def test_a_cross_build_sets_the_target_for_its_go_steps_only():
    foreign = mirror_module.releases(PINS, "aarch64")["victorialogs"]
    before = {key: os.environ.get(key) for key in ("GOOS", "GOARCH")}
    with mirror_module.CrossBuild(foreign):
        assert (os.environ["GOOS"], os.environ["GOARCH"]) == ("linux", "arm64")
    assert {key: os.environ.get(key) for key in ("GOOS", "GOARCH")} == before
    with mirror_module.CrossBuild(mirror_module.releases(PINS)["victorialogs"]):
        assert {key: os.environ.get(key) for key in ("GOOS", "GOARCH")} == before


def test_machine_goes_with_the_commands_that_build_or_read_releases():
    result = mirror(REAL_CACHE, "path", "otel_collector", "--machine", "aarch64")
    assert result.returncode == 2 and "--machine goes with build, verify and artifact" in result.stderr
