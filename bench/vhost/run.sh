#!/usr/bin/env bash
# vhost-user throughput: mvtap vs DPDK's own vhost backend, same frontends, same arrangement.
#
#   guest A: dpdk-testpmd net_virtio_user, txonly  ──►  backend  ──►  guest B: dpdk-testpmd net_virtio_user, rxonly
#
# (a) backend = mvtapd: two macvtap endpoints in bridge mode on one lower (a silent veth in a
#     throwaway namespace), guests on <run-dir>/tapN.vhost; frames A→B never leave the daemon.
# (b) backend = a third dpdk-testpmd with two net_vhost ports (iface=A, iface=B) in io forwarding
#     mode (port 0 → port 1): DPDK's own vhost library doing the same job.
# 64- and 1518-byte frames; each value is the median of 3 runs of DURATION seconds; a run's value
# is the median of the receiving testpmd's per-second Rx-pps samples (first 2 s skipped).
# Guest A's lcore is pinned to CPU 0, guest B's to CPU 1; the backend (mvtapd's datapath thread,
# or the DPDK backend's lcore) floats over both, as it has to on a 2-CPU machine.
# Writes a section to BENCHMARKS.md (appended; earlier sections are left alone).
# (--stats-period keeps every testpmd running with stdin at EOF; without it testpmd exits at once.)
# Usage: bench/vhost/run.sh            (root; Debian dpdk-dev for dpdk-testpmd)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
SIZES=${SIZES:-"64 1518"}
work=$(mktemp -d /tmp/mvtap-vhost-bench.XXXXXX)
ns="mvb$$"
daemon_pid=""
pids=""   # every testpmd this script started, ended by pid on exit
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null || true
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  ip netns del "$ns" 2>/dev/null || true
  rm -rf /var/run/dpdk/mvb$$* "$work"
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
APP="--nb-cores=1 --total-num-mbufs=8192 --txd=512 --rxd=512 --stats-period=1 --auto-start"

# guest PREFIX CPU SOCKET MAC MODE SIZE [extra...]: a virtio-user testpmd in the background, output in
# $work/PREFIX.log, its pid in $last (not echoed: a command substitution would make it a grandchild)
guest() {
  local prefix=$1 cpu=$2 sock=$3 mac=$4 mode=$5 size=$6; shift 6
  stdbuf -oL dpdk-testpmd --lcores "0@$cpu,1@$cpu" $EAL --file-prefix="mvb$$$prefix" \
    --vdev "net_virtio_user0,path=$sock,queues=1,mac=$mac" -- $APP --forward-mode="$mode" --txpkts="$size" "$@" \
    > "$work/$prefix.log" 2>&1 &
  last=$!; pids="$pids $last"
}

wait_for() { # FILE PATTERN: bounded wait for a line in a log
  for _ in $(seq 1 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  echo "timed out waiting for '$2' in $1" >&2; tail -20 "$1" >&2; return 1
}

stop() { kill -TERM "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# median Rx-pps of the receiving guest's log, skipping the first 2 samples
rx_pps() { grep -o 'Rx-pps: *[0-9]*' "$1" | awk '{print $2}' | tail -n +3 | sort -n | awk '{a[NR]=$1} END {print (NR ? a[int((NR+1)/2)] : 0)}'; }
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# one measurement: BACKEND-SOCKET-A BACKEND-SOCKET-B SIZE TAG -> the receiver's pps appended to $vals
measure() {
  local sa=$1 sb=$2 size=$3 tag=$4 rx tx
  guest "rx$tag" 1 "$sb" $MAC_B rxonly "$size"; rx=$last
  wait_for "$work/rx$tag.log" "NIC statistics for port 0"
  guest "tx$tag" 0 "$sa" $MAC_A txonly "$size" --eth-peer=0,$MAC_B; tx=$last
  wait_for "$work/tx$tag.log" "NIC statistics for port 0"
  sleep "$DURATION"
  stop "$tx"; stop "$rx"
  vals="$vals $(rx_pps "$work/rx$tag.log")"
  rm -rf /var/run/dpdk/mvb$$rx$tag /var/run/dpdk/mvb$$tx$tag
}

# ---- (a) mvtap -----------------------------------------------------------------------------
ip netns add "$ns"
ip -n "$ns" link add low0 type veth peer name ext0
ip -n "$ns" link set low0 up
ip -n "$ns" link set ext0 up
mkdir -p "$work/run" "$work/state"
$mvtapd --run-dir "$work/run" --state-dir "$work/state" --netns "$ns" > "$work/mvtapd.log" 2>&1 &
daemon_pid=$!
wait_for "$work/mvtapd.log" "mvtapd listening"
$mvtap link add link low0 name bva type macvtap mode bridge address $MAC_A up
$mvtap link add link low0 name bvb type macvtap mode bridge address $MAC_B up
ia=$($mvtap -j link show bva | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])')
ib=$($mvtap -j link show bvb | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])')

declare -A MV DP
for size in $SIZES; do
  vals=""
  for r in $(seq 1 "$RUNS"); do measure "$work/run/tap$ia.vhost" "$work/run/tap$ib.vhost" "$size" "m$size$r"; done
  MV[$size]=$(echo "$vals" | median); echo "mvtap $size B: runs$vals -> median ${MV[$size]} pps" >&2
done
kill "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=""

# ---- (b) DPDK net_vhost --------------------------------------------------------------------
for size in $SIZES; do
  vals=""
  for r in $(seq 1 "$RUNS"); do
    rm -f "$work/va.sock" "$work/vb.sock"
    stdbuf -oL dpdk-testpmd --lcores '0@(0,1),1@(0,1)' $EAL --file-prefix="mvb$$be$size$r" \
      --vdev "net_vhost0,iface=$work/va.sock,queues=1" --vdev "net_vhost1,iface=$work/vb.sock,queues=1" \
      -- --nb-cores=1 --total-num-mbufs=16384 --forward-mode=io --auto-start --stats-period=1 > "$work/be$size$r.log" 2>&1 &
    be=$!; pids="$pids $be"
    for _ in $(seq 1 300); do [ -S "$work/va.sock" ] && [ -S "$work/vb.sock" ] && break; sleep 0.1; done
    measure "$work/va.sock" "$work/vb.sock" "$size" "d$size$r"
    stop "$be"; rm -rf /var/run/dpdk/mvb$$be$size$r
  done
  DP[$size]=$(echo "$vals" | median); echo "dpdk  $size B: runs$vals -> median ${DP[$size]} pps" >&2
done

# ---- report --------------------------------------------------------------------------------
load=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo
  echo "## vhost-user: mvtap vs DPDK net_vhost (issue 5)"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, Linux $(uname -r);"
  echo "$(dpdk-testpmd --version 2>/dev/null | head -1 || true)DPDK $(dpkg-query -W -f='${Version}' dpdk-dev 2>/dev/null), .NET $(dotnet --version), mvtapd Release build."
  echo "Load average when the report was written: $load (other engineers' builds and tests may share the CPUs)."
  echo
  echo "Arrangement (\`bench/vhost/run.sh\`): testpmd virtio-user txonly (CPU 0) → backend → testpmd virtio-user"
  echo "rxonly (CPU 1), no hugepages, 1 queue pair. Backend (a): mvtapd, two macvtap endpoints in bridge mode,"
  echo "tapN.vhost; (b): a third testpmd with two \`net_vhost\` ports in io forwarding. Value: frames per second"
  echo "received by the rxonly guest, median of $RUNS runs of ${DURATION} s (each run: median of its per-second samples)."
  echo
  echo "| frame | mvtap (pps) | DPDK net_vhost (pps) | mvtap/DPDK |"
  echo "|---:|---:|---:|---:|"
  for size in $SIZES; do
    ratio=$(python3 -c "print(f'{${MV[$size]}/${DP[$size]}*100:.0f} %' if ${DP[$size]} else 'n/a')")
    echo "| $size B | ${MV[$size]} | ${DP[$size]} | $ratio |"
  done
  echo
  echo "Goal: at least 50 % of DPDK at 64 bytes."
} >> BENCHMARKS.md
tail -16 BENCHMARKS.md
