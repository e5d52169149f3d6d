#!/usr/bin/env bash
# A guest reset through the i8042 (0xFE to port 0x64) ends skiff with status 3.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest reset

it_guest reset
it_expect_rc 3 "i8042 reset"
it_expect_out "reset: writing 0xfe to port 0x64"
it_expect_err_re "reset" "skiff says why it stopped"
grep -q "still running" "$OUT" && it_fail "the guest kept running after the reset request"
echo "reset: ${SECS}s"
it_done
