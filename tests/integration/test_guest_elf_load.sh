#!/usr/bin/env bash
# The ELF loader: a segment whose p_memsz reaches far past p_filesz (24 MiB
# of .bss) is placed and reads as zeros (the bss guest checks every word and
# exits 42); the same ELF is refused with -m 16, where the segment does not
# fit in RAM; an ELF linked at 0x8000, over skiff's boot structures, is
# refused.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest bss low

it_guest bss -m 32
it_expect_rc 42 "24 MiB .bss, -m 32"
grep -q '^bss: 24 MiB of zeros' "$OUT" || it_fail "the guest did not find its .bss zeroed"
echo "bss -m 32: ${SECS}s"

for args in "bss -m 16" "low"; do
	# shellcheck disable=SC2086
	it_guest $args
	case $RC in
	1 | 2) ;;
	*) it_fail "$args: expected the ELF to be refused with status 1 or 2, got $RC" ;;
	esac
	case $args in
	bss*) it_expect_err_re "RAM|memory|fit" "$args" ;;
	low) it_expect_err_re "overlap|reserved|0x8000" "$args" ;;
	esac
	[ -s "$OUT" ] && it_fail "$args: the refused guest produced output"
	echo "$args: status $RC: $(grep -viE '^skiff: (info|debug): ' "$ERR" | head -n 1)"
done
it_done
