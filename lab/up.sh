#!/usr/bin/env bash
# Bring the lab up and run the main job on it (called by `make lab` after set-up).
# The lab hosts are Molecule instances of the `lab` scenario; they stay up
# until `molecule destroy --scenario-name lab`.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${LGTM_CACHE:=$HOME/.cache/observability-lgtm}"
export PATH="$LGTM_CACHE/venv/bin:$PATH" ANSIBLE_COLLECTIONS_PATH="$LGTM_CACHE/collections"

molecule create --scenario-name lab
molecule converge --scenario-name lab

echo
echo "Lab hosts (docker containers running systemd):"
docker ps --filter label=owner=molecule --format '  {{.Names}}\t{{.Image}}\t{{.Status}}'
for host in $(docker ps --filter label=owner=molecule --format '{{.Names}}'); do
  echo
  echo "== $host"
  docker exec "$host" /usr/local/bin/otelcol-contrib --version
  printf '  collector health: '
  docker exec "$host" curl -fsS http://127.0.0.1:13133/
  echo
done
echo
echo "Artifact mirror: $(python3 lab/mirror.py url)"
echo "Tear down: molecule destroy --scenario-name lab"
