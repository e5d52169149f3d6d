#!/usr/bin/env bash
# Slow test: Debian's cloud kernel as Debian ships it (bzImage, so the kernel's own
# decompressor runs), 2 vCPUs, 256 MiB, busybox initramfs. Proves the bzImage loader,
# bringing up a second vCPU (INIT/SIPI), ACPI, the serial port with its IRQ, and how skiff
# reports the guest's end (see docs/linux-guests.md). Takes several minutes on KVM PVM.
# Exit 0 pass, 1 fail, 77 skip (no /dev/kvm). $SKIFF: the binary (default build/skiff).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
name=$(basename "$0" .sh)

linux_setup
echo "$name: $KERNEL_VERSION, bzImage, 2 vCPUs$(is_pvm && echo ', KVM PVM host')"
linux_boot "$name" "$KERNEL_BZ" 2
linux_common_checks
if ! grep -qE "smp: Brought up 1 node, 2 CPUs|Total of 2 processors activated" "$SERIAL_LOG"; then
	linux_fail "the kernel did not bring up 2 CPUs ($(grep -m1 -E 'smp: Brought up|processors activated' "$SERIAL_LOG" || echo 'no smp summary line'))"
fi
linux_report "$name"
