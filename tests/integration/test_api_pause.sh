#!/usr/bin/env bash
# PATCH /vm Paused/Resumed over the API socket (curl --unix-socket) on the
# tick guest, which prints "tick N" every 20 ms: while paused skiff's output
# must not grow at all (checked over 1.5 s), after resume it goes on, and in
# the end the sequence 0..N-1 has no gap and no repeat. Then a paused guest
# stopped by SIGTERM ends skiff with 143. No timing assertions beyond "no
# output while paused".
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest tick
command -v curl >/dev/null || it_skip "curl is not installed"

COUNT=250
sock=$IT_TMP/api.socket

expect_state() {
	it_expect_api 200 GET /
	grep -q "\"state\":\"$1\"" "$IT_TMP/resp" || it_fail "GET /: want $1: $(cat "$IT_TMP/resp")"
}
# start OUTFILE BOOT_ARGS: skiff with the tick guest started through the API
start() {
	rm -f "$sock"
	IT_LAST="$SKIFF --api-sock $sock"
	timeout -k 5 "$IT_TIMEOUT" "$SKIFF" --api-sock "$sock" </dev/null >"$1" 2>"$1.err" &
	pid=$!
	for _ in $(seq 300); do [ -S "$sock" ] && break; sleep 0.01; done
	[ -S "$sock" ] || it_fail "no API socket at $sock"
	it_expect_api 400 PATCH /vm '{"state": "Paused"}'
	grep -q "not supported before starting" "$IT_TMP/resp" || it_fail "pre-boot PATCH /vm: $(cat "$IT_TMP/resp")"
	it_expect_api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/tick.elf\", \"boot_args\": \"$2\"}"
	it_expect_api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 32}'
	it_expect_api 204 PUT /actions '{"action_type": "InstanceStart"}'
}
wait_line() {	# FILE LINE: up to 60 s
	for _ in $(seq 600); do grep -qx "$2" "$1" && return 0; sleep 0.1; done
	it_fail "no line '$2' in $1 after 60 s"
	return 1
}
size() { stat -c %s "$1"; }

OUT=$IT_TMP/tick.out
ERR=$OUT.err
start "$OUT" "count=$COUNT delay_ms=20"
expect_state Running
wait_line "$OUT" "tick 10"
for round in 1 2 3 4 5; do
	it_expect_api 204 PATCH /vm '{"state": "Paused"}'
	expect_state Paused
	it_expect_api 204 PATCH /vm '{"state": "Paused"}'		# idempotent
	it_expect_api 400 PATCH /vm '{"state": "Frozen"}'
	s1=$(size "$OUT")
	sleep "$([ $round = 1 ] && echo 1.5 || echo 0.3)"
	s2=$(size "$OUT")
	[ "$s1" = "$s2" ] || it_fail "round $round: the guest printed while paused ($s1 -> $s2 bytes)"
	it_expect_api 204 PATCH /vm '{"state": "Resumed"}'
	expect_state Running
	for _ in $(seq 600); do [ "$(size "$OUT")" -gt "$s2" ] && break; sleep 0.1; done
	[ "$(size "$OUT")" -gt "$s2" ] || it_fail "round $round: no output after resume"
done
wait "$pid"
RC=$?
it_expect_rc 42 "the tick guest, paused and resumed 5 times"
it_expect_out "tick done"
grep '^tick [0-9]' "$OUT" | cut -d' ' -f2 >"$IT_TMP/seq"
seq 0 $((COUNT - 1)) >"$IT_TMP/want"
cmp -s "$IT_TMP/seq" "$IT_TMP/want" ||
	it_fail "the tick sequence has gaps or repeats: $(diff "$IT_TMP/want" "$IT_TMP/seq" | head -5 | tr '\n' ' ')"

# A paused guest stopped by a signal: skiff ends cleanly with 128+15.
OUT=$IT_TMP/stop.out
ERR=$OUT.err
start "$OUT" "count=100000 delay_ms=20"
wait_line "$OUT" "tick 3"
it_expect_api 204 PATCH /vm '{"state": "Paused"}'
kill -TERM "$pid"
wait "$pid"
RC=$?
it_expect_rc 143 "SIGTERM while paused"
[ -e "$sock" ] && it_fail "the API socket was left behind"
it_done
