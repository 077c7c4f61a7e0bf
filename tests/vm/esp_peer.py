#!/usr/bin/python3
"""The kernel side's helpers for tests/vm/esp.sh (run in the guest, chrooted
into the host root, inside one network namespace). No crypto here: packets
are taken from what tcpdump captured on the veth, never made up.

  esp_peer.py hold READY           a UDP 4500 socket with UDP_ENCAP_ESPINUDP
                                   (the kernel decapsulates ESP in UDP only
                                   for such a socket); READY is created once
                                   it is bound; runs until killed
  esp_peer.py check PCAP [LABEL]   every IPv4 packet on the veth is ESP in UDP
                                   4500 <-> 4500 of SPI 0x1001 (from
                                   192.0.2.1) or 0x2001 (from 192.0.2.2);
                                   prints the counts; with LABEL, also the
                                   kernel's first two packets (as dump)
  esp_peer.py dump PCAP SRC SPI N  the first N ESP packets (from the SPI on)
                                   from SRC with SPI, in hex, one a line
  esp_peer.py inject PCAP SRC DST  resends ESP packets captured from SRC to
                                   DST from a raw socket bound to SRC: three
                                   tampered ones (a flipped bit in the
                                   sequence number, so that the window lets
                                   them through to the ICV, plus one in the
                                   ciphertext or the ICV), then the newest
                                   one again and the oldest one again
  esp_peer.py agree STATUS XFRM [UDPDROPS]
                                   acrypto's status (acrypto esp status
                                   --json) and the kernel's (ip -s xfrm
                                   state) count the same packets and
                                   sequence numbers on both SAs
  esp_peer.py dropped BEFORE AFTER XFRM_BEFORE XFRM_AFTER P0 P1 S0 S1
                                   after inject both ways: each side dropped
                                   and counted the 3 tampered and 2 replayed
                                   packets (the status files and ip -s xfrm
                                   state before and after; P and S:
                                   XfrmInStateProtoError and
                                   XfrmInStateSeqError before and after)
  esp_peer.py row LABEL TCP UDP64 UDP1400 OUT
                                   a benchmark row from iperf3 -J files
                                   (Mbit/s, UDP packets/s received), also
                                   written to OUT
  esp_peer.py json FILE EXPR       one value out of a JSON file (iperf3 -J):
                                   EXPR is a path like end.sum_received.bytes
"""

import json
import os
import signal
import socket
import struct
import sys

SOL_UDP = 17
UDP_ENCAP = 100
UDP_ENCAP_ESPINUDP = 2
PORT = 4500
ACRYPTO = "192.0.2.1"  # outer address of acrypto's side (or the first kernel's)
KERNEL = "192.0.2.2"
SPI_OUT = 0x1001  # from 192.0.2.1
SPI_IN = 0x2001  # from 192.0.2.2


def hold(ready):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(SOL_UDP, UDP_ENCAP, UDP_ENCAP_ESPINUDP)
    s.bind(("0.0.0.0", PORT))
    open(ready, "w").close()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


def packets(path):
    """(src, dst, sport, dport, ip_proto, udp_payload or None) of each IPv4
    packet of a pcap file with Ethernet link type; non-IPv4 frames give
    ("non-ip", ethertype)."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    end = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(end + "I", data[20:24])[0]
    if linktype != 1:
        raise SystemExit(f"{path}: link type {linktype}, not Ethernet")
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(end + "IIII", data[off:off + 16])
        if off + 16 + incl > len(data):
            break  # tcpdump is still writing this one
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        etype = struct.unpack(">H", frame[12:14])[0]
        if etype != 0x0800:
            yield ("non-ip", etype)
            continue
        ip = frame[14:]
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        proto = ip[9]
        src = socket.inet_ntoa(ip[12:16])
        dst = socket.inet_ntoa(ip[16:20])
        frag = struct.unpack(">H", ip[6:8])[0] & 0x3FFF
        if proto == 17 and frag == 0:
            sport, dport, ulen = struct.unpack(">HHH", ip[ihl:ihl + 6])
            yield (src, dst, sport, dport, proto, ip[ihl + 8:ihl + ulen])
        else:
            yield (src, dst, 0, 0, proto, None if frag else ip[ihl:total])


def esp_packets(path, src, spi):
    for p in packets(path):
        if p[0] == src and p[2] == PORT and p[3] == PORT and p[5] is not None and len(p[5]) >= 8:
            if struct.unpack(">I", p[5][:4])[0] == spi:
                yield p[5]


def check(path, label=None):
    n = {ACRYPTO: 0, KERNEL: 0}
    other = []
    non_ip = {}
    for p in packets(path):
        if p[0] == "non-ip":
            non_ip[p[1]] = non_ip.get(p[1], 0) + 1
            continue
        src, dst, sport, dport, proto, payload = p
        want = {ACRYPTO: SPI_OUT, KERNEL: SPI_IN}.get(src)
        ok = (proto == 17 and sport == PORT and dport == PORT and payload is not None and len(payload) >= 8
              and struct.unpack(">I", payload[:4])[0] == want and dst in n and dst != src)
        if ok:
            n[src] += 1
        else:
            other.append(f"{src} -> {dst} proto {proto} ports {sport} {dport}")
    arp = non_ip.pop(0x0806, 0)
    print(f"  note: veth: {n[ACRYPTO]} ESP packets from {ACRYPTO} (spi 0x{SPI_OUT:x}), {n[KERNEL]} from {KERNEL} "
          f"(spi 0x{SPI_IN:x}), {arp} ARP, {len(other)} other IPv4, other ethertypes {non_ip or 'none'}")
    for o in other[:10]:
        print(f"  note: not ESP: {o}")
    bad = other or non_ip or not n[ACRYPTO] or not n[KERNEL]
    if label:
        first = [p.hex() for _, p in zip(range(2), esp_packets(path, KERNEL, SPI_IN))]
        for h in first:
            print(f"{label} {h}")
        bad = bad or len(first) != 2
    if bad:
        sys.exit(1)


def dump(path, src, spi, count):
    for i, p in enumerate(esp_packets(path, src, int(spi, 0))):
        if i == int(count):
            break
        print(p.hex())


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f">{len(b) // 2}H", b))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def inject(path, src, dst):
    spi = SPI_OUT if src == ACRYPTO else SPI_IN
    caught = list(esp_packets(path, src, spi))
    if len(caught) < 2:
        raise SystemExit(f"inject: {len(caught)} captured packets from {src}, need 2")
    seqs = [struct.unpack(">I", p[4:8])[0] for p in caught]
    first, newest = caught[seqs.index(min(seqs))], caught[seqs.index(max(seqs))]

    def flipped(p, *bits):
        b = bytearray(p)
        for bit in bits:
            b[bit // 8] ^= 0x80 >> (bit % 8)
        return bytes(b)

    n = len(first) * 8
    sends = [
        ("tampered: sequence number bit 31", flipped(first, 32)),
        ("tampered: sequence number bit 30 and a ciphertext bit", flipped(first, 33, n // 2 + 3)),
        ("tampered: sequence number bit 29 and the last ICV bit", flipped(first, 34, n - 1)),
        (f"replayed: the newest (seq {max(seqs)})", newest),
        (f"replayed: the oldest (seq {min(seqs)})", first),
    ]
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
    s.bind((src, 0))
    for what, esp in sends:
        ulen = 8 + len(esp)
        pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack(">BBH", 0, 17, ulen)
        hdr = struct.pack(">HHHH", PORT, PORT, ulen, 0)
        csum = checksum(pseudo + hdr + esp) or 0xFFFF
        s.sendto(struct.pack(">HHHH", PORT, PORT, ulen, csum) + esp, (dst, 0))
        print(f"  note: sent {src} -> {dst}: {what}, spi 0x{spi:x} seq 0x{struct.unpack('>I', esp[4:8])[0]:x}, "
              f"{len(esp)} bytes")


def xfrm_states(text):
    """Per SPI: packets, seq (highest received), oseq (last sent), replay,
    replay_window, failed, from `ip -s xfrm state`."""
    out = {}
    for block in ("\n" + text).split("\nsrc ")[1:]:
        st = {}
        # ip -s prints numbers as "0x00001001(4097)": the hex part
        words = [w.split("(")[0] if w.startswith("0x") else w for w in block.split()]
        for i, w in enumerate(words):
            if w == "spi":
                st["spi"] = int(words[i + 1], 16)
            elif w == "seq" and words[i - 1] == "context:":
                st["seq"] = int(words[i + 1].rstrip(","), 16)
            elif w == "oseq":
                st["oseq"] = int(words[i + 1].rstrip(","), 16)
            elif w == "replay-window" and i + 5 < len(words) and words[i + 2] == "replay":
                st["replay_window"] = int(words[i + 1])
                st["replay"] = int(words[i + 3])
                st["failed"] = int(words[i + 5])
        # "lifetime current:" then "N(bytes), M(packets)"
        cur = block.split("lifetime current:")
        if len(cur) == 2:
            line = cur[1].strip().split("\n")[0]
            st["packets"] = int(line.split(",")[1].strip().split("(")[0])
        if "spi" in st:
            out[st["spi"]] = st
    return out


def agree(status_path, xfrm_path, udp_drops="0"):
    tunnels = json.load(open(status_path))
    if len(tunnels) != 1:
        raise SystemExit(f"agree: {len(tunnels)} tunnels in the status")
    sas = {(s["dir"], int(s["spi"], 16)): s for s in tunnels[0]["sas"]}
    k = xfrm_states(open(xfrm_path).read())
    out, inb = sas[("out", SPI_OUT)], sas[("in", SPI_IN)]
    kin, kout = k[SPI_OUT], k[SPI_IN]
    drops = int(udp_drops)
    print(f"  note: acrypto out 0x{SPI_OUT:x}: {out['packets']} packets, seq {out['seq']}; kernel in: "
          f"{kin['packets']} packets, seq {kin['seq']}, replay {kin['replay']}, replay-window {kin['replay_window']}, "
          f"failed {kin['failed']}")
    print(f"  note: kernel out 0x{SPI_IN:x}: {kout['packets']} packets, oseq {kout['oseq']}; acrypto in: "
          f"{inb['packets']} packets, seq {inb['seq']}, replay {inb['replay_drops']}, auth {inb['auth_failures']}, "
          f"other {inb['other_drops']}; UDP receive buffer drops on acrypto's side: {drops}")
    bad = []
    if out["packets"] == 0 or kout["packets"] == 0:
        bad.append("no packets")
    if out["packets"] != kin["packets"]:
        bad.append(f"acrypto sent {out['packets']} packets, the kernel took {kin['packets']}")
    if out["seq"] != kin["seq"]:
        bad.append(f"acrypto's last sequence number {out['seq']}, the kernel's highest {kin['seq']}")
    if kout["packets"] != inb["packets"] + drops:
        bad.append(f"the kernel sent {kout['packets']} packets, acrypto took {inb['packets']} (+{drops} dropped "
                   "in the socket)")
    if kout["oseq"] != inb["seq"] and drops == 0:
        bad.append(f"the kernel's last sequence number {kout['oseq']}, acrypto's highest {inb['seq']}")
    if tunnels[0]["send_errors"]:
        bad.append(f"{tunnels[0]['send_errors']} send errors")
    for b in bad:
        print(f"  note: disagree: {b}")
    sys.exit(1 if bad else 0)


def dropped(before, after, xfrm_before, xfrm_after, p0, p1, s0, s1):
    """After `inject` both ways: acrypto's SA 0x2001 and the kernel's SA
    0x1001 each dropped 3 packets for their ICV and 2 as replays, delivered
    none of them, and their windows did not move."""
    b, a = (json.load(open(f))[0] for f in (before, after))
    kb, ka = (xfrm_states(open(f).read()) for f in (xfrm_before, xfrm_after))
    p0, p1, s0, s1 = map(int, (p0, p1, s0, s1))

    def sa(t, d, spi):
        return next(s for s in t["sas"] if s["dir"] == d and int(s["spi"], 16) == spi)

    ib, ia = sa(b, "in", SPI_IN), sa(a, "in", SPI_IN)
    d = {k: ia[k] - ib[k] for k in ("packets", "auth_failures", "replay_drops", "other_drops")}
    kin_b, kin_a = kb[SPI_OUT], ka[SPI_OUT]
    kd = {k: kin_a[k] - kin_b[k] for k in ("packets", "failed", "replay", "replay_window")}
    print(f"  note: acrypto in 0x{SPI_IN:x}, the injection's part: {d}; window top {ib['seq']} -> {ia['seq']}; "
          f"global drops {a['global']}")
    print(f"  note: kernel in 0x{SPI_OUT:x}, the injection's part: {kd}; window top {kin_b['seq']} -> "
          f"{kin_a['seq']}; XfrmInStateProtoError +{p1 - p0}, XfrmInStateSeqError +{s1 - s0}")
    bad = []
    if d != {"packets": 0, "auth_failures": 3, "replay_drops": 2, "other_drops": 0}:
        bad.append("acrypto's counters")
    if kd["packets"] != 0 or kd["failed"] != 3 or kd["replay"] + kd["replay_window"] != 2:
        bad.append("the kernel's SA counters")
    if p1 - p0 != 3 or s1 - s0 != 2:
        bad.append("the kernel's xfrm_stat")
    if ia["seq"] != ib["seq"] or kin_a["seq"] != kin_b["seq"]:
        bad.append("a window moved")
    for x in bad:
        print(f"  note: wrong: {x}")
    sys.exit(1 if bad else 0)


def row(label, tcp, udp64, udp1400, out):
    """One benchmark row from iperf3 -J files: TCP goodput (receiver's
    Mbit/s) and UDP packets per second received (sent less lost)."""
    t = json.load(open(tcp))["end"]["sum_received"]["bits_per_second"] / 1e6
    rates = []
    for f in (udp64, udp1400):
        u = json.load(open(f))["end"]["sum"]
        rates.append((u["packets"] - u["lost_packets"]) / u["seconds"])
    print(f"  {label:<38} {t:10.1f} {rates[0]:12.0f} {rates[1]:13.0f}")
    with open(out, "w") as o:
        print(t, *rates, file=o)


def json_value(path, expr):
    v = json.load(open(path))
    for k in expr.split("."):
        v = v[k]
    print(v)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"hold": hold, "check": check, "dump": dump, "inject": inject, "agree": agree, "dropped": dropped, "row": row, "json": json_value}[cmd](*args)
