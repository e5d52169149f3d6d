#!/usr/bin/env bash
# A value v written to the debug-exit port 0xf4 becomes skiff's exit status v.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest exitcode

for code in 1 5 42 127 128 200 255; do
	it_guest exitcode --cmdline "code=$code"
	it_expect_rc "$code" "code=$code"
	echo "code=$code: status $RC, ${SECS}s"
done
it_done
