#!/usr/bin/env bash
# virtio-rng end to end (tests/guest/rng.c): reads of 64 bytes and of 4 KiB
# in 4 segments (direct and indirect) complete, are not all zero, differ
# from each other and cover at least 200 byte values. Also with MSI-X (the
# completion's vector shows up in the guest's LAPIC IRR) and with
# configuration through 0xCF8.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest rng
it_need_virtio virtio-rng --rng

for args in "" "msix" "pci=cf8"; do
	it_guest rng --rng ${args:+-p "$args"}
	it_expect_rc 42 "rng${args:+ $args}"
	it_expect_out "rng: ok"
	[ "$args" = msix ] && it_expect_out "rng: msix: vector 0x61 pending 0 -> 1"
	grep -q FAIL "$OUT" && it_fail "rng${args:+ $args}: the guest reported failures"
	echo "rng${args:+ $args}: ${SECS}s, $(grep -c '^rng: read' "$OUT") small reads"
done
# two reads in two VMs differ
it_guest rng --rng
first=$(grep -m1 '^rng: read' "$OUT")
it_guest rng --rng
second=$(grep -m1 '^rng: read' "$OUT")
[ -n "$first" ] && [ "$first" != "$second" ] || it_fail "two VMs read the same first bytes: $first"
it_done
