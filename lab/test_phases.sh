#!/usr/bin/env bash
# `make test`: each phase (a make target) in turn, stopping at the first that
# fails, as make's own prerequisites would, and then, whatever happened, a table
# of each phase's wall time (also written to $LGTM_CACHE/logs/test-phases.txt),
# so that a cold or warm run's figures are read off its own output, not summed.
# Beside each time, how busy the machine's CPUs were during the phase (from
# /proc/stat): a phase far from 100 % waits, and could share the cores with
# another; one near it can only get faster by doing less.
set -uo pipefail
: "${LGTM_CACHE:=$HOME/.cache/observability-lgtm}"
mkdir -p "$LGTM_CACHE/logs"
table="$LGTM_CACHE/logs/test-phases.txt"
rows=()
# Jiffies of all CPUs, busy and in total (idle and iowait are the idle ones).
cpu_jiffies() { awk '/^cpu / { total = 0; for (i = 2; i <= NF; i++) total += $i; print total - $5 - $6, total }' /proc/stat; }
busy_percent() {  # busy_percent BUSY_BEFORE TOTAL_BEFORE: the busy share since then
  local busy total
  read -r busy total < <(cpu_jiffies)
  echo $(( total > $2 ? 100 * (busy - $1) / (total - $2) : 0 ))
}
total_start=$SECONDS
read -r total_busy total_jiffies < <(cpu_jiffies)
status=0
for phase in "$@"; do
  start=$SECONDS
  read -r busy jiffies < <(cpu_jiffies)
  if "${MAKE:-make}" --no-print-directory "$phase"; then
    rows+=("$(printf '%-16s %6ss  CPU %3s%%  passed' "$phase" $((SECONDS - start)) "$(busy_percent "$busy" "$jiffies")")")
  else
    status=$?
    rows+=("$(printf '%-16s %6ss  CPU %3s%%  FAILED (exit %s)' "$phase" $((SECONDS - start)) \
      "$(busy_percent "$busy" "$jiffies")" "$status")")
    break
  fi
done
{
  echo
  echo "make test, wall time per phase ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo 'no git')):"
  printf '%s\n' "${rows[@]}"
  printf '%-16s %6ss  CPU %3s%%\n' "total" $((SECONDS - total_start)) "$(busy_percent "$total_busy" "$total_jiffies")"
} | tee "$table"
exit "$status"
