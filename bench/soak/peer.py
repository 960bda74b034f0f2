#!/usr/bin/env python3
"""The soak's traffic peer (bench/soak/run.sh): one outside end of an mvtap endpoint or of a lower's
external host. It sends tagged 60-byte frames (64 on a wire with FCS) of a few classes at given
rates, receives everything that arrives, and counts both, outside mvtap:

  peer.py packet IFACE ...   an AF_PACKET socket on IFACE (in the caller's namespace); reopened when
                             IFACE is deleted and created again (a lower's external host)
  peer.py stream PATH ...    a QEMU -netdev stream client of PATH (4-byte big-endian length, frame);
                             connects again when mvtapd closes it or restarts
  peer.py tap ...            fd 3, a TAP queue with a virtio-net header (`mvtap run NAME -- peer.py tap`)

SIGUSR1 stops its sending (it goes on receiving and counting); SIGTERM ends it.
Options: --mac MAC (the frames' source), --id N (0-255, in each frame), --out FILE (JSON counts,
rewritten every 0.5 s and at SIGTERM), --send CLASS,DSTMAC,PPS (repeatable), --join MAC (packet:
a link-layer multicast membership on IFACE).
Frame: dst, src, ethertype 0x88b5, b"SOAK", class number, id, 32-bit sequence, zero padding.
A frame counts as sent once the kernel took all of it. "got" counts received frames by class
(untagged ones, TCP or testpmd's, as "other"); "sock_drops" is the kernel's count of frames its
own socket dropped (PACKET_STATISTICS), which the interface counters do not show."""
import errno, fcntl, json, os, select, signal, socket, struct, sys, time

CLASSES = ["uni", "uni2", "bc", "mc"]
ETH_P_ALL, ETHERTYPE = 0x0003, 0x88B5
SOL_PACKET, PACKET_ADD_MEMBERSHIP, PACKET_STATISTICS, PACKET_MR_MULTICAST = 263, 1, 6, 0
TUNGETIFF, TUNGETVNETHDRSZ = 0x800454D2, 0x800454D7


def mac_bytes(m):
    return bytes(int(x, 16) for x in m.split(":"))


class Peer:
    def __init__(self, argv):
        self.mode, args = argv[0], argv[1:]
        self.target = args.pop(0) if self.mode in ("packet", "stream") else None
        self.sends, self.joins, self.out, self.mac, self.id = [], [], None, None, 0
        while args:
            k, v = args.pop(0), args.pop(0)
            if k == "--mac": self.mac = mac_bytes(v)
            elif k == "--id": self.id = int(v)
            elif k == "--out": self.out = v
            elif k == "--join": self.joins.append(mac_bytes(v))
            elif k == "--send":
                cls, dst, pps = v.split(",")
                self.sends.append([CLASSES.index(cls), mac_bytes(dst), float(pps), 0])
            else: raise SystemExit(f"peer.py: unknown option {k}")
        self.sent = {c: 0 for c in CLASSES}
        self.got = {c: 0 for c in CLASSES + ["other"]}
        self.send_errors = self.reconnects = self.sock_drops = self.got_total = 0
        self.fd, self.sock, self.ifname, self.hdr = None, None, None, 0
        self.inbuf, self.pending, self.stop = b"", b"", False
        self.seq = 0

    # ---- the three kinds of outside end ----
    def open(self):
        if self.mode == "tap":
            self.fd = 3
            fcntl.fcntl(3, fcntl.F_SETFL, fcntl.fcntl(3, fcntl.F_GETFL) | os.O_NONBLOCK)
            ifr = fcntl.ioctl(3, TUNGETIFF, bytes(40))
            self.ifname = ifr[:16].split(b"\0")[0].decode()
            self.hdr = struct.unpack("i", fcntl.ioctl(3, TUNGETVNETHDRSZ, bytes(4)))[0]
            return True
        try:
            if self.mode == "packet":
                s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
                s.bind((self.target, 0))
                idx = socket.if_nametoindex(self.target)
                for g in self.joins:
                    s.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, struct.pack("iHH8s", idx, PACKET_MR_MULTICAST, 6, g))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                self.ifname = self.target
            else:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.target)
            s.setblocking(False)
        except OSError:
            return False
        self.sock, self.fd, self.inbuf, self.pending = s, s.fileno(), b"", b""
        return True

    def close(self):
        if self.sock is not None:
            self.read_socket_drops()
            self.sock.close()
        self.sock, self.fd = None, None
        self.reconnects += 1

    def read_socket_drops(self):
        if self.mode == "packet" and self.sock is not None:
            try:
                # struct tpacket_stats (8 bytes) without a ring: tp_packets, tp_drops; reset by reading
                _, drops = struct.unpack("II", self.sock.getsockopt(SOL_PACKET, PACKET_STATISTICS, 12)[:8])
                self.sock_drops += drops
            except OSError:
                pass

    def write(self, frame):
        """True when the kernel took the whole frame; False when it is full for now; raises when broken."""
        if self.mode == "tap":
            try:
                os.write(3, bytes(self.hdr) + frame)
                return True
            except BlockingIOError:
                return False
        if self.mode == "packet":
            try:
                self.sock.send(frame)
                return True
            except (BlockingIOError, InterruptedError):
                return False
            except OSError as e:
                if e.errno in (errno.ENOBUFS,): return False
                raise
        # stream: a frame is sent once all of its bytes are; a partial one is finished first
        if self.pending:
            n = self.sock.send(self.pending)
            self.pending = self.pending[n:]
            if self.pending: return False
        data = struct.pack(">I", len(frame)) + frame
        try:
            n = self.sock.send(data)
        except BlockingIOError:
            return False
        if n < len(data):
            self.pending = data[n:]
        return True

    def read(self):
        frames = []
        if self.mode == "tap":
            for _ in range(256):
                try: frames.append(os.read(3, 70000)[self.hdr:])
                except BlockingIOError: break
            return frames
        if self.mode == "packet":
            for _ in range(256):
                try: data, addr = self.sock.recvfrom(70000)
                except (BlockingIOError, InterruptedError): break
                if addr[2] != socket.PACKET_OUTGOING: frames.append(data)
            return frames
        try:
            chunk = self.sock.recv(1 << 20)
        except BlockingIOError:
            return frames
        if not chunk: raise ConnectionResetError("closed by mvtapd")
        self.inbuf += chunk
        while len(self.inbuf) >= 4:
            n = struct.unpack(">I", self.inbuf[:4])[0]
            if len(self.inbuf) < 4 + n: break
            frames.append(self.inbuf[4:4 + n])
            self.inbuf = self.inbuf[4 + n:]
        return frames

    # ---- counting ----
    def count(self, frame):
        self.got_total += 1
        if len(frame) >= 20 and frame[12:14] == b"\x88\xb5" and frame[14:18] == b"SOAK" and frame[18] < len(CLASSES):
            self.got[CLASSES[frame[18]]] += 1
        else:
            self.got["other"] += 1

    def save(self):
        if not self.out: return
        self.read_socket_drops()
        state = {"sent": self.sent, "got": self.got, "got_total": self.got_total, "sent_total": sum(self.sent.values()),
                 "send_errors": self.send_errors, "sock_drops": self.sock_drops, "reconnects": self.reconnects,
                 "ifname": self.ifname, "time": time.time()}
        with open(self.out + ".tmp", "w") as f: json.dump(state, f)
        os.replace(self.out + ".tmp", self.out)

    def frame(self, cls, dst):
        self.seq = (self.seq + 1) & 0xFFFFFFFF
        body = dst + self.mac + struct.pack(">H", ETHERTYPE) + b"SOAK" + bytes([cls, self.id]) + struct.pack(">I", self.seq)
        return body + bytes(60 - len(body))

    def run(self):
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stop", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stop", True))
        signal.signal(signal.SIGUSR1, lambda *_: setattr(self, "sends", []))   # stop sending, keep receiving
        start, last_save = time.monotonic(), 0.0
        if self.mode == "tap": self.open()   # its TAP's name is in the first counts written
        while not self.stop:
            now = time.monotonic()
            if now - last_save >= 0.5: self.save(); last_save = now
            if self.fd is None:
                if not self.open():
                    time.sleep(0.1)
                    continue
            try:
                for s in self.sends:
                    due = int(s[2] * (now - start)) - s[3]
                    for _ in range(min(due, 2000)):
                        if not self.write(self.frame(s[0], s[1])): break
                        s[3] += 1
                        self.sent[CLASSES[s[0]]] += 1
                    # what could not be sent now is not owed later: a flood, not a backlog
                    s[3] = max(s[3], int(s[2] * (now - start)) - 2000)
                r, _, _ = select.select([self.fd], [], [], 0.005)
                if r:
                    for f in self.read(): self.count(f)
            except OSError:
                # interface deleted, mvtapd gone: count nothing more on this one, open it again
                self.send_errors += 1
                if self.mode == "tap": break
                self.close()
        try:
            if self.fd is not None:
                for f in self.read(): self.count(f)
        except OSError:
            pass
        self.save()


if __name__ == "__main__":
    Peer(sys.argv[1:]).run()
