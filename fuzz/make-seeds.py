#!/usr/bin/env python3
"""Writes the hand-made seed inputs of every fuzz target into fuzz/corpus/TARGET/seed-*.
The formats are the targets' own (see each class under fuzz/Mvtap.Fuzz/Targets); AFL's
finds are added next to these as they turn up. Run from anywhere; it overwrites seeds only."""
import json, os, struct

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")

def put(target, name, data):
    d = os.path.join(root, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF

def ipv4(payload, proto=17, ident=1, off=0, mf=False, src=b"\x0a\0\0\x01", dst=b"\xe0\0\0\xfb", ihl=5):
    opts = b"\x01" * (ihl * 4 - 20)
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(payload), ident, (off // 8) | (0x2000 if mf else 0), 64, proto, 0, src, dst) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload

def udp(payload, sport=5353, dport=5353):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload

def tcp(payload, flags=0x18):
    return struct.pack("!HHIIBBHHH", 1234, 80, 1000, 0, 5 << 4, flags, 65535, 0, 0) + payload

def eth(dst, src, etype, body):
    return dst + src + struct.pack("!H", etype) + body

MCAST = bytes.fromhex("01005e0000fb")
BCAST = b"\xff" * 6
EXT = bytes.fromhex("02aa00000001")
NEIGH = bytes.fromhex("02bb00000001")
EP = [bytes.fromhex("0200000000%02x" % (0x10 + i)) for i in range(6)]

def vnet(flags=0, gso=0, hdr_len=0, gso_size=0, cstart=0, coff=0, nbuf=None, be=False):
    f = ">" if be else "<"
    h = struct.pack(f + "BBHHHH", flags, gso, hdr_len, gso_size, cstart, coff)
    return h + (struct.pack(f + "H", nbuf) if nbuf is not None else b"")

def rec(ctl, data):
    return bytes([ctl]) + struct.pack("!H", len(data)) + data

# ---- forwarder: setup byte, then records (control, length, bytes)
arp = eth(BCAST, EXT, 0x0806, bytes(28))
ipu = eth(EP[0], EXT, 0x0800, ipv4(udp(b"hello"), dst=b"\x0a\0\0\x02"))
frag1 = eth(MCAST, EXT, 0x0800, ipv4(b"A" * 16, mf=True, ident=7))
frag2 = eth(MCAST, EXT, 0x0800, ipv4(b"B" * 8, off=16, ident=7))
gso_tcp = eth(EXT, EP[1], 0x0800, ipv4(tcp(b"x" * 3000), proto=6, dst=b"\x0a\0\0\x09"))
put("forwarder", "wire-broadcast", b"\x00" + rec(0, arp))
put("forwarder", "wire-unicast-and-fragments", b"\x00" + rec(0, ipu) + rec(0, frag1) + rec(0, frag2))
put("forwarder", "endpoint-bridge-multicast", b"\x00" + rec(2 | 0x10, eth(MCAST, EP[1], 0x0800, ipv4(udp(b"m")))))
put("forwarder", "endpoint-bridge-to-bridge", b"\x00" + rec(2 | 0x10 | 0x20 | (2 << 6), eth(EP[2], EP[1], 0x0800, ipv4(udp(b"u")))))
put("forwarder", "endpoint-gso-tcp", b"\x00" + rec(2 | 8 | 0x10, vnet(1, 1, 54, 1448, 34, 16) + gso_tcp))
put("forwarder", "wire-source-neighbour", b"\x02" + rec(0, eth(EP[4], NEIGH, 0x0800, ipv4(udp(b"s")))) + rec(0, eth(BCAST, NEIGH, 0x0806, bytes(28))))
put("forwarder", "queue-full", b"\x08" + b"".join(rec(0, arp) for _ in range(6)))

# ---- vnet-gso: control, 8 bytes features, header (10 or 12), frame
feat = struct.pack("<Q", (1 << 0) | (1 << 1) | (1 << 7) | (1 << 11) | (1 << 32))
put("vnet-gso", "tcp4", b"\x02" + feat + vnet(1, 1, 54, 1000, 34, 16) + gso_tcp[:14] + gso_tcp[14:])
put("vnet-gso", "udp-l4", b"\x04" + feat + vnet(1, 5, 42, 500, 34, 6, nbuf=1) + eth(EXT, EP[0], 0x0800, ipv4(udp(b"u" * 1800))))
put("vnet-gso", "ufo", b"\xf8" + feat + vnet(0, 3, 42, 496) + eth(EXT, EP[0], 0x0800, ipv4(udp(b"f" * 1800))))
ip6 = struct.pack("!IHBB16s16s", 0x60000000, 20 + 2000, 6, 64, b"\xfe\x80" + bytes(14), b"\xfe\x80" + bytes(13) + b"\x02") + tcp(b"6" * 2000)
put("vnet-gso", "tcp6-vlan", b"\x01" + feat + vnet(1, 4, 78, 1200, 58, 16, be=True) + eth(EXT, EP[0], 0x8100, b"\x00\x05\x86\xdd" + ip6))
put("vnet-gso", "csum-only", b"\x00" + feat + vnet(1, 0, 0, 0, 34, 6) + eth(EXT, EP[0], 0x0800, ipv4(udp(b"c" * 30))))

# ---- reassembly: records (control, length, ip packet)
put("reassembly", "two-fragments", rec(0, ipv4(b"A" * 16, mf=True, ident=3)) + rec(0, ipv4(b"B" * 8, off=16, ident=3)))
put("reassembly", "out-of-order", rec(0, ipv4(b"C" * 8, off=8, ident=4)) + rec(0, ipv4(b"D" * 8, mf=True, ident=4)))
put("reassembly", "high-offset", rec(0x10, ipv4(b"E" * 8, off=65472, ident=5, mf=False)) + rec(0x10, ipv4(b"F" * 8, ident=5, mf=True)))
put("reassembly", "hole-past-end", rec(0, ipv4(b"G" * 8, mf=True, ident=6)) + rec(0, ipv4(b"H" * 984, off=1000, mf=True, ident=6)) + rec(0, ipv4(b"I" * 8, off=992, ident=6)))
put("reassembly", "timeout", rec(0, ipv4(b"J" * 8, mf=True, ident=8)) + rec(0x0B, ipv4(b"K" * 8, off=8, ident=8)))
put("reassembly", "options-overlap", rec(0, ipv4(b"L" * 16, mf=True, ident=9, ihl=7)) + rec(0, ipv4(b"M" * 16, off=8, ident=9)))

# ---- vhost-user-messages: records (control: fd count | kind << 4, length, raw bytes)
def vu(req, payload=b"", flags=1):
    return struct.pack("<III", req, flags, len(payload)) + payload
def u64(v): return struct.pack("<Q", v)
def state(i, n): return struct.pack("<II", i, n)
memtab = struct.pack("<II", 1, 0) + struct.pack("<QQQQ", 0, 0x10000, 0x7f0000000000, 0)
addr = struct.pack("<IIQQQQ", 0, 0, 0x7f0000000000, 0x7f0000002000, 0x7f0000001000, 0)
startup = [rec(0, vu(1)), rec(0, vu(3)), rec(0, vu(15)), rec(0, vu(16, u64(1 << 3))), rec(0, vu(2, u64((1 << 32) | (1 << 30) | (1 << 15)))),
           rec(1, vu(5, memtab, flags=9)), rec(0, vu(8, state(0, 256))), rec(0, vu(9, addr)), rec(0, vu(10, state(0, 0))),
           rec(0x31, vu(12, u64(0))), rec(0x31, vu(13, u64(0))), rec(0, vu(18, state(0, 1), flags=9)), rec(0, vu(11, state(0, 0)))]
put("vhost-user-messages", "startup", b"".join(startup))
put("vhost-user-messages", "unsealed-required", bytes([0x40 | 0x10 | 1]) + struct.pack("!H", 12 + len(memtab)) + vu(5, memtab))
put("vhost-user-messages", "nofd-kick-and-status", rec(0, vu(12, u64(0x100))) + rec(0, vu(39, u64(0x0f))) + rec(0, vu(40)) + rec(0, vu(17)))
put("vhost-user-messages", "two-regions-small", rec(0x22, vu(5, struct.pack("<II", 2, 0) + struct.pack("<QQQQ", 0, 0x1000, 0x1000, 0) * 2)))
put("vhost-user-messages", "bad-size", rec(0, struct.pack("<III", 8, 1, 5000)))
put("vhost-user-messages", "reset-owner", rec(0, vu(16, u64(1 << 3))) + rec(0, vu(4, flags=9)) + rec(0, vu(1)))

# ---- virtqueue-chains: features, rx ring (size, desc, avail, used, base), tx ring, lengths, memory
def ring(size_log2, desc, avail, used, base=0, disabled=False):
    return bytes([size_log2 | (0x80 if disabled else 0)]) + struct.pack("!HHHH", desc, avail, used, base)
def mem_layout(tx_chains, rx_chains, size=4):
    m = bytearray(0x8000)
    def desc(table, i, a, l, fl, nx): struct.pack_into("<QIHH", m, table + 16 * i, a, l, fl, nx)
    # TX ring: desc 0x000, avail 0x100, used 0x200; RX ring: desc 0x400, avail 0x500, used 0x600
    for i, (a, l, fl, nx) in enumerate(tx_chains): desc(0x000, i, a, l, fl, nx)
    struct.pack_into("<HH", m, 0x100, 0, len(tx_chains)); [struct.pack_into("<H", m, 0x104 + 2 * i, i) for i in range(len(tx_chains))]
    for i, (a, l, fl, nx) in enumerate(rx_chains): desc(0x400, i, a, l, fl, nx)
    struct.pack_into("<HH", m, 0x500, 0, len(rx_chains)); [struct.pack_into("<H", m, 0x504 + 2 * i, i) for i in range(len(rx_chains))]
    return bytes(m).rstrip(b"\0")
tx = [(0x1000, 12 + 60, 0, 0), (0x1100, 12, 1, 2), (0x1200, 60, 0, 0)]
rx = [(0x2000, 1600, 2, 0), (0x2800, 1600, 2, 0)]
put("virtqueue-chains", "v1-two-rings", bytes([0x01]) + ring(2, 0x400, 0x500, 0x600) + ring(2, 0x000, 0x100, 0x200) + b"\x05" + mem_layout(tx[:1] + [(0x1100, 12, 1, 2), (0, 0, 0, 0), (0x1200, 60, 0, 0)][:1], rx))
put("virtqueue-chains", "mergeable-indirect", bytes([0x07]) + ring(2, 0x400, 0x500, 0x600) + ring(2, 0x000, 0x100, 0x200) + b"\x33" + mem_layout([(0x3000, 32, 4, 0)], rx))
put("virtqueue-chains", "loop", bytes([0x01]) + ring(2, 0x400, 0x500, 0x600) + ring(2, 0x000, 0x100, 0x200) + b"\x01" + mem_layout([(0x1000, 64, 1, 1), (0x1000, 64, 1, 0)], rx))
put("virtqueue-chains", "event-idx-disabled", bytes([0x09]) + ring(3, 0x400, 0x500, 0x600, disabled=True) + ring(3, 0x000, 0x100, 0x200, base=5) + b"\x80" + mem_layout(tx, rx))

# ---- stream-framing: cut byte, then the client's stream
def sf(*frames): return b"".join(struct.pack("!I", len(f)) + f for f in frames)
put("stream-framing", "two-frames", b"\x00" + sf(arp, ipu))
put("stream-framing", "split-writes", b"\x00" + sf(arp, eth(EXT, EP[0], 0x0800, ipv4(udp(b"z" * 200))), arp))
put("stream-framing", "bad-length", b"\x03" + sf(arp) + struct.pack("!I", 13) + b"x" * 13)
put("stream-framing", "partial-tail", b"\x10" + sf(arp) + struct.pack("!I", 100) + b"y" * 50)

# ---- control-requests: frames of JSON
def cf(obj):
    b = json.dumps(obj).encode()
    return struct.pack("!I", len(b)) + b
put("control-requests", "add-set-show-del", cf({"op": "link-add", "lower": "sim0", "name": "mv0", "type": "macvtap", "mode": "bridge", "up": True})
    + cf({"op": "link-set", "name": "mv0", "address": "02:00:00:00:00:42", "mtu": 1400, "flags": ["nopromisc"]})
    + cf({"op": "link-show"}) + cf({"op": "link-del", "name": "mv0"}))
put("control-requests", "source-mode", cf({"op": "link-add", "lower": "sim0", "type": "macvlan", "mode": "source", "macaddr_operation": "set", "macaddrs": ["02:00:00:00:00:01", "02:00:00:00:00:02"]})
    + cf({"op": "link-set", "name": "macvlan0", "macaddr_operation": "del", "macaddrs": ["02:00:00:00:00:01"], "bc_queue_len": 10, "bc_cutoff": -1}))
put("control-requests", "passthru-and-tap", cf({"op": "link-add", "lower": "sim1", "name": "p0", "type": "macvtap", "mode": "passthru", "owner": "root", "netns": "x"})
    + cf({"op": "link-add", "lower": "p0", "type": "macvtap"}) + cf({"op": "tap-fd", "name": "p0"}) + cf({"op": "link-set", "name": "p0", "new_name": "p1", "up": False}))
put("control-requests", "broken", cf({"op": "nope"}) + b"\x00\x00\x00\x05{\"op\"")
# every required field left out or null, then every optional one null: refused in ip's words / defaults
put("control-requests", "required-missing-or-null", cf({"op": "link-add", "lower": "sim0", "name": "mv0", "type": "macvtap"})
    + cf({"op": "link-add", "lower": None, "type": "macvtap"}) + cf({"op": "link-add", "lower": "sim0"})
    + cf({"op": "link-add", "lower": "sim0", "type": "macvtap", "cni": {"container_id": None, "if_name": "eth0"}})
    + cf({"op": "link-add", "lower": "sim0", "type": "macvlan", "flags": [None], "macaddrs": [None], "macaddr_operation": "set"})
    + cf({"op": "link-set", "name": None, "up": True}) + cf({"op": "link-del"}) + cf({"op": "tap-fd", "name": None})
    + cf({"op": "link-show", "name": None}))
put("control-requests", "optional-null", cf({"op": "link-add", "lower": "sim0", "name": "mv0", "type": "macvtap", **{k: None for k in (
    "mode", "flags", "address", "bc_queue_len", "bc_cutoff", "macaddr_operation", "macaddrs", "owner", "group", "spoof_check", "mtu",
    "tx_queue_len", "netns", "guest_memory", "up", "cni", "vhost_user_path", "tap_name")}})
    + cf({"op": "link-set", "name": "mv0", **{k: None for k in ("new_name", "up", "address", "mode", "flags", "bc_queue_len", "bc_cutoff",
    "netns", "macaddr_operation", "macaddrs", "owner", "group", "spoof_check", "mtu", "tx_queue_len", "guest_memory")}}))
put("control-requests", "real-lower", cf({"op": "link-add", "lower": "eth0", "type": "macvlan"}) + cf({"op": "link-show", "name": "eth0"}))

# ---- state-file: state.json as mvtapd writes it
ep = {"index": 1, "name": "mv0", "type": "macvtap", "lower": "sim0", "mac": "02:00:00:00:00:10", "mode": "bridge", "flags": [], "up": True,
      "mtu": 1500, "tx_queue_len": 500, "bc_queue_len": 1000, "bc_cutoff": 1, "macaddrs": [], "spoof_check": True}
put("state-file", "one", json.dumps({"version": 1, "next_index": 2, "endpoints": [ep]}, indent=2).encode())
put("state-file", "several", json.dumps({"version": 1, "next_index": 9, "endpoints": [ep,
    dict(ep, index=2, name="mv1", mode="source", macaddrs=["02:00:00:00:00:01"], mac="02:00:00:00:00:11", up=False, owner="nobody"),
    dict(ep, index=3, name="mv2", lower="eth9", type="macvlan", netns="ns1"),
    dict(ep, index=4, name="mv0", mode="passthru")]}).encode())
put("state-file", "empty", b'{"version":1,"next_index":1,"endpoints":[]}')
put("state-file", "wrong-version", b'{"version":2}')
put("state-file", "duplicate-index", json.dumps({"version": 1, "next_index": 3, "endpoints": [ep, dict(ep, name="mv1", mac="02:00:00:00:00:11")]}).encode())
put("state-file", "index-out-of-range", json.dumps({"version": 1, "next_index": 2, "endpoints": [dict(ep, index=2147483647), dict(ep, index=0, name="mv1")]}).encode())

# ---- netlink-replies: dump bit, seq (LE), datagram
def nlmsg(typ, payload, seq=1, flags=0):
    m = struct.pack("<IHHII", 16 + len(payload), typ, flags, seq, 0) + payload
    return m + b"\0" * ((4 - len(m) % 4) % 4)
def nla(typ, payload):
    a = struct.pack("<HH", 4 + len(payload), typ) + payload
    return a + b"\0" * ((4 - len(a) % 4) % 4)
ifinfo = struct.pack("<BBHiII", 0, 0, 1, 7, 0x11043, 0)
macvlan = nla(1, struct.pack("<I", 4)) + nla(2, struct.pack("<H", 2)) + nla(5, nla(4, EP[0]) + nla(4, EP[1])) + nla(6, struct.pack("<I", 2)) + nla(9, struct.pack("<i", -1))
link = ifinfo + nla(3, b"mv0\0") + nla(4, struct.pack("<I", 1500)) + nla(1, EP[0]) + nla(16, b"\x06") + nla(18, nla(1, b"macvlan\0") + nla(2 | 0x8000, macvlan))
put("netlink-replies", "dump", b"\x01" + struct.pack("<I", 1) + nlmsg(16, link, flags=2) + nlmsg(3, struct.pack("<i", 0)))
put("netlink-replies", "get-ack", b"\x00" + struct.pack("<I", 1) + nlmsg(16, link) + nlmsg(2, struct.pack("<i", 0) + bytes(16)))
put("netlink-replies", "error-extack", b"\x00" + struct.pack("<I", 1) + nlmsg(2, struct.pack("<i", -22) + struct.pack("<IHHII", 32, 16, 5, 1, 0) + nla(1, b"Invalid MAC address\0"), flags=0x300))
put("netlink-replies", "stale-and-intr", b"\x01" + struct.pack("<I", 1) + nlmsg(16, link, seq=9) + nlmsg(16, link, flags=0x10) + nlmsg(3, struct.pack("<i", -16)))
# notifications as the inner-NIC follower reads them (control byte 0x7e: room for 64), and RTM_NEWNSID
ifinfo9 = struct.pack("<BBHiII", 0, 0, 1, 9, 0x1003, 0)
moved = ifinfo9 + nla(3, b"eth0\0") + nla(45, struct.pack("<i", 3)) + nla(49, struct.pack("<i", 2))
ifaddr = struct.pack("<BBBBi", 2, 32, 0, 0, 9) + nla(7, b"\xe0\0\0\xfb")
put("netlink-replies", "notify-moved-away", b"\x7e" + struct.pack("<I", 0) + nlmsg(16, link, seq=0) + nlmsg(17, moved, seq=0)
    + nlmsg(56, ifaddr, seq=0) + nlmsg(57, ifaddr, seq=0) + nlmsg(17, ifinfo9 + nla(3, b"eth0\0"), seq=0))
put("netlink-replies", "notify-bad-new-netnsid", b"\x7e" + struct.pack("<I", 0) + nlmsg(16, link, seq=0)
    + nlmsg(17, ifinfo9 + nla(45, struct.pack("<h", 3)), seq=0) + nlmsg(16, link, seq=0))
put("netlink-replies", "newnsid", b"\x00" + struct.pack("<I", 1) + nlmsg(88, struct.pack("<I", 0) + nla(1, struct.pack("<i", 5))) + nlmsg(2, struct.pack("<i", 0) + bytes(16)))

# ---- dev-mcast: ifindex byte, file text
put("dev-mcast", "lines", b"\x02" + b"1    lo              1     0     01005e000001\n2    eth0            1     0     333300000001\n2    eth0            1     0     01005e0000fb\n2    eth0            2     0     3333ff000001\n")
put("dev-mcast", "odd", b"\x07" + b"7 x 1 0 0180c200000e\n7 y\n7  z  1 0 zz005e000001\n7 w 1 0 01005e00000\n")
