"""The component roles download exactly what upstream publishes for the pinned version.

Each role's artifact and checksum URL variables are rendered from its
defaults/main.yml with Ansible's own templating, with the collection-wide
lgtm_artifact_mirror unset (upstream) and set (a mirror keeping upstream's
paths), and compared with literal URLs written from upstream's naming for that
release. A changed pin therefore fails here until the expected URLs are
re-derived from upstream, and a template that drifts from upstream's naming
fails even when the pin does not change.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

pytest.importorskip("ansible")

from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.template import Templar, trust_as_template  # noqa: E402

REPO = Path(__file__).resolve().parents[3]
MIRROR = "https://mirror.example.internal/lgtm"

# Upstream's URL for each role, as (artifact, checksum) per base URL. Sources:
# - Grafana 13.2.3: Grafana's download page for 13.2.3 (OSS, Linux) lists
#   grafana_13.2.3_36482603486_linux_amd64.tar.gz under /grafana/release/13.2.3/;
#   the name is Grafana's release tooling's {name}_{version}_{build}_{os}_{arch}
#   (pkg/build/daggerbuild/packages/names.go), which also exports the digest
#   alone as <file>.sha256 next to it (pkg/build/daggerbuild/pipeline, Export).
# - Tempo 3.1.0: tag v3.1.0; .goreleaser.yml archives name
#   tempo_<version>_<os>_<arch>.tar.gz and checksum name_template SHA256SUMS.
# - Mimir 3.2.2: tags are mimir-<version> (RELEASE.md); each release carries the
#   raw mimir-linux-amd64 binary and mimir-linux-amd64-sha-256 beside it.
# - Loki 3.7.8: tag v3.7.8; the Makefile's dist target zips each binary as
#   <binary>.zip and lists them in SHA256SUMS.
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    "grafana": {
        "https://dl.grafana.com": (
            "https://dl.grafana.com/grafana/release/13.2.3/grafana_13.2.3_36482603486_linux_amd64.tar.gz",
            "https://dl.grafana.com/grafana/release/13.2.3/grafana_13.2.3_36482603486_linux_amd64.tar.gz.sha256",
        ),
        MIRROR: (
            f"{MIRROR}/grafana/release/13.2.3/grafana_13.2.3_36482603486_linux_amd64.tar.gz",
            f"{MIRROR}/grafana/release/13.2.3/grafana_13.2.3_36482603486_linux_amd64.tar.gz.sha256",
        ),
    },
    "tempo": {
        "https://github.com": (
            "https://github.com/grafana/tempo/releases/download/v3.1.0/tempo_3.1.0_linux_amd64.tar.gz",
            "https://github.com/grafana/tempo/releases/download/v3.1.0/SHA256SUMS",
        ),
        MIRROR: (
            f"{MIRROR}/grafana/tempo/releases/download/v3.1.0/tempo_3.1.0_linux_amd64.tar.gz",
            f"{MIRROR}/grafana/tempo/releases/download/v3.1.0/SHA256SUMS",
        ),
    },
    "mimir": {
        "https://github.com": (
            "https://github.com/grafana/mimir/releases/download/mimir-3.2.2/mimir-linux-amd64",
            "https://github.com/grafana/mimir/releases/download/mimir-3.2.2/mimir-linux-amd64-sha-256",
        ),
        MIRROR: (
            f"{MIRROR}/grafana/mimir/releases/download/mimir-3.2.2/mimir-linux-amd64",
            f"{MIRROR}/grafana/mimir/releases/download/mimir-3.2.2/mimir-linux-amd64-sha-256",
        ),
    },
    "loki": {
        "https://github.com": (
            "https://github.com/grafana/loki/releases/download/v3.7.8/loki-linux-amd64.zip",
            "https://github.com/grafana/loki/releases/download/v3.7.8/SHA256SUMS",
        ),
        MIRROR: (
            f"{MIRROR}/grafana/loki/releases/download/v3.7.8/loki-linux-amd64.zip",
            f"{MIRROR}/grafana/loki/releases/download/v3.7.8/SHA256SUMS",
        ),
    },
}

CASES = [(role, base) for role, bases in EXPECTED.items() for base in bases]


def defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text()) or {}


def render_urls(role: str, mirror: str | None) -> tuple[str, str]:
    """The role's artifact and checksum URLs as Ansible renders them from its defaults."""
    variables: dict[str, Any] = {
        # The defaults file is the role's own code: its templates are trusted, as
        # when Ansible loads the role.
        name: trust_as_template(value) if isinstance(value, str) else value
        for name, value in defaults(role).items()
    }
    if mirror is not None:
        variables["lgtm_artifact_mirror"] = mirror
    templar = Templar(loader=DataLoader(), variables=variables)
    artifact = templar.template(variables[f"{role}_artifact_url"])
    checksum = templar.template(variables[f"{role}_checksum_url"])
    assert isinstance(artifact, str) and isinstance(checksum, str)
    return artifact, checksum


def upstream_base(role: str) -> str:
    """The base URL the role falls back to without a mirror (the first expectation)."""
    return next(iter(EXPECTED[role]))


@pytest.mark.parametrize(("role", "base"), CASES, ids=[f"{r}-{'upstream' if b != MIRROR else 'mirror'}" for r, b in CASES])
def test_artifact_and_checksum_urls_are_upstreams(role: str, base: str) -> None:
    mirror = None if base == upstream_base(role) else base
    assert render_urls(role, mirror) == EXPECTED[role][base]


@pytest.mark.parametrize("role", list(EXPECTED))
def test_an_empty_mirror_means_upstream(role: str) -> None:
    assert render_urls(role, "") == EXPECTED[role][upstream_base(role)]


def test_grafana_checksum_is_the_tarballs_sha256_sidecar() -> None:
    """Grafana exports each package's digest alone as <package>.sha256 next to it."""
    artifact, checksum = render_urls("grafana", None)
    values = defaults("grafana")
    version, build = values["grafana_version"], values["grafana_build_id"]
    assert artifact.rsplit("/", 1)[1] == f"grafana_{version}_{build}_linux_amd64.tar.gz"
    assert checksum == f"{artifact}.sha256"


def test_tempo_checksum_is_the_releases_sha256sums() -> None:
    """goreleaser's one SHA256SUMS per release lists the tarball by its file name."""
    artifact, checksum = render_urls("tempo", None)
    version = defaults("tempo")["tempo_version"]
    artifact_dir, artifact_name = artifact.rsplit("/", 1)
    assert artifact_dir.endswith(f"/releases/download/v{version}")
    assert artifact_name == f"tempo_{version}_linux_amd64.tar.gz"
    assert checksum == f"{artifact_dir}/SHA256SUMS"


def test_mimir_checksum_is_the_binarys_sha_256_file() -> None:
    """Mimir publishes one <artifact>-sha-256 file per artifact, in a release tagged mimir-<version>."""
    artifact, checksum = render_urls("mimir", None)
    version = defaults("mimir")["mimir_version"]
    assert artifact.endswith(f"/releases/download/mimir-{version}/mimir-linux-amd64")
    assert checksum == f"{artifact}-sha-256"


def test_loki_checksum_is_the_releases_sha256sums() -> None:
    """Loki's dist target lists every zip of the release in one SHA256SUMS."""
    artifact, checksum = render_urls("loki", None)
    version = defaults("loki")["loki_version"]
    artifact_dir, artifact_name = artifact.rsplit("/", 1)
    assert artifact_dir.endswith(f"/releases/download/v{version}")
    assert artifact_name == "loki-linux-amd64.zip"
    assert checksum == f"{artifact_dir}/SHA256SUMS"
