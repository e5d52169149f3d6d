#!/usr/bin/env bash
# Unclaimed I/O ports and unmapped MMIO (a page in the PCI hole) read as all
# ones at every access size (1, 2, 4 and 8 bytes), and writes there are
# dropped; the guest checks each and exits 42 when all hold.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest allones

it_guest allones
it_expect_rc 42 "all-ones reads"
it_expect_out "allones: 0 failed"
grep WRONG "$OUT" | sed 's/^/  /'
echo "allones: ${SECS}s"
it_done
