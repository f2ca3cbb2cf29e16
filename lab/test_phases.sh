#!/usr/bin/env bash
# `make test`: each phase (a make target) in turn, stopping at the first that
# fails, as make's own prerequisites would, and then, whatever happened, a table
# of each phase's wall time (also written to $LGTM_CACHE/logs/test-phases.txt),
# so that a cold or warm run's figures are read off its own output, not summed.
set -uo pipefail
: "${LGTM_CACHE:=$HOME/.cache/observability-lgtm}"
mkdir -p "$LGTM_CACHE/logs"
table="$LGTM_CACHE/logs/test-phases.txt"
rows=()
total_start=$SECONDS
status=0
for phase in "$@"; do
  start=$SECONDS
  if "${MAKE:-make}" --no-print-directory "$phase"; then
    rows+=("$(printf '%-16s %6ss  passed' "$phase" $((SECONDS - start)))")
  else
    status=$?
    rows+=("$(printf '%-16s %6ss  FAILED (exit %s)' "$phase" $((SECONDS - start)) "$status")")
    break
  fi
done
{
  echo
  echo "make test, wall time per phase ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo 'no git')):"
  printf '%s\n' "${rows[@]}"
  printf '%-16s %6ss\n' "total" $((SECONDS - total_start))
} | tee "$table"
exit "$status"
