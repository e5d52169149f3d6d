#!/usr/bin/env bash
# PUT /actions SendCtrlAltDel and skiff_power_button over the API socket on the
# buttons guest (tests/guest/buttons.c), which polls the i8042 and the ACPI PM1
# registers and reports what it saw:
#  - both actions before InstanceStart: 400;
#  - Ctrl-Alt-Del through a translating i8042: the set-1 bytes, exit 42;
#  - the same with translation off (the guest clears XLATE): set-2 bytes, sent while
#    the VM is paused (they arrive after resume);
#  - the power button (skiff started with --config-file): PWRBTN_STS, then the
#    guest's S5 power-off, exit 0; afterwards the API is gone with skiff.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest buttons
command -v curl >/dev/null || it_skip "curl is not installed"

sock=$IT_TMP/api.socket

# launch NAME ARGS...: skiff in the background with its API on $sock; sets pid, OUT, ERR
launch() {
	local name=$1
	shift
	rm -f "$sock"
	IT_RUNS=$((IT_RUNS + 1))
	OUT=$IT_TMP/$name.out
	ERR=$IT_TMP/$name.err
	it_api_launch "$@"
}
wait_line() {	# LINE: up to 60 s in $OUT
	for _ in $(seq 600); do grep -qx "$1" "$OUT" && return 0; sleep 0.1; done
	it_fail "no line '$1' after 60 s"
	return 1
}
finish() {	# WANT_RC WHAT
	wait "$pid"
	RC=$?
	it_expect_rc "$1" "$2"
}

# 1. Before InstanceStart both are refused; then Ctrl-Alt-Del, translated.
launch cad
it_expect_api 400 PUT /actions '{"action_type": "SendCtrlAltDel"}'
grep -q "not supported before starting" "$IT_TMP/resp" || it_fail "early SendCtrlAltDel: $(cat "$IT_TMP/resp")"
it_expect_api 400 PUT /actions '{"action_type": "skiff_power_button"}'
grep -q "not supported before starting" "$IT_TMP/resp" || it_fail "early skiff_power_button: $(cat "$IT_TMP/resp")"
it_expect_api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/buttons.elf\", \"boot_args\": \"mode=cad\"}"
it_expect_api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 32}'
it_expect_api 204 PUT /actions '{"action_type": "InstanceStart"}'
wait_line ready && it_expect_api 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
finish 42 "Ctrl-Alt-Del, translated"
it_expect_out "buttons: ctrl-alt-del ok"
it_expect_out "key 1d"
it_expect_out "key d3"

# 2. Untranslated (the guest clears XLATE): scan code set 2; config file.
cat >"$IT_TMP/raw.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUESTS/buttons.elf", "boot_args": "mode=cad raw"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 32}}
JSON
# Pressed while the VM is paused: nothing arrives until it is resumed.
launch raw --config-file "$IT_TMP/raw.json"
if wait_line ready; then
	it_expect_api 204 PATCH /vm '{"state": "Paused"}'
	it_expect_api 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
	sleep 0.5
	grep -q "^key" "$OUT" && it_fail "the guest read keys while paused"
	it_expect_api 204 PATCH /vm '{"state": "Resumed"}'
fi
finish 42 "Ctrl-Alt-Del, untranslated, sent while paused"
it_expect_out "buttons: ctrl-alt-del ok"
it_expect_out "key f0"

# 3. The power button: the guest powers off (S5), skiff exits 0.
cat >"$IT_TMP/power.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUESTS/buttons.elf", "boot_args": "mode=power"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 32}}
JSON
launch power --config-file "$IT_TMP/power.json"
wait_line ready && it_expect_api 204 PUT /actions '{"action_type": "skiff_power_button"}'
finish 0 "power button, then S5"
it_expect_out "buttons: power button pressed"
grep -q "still running" "$OUT" && it_fail "the guest ran on after S5"
[ -e "$sock" ] && it_fail "the API socket was left behind"
it_done
