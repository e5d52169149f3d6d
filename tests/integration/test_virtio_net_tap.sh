#!/usr/bin/env bash
# virtio-net over a tap device, end to end, inside a network namespace this
# test creates (unshare -n, or -rn without root; skipped when neither is
# allowed or /dev/net/tun is missing). The host side is 10.0.0.1 on tap
# sktap0, the guest (tests/guest/net.c) 10.0.0.2:
#   guest -> host: an ARP request (the host kernel answers), three pings
#     (the host kernel replies), a UDP datagram that a host socket receives;
#   host -> guest: the host kernel's ARP request for the guest, UDP
#     datagrams that the guest prints and echoes back to the sending socket.
# The tap's counters show frames both ways; the guest sees the MAC given
# with mac=.
set -u
if [ -z "${IT_IN_NETNS:-}" ]; then
	name=$(basename "$0" .sh)
	[ -e /dev/net/tun ] || { echo "SKIP: $name: /dev/net/tun is missing"; exit 77; }
	command -v ip >/dev/null || { echo "SKIP: $name: no ip(8) (iproute2)"; exit 77; }
	for how in -n -rn; do
		if unshare $how true 2>/dev/null; then
			IT_IN_NETNS=1 exec unshare $how bash "$0" "$@"
		fi
	done
	echo "SKIP: $name: cannot create a network namespace (unshare -n / -rn not permitted)"
	exit 77
fi
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest net
it_netpeer

tap=sktap0
ip link set lo up
if ! ip tuntap add dev $tap mode tap 2>"$IT_TMP/tap.err"; then
	it_skip "cannot create a tap device here: $(cat "$IT_TMP/tap.err")"
fi
ip addr add 10.0.0.1/24 dev $tap
ip link set $tap up
# (sysfs still shows the parent namespace: ask ip(8) and /proc/net)
hostmac=$(ip -o link show $tap | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
it_need_virtio "virtio-net (tap)" --net tap=$tap

"$NETPEER" recv 10.0.0.1 7001 60 "$IT_TMP/recv.txt" >"$IT_TMP/recv.out" &
peer=$!
for ((i = 0; i < 50; i++)); do grep -qs ready "$IT_TMP/recv.out" && break; sleep 0.1; done

OUT=$IT_TMP/net.out ERR=$IT_TMP/net.err
IT_LAST="$SKIFF run -k $GUESTS/net.elf --net tap=$tap,mac=52:54:00:aa:bb:01 -p ..."
: >"$OUT"
t0=$EPOCHREALTIME
timeout -k 5 "$IT_TIMEOUT" "$SKIFF" run -k "$GUESTS/net.elf" --net "tap=$tap,mac=52:54:00:aa:bb:01" \
	-p "ip=10.0.0.2 peer=10.0.0.1 send=7001 udp=7000 serve=60" </dev/null >"$OUT" 2>"$ERR" &
vm=$!
for ((i = 0; i < 600; i++)); do
	grep -q '^net: serving' "$OUT" && break
	kill -0 $vm 2>/dev/null || break
	sleep 0.1
done
if grep -q '^net: serving' "$OUT"; then
	for msg in "host says hello 1" "host says hello 2" quit; do
		"$NETPEER" echo 10.0.0.1 10.0.0.2 7000 "$msg" 10 >>"$IT_TMP/echo.out" 2>&1 ||
			it_fail "no echo of \"$msg\" from the guest"
	done
fi
wait $vm
RC=$?
SECS=$(it_secs "$t0" "$EPOCHREALTIME")
kill $peer 2>/dev/null
wait $peer 2>/dev/null

it_expect_rc 42 "the guest's exchange"
grep -q '^net: 00:01.0 mac 52:54:00:aa:bb:01 ' "$OUT" || it_fail "the guest does not see mac=52:54:00:aa:bb:01"
it_expect_out "net: arp 10.0.0.1 is at $hostmac"
for s in 1 2 3; do it_expect_out "net: ping reply from 10.0.0.1 seq $s"; done
it_expect_out "net: udp sent to 10.0.0.1:7001"
grep -q '^net: udp from 10.0.0.1:[0-9]* len 17: host says hello 1$' "$OUT" || it_fail "the guest did not print the host's first datagram"
grep -q '^net: udp from 10.0.0.1:[0-9]* len 4: quit$' "$OUT" || it_fail "the guest did not get \"quit\""
it_expect_out "net: ok"
grep -qxF "hello from the skiff guest" "$IT_TMP/recv.txt" 2>/dev/null ||
	it_fail "the host socket did not receive the guest's datagram"
grep -qxF "echo: host says hello 2" "$IT_TMP/echo.out" || it_fail "no echo of the second datagram"
read -r rxp txp < <(awk -v t="$tap:" '$1 == t { print $3, $11 }' /proc/net/dev)
[ "$rxp" -ge 7 ] || it_fail "the tap received only $rxp frames from the guest"
[ "$txp" -ge 6 ] || it_fail "the tap sent only $txp frames to the guest"
echo "exchange in ${SECS}s; tap counters: $rxp frames from the guest, $txp to it"
it_done
