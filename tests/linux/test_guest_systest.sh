#!/usr/bin/env bash
# Slow test: skiff's own guest kernel and its initramfs with /bin/systest, 1 vCPU, 256 MiB; runs /bin/systest
# --bench (guest/userspace/systest.c: file I/O, mmap, fork, execve, signals, futex,
# threads, clocks) in the guest shell and expects all its checks to pass; prints its two
# benchmark lines (a trivial system call, a fork+exec+wait). Then `poweroff -f` must end
# skiff with status 0. On a KVM PVM host this proves the guest kernel's system-call patch.
# Exit 0 pass, 1 fail, 77 skip (no /dev/kvm). $SKIFF: the binary (default build/skiff).
set -uo pipefail
# shellcheck source=tests/linux/guest_lib.sh
. "$(dirname "$0")/guest_lib.sh"
name=$(basename "$0" .sh)

guest_setup
GUEST_INITRD=$GUEST_SYSTEST_INITRD
[ -s "$GUEST_INITRD" ] || { echo "FAIL: guest/build-images gave no systest_initrd"; exit 1; }
echo "$name: skiff's guest kernel, 1 vCPU$(is_pvm && echo ', KVM PVM host')"
guest_start "$name" 1 256

if guest_expect "skiff-init: reached" "$GUEST_TIMEOUT" "init" &&
	guest_expect "$GUEST_PROMPT" 120 "shell prompt"; then
	if guest_cmd "/bin/systest --bench" 600; then
		summary=$(grep -E '^systest: [0-9]+ passed, [0-9]+ failed$' <<<"$GUEST_REPLY" | tail -n 1)
		grep '^systest: bench ' <<<"$GUEST_REPLY" | sed 's/^/  /'
		echo "  ${summary:-no systest summary line}"
		if [ -z "$summary" ]; then
			guest_fail "systest printed no summary: $(tail -n 5 <<<"$GUEST_REPLY" | tr '\n' '|')"
		else
			n=$(sed -E 's/^systest: ([0-9]+) passed, ([0-9]+) failed$/\1/' <<<"$summary")
			bad=$(sed -E 's/^systest: ([0-9]+) passed, ([0-9]+) failed$/\2/' <<<"$summary")
			[ "$bad" = 0 ] || guest_fail "systest: $bad checks failed: $(grep '^systest: FAIL' <<<"$GUEST_REPLY" | tr '\n' '|')"
			[ "$n" -ge 20 ] || guest_fail "systest ran only $n checks, expected at least 20"
		fi
		[ "$(grep -c '^systest: bench ' <<<"$GUEST_REPLY")" = 2 ] ||
			guest_fail "systest --bench did not print its two bench lines"
	fi
	guest_send "poweroff -f"
	guest_wait_exit 120
	[ "$GUEST_RC" = 0 ] || guest_fail "skiff exited with status $GUEST_RC after poweroff -f, expected 0"
	guest_check_boot_timer
fi
guest_phases
guest_report "$name"
