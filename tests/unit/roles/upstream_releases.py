"""What upstream publishes for each pinned release, per machine architecture, written
literally from upstream's own release tooling (never from the roles' templates).

Shared by test_artifact_urls.py (the roles' URL templates) and
test_release_architectures.py (the roles resolving and verifying them in check
mode). Each entry is (base URL, artifact path, checksum file path, checksum
form) for the machine architectures the roles install on, as Ansible names
them. The sources, read at the pinned tag where the stored snapshot has it:

- Grafana 13.2.3: Grafana's download page for 13.2.3 (OSS, Linux) lists
  grafana_13.2.3_36482603486_linux_amd64.tar.gz under /grafana/release/13.2.3/;
  the name is Grafana's release tooling's {name}_{version}_{build}_{os}_{arch}
  (pkg/build/daggerbuild/packages/names.go, the arch from the distro
  linux/arm64 as arm64), with <file>.sha256 beside it: the digest alone, or,
  since 12.4.3, `<sha256>  dist/<file>` (issue 22).
- Tempo 3.1.0: .goreleaser.yml (main at 2026-08-21; the stored snapshot has no
  v3.1.0 tag, v3.0.3 is its newest): builds for goarch amd64 and arm64, archives
  under goreleaser's default tempo_<version>_<os>_<arch>.tar.gz, and checksum
  name_template SHA256SUMS (`<sha256>  <file>` lines).
- Mimir 3.2.2: tags are mimir-<version> (RELEASE.md); the Makefile's dist target
  builds mimir-$os-$arch for arch in amd64 arm64 and writes
  `sha256sum ... | cut -d ' ' -f 1` to mimir-$os-$arch-sha-256: the digest alone.
- Loki 3.7.8: tag v3.7.8 (the stored snapshot's release-3.7.x branch is at
  3.7.6): the Makefile's dist target builds with gox -osarch "linux/amd64
  linux/arm64 ..." into dist/{{.Dir}}-{{.OS}}-{{.Arch}}, zips each binary as
  <binary>.zip (`zip -j`: the bare binary loki-linux-<arch> inside) and lists them
  with `sha256sum * > SHA256SUMS`.
- OpenTelemetry Collector 0.159.0: opentelemetry-collector-releases tag v0.159.0,
  distributions/otelcol-contrib/.goreleaser.yaml: linux goarch amd64 and arm64,
  archives '{{ .Binary }}_{{ .Version }}_{{ .Os }}_{{ .Arch }}', and since v0.158.0
  `checksum: split: true` (#1582, "a breaking change in release artifact naming"):
  one <artifact>.sha256 per artifact holding its digest alone (goreleaser's
  split checksum pipe writes the digest only); the release-wide
  opentelemetry-collector-releases_otelcol-contrib_checksums.txt is gone.
- Jaeger 2.12.0: tag v1.75.0; the Makefile's PLATFORMS holds linux/amd64 and
  linux/arm64, scripts/build/package-deploy.sh packs jaeger-<v2>-<os>-<arch>.tar.gz
  and one release-wide jaeger-<v2>.sha256sum.txt of `shasum -b` lines
  (`<sha256> *<file>`); scripts/release/draft.py creates the GitHub release under
  the v1 tag.
- Prometheus 3.16.0: module v0.316.0 (VERSION 3.16.0): .github/workflows/ci.yml
  crossbuilds linux/arm64 among others; promu's tarball is
  <name>-<version>.<goos>-<goarch>.tar.gz (cmd/tarball.go) and its checksum file
  sha256sums.txt holds `<sha256>  <file>` lines (cmd/checksum.go).
- VictoriaLogs 1.52.2: module v1.52.2, the Makefile's release-victoria-logs target
  runs release-victoria-logs-linux-amd64 and -linux-arm64; the goos-goarch target
  packs victoria-logs-<os>-<arch>-v<v>.tar.gz and writes `sha256sum` lines for it
  and victoria-logs-prod to victoria-logs-<os>-<arch>-v<v>_checksums.txt.
"""
from __future__ import annotations

from typing import Dict, Tuple

GH = "https://github.com"
DL = "https://dl.grafana.com"
MACHINES = ("x86_64", "aarch64")

# The form of each upstream checksum file: "alone" (the digest alone), "sums"
# (`<sha256>  <file>` lines), "shasum-b" (`<sha256> *<file>` lines).
Release = Tuple[str, str, str, str]

UPSTREAM: Dict[str, Dict[str, Release]] = {
    "grafana": {
        "x86_64": (DL, "/grafana/release/13.2.3/grafana_13.2.3_36482603486_linux_amd64.tar.gz",
                   "/grafana/release/13.2.3/grafana_13.2.3_36482603486_linux_amd64.tar.gz.sha256", "alone"),
        "aarch64": (DL, "/grafana/release/13.2.3/grafana_13.2.3_36482603486_linux_arm64.tar.gz",
                    "/grafana/release/13.2.3/grafana_13.2.3_36482603486_linux_arm64.tar.gz.sha256", "alone"),
    },
    "tempo": {
        "x86_64": (GH, "/grafana/tempo/releases/download/v3.1.0/tempo_3.1.0_linux_amd64.tar.gz",
                   "/grafana/tempo/releases/download/v3.1.0/SHA256SUMS", "sums"),
        "aarch64": (GH, "/grafana/tempo/releases/download/v3.1.0/tempo_3.1.0_linux_arm64.tar.gz",
                    "/grafana/tempo/releases/download/v3.1.0/SHA256SUMS", "sums"),
    },
    "mimir": {
        "x86_64": (GH, "/grafana/mimir/releases/download/mimir-3.2.2/mimir-linux-amd64",
                   "/grafana/mimir/releases/download/mimir-3.2.2/mimir-linux-amd64-sha-256", "alone"),
        "aarch64": (GH, "/grafana/mimir/releases/download/mimir-3.2.2/mimir-linux-arm64",
                    "/grafana/mimir/releases/download/mimir-3.2.2/mimir-linux-arm64-sha-256", "alone"),
    },
    "loki": {
        "x86_64": (GH, "/grafana/loki/releases/download/v3.7.8/loki-linux-amd64.zip",
                   "/grafana/loki/releases/download/v3.7.8/SHA256SUMS", "sums"),
        "aarch64": (GH, "/grafana/loki/releases/download/v3.7.8/loki-linux-arm64.zip",
                    "/grafana/loki/releases/download/v3.7.8/SHA256SUMS", "sums"),
    },
    "otel_collector": {
        "x86_64": (GH, "/open-telemetry/opentelemetry-collector-releases/releases/download/v0.159.0/"
                       "otelcol-contrib_0.159.0_linux_amd64.tar.gz",
                   "/open-telemetry/opentelemetry-collector-releases/releases/download/v0.159.0/"
                   "otelcol-contrib_0.159.0_linux_amd64.tar.gz.sha256", "alone"),
        "aarch64": (GH, "/open-telemetry/opentelemetry-collector-releases/releases/download/v0.159.0/"
                        "otelcol-contrib_0.159.0_linux_arm64.tar.gz",
                    "/open-telemetry/opentelemetry-collector-releases/releases/download/v0.159.0/"
                    "otelcol-contrib_0.159.0_linux_arm64.tar.gz.sha256", "alone"),
    },
    "jaeger": {
        "x86_64": (GH, "/jaegertracing/jaeger/releases/download/v1.75.0/jaeger-2.12.0-linux-amd64.tar.gz",
                   "/jaegertracing/jaeger/releases/download/v1.75.0/jaeger-2.12.0.sha256sum.txt", "shasum-b"),
        "aarch64": (GH, "/jaegertracing/jaeger/releases/download/v1.75.0/jaeger-2.12.0-linux-arm64.tar.gz",
                    "/jaegertracing/jaeger/releases/download/v1.75.0/jaeger-2.12.0.sha256sum.txt", "shasum-b"),
    },
    "prometheus": {
        "x86_64": (GH, "/prometheus/prometheus/releases/download/v3.16.0/prometheus-3.16.0.linux-amd64.tar.gz",
                   "/prometheus/prometheus/releases/download/v3.16.0/sha256sums.txt", "sums"),
        "aarch64": (GH, "/prometheus/prometheus/releases/download/v3.16.0/prometheus-3.16.0.linux-arm64.tar.gz",
                    "/prometheus/prometheus/releases/download/v3.16.0/sha256sums.txt", "sums"),
    },
    "victorialogs": {
        "x86_64": (GH, "/VictoriaMetrics/VictoriaLogs/releases/download/v1.52.2/victoria-logs-linux-amd64-v1.52.2.tar.gz",
                   "/VictoriaMetrics/VictoriaLogs/releases/download/v1.52.2/"
                   "victoria-logs-linux-amd64-v1.52.2_checksums.txt", "sums"),
        "aarch64": (GH, "/VictoriaMetrics/VictoriaLogs/releases/download/v1.52.2/victoria-logs-linux-arm64-v1.52.2.tar.gz",
                    "/VictoriaMetrics/VictoriaLogs/releases/download/v1.52.2/"
                    "victoria-logs-linux-arm64-v1.52.2_checksums.txt", "sums"),
    },
}
