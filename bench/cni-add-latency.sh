#!/usr/bin/env bash
# CNI ADD latency of the mvtap plugin against the reference macvlan plugin, in the same run:
# N containers' ADD each (default 50, alternating mvtap and macvlan so both see the same load),
# wall time of each exec as a runtime sees it (plugin start, mvtapd's answer, host-local,
# addresses and routes in the namespace), then the median and the 95th percentile of each.
# Root; builds the plugin (./mvtap cni install) and mvtapd once; everything it makes lives in
# namespaces and a temporary directory of its own and is removed at the end. Hold
# /tmp/mvtap-bench.lock so no other benchmark runs meanwhile; numbers mean something only on a
# quiet machine.
#   sudo bench/cni-add-latency.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
n="${1:-50}"
id="mvb$$"
dir="$(mktemp -d "/tmp/$id-XXXX")"
ext="$id-ext"
mvtapd_pid=""
created=()

cleanup() {
  set +e
  for ns in "${created[@]}"; do ip netns del "$ns" 2>/dev/null; done
  [ -n "$mvtapd_pid" ] && kill "$mvtapd_pid" 2>/dev/null && wait "$mvtapd_pid" 2>/dev/null
  ip netns del "$ext" 2>/dev/null
  ip link del "${id}m" 2>/dev/null
  ip link del "${id}k" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT

exec 8>/tmp/mvtap-bench.lock
flock 8

"$root/mvtap" cni install "$dir/bin" >/dev/null
cp /usr/lib/cni/macvlan /usr/lib/cni/host-local "$dir/bin/"
"$root/mvtapd" --help >/dev/null 2>&1 || true   # builds mvtapd once

# two lowers, one per plugin, both on the same external host's segment
ip netns add "$ext"
ip -n "$ext" link add br0 type bridge
ip -n "$ext" link set br0 up
for p in m k; do
  ip link add "${id}$p" type veth peer name "x$p" netns "$ext"
  ip link set "${id}$p" up
  ip -n "$ext" link set "x$p" master br0 up
done

"$root/mvtapd" --run-dir "$dir/run" --state-dir "$dir/state" >"$dir/mvtapd.log" 2>&1 &
mvtapd_pid=$!
for _ in $(seq 600); do [ -S "$dir/run/mvtapd.sock" ] && break; sleep 0.1; done
[ -S "$dir/run/mvtapd.sock" ] || { cat "$dir/mvtapd.log" >&2; exit 1; }

conf() { # PLUGIN LOWER NAME
  printf '{"cniVersion":"1.0.0","name":"%s","type":"%s","master":"%s","mode":"bridge","runDir":"%s","ipam":{"type":"host-local","subnet":"10.99.0.0/16","dataDir":"%s/ipam"}}' \
    "$3" "$1" "$2" "$dir/run" "$dir"
}

add() { # PLUGIN CONF NS CONTAINER -> microseconds on stdout
  local t0 t1
  t0=${EPOCHREALTIME/./}
  CNI_COMMAND=ADD CNI_CONTAINERID="$4" CNI_NETNS="/run/netns/$3" CNI_IFNAME=eth0 CNI_PATH="$dir/bin" \
    "$dir/bin/$1" <<<"$2" >"$dir/last.json" || { cat "$dir/last.json" >&2; exit 1; }
  t1=${EPOCHREALTIME/./}
  echo $((t1 - t0))
}

mconf="$(conf mvtap "${id}m" benchm)"
kconf="$(conf macvlan "${id}k" benchk)"
: >"$dir/mvtap.us"; : >"$dir/macvlan.us"
for i in $(seq "$n"); do
  for p in mvtap macvlan; do
    ns="$id-$p-$i"; ip netns add "$ns"; created+=("$ns")
  done
  add mvtap "$mconf" "$id-mvtap-$i" "m$i" >>"$dir/mvtap.us"
  add macvlan "$kconf" "$id-macvlan-$i" "k$i" >>"$dir/macvlan.us"
done

stats() { # FILE -> "median p95" in ms
  sort -n "$1" | awk '{ v[NR] = $1 } END {
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    i = int(0.95 * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
    printf "%.1f %.1f\n", m / 1000, v[i] / 1000 }'
}
read -r mm mp < <(stats "$dir/mvtap.us")
read -r km kp < <(stats "$dir/macvlan.us")
echo "CNI ADD latency over $n containers each (wall time of the exec, ms)"
printf '%-22s %8s %8s\n' plugin median p95
printf '%-22s %8s %8s\n' "mvtap (NativeAOT)" "$mm" "$mp"
printf '%-22s %8s %8s\n' "macvlan (reference)" "$km" "$kp"
