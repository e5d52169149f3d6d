#!/usr/bin/env bash
# RAM larger than 3 GiB is split around the 32-bit PCI hole: skiff puts what
# does not fit below 3 GiB at 4 GiB and up, the e820 map has a RAM range
# starting at 0x100000000, and every byte of both ranges is distinct memory
# (the ram guest's pattern catches aliasing). Slow: 3.5 GiB touched.
# RAM_HOLE_MIB overrides the size (default 3584).
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest ram

mib=${RAM_HOLE_MIB:-3584}
it_guest ram -m "$mib"
it_expect_rc 42 "-m $mib: the pattern read back intact"
grep -q '^ram: e820 0x100000000-' "$OUT" ||
	it_fail "-m $mib: no e820 RAM range starts at 4 GiB"
while read -r _ _ range; do
	lo=${range%-*}
	hi=${range#*-}
	if ((hi > 0xc0000000 && lo < 0x100000000)); then
		it_fail "-m $mib: e820 RAM range $range overlaps the PCI hole 0xc0000000-0xffffffff"
	fi
done < <(grep '^ram: e820 ' "$OUT")
total=$(sed -n 's/^ram: total \([0-9]*\) KiB$/\1/p' "$OUT")
if [ -z "$total" ] || [ "$total" -gt $((mib * 1024)) ] || [ "$total" -lt $((mib * 1024 - 1024)) ]; then
	it_fail "-m $mib: e820 RAM totals \"$total\" KiB, expected $((mib * 1024 - 1024))..$((mib * 1024))"
fi
echo "-m $mib: $(grep '^ram: checked' "$OUT") in ${SECS}s"
it_done
