#!/usr/bin/env bash
# Many port-I/O exits: the spin guest writes port 0x80 N times (each a VM
# exit to skiff and back) and exits 42; also the same with the boot-timer
# entry. Prints the time per exit round trip, from two runs (N and 0).
# SPIN_EXITS overrides N (default 20000).
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest spin boottimer

n=${SPIN_EXITS:-20000}
it_guest spin --cmdline "exits=0"
it_expect_rc 42 "spin exits=0"
t0=$SECS
it_guest spin --cmdline "exits=$n"
it_expect_rc 42 "spin exits=$n"
t1=$SECS
[ -s "$OUT" ] && it_fail "the spin guest is meant to be silent"
it_guest boottimer --cmdline "exits=$n"
it_expect_rc 42 "boottimer exits=$n"
per=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) * 1e6 / n }')
echo "spin: exits=0 ${t0}s, exits=$n ${t1}s: about $per us per port-I/O exit"
it_done
