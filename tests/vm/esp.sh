#!/bin/sh
# The IPsec ESP port in the guest (manifest stage "esp"): acrypto-esp against
# the Linux kernel's xfrm. Two network namespaces joined by a veth pair:
#   "ac": 192.0.2.1 on veth-ac, acrypto esp with its TUN device acesp0
#         (198.51.100.1/24, route to 203.0.113.0/24)
#   "kx": 192.0.2.2 on veth-kx, 203.0.113.1 on dummy0, the kernel's xfrm with
#         the same SAs (encap espinudp 4500 4500) and a UDP 4500 socket with
#         UDP_ENCAP_ESPINUDP (esp_peer.py hold)
# SA 0x1001 carries acrypto -> kernel, SA 0x2001 kernel -> acrypto.
#
#   esp.sh suite sha1|sha256|gcm [tamper]
#       (with tamper: then the tamper checks below on the same tunnel)
#       ping both ways, iperf3 TCP both ways; tcpdump on the veth saw only
#       ESP in UDP; acrypto's status and `ip -s xfrm state` count the same
#       packets and sequence numbers; /proc/net/xfrm_stat has no error; the
#       kernel's first two packets are printed (KERNEL-ESP lines: they are
#       what ports/esp/tests/data/kernel-esp.txt holds)
#   esp.sh tamper sha1|sha256|gcm
#       tampered and replayed packets injected both ways (esp_peer.py
#       inject) are dropped and counted: acrypto's auth failures and replay
#       drops, the kernel's XfrmInStateProtoError and XfrmInStateSeqError;
#       the tunnel still works after them
#   esp.sh bench
#       iperf3 TCP goodput and UDP packet rate (64- and 1400-byte payloads):
#       acrypto-esp against kernel-to-kernel xfrm in the same guest, and
#       acrypto-esp with batch sizes 1, 8, 32, 64
#
# Runs chrooted in the host root; $B holds the acrypto binary. Every check
# prints a RESULT line; the script exits non-zero on the first failure.
set -u
B=${B:?}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
here=$(cd "$(dirname "$0")" && pwd)
PY=python3
PEER="$PY $here/esp_peer.py"
w=/run/esp-test
# iperf3 makes its temporary file there (the host's /tmp is read-only)
export TMPDIR=$w
mkdir -p $w
# One copy of the command in the guest's memory: loading it over 9p on
# every call is slow.
A=/run/acrypto-esp-bin
[ -x $A ] || cp "$B/acrypto" $A || exit 1
# The same for the tools and their libraries: every run of a program from
# the 9p mount reads it and its libraries from the host again, seconds in
# the emulated guest (python finds its library under /usr still).
TOOLS=/run/esp-tools
if [ ! -f $TOOLS/done ]; then
	mkdir -p $TOOLS/bin $TOOLS/lib
	for t in ip ping iperf3 tcpdump python3 awk sed grep cat sleep date wc tail sh; do
		p=$(command -v $t) || continue
		cp -L "$p" $TOOLS/bin/$t
		ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r l; do
			[ -f "$TOOLS/lib/${l##*/}" ] || cp -L "$l" $TOOLS/lib/
		done
	done
	touch $TOOLS/done
fi
export PATH=$TOOLS/bin:$PATH LD_LIBRARY_PATH=$TOOLS/lib PYTHONHOME=/usr
tag=${T_TAG:-}
RUN=$w/run
NAME=esp-t
pids=""

t0=$(date +%s)
# phase WHAT: a note with the seconds since the start (the stage must stay short)
phase() { echo "  note: [+$(($(date +%s) - t0))s] $*"; }

nsa() { ip netns exec ac "$@"; }
nsk() { ip netns exec kx "$@"; }

pass() { echo "RESULT PASS ${tag}$*"; }
fail() {
	echo "RESULT FAIL ${tag}$*"
	[ -s $RUN/$NAME.log ] && sed 's/^/  note: acrypto log: /' $RUN/$NAME.log
	cleanup
	exit 1
}
cleanup() {
	[ -f $RUN/$NAME.pid ] && $A esp down $NAME --run-dir $RUN >/dev/null 2>&1
	for p in $pids; do kill "$p" 2>/dev/null; done
	for p in $pids; do wait "$p" 2>/dev/null; done
	pids=""
	ip netns del ac 2>/dev/null
	ip netns del kx 2>/dev/null
	rm -rf $RUN $w/*.pcap $w/*.json $w/*.txt $w/ready.*
}

# ---- the SAs: keys of SA 0x1001 (out, acrypto -> kernel) and 0x2001 (in) ----
# The in keys are those of ports/esp/tests/kernel_packets.rs (its transform()),
# which checks the kernel packets this script prints byte for byte.
K_ENC_OUT=0x000102030405060708090a0b0c0d0e0f
K_ENC_IN=0x303132333435363738393a3b3c3d3e3f
K_SHA1_OUT=0x101112131415161718191a1b1c1d1e1f20212223
K_SHA1_IN=0x404142434445464748494a4b4c4d4e4f50515253
K_SHA256_OUT=0x606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f
K_SHA256_IN=0x808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f
K_GCM_OUT=0xa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3
K_GCM_IN=0xc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3

# xfrm_alg SUITE out|in: the algorithm part of `ip xfrm state add`
xfrm_alg() {
	case $1.$2 in
	sha1.out) echo "enc cbc(aes) $K_ENC_OUT auth-trunc hmac(sha1) $K_SHA1_OUT 96" ;;
	sha1.in) echo "enc cbc(aes) $K_ENC_IN auth-trunc hmac(sha1) $K_SHA1_IN 96" ;;
	sha256.out) echo "enc cbc(aes) $K_ENC_OUT auth-trunc hmac(sha256) $K_SHA256_OUT 128" ;;
	sha256.in) echo "enc cbc(aes) $K_ENC_IN auth-trunc hmac(sha256) $K_SHA256_IN 128" ;;
	gcm.out) echo "aead rfc4106(gcm(aes)) $K_GCM_OUT 128" ;;
	gcm.in) echo "aead rfc4106(gcm(aes)) $K_GCM_IN 128" ;;
	*) echo "esp.sh: unknown suite $1" >&2; exit 2 ;;
	esac
}
# toml_alg SUITE out|in: the same in acrypto's configuration
toml_alg() {
	set -- $(xfrm_alg "$1" "$2")
	if [ "$1" = aead ]; then
		echo "aead = { alg = \"$2\", key = \"$3\", bits = $4 }"
	else
		echo "enc = { alg = \"$2\", key = \"$3\" }"
		echo "auth-trunc = { alg = \"$5\", key = \"$6\", bits = $7 }"
	fi
}

# ---- the setting ----------------------------------------------------------------
# net_up VETH_MTU: the two namespaces, the veth pair, the kernel side's inner
# address; no IPv6 (its neighbour discovery would be clear traffic on the veth)
net_up() {
	cleanup
	mkdir -p $RUN
	ip netns add ac && ip netns add kx || fail "ip netns add"
	for n in ac kx; do
		ip netns exec $n sh -c 'for f in /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo 1 >$f; done' 2>/dev/null
	done
	ip link add veth-ac netns ac mtu "$1" type veth peer name veth-kx netns kx mtu "$1" || fail "ip link add veth"
	printf '%s\n' "link set lo up" "addr add 192.0.2.1/24 dev veth-ac" "link set veth-ac up" |
		ip -n ac -b - || fail "ac: addresses"
	printf '%s\n' "link set lo up" "addr add 192.0.2.2/24 dev veth-kx" "link set veth-kx up" |
		ip -n kx -b - || fail "kx: addresses"
}

# xfrm_side NS LOCAL REMOTE LNET RNET LADDR VETH OUTSPI OUTALG INSPI INALG:
# the kernel's xfrm in NS (states, policies, the route to the remote inner
# network, the inner address on dummy0, the encap socket)
xfrm_side() {
	ns=$1 local=$2 remote=$3 lnet=$4 rnet=$5 laddr=$6 veth=$7
	# one ip for all (each run of a program is slow in the emulated guest)
	printf '%s\n' \
		"xfrm state add src $local dst $remote proto esp spi $8 mode tunnel $9 encap espinudp 4500 4500 0.0.0.0" \
		"xfrm state add src $remote dst $local proto esp spi ${10} mode tunnel ${11} replay-window 32 encap espinudp 4500 4500 0.0.0.0" \
		"xfrm policy add src $lnet dst $rnet dir out tmpl src $local dst $remote proto esp spi $8 mode tunnel" \
		"xfrm policy add src $rnet dst $lnet dir in tmpl src $remote dst $local proto esp spi ${10} mode tunnel" \
		"link add dummy0 type dummy" "addr add $laddr/32 dev dummy0" "link set dummy0 up" \
		"route add $rnet dev $veth src $laddr" |
		ip -n $ns -b - || fail "$ns: xfrm states and policies (spi $8 $9, spi ${10} ${11}), dummy0, route"
	rm -f $w/ready.$ns
	ip netns exec $ns $PEER hold $w/ready.$ns &
	pids="$pids $!"
	i=0
	while [ ! -f $w/ready.$ns ]; do
		i=$((i + 1))
		[ $i -gt 300 ] && fail "$ns: the UDP_ENCAP_ESPINUDP socket is not up"
		sleep 0.1
	done
}
kernel_peer() { # SUITE: the kernel side in kx
	xfrm_side kx 192.0.2.2 192.0.2.1 203.0.113.0/24 198.51.100.0/24 203.0.113.1 veth-kx \
		0x2001 "$(xfrm_alg "$1" in)" 0x1001 "$(xfrm_alg "$1" out)"
}
kernel_local() { # SUITE: kernel xfrm on acrypto's side too (kernel to kernel)
	xfrm_side ac 192.0.2.1 192.0.2.2 198.51.100.0/24 203.0.113.0/24 198.51.100.1 veth-ac \
		0x1001 "$(xfrm_alg "$1" out)" 0x2001 "$(xfrm_alg "$1" in)"
}

# acrypto_up SUITE BATCH TUN_MTU: acrypto esp in ac
acrypto_up() {
	cat >$w/esp.toml <<EOF
name = "$NAME"
devices = "${ESP_DEVICES:-soft:1}"
batch = $2
run_dir = "$RUN"
[tun]
name = "acesp0"
address = "198.51.100.1/24"
mtu = $3
[outer]
local = "192.0.2.1"
remote = "192.0.2.2"
encap = "espinudp"
[[state]]
src = "192.0.2.1"
dst = "192.0.2.2"
spi = "0x1001"
mode = "tunnel"
$(toml_alg "$1" out)
[[state]]
src = "192.0.2.2"
dst = "192.0.2.1"
spi = "0x2001"
mode = "tunnel"
$(toml_alg "$1" in)
[[policy]]
src = "198.51.100.0/24"
dst = "203.0.113.0/24"
dir = "out"
tmpl = { src = "192.0.2.1", dst = "192.0.2.2", proto = "esp", spi = "0x1001", mode = "tunnel" }
[[policy]]
src = "203.0.113.0/24"
dst = "198.51.100.0/24"
dir = "in"
tmpl = { src = "192.0.2.2", dst = "192.0.2.1", proto = "esp", spi = "0x2001", mode = "tunnel" }
EOF
	nsa $A esp up $w/esp.toml >$w/up.txt 2>&1 || { sed 's/^/  note: /' $w/up.txt; fail "acrypto esp up ($1, batch $2)"; }
}

status_json() { # FILE: acrypto's status, once it has been rewritten after the traffic
	sleep 0.6
	$A esp status --json --run-dir $RUN >"$1" || fail "acrypto esp status --json"
}
udp_drops() { # the UDP receive buffer drops in ac (acrypto's socket)
	nsa cat /proc/net/snmp | awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $6 }'
}
xfrm_stat_errors() { # NS: the non-zero lines of /proc/net/xfrm_stat
	ip netns exec "$1" cat /proc/net/xfrm_stat | awk '$2 != 0'
}

# tcpdump on acrypto's end of the veth (the wire between the two sides). Not
# on the kernel's end: there the packets xfrm decapsulated come in again,
# from veth-kx, and a packet socket sees them in the clear.
capture() {
	nsa tcpdump -i veth-ac -n -U -Z root -w $w/veth.pcap >$w/tcpdump.txt 2>&1 &
	tcpd=$!
	pids="$pids $tcpd"
	# it says so once it captures
	i=0
	until grep -q 'listening on' $w/tcpdump.txt; do
		i=$((i + 1))
		[ $i -gt 300 ] && fail "tcpdump did not start"
		sleep 0.1
	done
}

ping_both() { # WHAT
	nsa ping -c 2 -i 0.2 -W 5 203.0.113.1 >$w/ping.txt 2>&1 ||
		{ sed 's/^/  note: /' $w/ping.txt; fail "$1: ping 203.0.113.1 from acrypto's side"; }
	nsk ping -c 2 -i 0.2 -W 5 -I 203.0.113.1 198.51.100.1 >$w/ping.txt 2>&1 ||
		{ sed 's/^/  note: /' $w/ping.txt; fail "$1: ping 198.51.100.1 from the kernel's side"; }
}

iperf_server() {
	nsk iperf3 -s -B 203.0.113.1 >$w/iperf-server.txt 2>&1 &
	pids="$pids $!"
	i=0
	until nsk sh -c 'cat /proc/net/tcp' | awk '$4 == "0A"' | grep -q ':1451 '; do
		i=$((i + 1))
		[ $i -gt 300 ] && fail "iperf3 server did not start"
		sleep 0.1
	done
}

# ---- the tests ------------------------------------------------------------------
# tunnel_up SUITE: the namespaces, the kernel's SAs, acrypto's tunnel and
# tcpdump on the veth, each phase timed
tunnel_up() {
	net_up 1500
	phase "$1: namespaces"
	kernel_peer "$1"
	phase "$1: the kernel's xfrm"
	acrypto_up "$1" 64 1400
	phase "$1: acrypto esp up"
	capture
}

suite() {
	s=$1
	tunnel_up "$s"
	phase "$s: up"
	# First: acrypto's pings, so that the kernel's packets 1 and 2 of SA
	# 0x2001 are the echo replies (the captured packets of kernel-esp.txt).
	nsa ping -c 2 -i 0.3 -W 5 203.0.113.1 >$w/ping.txt 2>&1 ||
		{ sed 's/^/  note: /' $w/ping.txt; fail "$s: first ping from acrypto's side"; }
	nsk ping -c 2 -i 0.2 -W 5 -I 203.0.113.1 198.51.100.1 >$w/ping.txt 2>&1 ||
		{ sed 's/^/  note: /' $w/ping.txt; fail "$s: ping 198.51.100.1 from the kernel's side"; }
	phase "$s: ping both ways"
	iperf_server
	nsa iperf3 -c 203.0.113.1 -t 2 -J >$w/tcp.json 2>&1 || { tail -5 $w/tcp.json; fail "$s: iperf3 TCP acrypto -> kernel"; }
	nsa iperf3 -c 203.0.113.1 -t 2 -R -J >$w/tcpr.json 2>&1 || { tail -5 $w/tcpr.json; fail "$s: iperf3 -R TCP kernel -> acrypto"; }
	phase "$s: iperf3 both ways"
	up=$($PEER json $w/tcp.json end.sum_received.bytes) down=$($PEER json $w/tcpr.json end.sum_received.bytes)
	[ "${up:-0}" -gt 0 ] && [ "${down:-0}" -gt 0 ] || fail "$s: iperf3 moved $up and $down bytes"
	sleep 0.5
	kill $tcpd 2>/dev/null
	wait $tcpd 2>/dev/null
	sed 's/^/  note: tcpdump: /' $w/tcpdump.txt | grep -v 'listening on'
	# only ESP on the wire; the kernel's first two packets, for kernel-esp.txt
	$PEER check $w/veth.pcap "KERNEL-ESP $s" || fail "$s: tcpdump on the veth saw more than ESP in UDP 4500"
	status_json $w/status.json
	nsk ip -s xfrm state >$w/xfrm.txt
	$PEER agree $w/status.json $w/xfrm.txt "$(udp_drops)" ||
		{ sed 's/^/  note: /' $w/xfrm.txt; fail "$s: acrypto's and the kernel's counters disagree"; }
	errs=$(xfrm_stat_errors kx)
	[ -z "$errs" ] || { echo "$errs" | sed 's/^/  note: xfrm_stat: /'; fail "$s: /proc/net/xfrm_stat counts errors"; }
	phase "$s: checked"
	mbit() { echo "$1" | awk '{ printf "%.1f", $1 * 8 / 2 / 1e6 }'; }
	pass "$s: ping both ways, iperf3 TCP $(mbit "$up") Mbit/s acrypto -> kernel and $(mbit "$down") Mbit/s back," \
		"only ESP on the veth, counters agree, xfrm_stat clean"
	# "suite SUITE tamper": the tamper checks on this tunnel (no second set-up)
	[ "${2:-}" = tamper ] && injected "$s"
	cleanup
}

tamper() {
	s=$1
	tunnel_up "$s"
	ping_both "$s"
	phase "$s: up, ping both ways"
	injected "$s"
	cleanup
}

# injected SUITE: tampered and replayed copies of the packets captured on the
# veth ($w/veth.pcap) injected both ways are dropped and counted by both
# sides, and the tunnel still works after them.
injected() {
	s=$1
	status_json $w/before.json
	nsk ip -s xfrm state >$w/xfrm-before.txt
	proto0=$(nsk awk '$1 == "XfrmInStateProtoError" { print $2 }' /proc/net/xfrm_stat)
	seq0=$(nsk awk '$1 == "XfrmInStateSeqError" { print $2 }' /proc/net/xfrm_stat)
	# to the kernel: acrypto's packets, from acrypto's address
	nsa $PEER inject $w/veth.pcap 192.0.2.1 192.0.2.2 || fail "$s: inject to the kernel"
	# to acrypto: the kernel's packets, from the kernel's address
	nsk $PEER inject $w/veth.pcap 192.0.2.2 192.0.2.1 || fail "$s: inject to acrypto"
	sleep 0.5
	status_json $w/after.json
	nsk ip -s xfrm state >$w/xfrm-after.txt
	proto1=$(nsk awk '$1 == "XfrmInStateProtoError" { print $2 }' /proc/net/xfrm_stat)
	seq1=$(nsk awk '$1 == "XfrmInStateSeqError" { print $2 }' /proc/net/xfrm_stat)
	$PEER dropped $w/before.json $w/after.json $w/xfrm-before.txt $w/xfrm-after.txt "$proto0" "$proto1" "$seq0" "$seq1" ||
		fail "$s: the injected packets were not all dropped and counted as they must be"
	# the windows did not move for the tampered packets: the tunnel still works
	phase "$s: injected and counted"
	ping_both "$s: after the injection"
	kill $tcpd 2>/dev/null
	wait $tcpd 2>/dev/null
	pass "$s: 3 tampered and 2 replayed packets each way dropped and counted (acrypto: auth failures" \
		"and replay drops; kernel: XfrmInStateProtoError, XfrmInStateSeqError); ping works after them"
}

# ---- the benchmark -----------------------------------------------------------------
T=${ESP_BENCH_SECS:-3}
# measure LABEL: iperf3 from ac to kx's 203.0.113.1: TCP goodput (Mbit/s),
# UDP packets/s received at 64 and 1400 bytes of payload
measure() {
	nsa iperf3 -c 203.0.113.1 -t $T -J >$w/b-tcp.json 2>&1 || { tail -3 $w/b-tcp.json; echo "  $1: iperf3 TCP failed"; return 1; }
	for l in 64 1400; do
		nsa iperf3 -c 203.0.113.1 -u -l $l -b 0 -t $T -J >$w/b-udp$l.json 2>&1 ||
			{ tail -3 $w/b-udp$l.json; echo "  $1: iperf3 UDP $l failed"; return 1; }
	done
	$PEER row "$1" $w/b-tcp.json $w/b-udp64.json $w/b-udp1400.json $w/last.txt
}
avg_batch() { # the batches acrypto made in the runs
	status_json $w/status.json
	$PY -c 'import json,sys; t=json.load(open(sys.argv[1]))[0]; print("    (acrypto: %.1f packets per batch on average, %d batches)" % (t["batched_packets"] / max(t["batches"], 1), t["batches"]))' $w/status.json
}
bench() {
	echo "esp bench: iperf3 -t $T from 198.51.100.1 (netns ac) to 203.0.113.1 (netns kx) over a veth (mtu 1600)," \
		"inner mtu 1500; acrypto devices ${ESP_DEVICES:-soft:1}"
	printf '  %-38s %10s %12s %13s\n' "" "TCP Mbit/s" "UDP64 pkt/s" "UDP1400 pkt/s"
	for s in sha1 sha256 gcm; do
		net_up 1600
		kernel_peer $s
		kernel_local $s
		iperf_server
		measure "$s kernel <-> kernel" || { cleanup; continue; }
		read -r kt k64 k1400 <$w/last.txt
		cleanup
		net_up 1600
		kernel_peer $s
		acrypto_up $s 64 1500
		iperf_server
		measure "$s acrypto-esp (batch 64) <-> kernel" || { cleanup; continue; }
		read -r at a64 a1400 <$w/last.txt
		avg_batch
		echo "$at $kt $a64 $k64 $a1400 $k1400" | awk '{ printf "  %-38s %10.2f %12.2f %13.2f\n", "ratio acrypto / kernel", $1 / $2, $3 / $4, $5 / $6 }'
		cleanup
	done
	# batch 64: the sha1 acrypto-esp row above
	for b in 1 8 32; do
		net_up 1600
		kernel_peer sha1
		acrypto_up sha1 $b 1500
		iperf_server
		measure "sha1 acrypto-esp batch $b" || { cleanup; continue; }
		avg_batch
		cleanup
	done
	echo "  the kernel's drivers (/proc/crypto, highest priority): $(grep -A3 'name *: authenc(hmac(sha1),cbc(aes))' /proc/crypto | sed -n 's/driver *: //p' | head -1)," \
		"$(grep -A3 'name *: rfc4106(gcm(aes))' /proc/crypto | sed -n 's/driver *: //p' | head -1)"
}

case ${1:-} in
suite) suite "$2" "${3:-}" ;;
tamper) tamper "$2" ;;
bench) bench ;;
*)
	echo "usage: esp.sh suite SUITE [tamper] | tamper SUITE | bench" >&2
	exit 2
	;;
esac
