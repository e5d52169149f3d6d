#!/usr/bin/env bash
# Firecracker's getting-started sequence against skiff, unchanged but for the
# guest: skiff --api-sock, then curl --unix-socket PUT /logger, /boot-source,
# /drives/rootfs, /machine-config, /network-interfaces/eth0 (user networking,
# skiff's extension, so no root is needed), /actions InstanceStart. The hello
# guest's serial output must appear on skiff's stdout and its debug-exit
# value (42) become skiff's exit status. Then the same VM from a config file
# with --no-api, and the usage errors of the new mode.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest hello exitcode
command -v curl >/dev/null || it_skip "curl is not installed"

sock=$IT_TMP/firecracker.socket
rootfs=$IT_TMP/rootfs.ext4
truncate -s 1M "$rootfs"
: >"$IT_TMP/firecracker.log"

t0=$EPOCHREALTIME
it_api_launch
echo "socket ready after $(it_secs "$t0" "$EPOCHREALTIME")s"

it_expect_api 200 GET /
grep -q '"state":"Not started"' "$IT_TMP/resp" || it_fail "GET / before start: $(cat "$IT_TMP/resp")"
it_expect_api 204 PUT /logger "{\"log_path\": \"$IT_TMP/firecracker.log\", \"level\": \"Debug\", \"show_level\": true, \"show_log_origin\": true}"
it_expect_api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/hello.elf\", \"boot_args\": \"console=ttyS0 reboot=k panic=1 pci=off\"}"
it_expect_api 204 PUT /drives/rootfs "{\"drive_id\": \"rootfs\", \"path_on_host\": \"$rootfs\", \"is_root_device\": true, \"is_read_only\": false}"
it_expect_api 204 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 128}'
it_expect_api 204 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "guest_mac": "06:00:AC:10:00:02", "skiff_user_net": true}'
it_expect_api 400 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 128, "cpus": 4}'
grep -q 'unknown field `cpus`' "$IT_TMP/resp" || it_fail "bad machine-config: $(cat "$IT_TMP/resp")"
it_expect_api 200 GET /vm/config
grep -q 'root' "$IT_TMP/resp" || it_fail "GET /vm/config: $(cat "$IT_TMP/resp")"
cp "$IT_TMP/resp" "$IT_TMP/vm-config.json"
it_expect_api 204 PUT /actions '{"action_type": "InstanceStart"}'

wait "$pid"
RC=$?
SECS=$(it_secs "$t0" "$EPOCHREALTIME")
it_expect_rc 42 "the hello guest started through the API"
it_expect_out "hello from the skiff guest kit"
it_expect_out "bye"

# The configuration GET /vm/config returned, as a config file, without API.
sed -i "s|$GUESTS/hello.elf|$GUESTS/exitcode.elf|; s|console=ttyS0 reboot=k panic=1 pci=off|code=7|" "$IT_TMP/vm-config.json"
it_run --config-file "$IT_TMP/vm-config.json" --no-api
it_expect_rc 7 "--config-file --no-api"

# Config file and API together: the VM starts at once, the API answers.
cat >"$IT_TMP/spin.json" <<JSON
{"boot-source": {"kernel_image_path": "$GUESTS/exitcode.elf", "boot_args": "code=9"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 32}}
JSON
it_run --api-sock "$IT_TMP/second.sock" --config-file "$IT_TMP/spin.json"
it_expect_rc 9 "--config-file with --api-sock"
[ -e "$IT_TMP/second.sock" ] && it_fail "the API socket was left behind"

# Usage errors.
it_run --no-api
it_expect_rc 2 "--no-api without --config-file"
it_expect_err_re "config-file" "--no-api without --config-file"
it_run --api-sock "$IT_TMP/x.sock" --bogus
it_expect_rc 2 "an unknown option"
echo '{"boot-source": {"kernel_image_path": 5}}' >"$IT_TMP/bad.json"
it_run --no-api --config-file "$IT_TMP/bad.json"
it_expect_rc 1 "a bad config file"
it_expect_err_re "boot-source.kernel_image_path: expected a string" "a bad config file"
it_done
