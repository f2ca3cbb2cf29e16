#!/usr/bin/env bash
# `make test`: each phase (a make target) in turn, stopping at the first that
# fails, as make's own prerequisites would, and then, whatever happened, a table
# of each phase's wall time (also written to $LGTM_CACHE/logs/test-phases.txt),
# so that a cold or warm run's figures are read off its own output, not summed.
# Beside each time, how busy the machine's CPUs were during the phase (from
# /proc/stat): a phase far from 100 % waits, and could share the cores with
# another; one near it can only get faster by doing less.
#
# A phase written A+B+C is a group: A runs, and beside it B then C (their output in
# $LGTM_CACHE/logs/phase-B.log and phase-C.log, printed once the group is done). The
# group's row gives its wall time and CPU; B's and C's rows their own wall times.
set -uo pipefail
: "${LGTM_CACHE:=$HOME/.cache/observability-lgtm}"
logs="$LGTM_CACHE/logs"
mkdir -p "$logs"
table="$logs/test-phases.txt"
rows=()
# Jiffies of all CPUs, busy and in total (idle and iowait are the idle ones).
cpu_jiffies() { awk '/^cpu / { total = 0; for (i = 2; i <= NF; i++) total += $i; print total - $5 - $6, total }' /proc/stat; }
busy_percent() {  # busy_percent BUSY_BEFORE TOTAL_BEFORE: the busy share since then
  local busy total
  read -r busy total < <(cpu_jiffies)
  echo $(( total > $2 ? 100 * (busy - $1) / (total - $2) : 0 ))
}
run_phase() { "${MAKE:-make}" --no-print-directory "$1"; }
# run_beside RESULTS PHASE...: the phases in turn, each line of RESULTS "phase seconds status".
run_beside() {
  local results=$1 phase start code
  shift
  for phase in "$@"; do
    start=$SECONDS
    run_phase "$phase" >"$logs/phase-$phase.log" 2>&1
    code=$?
    echo "$phase $((SECONDS - start)) $code" >>"$results"
    ((code == 0)) || return "$code"
  done
}
total_start=$SECONDS
read -r total_busy total_jiffies < <(cpu_jiffies)
status=0
for group in "$@"; do
  IFS=+ read -r -a phases <<<"$group"
  main=${phases[0]}
  beside=("${phases[@]:1}")
  start=$SECONDS
  read -r busy jiffies < <(cpu_jiffies)
  beside_status=0
  if ((${#beside[@]})); then
    for phase in "${beside[@]}"; do rm -f "$logs/phase-$phase.log"; done
    results=$(mktemp)
    run_beside "$results" "${beside[@]}" &
    beside_pid=$!
  fi
  run_phase "$main"
  main_status=$?
  if ((${#beside[@]})); then
    wait "$beside_pid" || beside_status=$?
    for phase in "${beside[@]}"; do
      [[ -e "$logs/phase-$phase.log" ]] && { echo; echo "==> $phase (beside $main): $logs/phase-$phase.log"; cat "$logs/phase-$phase.log"; }
    done
  fi
  seconds=$((SECONDS - start))
  cpu=$(busy_percent "$busy" "$jiffies")
  if ((main_status != 0)); then outcome="FAILED (exit $main_status)"
  elif ((beside_status != 0)); then outcome="FAILED (a phase beside it)"
  else outcome="passed"; fi
  rows+=("$(printf '%-16s %6ss  CPU %3s%%  %s' "$group" "$seconds" "$cpu" "$outcome")")
  if ((${#beside[@]})); then
    while read -r phase phase_seconds code; do
      if ((code == 0)); then outcome="passed"; else outcome="FAILED (exit $code)"; fi
      rows+=("$(printf '  %-14s %6ss  beside %s  %s' "$phase" "$phase_seconds" "$main" "$outcome")")
    done <"$results"
    rm -f "$results"
  fi
  if ((main_status != 0)); then status=$main_status; break; fi
  if ((beside_status != 0)); then status=$beside_status; break; fi
done
{
  echo
  echo "make test, wall time per phase ($(date -u +%Y-%m-%dT%H:%MZ), $(git rev-parse --short HEAD 2>/dev/null || echo 'no git')):"
  printf '%s\n' "${rows[@]}"
  printf '%-16s %6ss  CPU %3s%%\n' "total" $((SECONDS - total_start)) "$(busy_percent "$total_busy" "$total_jiffies")"
} | tee "$table"
exit "$status"
