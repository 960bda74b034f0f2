#!/usr/bin/env bash
# Forwarding rate through an endpoint while it is captured: iperf3 (TCP, DURATION s, default 10)
# from a macvlan endpoint's namespace to an external host through mvtapd, three times in a row:
# with no capture, with `mvtap capture` read (written to a file), and with one whose reader has
# stopped reading (`mvtap capture -w -` into a FIFO nobody reads: the pipe, then the socket, then the ring fill, and
# the datapath drops captured frames). Capturing nothing must cost nothing measurable; a stalled
# reader must not slow forwarding. Prints one line per case: Gbit/s, and the capture's counts.
# Root; builds mvtapd and mvtap once; everything it makes lives in namespaces and a temporary
# directory of its own and is removed at the end. Holds /tmp/mvtap-bench.lock; numbers mean
# something only on a quiet machine.
#   sudo bench/capture-forwarding.sh [DURATION]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
duration="${1:-10}"
id="mvc$$"
dir="$(mktemp -d "/tmp/$id-XXXX")"
ext="$id-ext" guest="$id-g"
mvtapd_pid="" capture_pid="" iperf_pid=""

cleanup() {
  set +e
  [ -n "$capture_pid" ] && kill -TERM "$capture_pid" 2>/dev/null
  [ -n "$iperf_pid" ] && kill "$iperf_pid" 2>/dev/null
  [ -n "$mvtapd_pid" ] && kill "$mvtapd_pid" 2>/dev/null && wait "$mvtapd_pid" 2>/dev/null
  ip netns del "$guest" 2>/dev/null
  ip netns del "$ext" 2>/dev/null
  ip link del "${id}l" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

exec 8>/tmp/mvtap-bench.lock
flock 8

ip netns add "$ext"
ip netns add "$guest"
ip link add "${id}l" type veth peer name x0 netns "$ext"
ip link set "${id}l" up
ip -n "$ext" addr add 10.83.0.1/24 dev x0
ip -n "$ext" link set x0 up

"$root/mvtapd" --run-dir "$dir/run" --state-dir "$dir/state" >"$dir/mvtapd.log" 2>&1 &
mvtapd_pid=$!
for _ in $(seq 600); do [ -S "$dir/run/mvtapd.sock" ] && break; sleep 0.1; done
mvtap() { "$root/mvtap" --run-dir "$dir/run" "$@"; }
mvtap link add link "${id}l" name g0 type macvlan mode bridge netns "$guest" up
ip -n "$guest" addr add 10.83.0.2/24 dev g0
ip -n "$guest" link set g0 up
ip netns exec "$guest" ping -q -c 3 -i 0.2 10.83.0.1 >/dev/null

rate() {
  ip netns exec "$ext" iperf3 -s -1 >/dev/null 2>&1 &
  iperf_pid=$!
  sleep 0.5
  ip netns exec "$guest" iperf3 -c 10.83.0.1 -t "$duration" -J >"$dir/iperf.json"
  wait "$iperf_pid" 2>/dev/null || true
  iperf_pid=""
  python3 -c 'import json,sys; print("%.2f Gbit/s" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$dir/iperf.json"
}

echo "no capture:       $(rate)"

# SIGTERM ends a capture as Ctrl-C does; SIGINT would not reach it: a non-interactive shell starts
# background commands with SIGINT ignored, and .NET leaves an ignored SIGINT ignored. The captures
# run as commands, not through the mvtap function: `mvtap ... &` backgrounds a subshell, $! is that
# subshell, and SIGTERM would end it and leave the capture running (its summary not yet written).
"$root/mvtap" --run-dir "$dir/run" capture g0 -w "$dir/g0.pcapng" 2>"$dir/read.txt" &
capture_pid=$!
sleep 1
r=$(rate)
kill -TERM "$capture_pid"; wait "$capture_pid" || true; capture_pid=""
echo "reading capture:  $r ($(tr '\n' ' ' <"$dir/read.txt"))"

# a reader that never reads: a FIFO this script holds open and does not read
mkfifo "$dir/stall"
exec 9<>"$dir/stall"
"$root/mvtap" --run-dir "$dir/run" capture g0 -w - >"$dir/stall" 2>"$dir/stalled.txt" &
capture_pid=$!
sleep 1
r=$(rate)
kill -TERM "$capture_pid"
cat <&9 >/dev/null &
drain_pid=$!
wait "$capture_pid" || true; capture_pid=""
kill "$drain_pid" 2>/dev/null || true
echo "stalled capture:  $r ($(tr '\n' ' ' <"$dir/stalled.txt"))"
