#!/usr/bin/env bash
# virtio-rng end to end (tests/guest/rng.c): reads of 64 bytes and of 4 KiB
# in 4 segments (direct and indirect) complete, are not all zero, differ
# from each other and cover at least 200 byte values. Also with MSI-X (the
# completion's vector shows up in the guest's LAPIC IRR), with INTx (the
# GSI in the Interrupt Line register, routed in the IOAPIC, delivers its
# vector; slot 1 and, behind a disk, slot 2), and with configuration through
# 0xCF8.
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
truncate -s 1M "$IT_TMP/disk.img"
for disk in "" "$IT_TMP/disk.img"; do
	it_guest rng --rng ${disk:+--disk "$disk"} -p "msix intx"
	it_expect_rc 42 "rng msix intx${disk:+ behind a disk}"
	grep -q '^rng: intx: GSI [0-9]* -> vector 0x62 pending 0 -> 1, ISR 0x1$' "$OUT" ||
		it_fail "INTx${disk:+ behind a disk}: the vector did not arrive"
	echo "intx${disk:+ behind a disk}: $(grep '^rng: intx: GSI' "$OUT")"
done
# two reads in two VMs differ
it_guest rng --rng
first=$(grep -m1 '^rng: read' "$OUT")
it_guest rng --rng
second=$(grep -m1 '^rng: read' "$OUT")
[ -n "$first" ] && [ "$first" != "$second" ] || it_fail "two VMs read the same first bytes: $first"
it_done
