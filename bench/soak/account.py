#!/usr/bin/env python3
"""The soak's books (bench/soak/run.sh): counters read outside mvtap, kept across the deaths of what
holds them, and the final reckoning.

  account.py WORK snapshot NAME      cumulative outside counts per edge now -> WORK/snap/NAME.json
  account.py WORK retire KEY NS DEV  adds DEV's kernel counters (in namespace NS) to KEY's retired sum,
                                     before DEV goes away (a lower deleted, a TAP closed)
  account.py WORK rings PID          (run inside mvtapd's lower namespace) reads and adds up the
                                     kernel's ring drops (PACKET_STATISTICS) of mvtapd's packet
                                     sockets, per interface, through pidfd_getfd
  account.py WORK final              the table, the checks and the verdict (exit 1 when one fails)

An edge is one outside end of mvtap: an endpoint (its NIC, testpmd port, stream client or TAP
peer) or a lower (its external host). WORK/edges.json says where each one's outside counters are."""
import ctypes, glob, json, os, re, subprocess, sys

WORK = sys.argv[1]


def load(path, default=None):
    try:
        with open(path) as f: return json.load(f)
    except (OSError, ValueError):
        return default


def save(path, data):
    with open(path + ".tmp", "w") as f: json.dump(data, f, indent=1)
    os.replace(path + ".tmp", path)


def iface(ns, dev):
    """rtnl_link_stats64 of DEV in NS, or None when it does not exist."""
    r = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show", "dev", dev], capture_output=True, text=True)
    if r.returncode != 0: return None
    st = json.loads(r.stdout)[0]["stats64"]
    return {"rx": st["rx"]["packets"], "tx": st["tx"]["packets"], "rx_dropped": st["rx"]["dropped"], "tx_dropped": st["tx"]["dropped"]}


def iface_total(key, ns, dev):
    """Counters of DEV now plus those of its earlier incarnations (retired under KEY)."""
    retired = load(f"{WORK}/retired.json", {}).get(key, {})
    now = iface(ns, dev) or {}
    return {k: retired.get(k, 0) + now.get(k, 0) for k in ("rx", "tx", "rx_dropped", "tx_dropped")}


def peers(name):
    """Sum of every instance of peer NAME (peer-NAME.N.json)."""
    total = {"sent": 0, "got": 0, "sock_drops": 0, "classes_sent": {}, "classes_got": {}, "ifname": None}
    for path in sorted(glob.glob(f"{WORK}/peer-{name}.*.json")):
        p = load(path)
        if not p: continue
        total["sent"] += p["sent_total"]; total["got"] += p["got_total"]; total["sock_drops"] += p["sock_drops"]
        total["ifname"] = p["ifname"]
        for k, v in p["sent"].items(): total["classes_sent"][k] = total["classes_sent"].get(k, 0) + v
        for k, v in p["got"].items(): total["classes_got"][k] = total["classes_got"].get(k, 0) + v
    return total


def testpmd(port):
    """Frames testpmd's PORT sent and received, summed over its instances. Received: the port's own
    (NIC) counter in the last block the instance printed (every second; it also counts the frames
    testpmd discards unread when forwarding starts; nothing arrives in the seconds before an
    instance ends). Sent: the forwarding engine's final count when the instance ended (the same
    as the NIC's, and exact: it keeps sending to the end), else the NIC's last block."""
    sent = got = 0
    for path in sorted(glob.glob(f"{WORK}/testpmd.*.log")):
        text = open(path, errors="replace").read()
        blocks = re.findall(rf"NIC statistics for port {port}\s*#+\s*RX-packets: (\d+).*?TX-packets: (\d+)", text, re.S)
        final = re.search(rf"Forward statistics for port {port}\s*-+\s*RX-packets: \d+.*?TX-packets: (\d+)", text, re.S)
        if blocks: got += int(blocks[-1][0])
        if final: sent += int(final.group(1))
        elif blocks: sent += int(blocks[-1][1])
    return sent, got


def outside():
    """Per edge: frames the outside sent into mvtap, frames it got from mvtap, and the kernel's drops
    on the way (in: before mvtap's socket; out: after it)."""
    edges, res = load(f"{WORK}/edges.json"), {}
    for e in edges:
        name, kind = e["name"], e["kind"]
        if kind == "macvlan":   # the NIC in its namespace is a veth; its peer (outer end) is mvtapd's
            nic = iface_total(name, e["ns"], e["dev"])
            outer = iface_total(name + "/outer", e["hns"], e["outer"])
            # a frame the veth drops is in tx_dropped, not tx_packets: sent is both
            res[name] = {"sent": nic["tx"] + nic["tx_dropped"], "got": nic["rx"], "kin": nic["tx_dropped"], "kout": outer["tx_dropped"],
                         "ring": None}
        elif kind == "lower":   # the external host's end of the lower's veth pair
            ext = iface_total(name, e["ns"], e["dev"])
            low = iface_total(name + "/lower", e["hns"], e["lowdev"])
            res[name] = {"sent": ext["tx"] + ext["tx_dropped"], "got": ext["rx"], "kin": ext["tx_dropped"], "kout": low["tx_dropped"],
                         "ring": None}
        elif kind == "vhost":
            s, g = testpmd(e["port"])
            res[name] = {"sent": s, "got": g, "kin": 0, "kout": 0, "ring": None}
        elif kind == "stream":
            p = peers(name)
            res[name] = {"sent": p["sent"], "got": p["got"], "kin": 0, "kout": 0, "ring": None}
        elif kind == "tap":     # the peer writes and reads the TAP's queue; the TAP lives in mvtapd's namespace
            p = peers(name)
            retired = load(f"{WORK}/retired.json", {}).get(name, {})
            now = iface(e["hns"], p["ifname"]) if p["ifname"] else None
            t = {k: retired.get(k, 0) + (now or {}).get(k, 0) for k in ("rx_dropped", "tx_dropped")}
            res[name] = {"sent": p["sent"], "got": p["got"], "kin": t["rx_dropped"], "kout": t["tx_dropped"],
                         "ring": None}
    return res


def cmd_snapshot(name):
    os.makedirs(f"{WORK}/snap", exist_ok=True)
    save(f"{WORK}/snap/{name}.json", outside())


def cmd_retire(key, ns, dev):
    now = iface(ns, dev)
    if now is None: return
    retired = load(f"{WORK}/retired.json", {})
    old = retired.get(key, {})
    retired[key] = {k: old.get(k, 0) + v for k, v in now.items()}
    save(f"{WORK}/retired.json", retired)


def cmd_rings(pid):
    """Adds the ring drops of mvtapd's packet sockets to WORK/rings.json by interface (NAME#IFINDEX). Reading
    PACKET_STATISTICS resets it; mvtapd does not read it itself (checked: nothing in src/ calls it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = libc.syscall(434, int(pid), 0)              # pidfd_open
    if pidfd < 0: return
    names = {}
    for dev in os.listdir("/sys/class/net"):
        try: names[int(open(f"/sys/class/net/{dev}/ifindex").read())] = f"{dev}#{int(open(f'/sys/class/net/{dev}/ifindex').read())}"
        except (OSError, ValueError): pass
    inode_if = {}
    for line in open("/proc/net/packet").read().splitlines()[1:]:
        f = line.split()
        inode_if[f[8]] = names.get(int(f[4]), f"ifindex{f[4]}")
    rings = load(f"{WORK}/rings.json", {})
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try: link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError: continue
        m = re.match(r"socket:\[(\d+)\]", link)
        if not m or m.group(1) not in inode_if: continue
        local = libc.syscall(438, pidfd, int(fd), 0)    # pidfd_getfd
        if local < 0: continue
        buf, ln = (ctypes.c_uint * 3)(), ctypes.c_uint(12)
        if libc.getsockopt(local, 263, 6, buf, ctypes.byref(ln)) == 0 and buf[1]:
            dev = inode_if[m.group(1)]
            rings[dev] = rings.get(dev, 0) + buf[1]
        os.close(local)
    os.close(pidfd)
    save(f"{WORK}/rings.json", rings)


if __name__ == "__main__":
    cmd = sys.argv[2]
    if cmd == "snapshot": cmd_snapshot(sys.argv[3])
    elif cmd == "retire": cmd_retire(*sys.argv[3:6])
    elif cmd == "rings": cmd_rings(sys.argv[3])
    elif cmd == "final":
        import reckon
        sys.exit(reckon.main(WORK, outside()))
