#!/usr/bin/env bash
# virtio-net with user-mode networking (libslirp), no privileges: the guest
# (tests/guest/net.c, "dhcp") does DHCPDISCOVER/OFFER/REQUEST/ACK and gets
# 10.0.2.15 with router 10.0.2.2 and DNS 10.0.2.3; ARP and three pings of
# the router are answered; a UDP datagram to 10.0.2.2:PORT reaches a socket
# on the host's 127.0.0.1:PORT. Then hostfwd=tcp::HOSTPORT-:7777: two host
# TCP connections to 127.0.0.1:HOSTPORT in turn (the next once the guest saw
# the previous one close) reach the guest's small TCP responder, whose
# upper-cased lines come back.
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

# hostfwd: TCP from the host's loopback to the guest
hport=$((20000 + RANDOM % 20000))
OUT=$IT_TMP/tcp.out ERR=$IT_TMP/tcp.err
IT_LAST="$SKIFF run -k $GUESTS/net.elf --net user,hostfwd=tcp::$hport-:7777 -p dhcp tcp=7777 tcpcount=2 serve=60"
: >"$OUT"
t0=$EPOCHREALTIME
timeout -k 5 "$IT_TIMEOUT" "$SKIFF" run -k "$GUESTS/net.elf" --net "user,hostfwd=tcp::$hport-:7777" \
	-p "dhcp tcp=7777 tcpcount=2 serve=60" </dev/null >"$OUT" 2>"$ERR" &
vm=$!
for ((i = 0; i < 600; i++)); do
	grep -q '^net: serving tcp' "$OUT" && break
	kill -0 $vm 2>/dev/null || break
	sleep 0.1
done
for conn in 1 2; do
	if exec {fd}<>"/dev/tcp/127.0.0.1/$hport"; then
		for line in "line one of $conn" "line two of $conn"; do
			printf '%s\n' "$line" >&$fd
			reply=
			read -r -t 10 reply <&$fd
			[ "$reply" = "${line^^}" ] || it_fail "hostfwd connection $conn: sent \"$line\", got \"$reply\""
		done
		exec {fd}>&-
		# the guest serves one connection at a time: wait for its close
		for ((i = 0; i < 100; i++)); do
			[ "$(grep -c '^net: tcp closed$' "$OUT")" -ge $conn ] && break
			sleep 0.1
		done
	else
		it_fail "cannot connect to 127.0.0.1:$hport (hostfwd)"
	fi
done
wait $vm
RC=$?
SECS=$(it_secs "$t0" "$EPOCHREALTIME")
it_expect_rc 42 "hostfwd TCP, two connections"
it_expect_out "net: tcp got: line two of 2"
[ "$(grep -c '^net: tcp closed$' "$OUT")" = 2 ] || it_fail "the guest did not see two TCP connections close"
grep -q '^net: tcp connection from 10\.0\.2\.2:' "$OUT" || it_fail "no TCP connection from the gateway"
echo "hostfwd: two TCP connections in ${SECS}s"
it_done
