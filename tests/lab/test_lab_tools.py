"""The lab's own tools (telemetrygen) are built like the components, follow the
collector's release, and are never served from the mirror."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
MIRROR_PY = REPO / "lab" / "mirror.py"
PINS = yaml.safe_load((REPO / "lab" / "versions.yml").read_text())

sys.path.insert(0, str(REPO / "lab"))
import mirror as mirror_module  # noqa: E402  (lab/ is not a package)


def minor(version: str) -> tuple[int, int]:
    major, minor_number = version.split(".")[:2]
    return int(major), int(minor_number)


def test_telemetrygen_follows_the_collectors_release():
    """The same release as the collector, unless the module proxy refuses that
    release's source (named in proxy_refuses); then at most one minor release away.
    A collector bump therefore fails here until telemetrygen follows it."""
    tool = PINS["telemetrygen"]
    collector = PINS[tool["follows"]]["version"]
    assert tool["follows"] == "otel_collector"
    assert tool["module_version"] == f"v{tool['version']}"
    if collector in tool.get("proxy_refuses", []):
        assert tool["version"] not in tool["proxy_refuses"]
        (col_major, col_minor), (tg_major, tg_minor) = minor(collector), minor(tool["version"])
        assert tg_major == col_major and abs(tg_minor - col_minor) == 1, (collector, tool["version"])
    else:
        assert tool["version"] == collector, (
            f"telemetrygen {tool['version']} does not follow the collector {collector}: pin the same "
            f"release, or name the collector's release in proxy_refuses if the proxy refuses it")


def test_build_without_arguments_covers_every_pin():
    """lab/setup.sh runs `mirror.py build` with no arguments: that is every recipe, lab tools
    included, and each component's earlier release (upgrade_from) as COMPONENT@VERSION."""
    earlier = {f"{name}@{pins['upgrade_from']['version']}" for name, pins in PINS.items()
               if "version" in (pins.get("upgrade_from") or {})}
    assert earlier
    assert set(mirror_module.releases(PINS)) == set(PINS) | earlier
    assert set(mirror_module.LAB_TOOLS) <= set(PINS)


def test_lab_tools_live_under_build_and_are_never_served():
    built = mirror_module.releases(PINS)
    for tool in mirror_module.LAB_TOOLS:
        release = built[tool]
        assert release.directory == mirror_module.BUILD / "lab-tools" / tool / PINS[tool]["version"]
        assert mirror_module.MIRROR not in release.directory.parents


def test_path_prints_each_binary_and_refuses_the_rest(tmp_path: Path):
    def path(*names: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, str(MIRROR_PY), "path", *names], capture_output=True,
                              text=True, env={**os.environ, "LGTM_CACHE": str(tmp_path)}, check=False)
    version = PINS["telemetrygen"]["version"]
    assert path("telemetrygen").stdout.strip() == str(
        tmp_path / "build" / "lab-tools" / "telemetrygen" / version / "telemetrygen")
    assert path("otel_collector").stdout.strip().endswith("_build/otelcol-contrib")
    refused = path("jaeger")
    assert refused.returncode != 0 and "otel_collector, telemetrygen" in refused.stderr
