#!/usr/bin/env bash
# The boot timer: the boottimer guest writes 123 to port 0x3f0 as its very
# first instruction; skiff logs "guest boot timer: N us since skiff started"
# on stderr (at the default log level) and never on stdout. Prints N: the
# time from skiff's start to the first guest instruction.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest boottimer

it_guest boottimer --cmdline "exits=0"
it_expect_rc 42 "boottimer guest"
line=$(grep -iE 'boot timer' "$ERR" | head -n 1)
us=$(sed -n 's/.*boot timer: \([0-9][0-9]*\) us.*/\1/p' <<<"$line")
if [ -z "$line" ]; then
	it_fail "no boot timer line on stderr"
elif [ -z "$us" ]; then
	it_fail "boot timer line without a time in us: \"$line\""
else
	case $line in skiff*) ;; *) it_fail "boot timer line not prefixed \"skiff\": \"$line\"" ;; esac
	# The guest's first instruction cannot come later than skiff's exit.
	total_us=$(awk -v s="$SECS" 'BEGIN { printf "%d", s * 1000000 }')
	[ "$us" -le "$total_us" ] || it_fail "boot timer says ${us} us, but the whole run took ${total_us} us"
fi
[ -s "$OUT" ] && it_fail "stdout is not empty (the boot timer belongs on stderr)"
echo "boot timer: ${us:-?} us to the first guest instruction; whole run ${SECS}s"
it_done
