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
# - OpenTelemetry Collector 0.159.0: opentelemetry-collector-releases tag
#   v0.159.0, goreleaser's otelcol-contrib_<v>_linux_amd64.tar.gz and one
#   opentelemetry-collector-releases_otelcol-contrib_checksums.txt.
# - Jaeger 2.12.0: scripts/build/package-deploy.sh at v1.75.0 packs
#   jaeger-<v2>-linux-amd64.tar.gz and one release-wide jaeger-<v2>.sha256sum.txt;
#   scripts/release/draft.py creates the GitHub release under the v1 tag.
# - Prometheus 3.16.0: promu's <name>-<version>.<os>-<arch>.tar.gz and sha256sums.txt.
# - VictoriaLogs 1.52.2: the Makefile's release-victoria-logs-goos-goarch target,
#   victoria-logs-<os>-<arch>-v<v>.tar.gz and ..._checksums.txt beside it.
GH = "https://github.com"
UPSTREAM: dict[str, tuple[str, str, str]] = {
    "grafana": ("https://dl.grafana.com",
                "/grafana/release/13.2.3/grafana_13.2.3_36482603486_linux_amd64.tar.gz",
                "/grafana/release/13.2.3/grafana_13.2.3_36482603486_linux_amd64.tar.gz.sha256"),
    "tempo": (GH, "/grafana/tempo/releases/download/v3.1.0/tempo_3.1.0_linux_amd64.tar.gz",
              "/grafana/tempo/releases/download/v3.1.0/SHA256SUMS"),
    "mimir": (GH, "/grafana/mimir/releases/download/mimir-3.2.2/mimir-linux-amd64",
              "/grafana/mimir/releases/download/mimir-3.2.2/mimir-linux-amd64-sha-256"),
    "loki": (GH, "/grafana/loki/releases/download/v3.7.8/loki-linux-amd64.zip",
             "/grafana/loki/releases/download/v3.7.8/SHA256SUMS"),
    "otel_collector": (
        GH, "/open-telemetry/opentelemetry-collector-releases/releases/download/v0.159.0/"
            "otelcol-contrib_0.159.0_linux_amd64.tar.gz",
        "/open-telemetry/opentelemetry-collector-releases/releases/download/v0.159.0/"
        "opentelemetry-collector-releases_otelcol-contrib_checksums.txt"),
    "jaeger": (GH, "/jaegertracing/jaeger/releases/download/v1.75.0/jaeger-2.12.0-linux-amd64.tar.gz",
               "/jaegertracing/jaeger/releases/download/v1.75.0/jaeger-2.12.0.sha256sum.txt"),
    "prometheus": (GH, "/prometheus/prometheus/releases/download/v3.16.0/prometheus-3.16.0.linux-amd64.tar.gz",
                   "/prometheus/prometheus/releases/download/v3.16.0/sha256sums.txt"),
    "victorialogs": (
        GH, "/VictoriaMetrics/VictoriaLogs/releases/download/v1.52.2/victoria-logs-linux-amd64-v1.52.2.tar.gz",
        "/VictoriaMetrics/VictoriaLogs/releases/download/v1.52.2/victoria-logs-linux-amd64-v1.52.2_checksums.txt"),
}
# Each role's URLs under its upstream base and under a mirror keeping upstream's paths.
EXPECTED: dict[str, dict[str, tuple[str, str]]] = {
    role: {base_url: (base_url + artifact, base_url + checksum) for base_url in (upstream, MIRROR)}
    for role, (upstream, artifact, checksum) in UPSTREAM.items()
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


def test_mimir_checksum_is_the_binarys_sha_256_file() -> None:
    """Mimir publishes one <artifact>-sha-256 file per artifact, in a release tagged mimir-<version>."""
    artifact, checksum = render_urls("mimir", None)
    version = defaults("mimir")["mimir_version"]
    assert artifact.endswith(f"/releases/download/mimir-{version}/mimir-linux-amd64")
    assert checksum == f"{artifact}-sha-256"


@pytest.mark.parametrize(("role", "artifact_name"), [
    ("tempo", "tempo_{version}_linux_amd64.tar.gz"),  # goreleaser, one SHA256SUMS per release
    ("loki", "loki-linux-amd64.zip"),                 # the dist target lists every zip in SHA256SUMS
])
def test_checksum_is_the_releases_sha256sums(role: str, artifact_name: str) -> None:
    """One SHA256SUMS per release lists the artifact by its file name, in the release tagged v<version>."""
    artifact, checksum = render_urls(role, None)
    version = defaults(role)[f"{role}_version"]
    artifact_dir, name = artifact.rsplit("/", 1)
    assert artifact_dir.endswith(f"/releases/download/v{version}")
    assert name == artifact_name.format(version=version)
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
