#!/usr/bin/env bash
# Bring the lab up and run the main job on it (called by `make lab` after set-up):
# the all-in-one lab host of a Molecule stack scenario, site.yml on it (the
# whole stack plus the demo shop), then one traced request followed through the
# backends' own query APIs. The host stays up until `molecule destroy`.
#
#   LGTM_LAB_SCENARIO=default        Jaeger, Prometheus, VictoriaLogs (built here; the default)
#   LGTM_LAB_SCENARIO=default_lgtm   Grafana, Tempo, Mimir, Loki: needs their upstream
#                                    release files in the mirror (lab/mirror.py import DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LGTM_CACHE:=$HOME/.cache/observability-lgtm}"
export PATH="$LGTM_CACHE/venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$LGTM_CACHE/collections"

scenario="${LGTM_LAB_SCENARIO:-default}"
if [[ "$scenario" == default_lgtm ]] && ! python lab/mirror.py has grafana tempo mimir loki; then
  echo "ERROR: the mirror holds no verified upstream release files of Grafana, Tempo, Mimir and Loki;" >&2
  echo "download them (README, 'The Grafana stack') and run: python lab/mirror.py import DIR" >&2
  exit 1
fi
molecule create --scenario-name "$scenario"
molecule converge --scenario-name "$scenario"

echo
echo "Lab hosts (docker containers running systemd):"
docker ps --filter label=owner=molecule --filter name=lgtm- --format '  {{.Names}}\t{{.Image}}\t{{.Status}}'
python lab/traced_request.py "$scenario"
echo
echo "Artifact mirror: $(python lab/mirror.py url)"
echo "Tear down: molecule destroy --scenario-name $scenario"
