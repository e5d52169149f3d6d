#!/usr/bin/env bash
# The command line reaches the guest byte for byte through the zero page's
# cmd_line_ptr, up to the longest allowed (4095 bytes), with --no-pvm-params;
# without it (on a KVM PVM host skiff appends kernel parameters) the guest's
# command line still starts with the one given.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest cmdline

check() {	# CMDLINE
	local cl=$1 expected=$IT_TMP/expected
	it_guest cmdline --no-pvm-params --cmdline "$cl"
	it_expect_rc 42 "cmdline of ${#cl} bytes"
	printf 'cmdline: %d\n%s\n' "${#cl}" "$cl" >"$expected"
	head -c "$(wc -c <"$expected")" "$OUT" | cmp -s - "$expected" ||
		it_fail "the guest saw another command line than the ${#cl} bytes given"
	echo "cmdline of ${#cl} bytes: ${SECS}s"
}

check "console=ttyS0 probe=hello-world flag x=\"y z\" ~!@#\$%^&*()_+{}|:<>?"
grep -qx "probe: hello-world" "$OUT" || it_fail "kit_cmdline_get(\"probe=\") did not find the value"
grep -qx "flag: yes" "$OUT" || it_fail "kit_cmdline_has(\"flag\") did not find the word"

it_guest cmdline --cmdline "probe=first flag"
it_expect_rc 42 "without --no-pvm-params"
line2=$(sed -n 2p "$OUT")
case $line2 in
"probe=first flag" | "probe=first flag "*) ;;
*) it_fail "without --no-pvm-params the guest's command line is \"$line2\"" ;;
esac
echo "without --no-pvm-params: \"$line2\""

long=$(head -c 4095 /dev/zero | tr '\0' 'a')
long="probe=end ${long:10}"
check "$long"
it_done
