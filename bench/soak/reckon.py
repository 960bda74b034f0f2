"""The soak's final reckoning (bench/soak/account.py WORK final): every frame of every edge accounted
for, inside and outside mvtap; resources flat; configuration as acknowledged. Prints the tables and
one verdict line; returns 1 when a check fails.

Per edge X (an endpoint's outside end, or a lower's external host), both ways:
  in:  frames the outside sent = frames mvtap took (tx_packets; the lower's rx) + mvtap's drops on
       the way in, by reason + the kernel's drops before mvtap's socket (the sender's tx_dropped, a
       TAP's rx_dropped, ring drops of mvtapd's packet sockets read with PACKET_STATISTICS)
  out: frames mvtap delivered (rx_packets less its rx drops; the lower's tx less its refused wire
       sends) = frames the outside got + the kernel's drops after mvtap's socket (tx_dropped of the
       outer veth end / the lower, a TAP's tx_dropped)
mvtap's counters are the sum of its reads before the SIGKILL and at the end. A residual is allowed
only within the windows where frames could be lost uncounted (the SIGKILL and restart: every
edge; each lower's deletion and re-creation: that lower's edges; a lower this mvtapd did not
reopen, until it restarted: that lower's external host): at most the frames that edge sent and got, counted outside,
between the snapshots taken before and after each window (a frame in flight at a window's edge
may have been counted on one side and not the other)."""
import glob, json, os, re, statistics

INGRESS_ONLY = {"malformed", "bad_vnet_hdr", "spoofed_source", "endpoint_down", "no_carrier"}
WIRE = {"queue_full", "attachment_error"}


def load(path, default=None):
    try:
        with open(path) as f: return json.load(f)
    except (OSError, ValueError):
        return default


def mvtap_reads(work):
    """Every `mvtap -s -j link show` the script kept: before the kill, before each churn deletion, at the end."""
    return {os.path.basename(p): r for p in sorted(glob.glob(f"{work}/mvtap-*.json")) if (r := load(p)) is not None}


def endpoint_counts(reads, name):
    c = {"tx": 0, "rx": 0, "rx_dropped": 0, "drops": {}}
    for read in reads.values():
        for link in read:
            if link["ifname"] != name: continue
            st = link["stats64"]
            c["tx"] += st["tx"]["packets"]; c["rx"] += st["rx"]["packets"]; c["rx_dropped"] += st["rx"]["dropped"]
            for k, v in st.get("drops_by_reason", {}).items(): c["drops"][k] = c["drops"].get(k, 0) + v
    return c


def lower_counts(reads, lower):
    c = {"rx": 0, "tx": 0, "drops": {}}
    # whole reads only (before the kill, at the end): a churned endpoint's own read repeats its lower's
    for path, read in reads.items():
        if path.startswith("mvtap-gone-"): continue
        link = next((l for l in read if l.get("link") == lower), None)
        if link is None: continue
        st = link["stats64"]
        c["rx"] += st["lower"]["rx_packets"]; c["tx"] += st["lower"]["tx_packets"]
        for k, v in st.get("lower_drops_by_reason", {}).items(): c["drops"][k] = c["drops"].get(k, 0) + v
    return c


def ring_drops(work, edge, rings):
    if edge["kind"] == "macvlan": devs = {edge["outer"]}
    elif edge["kind"] == "lower": devs = {edge["lowdev"]}
    elif edge["kind"] == "tap":
        try: return sum(rings.get(k, 0) for k in open(f"{work}/taps-{edge['name']}").read().split())
        except OSError: return 0
    else: return 0
    return sum(v for k, v in rings.items() if k.split("#")[0] in devs)


def expected_config(lines):
    """The acknowledged commands (exit 0) replayed: name -> settings."""
    cfg = {}
    for line in lines:
        w = line.split()
        if w[:2] == ["link", "add"]:
            d = dict(zip(w[2::2], w[3::2]))
            cfg[d["name"]] = {"link": d["link"], "kind": d["type"], "mode": d.get("mode", "vepa"), "address": d["address"],
                              "up": "up" in w, "netns": d.get("netns"), "guestmem": d.get("guestmem"),
                              "spoofchk": d.get("spoofchk", "on") == "on"}
        elif w[:2] == ["link", "del"]:
            cfg.pop(w[2], None)
        elif w[:2] == ["link", "set"]:
            e = cfg[w[2]]
            rest = w[3:]
            for i, t in enumerate(rest):
                if t in ("up", "down"): e["up"] = t == "up"
                if t == "mode": e["mode"] = rest[i + 1]
    return cfg


def shown_config(path):
    cfg = {}
    for l in load(path, []):
        info = l.get("linkinfo", {})
        mv = l.get("mvtap", {})
        cfg[l["ifname"]] = {"link": l.get("link"), "kind": info.get("info_kind"), "mode": info.get("info_data", {}).get("mode"),
                            "address": l.get("address"), "up": "UP" in l.get("flags", []), "netns": l.get("link_netns"),
                            "guestmem": mv.get("guestmem") if info.get("info_kind") == "macvtap" and mv.get("guestmem") != "sealed" else None,
                            "spoofchk": mv.get("spoofchk")}
    return cfg


def config_diff(expected, shown):
    out = []
    for n in sorted(set(expected) | set(shown)):
        if n not in shown: out.append(f"{n}: acknowledged but missing"); continue
        if n not in expected: out.append(f"{n}: present but never acknowledged"); continue
        for k, v in expected[n].items():
            if shown[n].get(k) != v: out.append(f"{n}: {k} is {shown[n].get(k)!r}, acknowledged {v!r}")
    return out


def resources(work):
    """RSS and open fds of the last mvtapd, after its warm-up (the first 30 % of its life, at least a
    minute): the later half of the samples against the earlier half, fds compared at equal numbers
    of endpoints. Judged only over at least 5 minutes of samples: a young .NET process's heap is
    still growing, which says nothing about a leak."""
    rows = [l.split() for l in open(f"{work}/samples.txt") if len(l.split()) == 5]
    if not rows: return None, "no samples"
    last = rows[-1][1]
    seg = [(float(t), int(r), int(f), int(n)) for t, p, r, f, n in rows if p == last]
    warm = max(seg[0][0] + 60, seg[0][0] + 0.3 * (seg[-1][0] - seg[0][0]))
    seg = [x for x in seg if x[0] >= warm]
    if not seg or seg[-1][0] - seg[0][0] < 300:
        return None, f"{len(seg)} samples after warm-up, too short a time to judge (runs of 10 minutes and more judge)"
    a, b = seg[:len(seg) // 2], seg[len(seg) // 2:]
    ra, rb = statistics.median(x[1] for x in a), statistics.median(x[1] for x in b)
    grow = rb - ra
    ok = grow <= max(0.10 * ra, 16 * 1024)
    fd_bad = []
    for n in sorted({x[3] for x in b}):
        fa = [x[2] for x in a if x[3] == n]
        fb = [x[2] for x in b if x[3] == n]
        if fa and fb and max(fb) > max(fa) + 2: fd_bad.append(f"{n} endpoints: {max(fa)} -> {max(fb)}")
    text = (f"RSS median {ra / 1024:.1f} -> {rb / 1024:.1f} MiB ({grow / 1024:+.1f}); fds "
            f"{min(x[2] for x in seg)}..{max(x[2] for x in seg)} ({len(seg)} samples after warm-up)"
            + ("; fds grew at " + ", ".join(fd_bad) if fd_bad else ""))
    return ok and not fd_bad, text


def main(work, outside):
    edges = load(f"{work}/edges.json")
    reads = mvtap_reads(work)
    rings = load(f"{work}/rings.json", {})
    windows = [l.split() for l in open(f"{work}/windows.txt")] if os.path.exists(f"{work}/windows.txt") else []
    bound = {}
    for kind, a, b in windows:
        sa, sb = load(f"{work}/snap/{a}.json", {}), load(f"{work}/snap/{b}.json", {})
        for n in sb:
            # a lower's deletion can lose only its own edges' frames; a lower left dead (never
            # reopened) only its external host's; the SIGKILL any edge's
            if kind.startswith("lower-low") and n[-1] != kind[-1]: continue
            if kind.endswith("-not-reopened") and n != kind.split("-")[0]: continue
            x = bound.setdefault(n, [0, 0])
            # a frame in flight may be either side of the window's edges: both directions bound both
            t = abs(sb[n]["sent"] - sa.get(n, {}).get("sent", 0)) + abs(sb[n]["got"] - sa.get(n, {}).get("got", 0))
            x[0] += t; x[1] += t
    failures, rows = [], []
    total = {"sent": 0, "took": 0, "idrop": 0, "kin": 0, "ring": 0, "dlv": 0, "got": 0, "kout": 0}
    for e in edges:
        n, o = e["name"], outside[e["name"]]
        ring = ring_drops(work, e, rings)
        if e["kind"] == "lower":
            c = lower_counts(reads, e["lowdev"])
            took, idrop = c["rx"], c["drops"].get("malformed", 0)
            dlv = c["tx"] - sum(c["drops"].get(k, 0) for k in WIRE)
        else:
            c = endpoint_counts(reads, n)
            took = c["tx"]
            idrop = sum(c["drops"].values()) - c["rx_dropped"]
            dlv = c["rx"] - (c["rx_dropped"] - c["drops"].get("mtu", 0))
        res_in = o["sent"] - (took + idrop + o["kin"] + ring)
        res_out = dlv - (o["got"] + o["kout"])
        b_in, b_out = bound.get(n, [0, 0])
        ok = abs(res_in) <= b_in and abs(res_out) <= b_out
        if not ok: failures.append(f"{n}: in residual {res_in} (window bound {b_in}), out residual {res_out} (bound {b_out})")
        rows.append(f"| {n} | {e['kind']} | {o['sent']} | {took} | {idrop} | {o['kin'] + ring} | {res_in} (≤{b_in}) | "
                    f"{dlv} | {o['got']} | {o['kout']} | {res_out} (≤{b_out}) | {'ok' if ok else 'FAIL'} |")
        for k, v in (("sent", o["sent"]), ("took", took), ("idrop", idrop), ("kin", o["kin"]), ("ring", ring),
                     ("dlv", dlv), ("got", o["got"]), ("kout", o["kout"])): total[k] += v
    print("Frames per edge (outside = counted by the kernel, testpmd or the peers; mvtap = `mvtap -s -j link show`):\n")
    print("| edge | kind | sent (outside) | taken (mvtap) | dropped in (mvtap) | dropped in (kernel) | residual in | "
          "delivered (mvtap) | got (outside) | dropped out (kernel) | residual out | |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for r in rows: print(r)
    print(f"| all | | {total['sent']} | {total['took']} | {total['idrop']} | {total['kin'] + total['ring']} | | "
          f"{total['dlv']} | {total['got']} | {total['kout']} | | |")

    # drops by reason over every endpoint (churned ones too) and each lower
    by_reason, churn = {}, {}
    names = {e["name"] for e in edges}
    for read in reads.values():
        for l in read:
            for k, v in l["stats64"].get("drops_by_reason", {}).items():
                by_reason[("endpoints", k)] = by_reason.get(("endpoints", k), 0) + v
            if l["ifname"] not in names:
                churn["delivered"] = churn.get("delivered", 0) + l["stats64"]["rx"]["packets"]
    for e in edges:
        if e["kind"] != "lower": continue
        for k, v in lower_counts(reads, e["lowdev"])["drops"].items():
            by_reason[(e["lowdev"], k)] = by_reason.get((e["lowdev"], k), 0) + v
    print("\nDrops mvtap counted, by reason: " + (", ".join(f"{w} {k} {v}" for (w, k), v in sorted(by_reason.items())) or "none")
          + f"; churned endpoints were delivered {churn.get('delivered', 0)} frames.")

    classes = {}
    for p in glob.glob(f"{work}/peer-*.json"):
        d = load(p)
        if not d: continue
        for k, v in d["sent"].items(): classes.setdefault(k, [0, 0])[0] += v
        for k, v in d["got"].items(): classes.setdefault(k, [0, 0])[1] += v
    flood = sum(outside[e["name"]]["sent"] for e in edges if e["kind"] == "vhost")
    tcp = load(f"{work}/iperf-bytes.json", {})
    print("\nFrames per class (peers' tagged 64-byte frames; a broadcast or multicast frame is got once per receiver):")
    print(", ".join(f"{k} sent {v[0]} got {v[1]}" for k, v in sorted(classes.items()))
          + f"; testpmd 64-byte flood sent {flood}; TCP (iperf3) bytes {tcp.get('bytes', 0)} in {tcp.get('runs', 0)} runs")

    print(f"\nWindows where frames may be lost uncounted: {len(windows)} ("
          + ", ".join(f"{k}" for k, _, _ in windows) + "); bound per edge = its traffic between the snapshots around them.")

    res_ok, res_text = resources(work)
    print(f"\nmvtapd resources: {res_text}")
    if res_ok is False: failures.append("mvtapd's RSS or fds grew after warm-up: " + res_text)

    acked_lines = open(f"{work}/acked.log").readlines()
    marks = load(f"{work}/acked-marks.json", {})
    for label, name in (("after the restart", "show-restart.json"), ("at the end", "show-final.json")):
        path = f"{work}/{name}"
        if not os.path.exists(path): continue
        # what had been acknowledged when that `link show` was taken
        exp = expected_config(acked_lines[:marks.get(name, len(acked_lines))])
        diff = config_diff(exp, shown_config(path))
        print(f"Configuration {label}: " + ("equal to what was acknowledged (" + f"{len(exp)} links)" if not diff else "; ".join(diff)))
        if diff: failures.append(f"configuration {label}: " + "; ".join(diff))
    acked = sum(1 for _ in open(f"{work}/acked.log"))
    refused = sum(1 for l in open(f"{work}/commands.log") if not l.startswith("ok "))
    print(f"Commands: {acked} acknowledged, {refused} refused.")
    for line in open(f"{work}/notes.txt") if os.path.exists(f"{work}/notes.txt") else []:
        print(line.rstrip())
        if line.startswith("FAIL"): failures.append(line[5:].strip())
    print()
    if failures:
        for f in failures: print("failed:", f)
        print(f"verdict: FAIL ({len(failures)} check(s) failed)")
        return 1
    print("verdict: PASS (every frame accounted for on every edge, resources flat, configuration as acknowledged)")
    return 0
