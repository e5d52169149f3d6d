#!/usr/bin/env bash
# --disk mistakes give a clear message and a non-zero status before the
# guest runs: a missing image, a directory, an image whose size is not a
# multiple of 512 bytes, an empty spec, an unknown option or engine; and an
# image that another running skiff holds (it is locked while in use; free
# again once that skiff has exited). Also the same image twice in one VM.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest blk exitcode

good=$IT_TMP/good.img
truncate -s 1M "$good"
it_need_virtio virtio-blk --disk "$good"

# expect_error WHAT ERE ARGS...: skiff refuses (status 1 or 2, the guest
# never ran) with a message matching ERE.
expect_error() {
	local what=$1 re=$2
	shift 2
	it_guest exitcode -p code=42 "$@"
	case $RC in
	1 | 2) ;;
	*) it_fail "$what: expected status 1 or 2, got $RC" ;;
	esac
	it_expect_err_re "$re" "$what"
	echo "$what: status $RC: $(grep -viE '^skiff: (info|debug): ' "$ERR" | head -1)"
}

expect_error "missing image" "missing\.img.*(no such file|not found|does not exist)|(no such file|not found|does not exist).*missing\.img" \
	--disk "$IT_TMP/missing.img"
expect_error "a directory" "$(basename "$IT_TMP").*(directory|regular file)" --disk "$IT_TMP"
odd=$IT_TMP/odd.img
head -c 1000 /dev/zero >"$odd"
expect_error "1000-byte image" "odd\.img.*512|512.*odd\.img" --disk "$odd"
expect_error "empty --disk" "disk|path|empty" --disk ""
expect_error "unknown option" "bogus" --disk "path=$good,bogus=1"
expect_error "unknown engine" "engine|sideways" --disk "path=$good,engine=sideways"
expect_error "the same image twice" "same image.*good\.img" \
	--disk "$good" --disk "$good"

# held by another skiff: start one that keeps the disk for a while
locked=$IT_TMP/locked.img
truncate -s 1M "$locked"
hold_out=$IT_TMP/hold.out
timeout -k 5 60 "$SKIFF" run -k "$GUESTS/blk.elf" --disk "$locked" -p hold=30 \
	</dev/null >"$hold_out" 2>"$IT_TMP/hold.err" &
holder=$!
for ((i = 0; i < 300; i++)); do
	grep -q '^blk: holding the disk' "$hold_out" && break
	kill -0 $holder 2>/dev/null || break
	sleep 0.1
done
if ! grep -q '^blk: holding the disk' "$hold_out"; then
	it_fail "the first skiff did not start holding the disk: $(cat "$hold_out" "$IT_TMP/hold.err")"
else
	expect_error "image used by another skiff" "locked\.img.*(lock|in use|busy)|(lock|in use|busy).*locked\.img" \
		--disk "$locked"
	expect_error "image used by another skiff, read-only" \
		"locked\.img.*(lock|in use|busy)|(lock|in use|busy).*locked\.img" --disk "path=$locked,ro"
fi
kill $holder 2>/dev/null
wait $holder 2>/dev/null
it_guest exitcode -p code=42 --disk "$locked"
it_expect_rc 42 "the image is free again once the other skiff exited"
it_done
