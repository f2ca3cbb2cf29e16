#!/usr/bin/env bash
# Run Molecule scenarios (full `molecule test` each), MOLECULE_JOBS at a time
# (default 3): most of a scenario's time is spent waiting on services, so a few
# run well side by side on two cores. Each scenario writes its own log,
# $LGTM_CACHE/logs/molecule-<scenario>.log; at the end every result is listed,
# with the figures the stack scenarios printed and the tail of each failed log.
#
# A scenario that installs release files the lab does not build (the
# AGPL-licensed Grafana stack) runs only where they can be had: from the mirror
# once imported (`lab/mirror.py import DIR`, checked against upstream's checksum
# files), or, with LGTM_UPSTREAM_DOWNLOADS=1 on a machine that reaches the
# upstream sites, downloaded by the roles from upstream as a user's hosts do
# (never on this project's machines: they may not download AGPL software).
# Otherwise it is listed as NOT RUN with the reason, never counted as passed,
# and does not fail the run.
set -uo pipefail
: "${LGTM_CACHE:=$HOME/.cache/observability-lgtm}"
logs="$LGTM_CACHE/logs"
mkdir -p "$logs"
summary="$logs/molecule-summary.txt"
: >"$summary"
here="$(cd "$(dirname "$0")" && pwd)"

# Imported release files each scenario needs, by component.
declare -A needs=(
  [grafana]="grafana" [tempo]="tempo" [mimir]="mimir" [loki]="loki"
  [default_lgtm]="grafana tempo mimir loki" [distributed_lgtm]="grafana tempo mimir loki"
)

runnable=()
upstream=""
for scenario in "$@"; do
  wanted="${needs[$scenario]:-}"
  read -r -a components <<<"$wanted"
  if [[ -n "$wanted" && "${LGTM_UPSTREAM_DOWNLOADS:-0}" == 1 ]]; then
    upstream+=" $scenario "
    runnable+=("$scenario")
  elif [[ -n "$wanted" ]] && ! python "$here/mirror.py" has "${components[@]}"; then
    echo "NOT RUN $scenario: the mirror holds no verified upstream release files of: $wanted" \
         "(AGPL-licensed, never built here; lab/mirror.py import DIR serves them)" | tee -a "$summary"
  else
    runnable+=("$scenario")
  fi
done

run_scenario() {
  local scenario=$1 log="$logs/molecule-$1.log" start=$SECONDS mirror
  # An empty mirror URL makes every role download from upstream.
  mirror="${LGTM_MIRROR_URL-http://127.0.0.1:8765}"
  [[ "$upstream" == *" $scenario "* ]] && mirror=""
  if LGTM_MIRROR_URL="$mirror" molecule test --scenario-name "$scenario" >"$log" 2>&1; then
    echo "PASS $scenario $((SECONDS - start))s"
  else
    echo "FAIL $scenario $((SECONDS - start))s (log: $log)"
  fi | tee -a "$summary"
}
export -f run_scenario
export logs summary upstream

# A scenario that spends most of its time waiting (reliability: a 7-minute backend outage, its
# host idle) starts at once in a place of its own, beside the MOLECULE_JOBS others instead of taking
# one of theirs, so the two cores keep working while it waits; once it is done, its place takes the
# next scenario of the list like the others. MOLECULE_APART names them (space-separated); the others
# start in the order given (make's SCENARIOS: longest first).
apart=" ${MOLECULE_APART-reliability} "
first=()
rest=()
for scenario in "${runnable[@]}"; do
  if [[ "$apart" == *" $scenario "* ]]; then first+=("$scenario"); else rest+=("$scenario"); fi
done
jobs=$(( ${MOLECULE_JOBS:-3} + ${#first[@]} ))
# The single quotes are meant: $1 expands in the child shell xargs starts.
# shellcheck disable=SC2016
printf '%s\n' "${first[@]}" "${rest[@]}" | grep -v '^$' | xargs -P "$jobs" -I{} bash -c 'run_scenario "$1"' _ {}

echo
echo "Molecule scenarios:"
sort "$summary"
# Only this run's scenarios: logs of scenarios not run now are from earlier runs.
for scenario in "${runnable[@]}"; do
  grep -h '^FIGURES' "$logs/molecule-$scenario.log" 2>/dev/null | sed "s/^/  $scenario /"
done
failed=$(awk '$1 == "FAIL" {print $2}' "$summary")
for scenario in $failed; do
  echo
  echo "==== last lines of $logs/molecule-$scenario.log"
  tail -n 80 "$logs/molecule-$scenario.log"
done
passed=$(grep -c '^PASS' "$summary")
not_run=$(grep -c '^NOT RUN' "$summary")
echo "molecule: $passed passed, $(wc -w <<<"$failed") failed"
echo "molecule scenarios not run here: $not_run (listed above, with the reason)"
[ -z "$failed" ] && [ "$passed" -eq "${#runnable[@]}" ]
