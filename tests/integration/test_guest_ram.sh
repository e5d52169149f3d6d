#!/usr/bin/env bash
# All guest RAM the e820 map reports is there and distinct: the ram guest
# writes an address-dependent pattern to every 8-byte word (except below
# 1 MiB and its own image) and reads it back. The e820 RAM must add up to the
# -m size, less at most 1 MiB (the legacy hole below 1 MiB).
# RAM_SIZES overrides the sizes in MiB (default "64 256").
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest ram

for mib in ${RAM_SIZES:-64 256}; do
	it_guest ram -m "$mib"
	it_expect_rc 42 "-m $mib: the pattern read back intact"
	total=$(sed -n 's/^ram: total \([0-9]*\) KiB$/\1/p' "$OUT")
	checked=$(sed -n 's/^ram: checked \([0-9]*\) MiB$/\1/p' "$OUT")
	if [ -z "$total" ] || [ "$total" -gt $((mib * 1024)) ] || [ "$total" -lt $((mib * 1024 - 1024)) ]; then
		it_fail "-m $mib: e820 RAM totals \"$total\" KiB, expected $((mib * 1024 - 1024))..$((mib * 1024))"
	fi
	if [ -z "$checked" ] || [ "$checked" -lt $((mib - 8)) ]; then
		it_fail "-m $mib: checked \"$checked\" MiB, expected at least $((mib - 8))"
	fi
	echo "-m $mib: checked $checked MiB in ${SECS}s"
done
it_done
