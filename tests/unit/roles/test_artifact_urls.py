"""The component roles download exactly what upstream publishes for the pinned version and the host's machine.

Each role's artifact and checksum URL variables are rendered from its
defaults/main.yml with Ansible's own templating, for each machine architecture
the roles install on (x86_64, aarch64) named as the role's upstream names it
(the stack catalogue's name, which the role's vars read), with the
collection-wide lgtm_artifact_mirror unset (upstream) and set (a mirror keeping
upstream's paths), and compared with literal URLs written from upstream's
naming for that release (upstream_releases.py, which cites the sources). A
changed pin therefore fails here until the expected URLs are re-derived from
upstream, and a template that drifts from upstream's naming fails even when the
pin does not change. test_release_architectures.py runs the roles' own
resolution (facts, lgtm_architecture, the catalogue lookup) in check mode.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("ansible")

from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402

from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import (  # noqa: E402
    release_architectures,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upstream_releases import GH, MACHINES, UPSTREAM  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
MIRROR = "https://mirror.example.internal/lgtm"

CASES = [(role, machine, mirrored) for role in UPSTREAM for machine in MACHINES for mirrored in (False, True)]


def defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {}


def expected(role: str, machine: str, mirrored: bool) -> tuple[str, str]:
    upstream, artifact, checksum, _form = UPSTREAM[role][machine]
    base = MIRROR if mirrored else upstream
    return base + artifact, base + checksum


def render_urls(role: str, machine: str, mirror: str | None) -> tuple[str, str]:
    """The role's artifact and checksum URLs as Ansible renders them from its defaults, for a host of
    that machine architecture (its vars' <role>_release_architecture: the catalogue's name of it)."""
    variables: dict[str, Any] = {
        # The defaults file is the role's own code: its templates are trusted, as
        # when Ansible loads the role.
        name: trust_as_template(value) if isinstance(value, str) else value
        for name, value in defaults(role).items()
    }
    variables[f"{role}_release_architecture"] = release_architectures(machine)[role]
    if mirror is not None:
        variables["lgtm_artifact_mirror"] = mirror
    templar = Templar(loader=DataLoader(), variables=variables)
    artifact = templar.template(variables[f"{role}_artifact_url"])
    checksum = templar.template(variables[f"{role}_checksum_url"])
    assert isinstance(artifact, str) and isinstance(checksum, str)
    return artifact, checksum


@pytest.mark.parametrize(("role", "machine", "mirrored"), CASES,
                         ids=[f"{r}-{m}-{'mirror' if b else 'upstream'}" for r, m, b in CASES])
def test_artifact_and_checksum_urls_are_upstreams(role: str, machine: str, mirrored: bool) -> None:
    assert render_urls(role, machine, MIRROR if mirrored else None) == expected(role, machine, mirrored)


@pytest.mark.parametrize("role", list(UPSTREAM))
def test_an_empty_mirror_means_upstream(role: str) -> None:
    assert render_urls(role, "aarch64", "") == expected(role, "aarch64", False)


@pytest.mark.parametrize("role", list(UPSTREAM))
def test_the_role_names_the_hosts_architecture_from_the_catalogue(role: str) -> None:
    """The name the URLs read is the catalogue's for the host (vars/main.yml), the one place it is decided."""
    role_vars = yaml.safe_load((REPO / "roles" / role / "vars" / "main.yml").read_text())
    assert role_vars[f"{role}_release_architecture"] == (
        "{{ lookup('observability.lgtm.stack_catalogue', 'release_architectures.%s') }}" % role)
    # Nothing else the role runs spells an architecture (comments and documentation may).
    for path in (REPO / "roles" / role).rglob("*.yml"):
        code = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
        if path.parent.name != "meta":
            assert not re.search(r"amd64|arm64|x86_64|aarch64", "\n".join(code)), path


def test_grafana_checksum_is_the_tarballs_sha256_sidecar() -> None:
    """Grafana exports each package's digest as <package>.sha256 next to it."""
    values = defaults("grafana")
    version, build = values["grafana_version"], values["grafana_build_id"]
    for machine, arch in (("x86_64", "amd64"), ("aarch64", "arm64")):
        artifact, checksum = render_urls("grafana", machine, None)
        assert artifact.rsplit("/", 1)[1] == f"grafana_{version}_{build}_linux_{arch}.tar.gz"
        assert checksum == f"{artifact}.sha256"


def test_mimir_checksum_is_the_binarys_sha_256_file() -> None:
    """Mimir publishes one <artifact>-sha-256 file per artifact, in a release tagged mimir-<version>."""
    version = defaults("mimir")["mimir_version"]
    for machine, arch in (("x86_64", "amd64"), ("aarch64", "arm64")):
        artifact, checksum = render_urls("mimir", machine, None)
        assert artifact.endswith(f"/releases/download/mimir-{version}/mimir-linux-{arch}")
        assert checksum == f"{artifact}-sha-256"


def test_the_collectors_checksum_is_the_tarballs_split_sha256() -> None:
    """Since 0.158.0 goreleaser writes one <artifact>.sha256 per artifact (checksum split)."""
    for machine in MACHINES:
        artifact, checksum = render_urls("otel_collector", machine, None)
        assert checksum == f"{artifact}.sha256"


@pytest.mark.parametrize(("role", "artifact_name"), [
    ("tempo", "tempo_{version}_linux_{arch}.tar.gz"),  # goreleaser, one SHA256SUMS per release
    ("loki", "loki-linux-{arch}.zip"),                 # the dist target lists every zip in SHA256SUMS
])
def test_checksum_is_the_releases_sha256sums(role: str, artifact_name: str) -> None:
    """One SHA256SUMS per release lists every architecture's artifact by its file name, in the release tagged v<version>."""
    version = defaults(role)[f"{role}_version"]
    for machine, arch in (("x86_64", "amd64"), ("aarch64", "arm64")):
        artifact, checksum = render_urls(role, machine, None)
        artifact_dir, name = artifact.rsplit("/", 1)
        assert artifact_dir.endswith(f"/releases/download/v{version}")
        assert name == artifact_name.format(version=version, arch=arch)
        assert checksum == f"{artifact_dir}/SHA256SUMS"


# Data source plugins the grafana role installs (grafana_plugin_releases). Source of the
# VictoriaLogs one: github.com/VictoriaMetrics/victorialogs-datasource at tag v0.30.1, whose
# release workflow (.github/workflows/release.yaml) runs `gh release create v<version> ./dist/*`
# after the Makefile's vl-plugin-pack target wrote dist/<id>-v<version>.zip and, with
# `sha1sum dist/<zip> > dist/<id>-v<version>_checksums_zip.txt`, its SHA-1 checksum file.
PLUGIN_UPSTREAM = {
    "victoriametrics-logs-datasource": (
        GH, "/VictoriaMetrics/victorialogs-datasource/releases/download/v0.30.1/"
            "victoriametrics-logs-datasource-v0.30.1.zip",
        "/VictoriaMetrics/victorialogs-datasource/releases/download/v0.30.1/"
        "victoriametrics-logs-datasource-v0.30.1_checksums_zip.txt", "sha1"),
}


def render_plugin(index: int, mirror: str | None) -> dict[str, str]:
    """One entry of grafana_plugin_releases as Ansible renders it (its id, a catalogue lookup, aside)."""
    values = defaults("grafana")
    variables: dict[str, Any] = {name: trust_as_template(value) if isinstance(value, str) else value
                                 for name, value in values.items() if name != "grafana_plugin_releases"}
    if mirror is not None:
        variables["lgtm_artifact_mirror"] = mirror
    templar = Templar(loader=DataLoader(), variables=variables)
    release = values["grafana_plugin_releases"][index]
    return {key: templar.template(trust_as_template(value)) for key, value in release.items() if key != "id"}


@pytest.mark.parametrize("mirror", [None, "", MIRROR])
def test_plugin_urls_are_upstreams_and_the_mirror_keeps_their_paths(mirror: str | None) -> None:
    releases = defaults("grafana")["grafana_plugin_releases"]
    assert len(releases) == len(PLUGIN_UPSTREAM)
    for index, (upstream, artifact, checksum, algorithm) in enumerate(PLUGIN_UPSTREAM.values()):
        base = mirror or upstream
        assert render_plugin(index, mirror) == {"version": "0.30.1", "artifact_url": base + artifact,
                                                "checksum_url": base + checksum, "checksum_algorithm": algorithm}


def test_the_victorialogs_plugin_is_the_catalogues_datasource_type() -> None:
    """The plugin id is not written twice: the role reads the stack catalogue's data source type of VictoriaLogs."""
    from ansible_collections.observability.lgtm.plugins.module_utils.stack_catalogue import CATALOGUE

    release = defaults("grafana")["grafana_plugin_releases"][0]
    assert release["id"] == "{{ lookup('observability.lgtm.stack_catalogue', 'victorialogs.datasource_type') }}"
    assert CATALOGUE["victorialogs"].datasource_type in PLUGIN_UPSTREAM
