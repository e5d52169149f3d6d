#!/usr/bin/env bash
# virtio-vsock end to end with Firecracker's host convention
# (tests/guest/vsock.c; host side bench/netpeer.c on AF_UNIX sockets):
#   guest -> host: the guest connects to CID 2 port 5000, skiff connects to
#     UDS_5000, where a host program reads the guest's line and answers one;
#     the guest shuts down and gets its RST;
#   host -> guest: three host programs in turn connect to UDS and write
#     "CONNECT 6000", get "OK <port>", and read back their line upper-cased
#     by the guest, which then sees each one close.
# The guest sees the cid= given.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest vsock
it_netpeer
uds=$IT_TMP/v.sock
it_need_virtio virtio-vsock --vsock "cid=3,uds=$uds"

# guest-initiated
"$NETPEER" uds-serve "${uds}_5000" "hello from the host" 30 >"$IT_TMP/serve.out" 2>&1 &
server=$!
for ((i = 0; i < 50; i++)); do grep -qs ready "$IT_TMP/serve.out" && break; sleep 0.1; done
it_guest vsock --vsock "cid=3,uds=$uds" -p connect=5000
it_expect_rc 42 "guest-initiated connection"
it_expect_out "vsock: 00:01.0 guest cid 3 features 0x120000001"
it_expect_out "vsock: connected to host port 5000"
it_expect_out "vsock: host says: hello from the host"
it_expect_out "vsock: closed"
wait $server || it_fail "the host program on ${uds}_5000 failed: $(cat "$IT_TMP/serve.out")"
grep -qxF "uds: got: hello from the skiff guest over vsock" "$IT_TMP/serve.out" ||
	it_fail "the host program did not get the guest's line: $(cat "$IT_TMP/serve.out")"
echo "guest -> host: ${SECS}s"

# host-initiated, three connections one after the other
OUT=$IT_TMP/listen.out ERR=$IT_TMP/listen.err
IT_LAST="$SKIFF run -k $GUESTS/vsock.elf --vsock cid=1234567,uds=$uds -p listen=6000 count=3"
: >"$OUT"
t0=$EPOCHREALTIME
timeout -k 5 "$IT_TIMEOUT" "$SKIFF" run -k "$GUESTS/vsock.elf" --vsock "cid=1234567,uds=$uds" \
	-p "listen=6000 count=3 serve=60" </dev/null >"$OUT" 2>"$ERR" &
vm=$!
for ((i = 0; i < 600; i++)); do
	grep -q '^vsock: listening on 6000' "$OUT" && break
	kill -0 $vm 2>/dev/null || break
	sleep 0.1
done
for m in "first line" "second line" "third line"; do
	"$NETPEER" uds-connect "$uds" 6000 "$m" 10 >>"$IT_TMP/connect.out" 2>&1 ||
		it_fail "host connection \"$m\": no upper-cased echo ($(tail -2 "$IT_TMP/connect.out" | tr '\n' ' '))"
done
wait $vm
RC=$?
SECS=$(it_secs "$t0" "$EPOCHREALTIME")
it_expect_rc 42 "host-initiated connections"
it_expect_out "vsock: 00:01.0 guest cid 1234567 features 0x120000001"
for m in "first line" "second line" "third line"; do
	it_expect_out "vsock: host wrote: $m"
	grep -qxF "uds: echo: ${m^^}" "$IT_TMP/connect.out" || it_fail "no echo of \"$m\""
done
[ "$(grep -c '^uds: OK [0-9]*$' "$IT_TMP/connect.out")" = 3 ] || it_fail "not three OK lines from skiff"
[ "$(grep -c '^vsock: host closed$' "$OUT")" = 3 ] || it_fail "the guest did not see three closes"
[ -e "$uds" ] && it_fail "the socket $uds is still there after skiff exited"
echo "host -> guest, 3 connections: ${SECS}s"
it_done
