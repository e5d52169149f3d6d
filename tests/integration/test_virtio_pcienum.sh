#!/usr/bin/env bash
# PCI bus 0 as a guest sees it (tests/guest/pcienum.c): with no devices only
# the host bridge at 00:00.0; with --disk, --disk, --rng the virtio functions
# in slot order (disks first) with the modern virtio-pci IDs (1af4:1042
# block, 1af4:1044 rng), 64-bit memory BARs in the PCI windows, aligned,
# not overlapping RAM or each other, unchanged by sizing; ECAM (ACPI MCFG)
# and 0xCF8/0xCFC show the same configuration space. Also through 0xCF8
# alone, and the kit's own MMIO mapping above 64 GiB and 512 GiB.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest pcienum

it_guest pcienum -p maptest
it_expect_rc 42 "maptest: the kit maps MMIO anywhere below 2^48"

it_guest pcienum
it_expect_rc 42 "no devices"
it_expect_out "pci: ECAM and CF8 agree"
it_expect_out "pci: 1 functions"
grep -q '^pci: 00:00\.0 [0-9a-f]*:[0-9a-f]* class 060000 ' "$OUT" || it_fail "no host bridge line"

img=$IT_TMP/disk.img img2=$IT_TMP/disk2.img
truncate -s 1M "$img" "$img2"
it_need_virtio "virtio-blk and virtio-rng" --disk "$img" --rng
for how in "" cf8; do
	it_guest pcienum --disk "$img" --rng --disk "path=$img2,ro" ${how:+-p "$how"}
	it_expect_rc 42 "two disks and rng${how:+ ($how)}"
	[ "$RC" = 42 ] || continue
	it_expect_out "pci: 4 functions"
	grep -q '^pci: 00:01\.0 1af4:1042 class 018000 ' "$OUT" || it_fail "00:01.0 is not virtio-blk${how:+ ($how)}"
	grep -q '^pci: 00:02\.0 1af4:1042 class 018000 ' "$OUT" || it_fail "00:02.0 is not virtio-blk${how:+ ($how)}"
	grep -q '^pci: 00:03\.0 1af4:1044 ' "$OUT" || it_fail "00:03.0 is not virtio-rng${how:+ ($how)}"
	for s in 01 02 03; do
		grep -q "^pci: 00:$s\\.0 bar 0 mem64 0x" "$OUT" || it_fail "00:$s.0 has no 64-bit BAR 0${how:+ ($how)}"
	done
	[ -z "$how" ] && it_expect_out "pci: ECAM and CF8 agree"
	grep -q 'FAIL' "$OUT" && it_fail "the guest reported failures${how:+ ($how)}"
	echo "${how:-ecam}: $(grep -c '^pci: 00:' "$OUT") lines, ${SECS}s"
done
it_done
