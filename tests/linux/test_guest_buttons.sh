#!/usr/bin/env bash
# Slow test: the host's buttons reach skiff's own guest kernel. Two boots of the guest
# kernel and its busybox initramfs (1 vCPU, 256 MiB) in API mode with a config file
# (skiff --api-sock S --config-file F, as Firecracker is driven), the serial console on
# skiff's stdin/stdout:
#  1. PUT /actions SendCtrlAltDel once /init has reached its shell: the i8042 keyboard
#     (atkbd, translated) sees Ctrl-Alt-Del, the kernel restarts at once (init never
#     disabled Ctrl-Alt-Del) through the keyboard controller (reboot=k): skiff exits 3.
#  2. PUT /actions skiff_power_button once acpid runs (/init starts it): the ACPI power
#     button driver reports KEY_POWER, acpid runs /etc/acpi/PWRF/00000080, which syncs and
#     calls poweroff; /init powers off (ACPI S5): skiff exits 0.
# Exit 0 pass, 1 fail, 77 skip (no /dev/kvm or no curl). $SKIFF: the binary (default
# build/skiff).
set -uo pipefail
# shellcheck source=tests/linux/guest_lib.sh
. "$(dirname "$0")/guest_lib.sh"
name=$(basename "$0" .sh)
command -v curl >/dev/null || linux_skip "curl is not installed"

# start_api NAME: like guest_start, but skiff in API mode with a config file.
start_api() {
	local logdir=$LINUX_TOP/build/test-logs
	mkdir -p "$logdir"
	GUEST_LOG=$logdir/$1.log
	GUEST_STDERR=$logdir/$1.stderr.log
	GUEST_TMP=$(mktemp -d)
	mkfifo "$GUEST_TMP/stdin"
	: >"$GUEST_LOG"
	GUEST_OFF=0
	GUEST_SEEN=()
	trap guest_cleanup EXIT
	trap 'guest_cleanup; echo "interrupted"; exit 1' INT TERM HUP
	SOCK=$GUEST_TMP/api.sock
	cat >"$GUEST_TMP/vm.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUEST_KERNEL", "initrd_path": "$GUEST_INITRD",
                 "boot_args": "$LINUX_CMDLINE"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 256}}
JSON
	echo "boot: $SKIFF --api-sock $SOCK --config-file vm.json ($(tr -d '\n' <"$GUEST_TMP/vm.json"))"
	GUEST_T0=$EPOCHREALTIME
	timeout -k 10 $((GUEST_TIMEOUT + 900)) "$SKIFF" --api-sock "$SOCK" \
		--config-file "$GUEST_TMP/vm.json" <"$GUEST_TMP/stdin" >"$GUEST_LOG" 2>"$GUEST_STDERR" &
	GUEST_PID=$!
	exec {GUEST_IN}>"$GUEST_TMP/stdin"
}

action() {	# ACTION_TYPE: PUT /actions, expecting 204
	local code
	code=$(curl -s -o "$GUEST_TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X PUT \
		http://localhost/actions -H 'Content-Type: application/json' \
		-d "{\"action_type\": \"$1\"}")
	echo "  $(guest_now)s: PUT /actions $1: HTTP $code"
	[ "$code" = 204 ] || { guest_fail "PUT /actions $1: HTTP $code: $(cat "$GUEST_TMP/resp")"; return 1; }
}

# The whole log, not only what follows the last match: these come early and in any order.
expect_log() {	# TEXT WHAT
	grep -qaF -- "$1" "$GUEST_LOG" || guest_fail "the console lacks \"$1\" ($2)"
}

guest_setup
echo "$name: skiff's guest kernel, 1 vCPU, API mode$(is_pvm && echo ', KVM PVM host')"

# 1. Ctrl-Alt-Del -> the guest kernel restarts -> skiff exits 3.
start_api "$name-cad"
if guest_expect "skiff-init: reached" "$GUEST_TIMEOUT" "init" &&
	guest_expect "$GUEST_PROMPT" 120 "shell prompt"; then
	expect_log "input: AT Translated Set 2 keyboard" "atkbd found the i8042 keyboard"
	expect_log "input: Power Button" "the ACPI power button driver"
	if action SendCtrlAltDel; then
		guest_wait_exit 120
		echo "  ${GUEST_T1}s: skiff exited with status $GUEST_RC"
		[ "$GUEST_RC" = 3 ] || guest_fail "after SendCtrlAltDel skiff exited with status $GUEST_RC, expected 3 (guest reset)"
		expect_log "reboot: Restarting system" "the kernel's restart message"
	fi
fi
guest_phases
guest_cleanup
cad_fails=${#GUEST_FAILS[@]}

# 2. The power button -> acpid -> poweroff -> skiff exits 0.
start_api "$name-power"
if guest_expect "skiff-init: reached" "$GUEST_TIMEOUT" "init" &&
	guest_expect "$GUEST_PROMPT" 120 "shell prompt" &&
	# acpid writes its pid file once it listens on the input devices.
	guest_cmd 'until [ -e /run/acpid.pid ]; do sleep 1; done; echo acpid-is-up' 120 &&
	grep -qx "acpid-is-up" <<<"$GUEST_REPLY"; then
	if action skiff_power_button; then
		guest_wait_exit 120
		echo "  ${GUEST_T1}s: skiff exited with status $GUEST_RC"
		[ "$GUEST_RC" = 0 ] || guest_fail "after skiff_power_button skiff exited with status $GUEST_RC, expected 0 (power-off)"
		expect_log "PWRF/00000080" "acpid saw the power button"
		expect_log "skiff-init: power button pressed" "acpid ran /etc/acpi/PWRF/00000080"
		expect_log "skiff-init: powering off" "/init got poweroff's signal"
		expect_log "reboot: Power down" "the kernel's power-off message"
	fi
else
	[ -n "${GUEST_REPLY:-}" ] && guest_fail "acpid did not start: $(tr '\n' '|' <<<"$GUEST_REPLY")"
fi
guest_phases
[ "$cad_fails" = 0 ] || echo "NOTE: the Ctrl-Alt-Del boot's log: $LINUX_TOP/build/test-logs/$name-cad.log"
guest_report "$name"
