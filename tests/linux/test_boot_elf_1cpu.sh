#!/usr/bin/env bash
# Slow test: Debian's cloud kernel, loaded as an ELF vmlinux, 1 vCPU, 256 MiB, busybox
# initramfs. Proves the ELF loader, ACPI tables, the serial port with its IRQ, and the way
# skiff reports how the guest ended (see docs/linux-guests.md). Takes minutes on KVM PVM.
# Exit 0 pass, 1 fail, 77 skip (no /dev/kvm). $SKIFF: the binary (default build/skiff).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
name=$(basename "$0" .sh)

linux_setup
echo "$name: $KERNEL_VERSION, ELF vmlinux, 1 vCPU$(is_pvm && echo ', KVM PVM host')"
linux_boot "$name" "$KERNEL_ELF" 1
linux_common_checks
linux_report "$name"
