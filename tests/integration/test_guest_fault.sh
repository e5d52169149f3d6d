#!/usr/bin/env bash
# The guest kit's exception path works under skiff: a page fault, #UD, #DE and
# #GP taken at CPL3 reach the kit's CPL0 handler (TSS RSP0, IDT), which
# reports the vector on the serial port and exits with 0x80 + vector.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest fault

for kv in pf:14 ud:6 de:0 gp:13; do
	kind=${kv%:*}
	vec=${kv#*:}
	it_guest fault --cmdline "kind=$kind"
	it_expect_rc $((0x80 + vec)) "kind=$kind"
	grep -q "^KIT: exception $(printf '%016x' "$vec") .* cs 0000000000000023 " "$OUT" ||
		it_fail "kind=$kind: no report of vector $vec taken at CPL3 (cs 0x23)"
	echo "kind=$kind: ${SECS}s"
done
it_done
