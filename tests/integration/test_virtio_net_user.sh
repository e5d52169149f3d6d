#!/usr/bin/env bash
# virtio-net with user-mode networking (libslirp), no privileges: the guest
# (tests/guest/net.c, "dhcp") does DHCPDISCOVER/OFFER/REQUEST/ACK and gets
# 10.0.2.15 with router 10.0.2.2 and DNS 10.0.2.3; ARP and three pings of
# the router are answered; a UDP datagram to 10.0.2.2:PORT reaches a socket
# on the host's 127.0.0.1:PORT.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest net
it_netpeer
it_need_virtio "virtio-net (user)" --net user

port=$((20000 + RANDOM % 20000))
"$NETPEER" recv 127.0.0.1 $port 30 "$IT_TMP/recv.txt" >"$IT_TMP/recv.out" 2>&1 &
peer=$!
for ((i = 0; i < 50; i++)); do grep -qs ready "$IT_TMP/recv.out" && break; sleep 0.1; done
grep -q ready "$IT_TMP/recv.out" || it_skip "cannot bind 127.0.0.1:$port: $(cat "$IT_TMP/recv.out")"

it_guest net --net user -p "dhcp send=$port"
it_expect_rc 42 "DHCP, ping, UDP through libslirp"
it_expect_out "net: dhcp offer 10.0.2.15 server 10.0.2.2"
it_expect_out "net: dhcp ack 10.0.2.15 router 10.0.2.2 dns 10.0.2.3"
grep -q '^net: arp 10.0.2.2 is at ' "$OUT" || it_fail "no ARP reply from 10.0.2.2"
it_expect_out "net: ping reply from 10.0.2.2 seq 1"
it_expect_out "net: udp sent to 10.0.2.2:$port"
for ((i = 0; i < 50; i++)); do [ -s "$IT_TMP/recv.txt" ] && break; sleep 0.1; done
kill $peer 2>/dev/null
wait $peer 2>/dev/null
grep -qxF "hello from the skiff guest" "$IT_TMP/recv.txt" 2>/dev/null ||
	it_fail "the host socket on 127.0.0.1:$port did not receive the guest's datagram"
echo "dhcp + ping + udp in ${SECS}s"
it_done
