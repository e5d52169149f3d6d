#!/usr/bin/env bash
# Slow test: Firecracker's ways of starting a VM, and the host's buttons, on skiff's own
# guest kernel and its busybox initramfs (256 MiB), the serial console on skiff's
# stdin/stdout. Two boots:
#  1. Firecracker's getting-started sequence of curl calls (logger, boot-source with its
#     boot_args, drives rootfs, machine-config 2 vCPUs, network-interfaces, InstanceStart;
#     only the interface is skiff's user-mode networking instead of a tap), then
#     PUT /actions SendCtrlAltDel once /init has reached its shell: the i8042 keyboard
#     (atkbd, translated) sees Ctrl-Alt-Del, the kernel restarts at once (init never
#     disabled Ctrl-Alt-Del) through the keyboard controller (reboot=k): skiff exits 3.
#  2. A config file (skiff --api-sock S --config-file F), 1 vCPU; PUT /actions
#     skiff_power_button once acpid runs (/init starts it): the ACPI power
#     button driver reports KEY_POWER, acpid runs /etc/acpi/PWRF/00000080, which syncs and
#     calls poweroff; /init powers off (ACPI S5): skiff exits 0.
# Exit 0 pass, 1 fail, 77 skip (no /dev/kvm or no curl). $SKIFF: the binary (default
# build/skiff).
set -uo pipefail
# shellcheck source=tests/linux/guest_lib.sh
. "$(dirname "$0")/guest_lib.sh"
name=$(basename "$0" .sh)
command -v curl >/dev/null || linux_skip "curl is not installed"

# start_api NAME [curl]: like guest_start, but skiff in API mode with a config file,
# or with "curl" described and started through the API.
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
	local cfg=(--config-file "$GUEST_TMP/vm.json")
	if [ "${2:-}" = curl ]; then
		cfg=()
		echo "boot: $SKIFF --api-sock $SOCK, then Firecracker's getting-started requests"
	else
		echo "boot: $SKIFF --api-sock $SOCK --config-file vm.json ($(tr -d '\n' <"$GUEST_TMP/vm.json"))"
	fi
	GUEST_T0=$EPOCHREALTIME
	timeout -k 10 $((GUEST_TIMEOUT + 900)) "$SKIFF" --api-sock "$SOCK" "${cfg[@]}" \
		<"$GUEST_TMP/stdin" >"$GUEST_LOG" 2>"$GUEST_STDERR" &
	GUEST_PID=$!
	exec {GUEST_IN}>"$GUEST_TMP/stdin"
}

put() {	# PATH BODY: PUT, expecting 204
	local code
	code=$(curl -s -o "$GUEST_TMP/resp" -w '%{http_code}' --unix-socket "$SOCK" -X PUT \
		"http://localhost$1" -H 'Accept: application/json' \
		-H 'Content-Type: application/json' -d "$2")
	[ "$code" = 204 ] || { guest_fail "PUT $1: HTTP $code: $(cat "$GUEST_TMP/resp")"; return 1; }
}

# Firecracker's getting-started guide, its requests as they are there (the kernel,
# initrd and image paths ours; user-mode networking instead of tap0).
getting_started() {
	local i
	for i in $(seq 500); do [ -S "$SOCK" ] && break; sleep 0.01; done
	[ -S "$SOCK" ] || { guest_fail "no API socket at $SOCK"; return 1; }
	truncate -s 64M "$GUEST_TMP/rootfs.ext4"
	put /logger "{\"log_path\": \"$GUEST_TMP/firecracker.log\", \"level\": \"Debug\",
		\"show_level\": true, \"show_log_origin\": true}" &&
	put /boot-source "{\"kernel_image_path\": \"$GUEST_KERNEL\",
		\"initrd_path\": \"$GUEST_INITRD\",
		\"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\"}" &&
	put /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$GUEST_TMP/rootfs.ext4\",
		\"is_root_device\": true, \"is_read_only\": false}" &&
	put /machine-config '{"vcpu_count": 2, "mem_size_mib": 256}' &&
	put /network-interfaces/net1 '{"iface_id": "net1", "guest_mac": "06:00:AC:10:00:02",
		"skiff_user_net": true}' &&
	sleep 0.015 &&
	put /actions '{"action_type": "InstanceStart"}' &&
	echo "  $(guest_now)s: InstanceStart answered"
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

# 1. Firecracker's getting-started requests; Ctrl-Alt-Del -> the guest kernel restarts
#    -> skiff exits 3.
start_api "$name-cad" curl
if getting_started && guest_expect "skiff-init: reached" "$GUEST_TIMEOUT" "init" &&
	guest_expect "$GUEST_PROMPT" 120 "shell prompt"; then
	expect_log "input: AT Translated Set 2 keyboard" "atkbd found the i8042 keyboard"
	expect_log "input: Power Button" "the ACPI power button driver"
	# The requests' devices as the guest sees them: the MAC, the 64 MiB drive.
	if guest_cmd 'cat /sys/class/net/eth0/address /sys/block/vda/size' 60; then
		grep -qx "06:00:ac:10:00:02" <<<"$GUEST_REPLY" ||
			guest_fail "eth0's MAC is not guest_mac: $(tr '\n' '|' <<<"$GUEST_REPLY")"
		grep -qx "131072" <<<"$GUEST_REPLY" ||
			guest_fail "/dev/vda is not the 64 MiB rootfs drive: $(tr '\n' '|' <<<"$GUEST_REPLY")"
	fi
	if action SendCtrlAltDel; then
		guest_wait_exit 120
		echo "  ${GUEST_T1}s: skiff exited with status $GUEST_RC"
		[ "$GUEST_RC" = 3 ] || guest_fail "after SendCtrlAltDel skiff exited with status $GUEST_RC, expected 3 (guest reset)"
		expect_log "reboot: Restarting system" "the kernel's restart message"
	fi
	grep -q "InstanceStart" "$GUEST_TMP/firecracker.log" ||
		guest_fail "the PUT /logger file has no InstanceStart line"
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
