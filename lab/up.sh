#!/usr/bin/env bash
# Bring the lab up and run the main job on it (called by `make lab` after set-up):
# the all-in-one lab host of Molecule's `default` scenario, site.yml on it (the
# whole stack plus the demo shop), then one traced request followed through
# Grafana. The host stays up until `molecule destroy --scenario-name default`.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LGTM_CACHE:=$HOME/.cache/observability-lgtm}"
export PATH="$LGTM_CACHE/venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$LGTM_CACHE/collections"

molecule create --scenario-name default
molecule converge --scenario-name default

echo
echo "Lab hosts (docker containers running systemd):"
docker ps --filter label=owner=molecule --filter name=lgtm-aio --format '  {{.Names}}\t{{.Image}}\t{{.Status}}'
python lab/traced_request.py default
echo
echo "Artifact mirror: $(python lab/mirror.py url)"
echo "Tear down: molecule destroy --scenario-name default"
