#!/usr/bin/env bash
# End-to-end benchmark of the Linux datapath (issue 3): the same topology built twice in one run,
# once with the kernel's macvlan and once with mvtap's datapath, then measured the same way.
#
#   ext namespace: ext0 (10.88.0.1), the external host   <-veth->   host namespace: low0, the lower
#   endpoint namespaces A (10.88.0.2) and B (10.88.0.3): eth0, a bridge-mode endpoint on low0
#     kernel: eth0 is a macvlan of low0;  mvtap: eth0 is the inner end of a veth pair that
#     bench/e2e/Mvtap.E2eHost (mvtap's DatapathSwitch, one datapath thread) forwards for.
#
# Measured (iperf3, each 10 s, median of 3):
#   TCP endpoint->endpoint (A->B, bridge), TCP endpoint->external (A->ext),
#   64-byte frames endpoint->external, two ways: iperf3 UDP with 18-byte payloads (14+20+8+18 = 60
#     bytes, 64 on a wire with FCS), unlimited rate, datagrams per second the receiver got (sent -
#     lost); iperf3 sends one datagram per system call and is the bottleneck of that row, so also
#     bench/e2e/Mvtap.E2ePps: 60-byte frames sent with AF_PACKET sendmmsg (64 per call) from the
#     endpoint's eth0 to ext0's MAC, counted on ext0 with a TPACKET_V3 ring (frames per second
#     between the first and the last arrival).
#   CPU seconds per GB, two ways, over the TCP endpoint->external runs (sum of the 3 runs' CPU over
#   the sum of their bytes):
#     "forwarder": mvtap = utime+stime of the E2eHost process (/proc/<pid>/stat; all its threads);
#                  kernel = softirq time of all CPUs (/proc/stat), where the kernel's macvlan runs,
#                  which also holds the TCP receive work of the namespaces' stacks: an upper bound.
#     "whole machine": busy time of all CPUs (/proc/stat: user+nice+system+irq+softirq+steal), which
#                  includes iperf3 and both TCP stacks: the comparable total cost.
# Writes the results into BENCHMARKS.md, replacing only its "## Linux datapath (issue 3)" section.
# Needs root, iperf3 and the .NET SDK. Usage: bench/e2e/run.sh [seconds-per-run (10)] [runs (3)]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
secs="${1:-10}"
runs="${2:-3}"
tag="mvb$$"
out="$root/.build/e2e-bench"
mkdir -p "$out"
hostpid=""
namespaces=()
iperfs=()

cleanup() {
  for p in "${iperfs[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -n "$hostpid" ]]; then kill -TERM "$hostpid" 2>/dev/null || true; wait "$hostpid" 2>/dev/null || true; fi
  for ns in "${namespaces[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap cleanup EXIT

# The machine's other load distorts every number here (the forwarders compete for 2 cores): record it.
{ read -r l1 _ </proc/loadavg; echo "load average $l1 when the run started; busiest processes: $(ps -eo pcpu=,comm= --sort=-pcpu | head -3 | awk '{printf "%s%s %s%%", (NR > 1 ? ", " : ""), $2, $1}')"; } >"$out/load.txt"
command -v iperf3 >/dev/null || { echo "iperf3 is needed (apt-get install iperf3)" >&2; exit 1; }
dotnet build -c Release -nologo -v quiet bench/e2e/Mvtap.E2eHost -o "$out/host" >/dev/null
dotnet build -c Release -nologo -v quiet bench/e2e/Mvtap.E2ePps -o "$out/pps" >/dev/null

newns() { ip netns add "$1"; namespaces+=("$1"); ip -n "$1" link set lo up; }

# topology <prefix>: namespaces <prefix>h (lower), <prefix>x (ext), <prefix>a, <prefix>b
topology() {
  local p="$1"
  for s in h x a b; do newns "$p$s"; done
  ip -n "${p}h" link add low0 type veth peer name ext0 netns "${p}x"
  ip -n "${p}h" link set low0 up
  ip -n "${p}x" addr add 10.88.0.1/24 dev ext0
  ip -n "${p}x" link set ext0 up
}

address() { ip -n "$1" addr add "$2/24" dev eth0; ip -n "$1" link set eth0 up; }

warm() {
  local p="$1"
  for pair in "a 10.88.0.1" "a 10.88.0.3" "b 10.88.0.1" "x 10.88.0.2"; do
    set -- $pair
    ip netns exec "$p$1" ping -c 3 -i 0.2 -W 1 -q "$2" >/dev/null || { echo "no connectivity $p$1 -> $2" >&2; exit 1; }
  done
}

cpu_busy() { awk '/^cpu /{print ($2+$3+$4+$7+$8+$9)/100; exit}' /proc/stat; }   # seconds, all CPUs (USER_HZ 100)
cpu_softirq() { awk '/^cpu /{print $8/100; exit}' /proc/stat; }
cpu_proc() { [[ -n "$1" ]] && awk '{print ($14+$15)/100}' "/proc/$1/stat" || echo 0; }

# iperf3_run <prefix> <client-ns-suffix> <server-ns-suffix> <server-ip> <name> <extra args...>
# prints: value bytes busy softirq proc
iperf3_run() {
  local p="$1" cns="$2" sns="$3" ip="$4" name="$5"; shift 5
  ip netns exec "$p$sns" iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
  local spid=$!
  iperfs+=("$spid")
  sleep 0.5
  local b0 s0 c0 b1 s1 c1
  b0=$(cpu_busy); s0=$(cpu_softirq); c0=$(cpu_proc "$hostpid")
  ip netns exec "$p$cns" iperf3 -c "$ip" -p 5301 -t "$secs" -J "$@" >"$out/$name.json"
  b1=$(cpu_busy); s1=$(cpu_softirq); c1=$(cpu_proc "$hostpid")
  wait "$spid" 2>/dev/null || true
  python3 - "$out/$name.json" "$b0" "$b1" "$s0" "$s1" "$c0" "$c1" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
e = j["end"]
b0, b1, s0, s1, c0, c1 = map(float, sys.argv[2:8])
if j["start"]["test_start"]["protocol"] == "TCP":   # receiver's bit rate and bytes
    value, nbytes = e["sum_received"]["bits_per_second"], e["sum_received"]["bytes"]
else:                                               # UDP: datagrams the receiver got, per second
    r = e["sum_received"] if "sum_received" in e else e["sum"]
    value, nbytes = (r["packets"] - r["lost_packets"]) / r["seconds"], r["bytes"]
print(value, nbytes, b1 - b0, s1 - s0, c1 - c0)
PY
}

# frames64_run <prefix> <name>: AF_PACKET 60-byte frames eth0 (A) -> ext0; prints: value bytes busy softirq proc
frames64_run() {
  local p="$1" name="$2" dst b0 s0 c0 b1 s1 c1
  dst=$(ip -n "${p}x" -j link show ext0 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["address"])')
  ip netns exec "${p}x" "$out/pps/Mvtap.E2ePps" recv ext0 "$((secs + 2))" >"$out/$name.recv" &
  local rpid=$!
  iperfs+=("$rpid")
  sleep 0.7
  local perfpid=""
  # MVTAP_PERF=1: profile the mvtap process during its small-frame runs (perf record -g), for "where does time go"
  if [[ "${MVTAP_PERF:-0}" == 1 && -n "$hostpid" ]]; then
    perf record -q -F 2999 -g -p "$hostpid" -o "$out/$name.perf" -- sleep "$secs" >/dev/null 2>&1 &
    perfpid=$!
  fi
  b0=$(cpu_busy); s0=$(cpu_softirq); c0=$(cpu_proc "$hostpid")
  ip netns exec "${p}a" "$out/pps/Mvtap.E2ePps" send eth0 "$dst" "$secs" >"$out/$name.send"
  [[ -n "$perfpid" ]] && wait "$perfpid"
  b1=$(cpu_busy); s1=$(cpu_softirq); c1=$(cpu_proc "$hostpid")
  wait "$rpid" || true
  read -r frames rate <"$out/$name.recv"
  awk -v r="$rate" -v n="$frames" -v b0="$b0" -v b1="$b1" -v s0="$s0" -v s1="$s1" -v c0="$c0" -v c1="$c1" \
    'BEGIN { print r, n * 60, b1 - b0, s1 - s0, c1 - c0 }'
}

# measure <prefix> <label>: fills $out/<label>.txt with "metric median" lines
measure() {
  local p="$1" label="$2" i
  : >"$out/$label.runs"
  for i in $(seq 1 "$runs"); do
    echo "tcp_ep_ep $(iperf3_run "$p" a b 10.88.0.3 "$label-tcp-ep-ep-$i")" >>"$out/$label.runs"
    echo "tcp_ep_ext $(iperf3_run "$p" a x 10.88.0.1 "$label-tcp-ep-ext-$i")" >>"$out/$label.runs"
    echo "udp64_ep_ext $(iperf3_run "$p" a x 10.88.0.1 "$label-udp64-$i" -u -l 18 -b 0)" >>"$out/$label.runs"
    echo "frames64_ep_ext $(frames64_run "$p" "$label-frames64-$i")" >>"$out/$label.runs"
  done
  cat "$out/$label.runs" >&2
}

echo "== kernel macvlan" >&2
k="${tag}k"
topology "$k"
for e in a b; do
  ip -n "${k}h" link add link low0 name "mv$e" type macvlan mode bridge
  ip -n "${k}h" link set "mv$e" netns "$k$e"
  ip -n "$k$e" link set "mv$e" name eth0
done
address "${k}a" 10.88.0.2; address "${k}b" 10.88.0.3
warm "$k"
measure "$k" kernel
for ns in "${k}h" "${k}x" "${k}a" "${k}b"; do ip netns del "$ns"; done

echo "== mvtap" >&2
m="${tag}m"
topology "$m"
"$out/host/Mvtap.E2eHost" "${m}h" low0 bridge "${m}a" "${m}b" >"$out/host.out" 2>"$out/host.err" &
hostpid=$!
for _ in $(seq 1 100); do grep -q ready "$out/host.out" 2>/dev/null && break; kill -0 "$hostpid" || { cat "$out/host.err" >&2; exit 1; }; sleep 0.1; done
grep -q ready "$out/host.out" || { echo "mvtap host did not get ready" >&2; exit 1; }
address "${m}a" 10.88.0.2; address "${m}b" 10.88.0.3
warm "$m"
measure "$m" mvtap
kill -TERM "$hostpid"; wait "$hostpid" || true; hostpid=""
cat "$out/host.err" >&2

python3 - "$out/kernel.runs" "$out/mvtap.runs" "$root/BENCHMARKS.md" "$secs" "$runs" "$out/load.txt" <<'PY'
import re, statistics, subprocess, sys
def load(path):
    rows = {}
    for line in open(path):
        name, value, nbytes, busy, soft, proc = line.split()
        rows.setdefault(name, []).append((float(value), float(nbytes), float(busy), float(soft), float(proc)))
    return rows
k, m = load(sys.argv[1]), load(sys.argv[2])
bench, secs, runs = sys.argv[3], sys.argv[4], sys.argv[5]
load = open(sys.argv[6]).read().strip()
med = lambda rows, n: statistics.median(r[0] for r in rows[n])
def per_gb(rows, n, col):
    return sum(r[col] for r in rows[n]) / (sum(r[1] for r in rows[n]) / 1e9)
def fmt_rate(v, unit):
    return f"{v / 1e9:.2f} Gbit/s" if unit == "bps" else f"{v / 1e6:.3f} Mpps"
lines = []
for name, label, unit in [("tcp_ep_ep", "TCP endpoint→endpoint (bridge)", "bps"),
                          ("tcp_ep_ext", "TCP endpoint→external", "bps"),
                          ("udp64_ep_ext", "64-byte UDP frames endpoint→external, iperf3 -u -l 18 -b 0 (received; iperf3-bound)", "pps"),
                          ("frames64_ep_ext", "64-byte frames endpoint→external, AF_PACKET sendmmsg (received on ext0)", "pps")]:
    kv, mv = med(k, name), med(m, name)
    lines.append(f"| {label} | {fmt_rate(kv, unit)} | {fmt_rate(mv, unit)} | {mv / kv:.2f} |")
kf, mf = per_gb(k, "tcp_ep_ext", 3), per_gb(m, "tcp_ep_ext", 4)
kw, mw = per_gb(k, "tcp_ep_ext", 2), per_gb(m, "tcp_ep_ext", 2)
lines.append(f"| CPU s/GB, forwarder (TCP endpoint→external; kernel: all softirq time, mvtap: its process) | {kf:.2f} | {mf:.2f} | {mf / kf:.2f} |")
lines.append(f"| CPU s/GB, whole machine (TCP endpoint→external, all CPUs busy) | {kw:.2f} | {mw:.2f} | {mw / kw:.2f} |")
kernel = subprocess.run(["uname", "-r"], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ncpu = sum(1 for l in open("/proc/cpuinfo") if l.startswith("processor"))
section = f"""## Linux datapath (issue 3)

Machine: {cpu}, {ncpu} cores, Linux {kernel}; iperf3 3.12. Both topologies built in one run of
`bench/e2e/run.sh` (see its header for the topology and the method): a veth lower whose peer is
the external host, two bridge-mode endpoints in their own namespaces, once with the kernel's
macvlan and once with mvtap's datapath (bench/e2e/Mvtap.E2eHost: DatapathSwitch, veth-attached
endpoints, one datapath thread). Each value is the median of {runs} iperf3 runs of {secs} s; CPU per
GB sums the {runs} TCP endpoint→external runs. "Forwarder" CPU for the kernel is all softirq time
(macvlan plus the namespaces' TCP receive work: an upper bound for macvlan); for mvtap it is the
E2eHost process's utime+stime. "Whole machine" counts every CPU's busy time (iperf3 and both TCP
stacks included); it is the comparable total only on an otherwise idle machine: with other load
both cores are busy all the time and the row measures nothing but throughput.

Conditions: {load}.

Command: `bench/e2e/run.sh`

| measurement | kernel macvlan | mvtap | mvtap/kernel |
|---|---:|---:|---:|
""" + "\n".join(lines) + "\n\nGoals: TCP at least 50% of the kernel's, 64-byte packets at least 50%.\n"
text = open(bench).read()
start = text.find("## Linux datapath (issue 3)")
if start < 0:
    text = text.rstrip("\n") + "\n\n" + section
else:
    nxt = re.search(r"^## ", text[start + 3:], re.M)
    end = start + 3 + nxt.start() if nxt else len(text)
    text = text[:start] + section + ("\n" + text[end:] if nxt else "")
open(bench, "w").write(text)
print(section)
PY
