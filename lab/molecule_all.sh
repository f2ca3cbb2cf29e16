#!/usr/bin/env bash
# Run Molecule scenarios (full `molecule test` each), MOLECULE_JOBS at a time
# (default 3): most of a scenario's time is spent waiting on services, so a few
# run well side by side on two cores. Each scenario writes its own log,
# $LGTM_CACHE/logs/molecule-<scenario>.log; at the end every result is listed,
# with the figures the stack scenarios printed and the tail of each failed log.
set -uo pipefail
: "${LGTM_CACHE:=$HOME/.cache/observability-lgtm}"
logs="$LGTM_CACHE/logs"
mkdir -p "$logs"
summary="$logs/molecule-summary.txt"
: >"$summary"

run_scenario() {
  local scenario=$1 log="$logs/molecule-$1.log" start=$SECONDS
  if molecule test --scenario-name "$scenario" >"$log" 2>&1; then
    echo "PASS $scenario $((SECONDS - start))s"
  else
    echo "FAIL $scenario $((SECONDS - start))s (log: $log)"
  fi | tee -a "$summary"
}
export -f run_scenario
export logs summary

# The single quotes are meant: $1 expands in the child shell xargs starts.
# shellcheck disable=SC2016
printf '%s\n' "$@" | xargs -P "${MOLECULE_JOBS:-3}" -I{} bash -c 'run_scenario "$1"' _ {}

echo
echo "Molecule scenarios:"
sort "$summary"
# Only this run's scenarios: logs of scenarios not run now are from earlier runs.
for scenario in "$@"; do
  grep -h '^FIGURES' "$logs/molecule-$scenario.log" 2>/dev/null | sed "s/^/  $scenario /"
done
failed=$(awk '$1 == "FAIL" {print $2}' "$summary")
for scenario in $failed; do
  echo
  echo "==== last lines of $logs/molecule-$scenario.log"
  tail -n 80 "$logs/molecule-$scenario.log"
done
[ -z "$failed" ] && [ "$(wc -l <"$summary")" -eq "$#" ]
