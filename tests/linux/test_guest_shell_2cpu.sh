#!/usr/bin/env bash
# Slow test: skiff's own guest kernel (guest/make-guest) with its busybox initramfs, 2 vCPUs,
# 256 MiB, driven through the serial console on skiff's stdin: waits for /init and the shell
# prompt, checks `uname -r` against the kernel's own banner and that the guest sees both
# vCPUs, then `poweroff -f` must end skiff with status 0. Also checks skiff's boot timer
# (written by /init through /dev/port). On a KVM PVM host the boot takes minutes.
# Exit 0 pass, 1 fail, 77 skip (no /dev/kvm). $SKIFF: the binary (default build/skiff).
set -uo pipefail
# shellcheck source=tests/linux/guest_lib.sh
. "$(dirname "$0")/guest_lib.sh"
name=$(basename "$0" .sh)

guest_setup
echo "$name: skiff's guest kernel, 2 vCPUs$(is_pvm && echo ', KVM PVM host')"
guest_start "$name" 2 256

if guest_expect "skiff-init: reached" "$GUEST_TIMEOUT" "init" &&
	guest_expect "$GUEST_PROMPT" 120 "shell prompt"; then
	release=$(tr -d '\r' <"$GUEST_LOG" | sed -n 's/.*Linux version \([^ ]*\) .*/\1/p' | head -n 1)
	if guest_cmd "uname -r" 120; then
		got=$(grep -x '6\.1\.[0-9].*' <<<"$GUEST_REPLY" | head -n 1)
		echo "  uname -r: ${got:-?} (kernel banner: ${release:-?})"
		if [ -z "$got" ]; then
			guest_fail "uname -r did not print a 6.1.x release: $(tr '\n' '|' <<<"$GUEST_REPLY")"
		elif [ -n "$release" ] && [ "$got" != "$release" ]; then
			guest_fail "uname -r says $got, the kernel's banner $release"
		fi
	fi
	if guest_cmd "grep -c processor /proc/cpuinfo" 120; then
		got=$(grep -x '[0-9]*' <<<"$GUEST_REPLY" | head -n 1)
		echo "  processors: ${got:-?}"
		[ "$got" = 2 ] ||
			guest_fail "grep -c processor /proc/cpuinfo: expected 2, got: $(tr '\n' '|' <<<"$GUEST_REPLY")"
	fi
	guest_send "poweroff -f"
	guest_wait_exit 120
	[ "$GUEST_RC" = 0 ] || guest_fail "skiff exited with status $GUEST_RC after poweroff -f, expected 0"
	guest_check_boot_timer
fi
guest_phases
guest_report "$name"
