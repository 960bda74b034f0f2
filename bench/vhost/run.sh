#!/usr/bin/env bash
# vhost-user throughput: mvtap vs DPDK's own vhost backend, the same frontend, the same loop, on
# a 2-CPU machine with one busy thread per CPU (the earlier arrangement had three busy pollers on
# two CPUs and measured the scheduler, not the backends).
#
#   CPU 0: ONE dpdk-testpmd frontend, two net_virtio_user ports, one forwarding lcore, io mode,
#          --tx-first: each port sends one burst, then every frame loops for ever:
#            port 0 ──► backend endpoint A ──► endpoint B ──► port 1 ──► testpmd ──► port 0 ...
#            (and the other way for port 1's first burst)
#   CPU 1: the backend under test, alone:
#     (a) mvtapd (the whole process pinned): two macvtap endpoints in bridge mode on one silent
#         lower (a veth in a throwaway namespace); frames A↔B never leave its datapath thread;
#     (b) a second dpdk-testpmd with two net_vhost ports in io forwarding (port 0 ↔ port 1),
#         one forwarding lcore: DPDK's vhost library doing the same job.
#
# The frames in flight are fixed (2 ports × BURST); a frame dropped anywhere leaves the loop for
# good, so a run whose rate decays shows drops. A run's value: frames per second received by the
# frontend (port 0 + port 1, i.e. frames that crossed the backend), median of the per-second
# samples after the first 2; the table gives the median of RUNS runs. 64 and 1518 bytes.
# Prints the results (markdown) on stdout; BENCHMARKS.md is edited by hand with them.
# (--stats-period keeps testpmd running with stdin at EOF; without it testpmd exits at once.)
# Usage (root; Debian dpdk-dev for dpdk-testpmd), serialised with other benchmarks on the machine:
#   flock /tmp/mvtap-bench.lock bench/vhost/run.sh
# Knobs (environment): DURATION RUNS SIZES BURST FRONT_CPU BACK_CPU; KEEP=1 keeps the logs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
SIZES=${SIZES:-"64 1518"}
BURST=${BURST:-256}
FRONT_CPU=${FRONT_CPU:-0}
BACK_CPU=${BACK_CPU:-1}
work=$(mktemp -d /tmp/mvtap-vhost-bench.XXXXXX)
ns="mvb$$"
daemon_pid=""
pids=""   # every testpmd this script started, ended by pid on exit
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf /var/run/dpdk/mvb$$*
  if [ -n "${KEEP:-}" ]; then echo "logs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

command -v dpdk-testpmd >/dev/null || { echo "dpdk-testpmd not found (apt-get install dpdk-dev)" >&2; exit 1; }
dotnet build -c Release -nologo -v q src/Mvtap.Daemon/Mvtap.Daemon.csproj >/dev/null
dotnet build -c Release -nologo -v q src/Mvtap.Cli/Mvtap.Cli.csproj >/dev/null
mvtapd="dotnet $root/src/Mvtap.Daemon/bin/Release/net10.0/mvtapd.dll"
mvtap="dotnet $root/src/Mvtap.Cli/bin/Release/net10.0/mvtap.dll --run-dir $work/run"

MAC_A=02:62:00:00:00:0a
MAC_B=02:62:00:00:00:0b
EAL="--no-huge -m 512 --no-pci --no-shconf"
QUEUE="queues=1,queue_size=1024"

wait_for() { # FILE PATTERN: bounded wait for a line in a log
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; tail -20 "$1" >&2; return 1
}

stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# per-second sums of Rx-pps over the two ports (testpmd prints port 0 then port 1), first 2 skipped, median
loop_pps() {
  grep -o 'Rx-pps: *[0-9]*' "$1" | awk '{print $2}' | paste - - | awk '{print $1 + $2}' \
    | tail -n +3 | sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'
}
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# one measurement: SOCKET-A SOCKET-B SIZE TAG -> the loop's pps appended to $vals, the frontend's
# final accumulated counters to $work/TAG.end
measure() {
  local sa=$1 sb=$2 size=$3 tag=$4 fe
  stdbuf -oL dpdk-testpmd --lcores "0@$FRONT_CPU,1@$FRONT_CPU" $EAL --file-prefix="mvb$$$tag" \
    --vdev "net_virtio_user0,path=$sa,$QUEUE,mac=$MAC_A" --vdev "net_virtio_user1,path=$sb,$QUEUE,mac=$MAC_B" \
    -- --nb-cores=1 --forward-mode=io --tx-first --burst="$BURST" --txpkts="$size" \
       --eth-peer=0,$MAC_B --eth-peer=1,$MAC_A --txd=1024 --rxd=1024 --total-num-mbufs=8192 --stats-period=1 \
    > "$work/$tag.log" 2>&1 &
  fe=$!; pids="$pids $fe"
  wait_for "$work/$tag.log" "NIC statistics for port 1"
  sleep "$DURATION"
  stop "$fe"
  vals="$vals $(loop_pps "$work/$tag.log")"
  grep -E "RX-packets|TX-packets|RX-dropped|TX-dropped" "$work/$tag.log" | tail -4 > "$work/$tag.end" || true
  rm -rf /var/run/dpdk/mvb$$$tag
}

# ---- (a) mvtap -----------------------------------------------------------------------------
ip netns add "$ns"
ip -n "$ns" link add low0 type veth peer name ext0
ip -n "$ns" link set low0 up
ip -n "$ns" link set ext0 up
mkdir -p "$work/run" "$work/state"
taskset -c "$BACK_CPU" $mvtapd --run-dir "$work/run" --state-dir "$work/state" --netns "$ns" > "$work/mvtapd.log" 2>&1 &
daemon_pid=$!
wait_for "$work/mvtapd.log" "mvtapd listening"
$mvtap link add link low0 name bva type macvtap mode bridge address $MAC_A guestmem any up   # virtio-user memory is unsealed
$mvtap link add link low0 name bvb type macvtap mode bridge address $MAC_B guestmem any up
ia=$($mvtap -j link show bva | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])')
ib=$($mvtap -j link show bvb | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])')

declare -A MV DP MVRUNS DPRUNS
for size in $SIZES; do
  vals=""
  for r in $(seq 1 "$RUNS"); do measure "$work/run/tap$ia.vhost" "$work/run/tap$ib.vhost" "$size" "m$size$r"; done
  MV[$size]=$(echo "$vals" | median); MVRUNS[$size]="$vals"; echo "mvtap $size B: runs$vals -> median ${MV[$size]} pps" >&2
done
mvstats=$($mvtap -s link show bva; $mvtap -s link show bvb)
kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=""

# ---- (b) DPDK net_vhost --------------------------------------------------------------------
for size in $SIZES; do
  vals=""
  for r in $(seq 1 "$RUNS"); do
    rm -f "$work/va.sock" "$work/vb.sock"
    stdbuf -oL dpdk-testpmd --lcores "0@$BACK_CPU,1@$BACK_CPU" $EAL --file-prefix="mvb$$be$size$r" \
      --vdev "net_vhost0,iface=$work/va.sock,queues=1" --vdev "net_vhost1,iface=$work/vb.sock,queues=1" \
      -- --nb-cores=1 --total-num-mbufs=16384 --txd=1024 --rxd=1024 --forward-mode=io --auto-start --stats-period=1 \
      > "$work/be$size$r.log" 2>&1 &
    be=$!; pids="$pids $be"
    for _ in $(seq 1 300); do [ -S "$work/va.sock" ] && [ -S "$work/vb.sock" ] && break; sleep 0.1; done
    measure "$work/va.sock" "$work/vb.sock" "$size" "d$size$r"
    stop "$be"; rm -rf /var/run/dpdk/mvb$$be$size$r
  done
  DP[$size]=$(echo "$vals" | median); DPRUNS[$size]="$vals"; echo "dpdk  $size B: runs$vals -> median ${DP[$size]} pps" >&2
done

# ---- report (stdout) -----------------------------------------------------------------------
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, Linux $(uname -r);"
echo "DPDK $(dpkg-query -W -f='${Version}' dpdk-dev 2>/dev/null), .NET $(dotnet --version), mvtapd Release build; $(date -u '+%Y-%m-%d %H:%M UTC')."
echo "Load average at the end of the run: $load. Burst $BURST (2 × $BURST frames in flight), $RUNS runs of ${DURATION} s."
echo
echo "| frame | mvtap (pps) | DPDK net_vhost (pps) | mvtap/DPDK | mvtap runs | DPDK runs |"
echo "|---:|---:|---:|---:|---|---|"
for size in $SIZES; do
  ratio=$(python3 -c "print(f'{${MV[$size]}/${DP[$size]}*100:.0f} %' if ${DP[$size]} else 'n/a')")
  echo "| $size B | ${MV[$size]} | ${DP[$size]} | $ratio |${MVRUNS[$size]} |${DPRUNS[$size]} |"
done
echo
echo "mvtapd endpoint counters after the mvtap runs:"
echo '```'
echo "$mvstats"
echo '```'
