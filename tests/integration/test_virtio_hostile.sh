#!/usr/bin/env bash
# A hostile driver (tests/guest/hostile.c) abuses virtio-blk and virtio-rng:
# descriptor loops, chains through the whole table, heads and next indices
# out of range, avail index jumps, buffers outside RAM, in the PCI hole,
# wrapping or straddling the end of RAM, huge lengths, zero lengths, bad
# indirect tables (too long, looping, nested, with NEXT, length 0 or not a
# multiple of 16, not negotiated), rings outside RAM or misaligned, bogus
# queue sizes and selectors, features not offered, DRIVER_OK without
# FEATURES_OK, odd-sized and out-of-range register and configuration-space
# accesses, BAR moves, MSI-X table/PBA abuse. After each one the device must
# report DEVICE_NEEDS_RESET (with the configuration interrupt in the ISR) or
# answer the request with an error, as the case allows, and work again after
# a reset. skiff must stay up throughout: the guest finishes and exits 42.
# The scratch image keeps its size.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest hostile
scratch=$IT_TMP/scratch.img
truncate -s 4M "$scratch"
it_need_virtio "virtio-blk and virtio-rng" --disk "$scratch" --rng

it_guest hostile --disk "$scratch" --rng
it_expect_rc 42 "every abuse handled"
grep -q '^hostile: [0-9]* cases, 0 failed$' "$OUT" || it_fail "the guest counted failed cases"
grep 'FAIL' "$OUT" | head -5 | sed 's/^/  /'
n=$(sed -n 's/^hostile: \([0-9]*\) cases.*/\1/p' "$OUT")
[ "${n:-0}" -ge 40 ] || it_fail "only ${n:-0} cases ran"
for c in loop avail-idx-jump addr-outside-ram indirect-nested rings-outside-ram msix-abuse bar-move rng-loop; do
	grep -q "^hostile: $c: .*: ok$" "$OUT" || it_fail "case $c did not pass"
done
grep -qiE 'AddressSanitizer|runtime error|segmentation' "$ERR" && it_fail "sanitizer or crash report on stderr"
size=$(stat -c %s "$scratch")
[ "$size" = 4194304 ] || it_fail "the scratch image is now $size bytes"
echo "$n cases in ${SECS}s; skiff logged $(grep -c 'needs reset' "$ERR") device errors"
it_done
