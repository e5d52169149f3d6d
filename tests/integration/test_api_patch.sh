#!/usr/bin/env bash
# Post-boot PATCH /drives/{id} and PATCH /network-interfaces/{id} over the
# API socket (curl --unix-socket), as Firecracker's: the blkwatch guest
# reads disk 0's capacity, configuration generation and sector 0 every
# 20 ms and prints a line when they change. A PATCH to a second image makes
# it see the new capacity and data, with a configuration-change interrupt
# (ISR bit 1); a PATCH to a missing file is refused (400) and the guest
# keeps reading the old image; the same path again after growing the file
# in place shows the new capacity. Rate limiters of the drive and of a
# user-mode network interface are replaced (204) and GET /vm/config shows
# them. Before InstanceStart both PATCHes are refused.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest blkwatch
command -v curl >/dev/null || it_skip "curl is not installed"

sock=$IT_TMP/api.socket
expect_resp() {	# TEXT: the last response body contains TEXT
	grep -qF -- "$1" "$IT_TMP/resp" || it_fail "response lacks '$1': $(cat "$IT_TMP/resp")"
}
wait_re() {	# ERE: a line of the guest's output matches, up to 60 s
	for _ in $(seq 600); do grep -qE "$1" "$OUT" && return 0; sleep 0.1; done
	it_fail "no line matching '$1' after 60 s"
	return 1
}
image() {	# FILE TEXT SECTORS: TEXT at the start of sector 0, zeroes after it
	truncate -s $(($3 * 512)) "$1"
	printf '%s\n' "$2" | dd of="$1" conv=notrunc status=none
}

a=$IT_TMP/a.img b=$IT_TMP/b.img
image "$a" "image-A" 2048
image "$b" "image-B" 4096
OUT=$IT_TMP/guest.out
ERR=$OUT.err
it_api_launch

it_expect_api 204 PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/blkwatch.elf\", \"boot_args\": \"changes=2\"}"
it_expect_api 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 32}'
it_expect_api 204 PUT /drives/disk "{\"drive_id\": \"disk\", \"path_on_host\": \"$a\", \"is_root_device\": false}"
it_expect_api 204 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "skiff_user_net": true}'
# Firecracker: PATCH is for a started microVM
it_expect_api 400 PATCH /drives/disk "{\"drive_id\": \"disk\", \"path_on_host\": \"$b\"}"
expect_resp "not supported before starting"
it_expect_api 400 PATCH /network-interfaces/eth0 '{"iface_id": "eth0"}'
expect_resp "not supported before starting"
it_expect_api 204 PUT /actions '{"action_type": "InstanceStart"}'

wait_re '^blkwatch: gen [0-9]+ capacity 2048 config-irq no sector0 image-A$'
gen0=$(sed -nE 's/^blkwatch: gen ([0-9]+) capacity 2048 .*/\1/p' "$OUT" | head -1)

# A missing file: 400 naming the field; the guest sees no change.
it_expect_api 400 PATCH /drives/disk "{\"drive_id\": \"disk\", \"path_on_host\": \"$IT_TMP/missing.img\"}"
expect_resp "drives/disk.path_on_host"
it_expect_api 400 PATCH /drives/other '{"drive_id": "other"}'
expect_resp "no drive \`other\`"
sleep 0.5
lines=$(grep -c '^blkwatch: gen' "$OUT")
[ "$lines" = 1 ] || it_fail "the guest saw a change after a refused PATCH: $(cat "$OUT")"

# The second image: new capacity, new data, a configuration interrupt.
it_expect_api 204 PATCH /drives/disk "{\"drive_id\": \"disk\", \"path_on_host\": \"$b\"}"
wait_re "^blkwatch: gen $((gen0 + 1)) capacity 4096 config-irq yes sector0 image-B\$"
it_expect_api 200 GET /vm/config
expect_resp "\"path_on_host\":\"$b\""

# Rate limiters: the drive's and the interface's (Firecracker's
# PartialDrive / PartialNetworkInterface), shown by GET /vm/config.
it_expect_api 204 PATCH /drives/disk '{"drive_id": "disk", "rate_limiter": {"ops": {"size": 1000, "refill_time": 100}}}'
it_expect_api 204 PATCH /network-interfaces/eth0 '{"iface_id": "eth0", "rx_rate_limiter": {"bandwidth": {"size": 1048576, "refill_time": 1000}}, "tx_rate_limiter": {"ops": {"size": 250, "one_time_burst": 10, "refill_time": 500}}}'
it_expect_api 400 PATCH /network-interfaces/eth0 '{"iface_id": "eth0", "tx_rate_limiter": {"ops": {"size": -1, "refill_time": 1}}}'
it_expect_api 400 PATCH /network-interfaces/eth1 '{"iface_id": "eth1"}'
it_expect_api 200 GET /vm/config
expect_resp '"rate_limiter":{"ops":{"size":1000,"one_time_burst":0,"refill_time":100}}'
expect_resp '"rx_rate_limiter":{"bandwidth":{"size":1048576,"one_time_burst":0,"refill_time":1000}}'
expect_resp '"tx_rate_limiter":{"ops":{"size":250,"one_time_burst":10,"refill_time":500}}'

# The same path after growing the file in place, while paused: the guest
# learns the capacity on resume (Firecracker's way to resize a disk).
it_expect_api 204 PATCH /vm '{"state": "Paused"}'
truncate -s $((6144 * 512)) "$b"
it_expect_api 204 PATCH /drives/disk "{\"drive_id\": \"disk\", \"path_on_host\": \"$b\"}"
it_expect_api 204 PATCH /vm '{"state": "Resumed"}'
wait_re "^blkwatch: gen $((gen0 + 2)) capacity 6144 config-irq yes sector0 image-B\$"

wait "$pid"
RC=$?
it_expect_rc 42 "the blkwatch guest after two image changes"
it_expect_out "blkwatch: done"
grep -q 'FAIL' "$OUT" && it_fail "the guest reported a failure"
it_done
