#!/usr/bin/env bash
# A triple fault (an exception with an IDT of limit 0) ends skiff with status
# 4: once raised at CPL3 (ud2 after a kernel call loaded the broken IDT), once
# at CPL0 (ud2 in the kernel call itself).
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest triplefault

for mode in "" cpl0; do
	it_guest triplefault ${mode:+--cmdline "$mode"}
	it_expect_rc 4 "triple fault${mode:+ ($mode)}"
	grep -q "still running" "$OUT" && it_fail "the guest survived its broken IDT"
	it_expect_err_re "triple|shutdown" "skiff says why it stopped"
	echo "triplefault ${mode:-cpl3}: ${SECS}s"
done
it_done
