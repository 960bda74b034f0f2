#!/usr/bin/env bash
# Forwarding rate through an endpoint while it is captured: iperf3 (TCP, DURATION s) from a
# macvlan endpoint's namespace to an external host through mvtapd, in three cases: with no
# capture, with `mvtap capture` read (written to a file), and with one whose reader has stopped
# reading (`mvtap capture -w -` into a FIFO nobody reads: the pipe, then the socket, then the ring
# fill, and the datapath drops captured frames). Capturing nothing must cost nothing measurable; a
# stalled reader must not slow forwarding. ROUNDS rounds, each running the three cases one after
# the other, each round starting with the next case (so no case always runs first, or right after
# the one that loads the machine most). Prints each round's rates and the captures' summaries on
# stderr as it goes, then on stdout a markdown table: per case the median and every round's value
# (Gbit/s), and the captures' summaries (frames captured and dropped) per round.
# Root; builds mvtapd and mvtap once (before waiting for the lock); everything it makes lives in
# namespaces and a temporary directory of its own and is removed at the end. Holds
# /tmp/mvtap-bench.lock for the run, its caller's when run under `flock /tmp/mvtap-bench.lock`
# (the descriptor is inherited), else its own; numbers mean something only on a quiet machine.
#   sudo [ROUNDS=5] [DURATION=10] bench/capture-forwarding.sh [DURATION]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DURATION="${1:-${DURATION:-10}}"
ROUNDS="${ROUNDS:-5}"
case "$ROUNDS$DURATION" in *[!0-9]*) echo "ROUNDS and DURATION are whole numbers" >&2; exit 2 ;; esac
[ "$ROUNDS" -ge 1 ] && [ "$DURATION" -ge 1 ] || { echo "ROUNDS and DURATION are at least 1" >&2; exit 2; }
id="mvc$$"
dir="$(mktemp -d "/tmp/$id-XXXX")"
ext="$id-ext" guest="$id-g"
mvtapd_pid="" capture_pid="" iperf_pid="" drain_pid=""

cleanup() {
  set +e
  [ -n "$capture_pid" ] && kill -TERM "$capture_pid" 2>/dev/null
  [ -n "$drain_pid" ] && kill "$drain_pid" 2>/dev/null
  [ -n "$iperf_pid" ] && kill "$iperf_pid" 2>/dev/null
  [ -n "$mvtapd_pid" ] && kill "$mvtapd_pid" 2>/dev/null && wait "$mvtapd_pid" 2>/dev/null
  ip netns del "$guest" 2>/dev/null
  ip netns del "$ext" 2>/dev/null
  ip link del "${id}l" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

# build both (a build under the lock would count against mvtapd's start)
"$root/mvtapd" --help >/dev/null
"$root/mvtap" --help >/dev/null

lock=/tmp/mvtap-bench.lock
held=""
for fd in /proc/$$/fd/*; do [ "$(readlink "$fd" 2>/dev/null)" = "$lock" ] && held=1; done
if [ -z "$held" ]; then
  exec 8>"$lock"
  echo "waiting for $lock..." >&2
  flock 8
fi

ip netns add "$ext"
ip netns add "$guest"
ip link add "${id}l" type veth peer name x0 netns "$ext"
ip link set "${id}l" up
ip -n "$ext" addr add 10.83.0.1/24 dev x0
ip -n "$ext" link set x0 up

"$root/mvtapd" --run-dir "$dir/run" --state-dir "$dir/state" >"$dir/mvtapd.log" 2>&1 &
mvtapd_pid=$!
for _ in $(seq 600); do
  [ -S "$dir/run/mvtapd.sock" ] && break
  kill -0 "$mvtapd_pid" 2>/dev/null || { cat "$dir/mvtapd.log" >&2; exit 1; }
  sleep 0.1
done
mvtap=("$root/mvtap" --run-dir "$dir/run")
"${mvtap[@]}" link add link "${id}l" name g0 type macvlan mode bridge netns "$guest" up
ip -n "$guest" addr add 10.83.0.2/24 dev g0
ip -n "$guest" link set g0 up
ip netns exec "$guest" ping -q -c 3 -i 0.2 10.83.0.1 >/dev/null

# One iperf3 run: its received rate in Gbit/s into $gbps.
rate() {
  ip netns exec "$ext" iperf3 -s -1 >/dev/null 2>&1 &
  iperf_pid=$!
  sleep 0.5
  ip netns exec "$guest" iperf3 -c 10.83.0.1 -t "$DURATION" -J >"$dir/iperf.json"
  wait "$iperf_pid" 2>/dev/null || true
  iperf_pid=""
  gbps=$(python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$dir/iperf.json")
}

# SIGTERM ends a capture as Ctrl-C does; SIGINT would not reach it: a non-interactive shell starts
# background commands with SIGINT ignored, and .NET leaves an ignored SIGINT ignored. The capture
# is started as a command, not through a shell function, so $! is the capture itself (its wrapper
# execs it) and the signal reaches it, not a subshell that would leave it running.
# Each case: $gbps, and the capture's summary (stderr) in $dir/CASE.ROUND.txt.
case_none() { rate; : >"$dir/none.$1.txt"; }

case_read() {
  "${mvtap[@]}" capture g0 -w "$dir/g0.pcapng" 2>"$dir/read.$1.txt" &
  capture_pid=$!
  sleep 1
  rate
  kill -TERM "$capture_pid"; wait "$capture_pid" || true; capture_pid=""
  rm -f "$dir/g0.pcapng"
}

# a reader that never reads: a FIFO this script holds open and does not read; drained once the
# capture was told to end, so it can write its last blocks and exit
case_stalled() {
  mkfifo "$dir/stall"
  exec 9<>"$dir/stall"
  "${mvtap[@]}" capture g0 -w - >"$dir/stall" 2>"$dir/stalled.$1.txt" &
  capture_pid=$!
  sleep 1
  rate
  kill -TERM "$capture_pid"
  cat <&9 >/dev/null &
  drain_pid=$!
  wait "$capture_pid" || true; capture_pid=""
  kill "$drain_pid" 2>/dev/null || true; wait "$drain_pid" 2>/dev/null || true; drain_pid=""
  exec 9<&-
  rm -f "$dir/stall"
}

cases=(none read stalled)
declare -A label=([none]="no capture" [read]="capture read into a file" [stalled]="capture whose reader has stopped")
declare -A values
for r in $(seq 1 "$ROUNDS"); do
  for k in 0 1 2; do
    c=${cases[$(( (r - 1 + k) % 3 ))]}
    "case_$c" "$r"
    values[$c]="${values[$c]:-} $gbps"
    printf 'round %d, %-33s %6s Gbit/s %s\n' "$r" "${label[$c]}:" "$gbps" "$(tr '\n' ' ' <"$dir/$c.$r.txt")" >&2
  done
done

# ---- report (stdout) -----------------------------------------------------------------------
median() { python3 -c 'import statistics,sys; print("%.2f" % statistics.median(float(v) for v in sys.argv[1:]))' "$@"; }
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, Linux $(uname -r); $(date -u '+%Y-%m-%d %H:%M UTC')."
echo "Load average at the end of the run: $(cut -d' ' -f1-3 /proc/loadavg). $ROUNDS rounds of the three cases, iperf3 TCP ${DURATION} s each."
echo
echo "| case | median (Gbit/s) | rounds (Gbit/s) |"
echo "|---|---:|---|"
for c in "${cases[@]}"; do
  # shellcheck disable=SC2086 # the values are words
  echo "| ${label[$c]} | $(median ${values[$c]}) |${values[$c]} |"
done
echo
for c in read stalled; do
  for r in $(seq 1 "$ROUNDS"); do echo "- ${label[$c]}, round $r: $(tr '\n' ' ' <"$dir/$c.$r.txt")"; done
done
