#!/usr/bin/env bash
# Soak of mvtapd (issue 10 point 5): MINUTES of traffic, churn and faults, then every frame accounted
# for, counted outside mvtap as well as inside (bench/soak/reckon.py says how), resources flat, and
# the configuration equal to what was acknowledged. Prints tables and a verdict line; exit 1 when a
# check fails (bench/soak/faults.sh holds the churn and the faults). Usage (root): bench/soak/run.sh [minutes (1)]
#
#   namespace H: mvtapd's lowers low0, low1 (veth pairs; IPv6 off, so nothing but mvtap sends there)
#   X0, X1: the external hosts ext0, ext1 (the lowers' peers): a peer.py, an iperf3 server
#   per lower i, eight endpoints in all, two of each kind:
#     mi  macvlan, its NIC eth0 in namespace Mi: a peer.py and an iperf3 TCP client to exti
#     vi  macvtap, vhost-user: port i of one dpdk-testpmd (flowgen: a 64-byte flood to the wire, and
#         it receives everything), guestmem any (testpmd's memory cannot be sealed), spoofchk off
#         (flowgen's frames carry a source MAC of its own)
#     si  macvtap, a peer.py as its -netdev stream client
#     ti  macvtap, a peer.py on its TAP (`mvtap run ti -- peer.py tap`)
#   peers send 64-byte frames: unicast to the external host and to another endpoint, broadcast,
#   multicast (joined on the NICs)
#   churn every 3 s: churn endpoints (macvlan in namespace C, macvtap without a guest) added and
#   deleted, any endpoint set up/down or to another mode
#   every minute (the first at a quarter of the run, at most 40 s in): a lower deleted (its external
#   end with it; both ends set down a second before), re-created 2 s later
#   once, at a third of the run (at least 30 s in): mvtapd SIGKILLed, restarted; testpmd and the TAP peers started
#   again (a virtio-user port and a TAP do not outlive their backend), the stream peers reconnect
# Knobs (environment): SOAK_PPS (unicast frames per second per peer and class, 500; broadcast and
# multicast a tenth), SOAK_TCP (iperf3 -b, 20M), SOAK_SEED, SOAK_KILL=0 / SOAK_LOWER=0 (no SIGKILL /
# no lower deleted: to look at one fault alone), MVTAPD_DLL/MVTAP_DLL (built ones to
# use; default: a Release build into .build/soak), KEEP=1 (keep the work directory).
set -euo pipefail
{ # the whole script is read before it runs: editing it meanwhile cannot change a run
minutes="${1:-1}"
[[ "$minutes" =~ ^[0-9]+$ && "$minutes" -ge 1 ]] || { echo "usage: $0 [minutes]" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "$0: needs root" >&2; exit 2; }
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
secs=$((minutes * 60))
pps="${SOAK_PPS:-500}"
tcp="${SOAK_TCP:-20M}"
seed="${SOAK_SEED:-$$}"
tag="mvs$$"
H="${tag}h" C="${tag}c"
work="$(mktemp -d /tmp/mvtap-soak.XXXXXX)"
mvtapd_pid="" testpmd_pid="" sampler_pid=""
pids=()          # every other process this script started (peers, iperf3, loops); ended by pid
namespaces=()

cleanup() {
  set +e
  [[ -n "$sampler_pid" ]] && kill "$sampler_pid" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [[ -n "$testpmd_pid" ]] && kill -INT "$testpmd_pid" 2>/dev/null
  [[ -n "$mvtapd_pid" ]] && kill -KILL "$mvtapd_pid" 2>/dev/null
  for p in "${pids[@]}" $testpmd_pid $mvtapd_pid; do wait "$p" 2>/dev/null; done
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf /var/run/dpdk/"$tag"*
  if [[ -n "${KEEP:-}" ]]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
trap 'echo "$0: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR

log() { echo "[$(date +%T)] $*" >&2; }
note() { echo "$*" >>"$work/notes.txt"; log "$*"; }

# ---- binaries ----
if [[ -n "${MVTAPD_DLL:-}" && -n "${MVTAP_DLL:-}" ]]; then
  mvtapd_dll="$MVTAPD_DLL" mvtap_dll="$MVTAP_DLL"
else
  log "building mvtapd and mvtap (Release) into .build/soak"
  for p in src/Mvtap.Daemon/Mvtap.Daemon.csproj src/Mvtap.Cli/Mvtap.Cli.csproj; do
    dotnet build -c Release -nologo -v q "$root/$p" -o "$root/.build/soak/bin" >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; exit 1; }
  done
  mvtapd_dll="$root/.build/soak/bin/mvtapd.dll" mvtap_dll="$root/.build/soak/bin/mvtap.dll"
fi
# the system's python3 (a version manager's shim costs a shell or two at every start on a loaded machine)
py=python3; [[ -x /usr/bin/python3 ]] && py=/usr/bin/python3
python3() { "$py" "$@"; }
for t in dpdk-testpmd iperf3 python3; do command -v "$t" >/dev/null || { echo "$0: $t is needed" >&2; exit 2; }; done
cli() { dotnet "$mvtap_dll" --run-dir "$work/run" "$@"; }
acct() { python3 "$here/account.py" "$work" "$@"; }

# `ack link ...`: a command whose effect the configuration check expects when mvtapd acknowledged it
ack() {
  local rc=0
  cli "$@" >>"$work/cli.out" 2>&1 || rc=$?
  if [[ $rc == 0 ]]; then echo "ok $*" >>"$work/commands.log"; echo "$*" >>"$work/acked.log"
  else echo "refused($rc) $*" >>"$work/commands.log"; fi
  return $rc
}
mark_acked() { python3 - "$work/acked-marks.json" "$1" "$(wc -l <"$work/acked.log")" <<'PY'
import json, sys
p, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
try: d = json.load(open(p))
except OSError: d = {}
d[name] = n; json.dump(d, open(p, "w"))
PY
}

# ---- topology ----
newns() {
  ip netns add "$1"; namespaces+=("$1")
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip -n "$1" link set lo up
}
extmac() { echo "02:5a:0$1:00:00:01"; }
epmac() { echo "02:5a:0$1:00:00:0$2"; }   # lower i, endpoint kind 2 m, 3 v, 4 s, 5 t
make_lower() {   # make_lower i: lowi in H, exti in Xi, both up
  local i=$1
  ip -n "$H" link add "low$i" type veth peer name "ext$i" netns "${tag}x$i"
  ip -n "${tag}x$i" link set "ext$i" address "$(extmac "$i")"
  ip -n "${tag}x$i" addr add "10.77.$i.1/24" dev "ext$i"
  ip -n "${tag}x$i" link set "ext$i" up
  ip -n "$H" link set "low$i" up
}
newns "$H"; newns "$C"
for i in 0 1; do newns "${tag}x$i"; newns "${tag}m$i"; make_lower "$i"; done
mkdir -p "$work/run" "$work/state"
: >"$work/commands.log"; : >"$work/acked.log"; : >"$work/windows.txt"; : >"$work/notes.txt"

lower_gone_option=""
dotnet "$mvtapd_dll" --help 2>/dev/null | grep -q -- "--lower-gone" && lower_gone_option=yes
start_mvtapd() {
  dotnet "$mvtapd_dll" --run-dir "$work/run" --state-dir "$work/state" --netns "$H" >>"$work/mvtapd.log" 2>&1 &
  mvtapd_pid=$!
  echo "$mvtapd_pid" >"$work/mvtapd.pid"
  for _ in $(seq 1 600); do
    [[ -S "$work/run/mvtapd.sock" ]] && cli link show >/dev/null 2>&1 && return 0
    kill -0 "$mvtapd_pid" 2>/dev/null || { tail -20 "$work/mvtapd.log" >&2; return 1; }
    sleep 0.1
  done
  echo "mvtapd did not come up" >&2; return 1
}
log "work directory $work, seed $seed; mvtapd $( [[ -n $lower_gone_option ]] && echo "with" || echo "without") --lower-gone"
start_mvtapd

# the eight endpoints
for i in 0 1; do
  ack link add link "low$i" name "m$i" type macvlan mode bridge address "$(epmac "$i" 2)" netns "${tag}m$i" up
  # testpmd's flowgen sends from a MAC of its own (00:01:02:03:04:05), whatever the port's: spoofchk off
  ack link add link "low$i" name "v$i" type macvtap mode bridge address "$(epmac "$i" 3)" guestmem any spoofchk off up
  ack link add link "low$i" name "s$i" type macvtap mode bridge address "$(epmac "$i" 4)" up
  ack link add link "low$i" name "t$i" type macvtap mode bridge address "$(epmac "$i" 5)" up
done
index() { cli -j link show "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["ifindex"])'; }
edges="["
for i in 0 1; do
  ip -n "${tag}m$i" addr add "10.77.$i.2/24" dev "m$i"
  peer_index=$(ip -n "${tag}m$i" -j link show "m$i" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["link_index"])')
  outer=$(ip -n "$H" -j link show | python3 -c "import json,sys; print(next(l['ifname'] for l in json.load(sys.stdin) if l['ifindex'] == $peer_index))")
  edges+="{\"name\":\"m$i\",\"kind\":\"macvlan\",\"ns\":\"${tag}m$i\",\"dev\":\"m$i\",\"hns\":\"$H\",\"outer\":\"$outer\"},"
  edges+="{\"name\":\"v$i\",\"kind\":\"vhost\",\"port\":$i},{\"name\":\"s$i\",\"kind\":\"stream\"},{\"name\":\"t$i\",\"kind\":\"tap\",\"hns\":\"$H\"},"
  edges+="{\"name\":\"low$i\",\"kind\":\"lower\",\"ns\":\"${tag}x$i\",\"dev\":\"ext$i\",\"hns\":\"$H\",\"lowdev\":\"low$i\"},"
done
echo "${edges%,}]" >"$work/edges.json"

# ---- traffic ----
group="01:00:5e:7f:00:01"
classes() {   # classes LOWER OTHER-DST: unicast to the external host and to OTHER-DST, broadcast, multicast
  echo "--send uni,$(extmac "$1"),$pps --send uni2,$2,$pps --send bc,ff:ff:ff:ff:ff:ff,$((pps / 10)) --send mc,$group,$((pps / 10))"
}
declare -A peer_instance
peer_pids=()
start_peer() {   # start_peer NAME [ns NS] MODE TARGET ARGS...: instance N writes peer-NAME.N.json
  local name=$1; shift
  local n=$(( ${peer_instance[$name]:-0} + 1 )); peer_instance[$name]=$n
  "$@" --out "$work/peer-$name.$n.json" >>"$work/peers.log" 2>&1 &
  pids+=("$!"); peer_pids+=("$!"); eval "peer_pid_$name=$!"
}
start_tap_peer() {   # start_tap_peer i: a TAP peer on ti, its TAP recorded for the ring drops
  local i=$1
  start_peer "t$i" dotnet "$mvtap_dll" --run-dir "$work/run" run "t$i" -- "$py" "$here/peer.py" tap --mac "$(epmac "$i" 5)" --id $((50 + i)) $(classes "$i" "$(epmac "$i" 3)")
  local f="$work/peer-t$i.${peer_instance[t$i]}.json"
  local tap=""
  for _ in $(seq 1 600); do
    tap=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ifname"] or "")' "$f" 2>/dev/null || true)
    [[ -n "$tap" ]] && break; sleep 0.1
  done
  [[ -n "$tap" ]] || { echo "the TAP peer of t$i did not start" >&2; tail -5 "$work/peers.log" >&2; return 1; }
  echo "$tap#$(ip netns exec "$H" cat "/sys/class/net/$tap/ifindex")" >>"$work/taps-t$i"
}
testpmd_instance=0
start_testpmd() {
  testpmd_instance=$((testpmd_instance + 1))
  local ia ib
  ia=$(index v0); ib=$(index v1)
  # nice 19: the flood (a core polling) takes little from the others on a shared machine
  nice -n 19 stdbuf -oL dpdk-testpmd --lcores 0@0,1@0 --no-huge -m 256 --no-pci --file-prefix="$tag$testpmd_instance" \
    --vdev "net_virtio_user0,path=$work/run/tap$ia.vhost,queues=1,queue_size=256,mac=$(epmac 0 3)" \
    --vdev "net_virtio_user1,path=$work/run/tap$ib.vhost,queues=1,queue_size=256,mac=$(epmac 1 3)" \
    -- --forward-mode=flowgen --txpkts=64 --burst=32 --nb-cores=1 --total-num-mbufs=4096 --stats-period=1 \
       --eth-peer=0,"$(extmac 0)" --eth-peer=1,"$(extmac 1)" \
    >"$work/testpmd.$testpmd_instance.log" 2>&1 &
  testpmd_pid=$!
}
stop_testpmd() {   # once it printed its counters twice more after nothing came in: its last are its final ones
  [[ -n "$testpmd_pid" ]] || return 0
  local log="$work/testpmd.$testpmd_instance.log" n0
  n0=$(grep -c "NIC statistics" "$log" || true)
  for _ in $(seq 1 120); do (( $(grep -c "NIC statistics" "$log" || true) >= n0 + 4 )) && break; sleep 0.5; done
  kill -INT "$testpmd_pid" 2>/dev/null || true; wait "$testpmd_pid" 2>/dev/null || true; testpmd_pid=""
}
for i in 0 1; do
  start_peer "x$i" ip netns exec "${tag}x$i" "$py" "$here/peer.py" packet "ext$i" --mac "$(extmac "$i")" --id $((10 + i)) --join "$group" \
    --send "uni,$(epmac "$i" 2),$pps" --send "uni2,$(epmac "$i" 4),$pps" --send "bc,ff:ff:ff:ff:ff:ff,$((pps / 10))" --send "mc,$group,$((pps / 10))"
  start_peer "m$i" ip netns exec "${tag}m$i" "$py" "$here/peer.py" packet "m$i" --mac "$(epmac "$i" 2)" --id $((20 + i)) --join "$group" $(classes "$i" "$(epmac "$i" 5)")
  start_peer "s$i" "$py" "$here/peer.py" stream "$work/run/tap$(index "s$i").stream" --mac "$(epmac "$i" 4)" --id $((40 + i)) $(classes "$i" "$(epmac "$i" 2)")
  start_tap_peer "$i"
  ip netns exec "${tag}x$i" iperf3 -s -p 5201 >/dev/null 2>&1 &
  pids+=("$!")
  # TCP from the macvlan endpoint to its external host; started again if a fault ends it
  ( c=""; trap '[[ -n $c ]] && kill -INT $c 2>/dev/null; wait $c 2>/dev/null; exit 0' TERM
    while :; do ip netns exec "${tag}m$i" iperf3 -c "10.77.$i.1" -p 5201 -t 86400 -b "$tcp" -J >>"$work/iperf-m$i.json" 2>/dev/null & c=$!; wait $c || sleep 1; done ) &
  pids+=("$!")
done
start_testpmd

# ---- samplers: mvtapd's RSS and fds; ring drops of its packet sockets ----
churn_live=()
(
  while :; do
    p=$(cat "$work/mvtapd.pid" 2>/dev/null || true)
    if [[ -n "$p" && -d /proc/$p ]]; then
      rss=$(awk '/^VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
      fds=$(ls "/proc/$p/fd" 2>/dev/null | wc -l)
      echo "$(date +%s.%N) $p $rss $fds $(cat "$work/endpoints" 2>/dev/null || echo 8)" >>"$work/samples.txt"
      ip netns exec "$H" "$py" "$here/account.py" "$work" rings "$p" 2>>"$work/rings.err" || true
    fi
    sleep 2
  done
) &
sampler_pid=$!
echo 8 >"$work/endpoints"

source "$here/faults.sh"

# ---- the run ----
t0=$(date +%s)
kill_at=$((secs / 3 > 30 ? t0 + secs / 3 : t0 + 30))
next_lower=$((secs / 4 < 40 ? t0 + secs / 4 : t0 + 40)) lower_k=0 next_churn=$((t0 + 3)) killed=""
log "running for $minutes minute(s)"
while (( $(date +%s) < t0 + secs )); do
  now=$(date +%s)
  if [[ -z $killed && ${SOAK_KILL:-1} != 0 ]] && (( now >= kill_at )); then kill_restart; killed=1; continue; fi
  if (( now >= next_lower && ${SOAK_LOWER:-1} != 0 )); then lower_cycle $((lower_k % 2)); lower_k=$((lower_k + 1)); next_lower=$((next_lower + 60)); continue; fi
  if (( now >= next_churn )); then churn_step; next_churn=$((now + 3)); fi
  sleep 0.5
done
# a short run on a slow machine still has its kill and a lower's deletion
[[ -n $killed || ${SOAK_KILL:-1} == 0 ]] || kill_restart
(( lower_k > 0 || ${SOAK_LOWER:-1} == 0 )) || lower_cycle 0

# ---- the end: senders stop, what is in flight drains, counters are read ----
log "stopping traffic"
for p in "${peer_pids[@]}"; do kill -USR1 "$p" 2>/dev/null || true; done   # stop sending, go on receiving
for p in "${pids[@]}"; do [[ " ${peer_pids[*]} " == *" $p "* ]] || kill "$p" 2>/dev/null || true; done
# bounded wait until every receiver has taken what was in flight: the peers' and testpmd's
# counts (and the interfaces') stop moving
# (the external hosts' peers are left out: they also count testpmd's flood, which goes on until it ends)
settled() { ( python3 -c 'import glob, json; print([json.load(open(p))["got_total"] for p in sorted(glob.glob("'"$work"'/peer-[mst]*.json"))])'
  grep -a "RX-packets" "$work/testpmd.$testpmd_instance.log" | tail -2 ) 2>/dev/null | md5sum || true; }
prev="" 
for _ in $(seq 1 30); do sleep 2; cur=$(settled); [[ "$cur" == "$prev" ]] && break; prev=$cur; done
stop_testpmd
for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()
sleep 2
close_dead_lowers "end"
kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; sampler_pid=""
ip netns exec "$H" "$py" "$here/account.py" "$work" rings "$mvtapd_pid" || true
cli -s -j link show >"$work/mvtap-9-final.json"
cli -d -j link show >"$work/show-final.json"; mark_acked show-final.json
for i in 0 1; do
  python3 - "$work/iperf-m$i.json" >>"$work/iperf-runs.txt" <<'PY' || true
import json, re, sys
text = open(sys.argv[1]).read()
for m in re.finditer(r'"sum_sent":\s*\{[^}]*"bytes":\s*(\d+)', text): print(m.group(1))
PY
done
python3 -c 'import json,sys; b=[int(l) for l in open(sys.argv[1]) if l.strip()]; json.dump({"bytes": sum(b), "runs": len(b)}, open(sys.argv[2], "w"))' \
  "$work/iperf-runs.txt" "$work/iperf-bytes.json" || true
read -r l1 l5 _ </proc/loadavg
echo "Soak of $minutes minute(s), seed $seed, load average $l1 (1 min) $l5 (5 min) at the end; $(nproc) CPUs, Linux $(uname -r)."
rc=0
(cd "$here" && python3 account.py "$work" final) || rc=$?
exit $rc
}
