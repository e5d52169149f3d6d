#!/usr/bin/env bash
# Slow test: skiff's guest kernel with virtio devices and no initramfs, 1 vCPU, 256 MiB.
# The disk is a raw image with an MBR partition table whose first partition holds the
# guest root file system (guest/build-images' rootfs.ext4); the kernel must find the
# partition on virtio-blk and mount it as / (root=/dev/vda1), configure eth0 by DHCP from
# libslirp (ip=dhcp, --net user), register virtio-rng and virtio-vsock (guest CID 3).
# Then, in the guest shell: a file written to the disk (and synced), a page fetched from
# a host service (busybox httpd on 127.0.0.1, reached as 10.0.2.2 through user-mode
# networking), and virtio-vsock through Linux's own driver both ways, with skiff's
# AF_UNIX convention (docs/devices.md) and tests/tools/uds_peer.c (built here with cc) as
# the host program: the guest connects to host port 5000 (`systest --vsock-connect`;
# skiff connects to v.sock_5000, where uds_peer listens) and gets its line echoed, and
# uds_peer asks skiff for guest port 6000 (`CONNECT 6000` on v.sock), where
# `systest --vsock-listen` echoes its line. After `poweroff -f` (status 0) the file is
# checked in the image on the host.
# Exit 0 pass, 1 fail, 77 skip. $SKIFF: the binary (default build/skiff).
set -uo pipefail
# shellcheck source=tests/linux/guest_lib.sh
. "$(dirname "$0")/guest_lib.sh"
name=$(basename "$0" .sh)

guest_setup
command -v sfdisk >/dev/null || PATH=$PATH:/sbin:/usr/sbin
command -v sfdisk >/dev/null || { echo "FAIL: sfdisk not found (package fdisk)"; exit 1; }
command -v debugfs >/dev/null || { echo "FAIL: debugfs not found (package e2fsprogs)"; exit 1; }
rootfs=$("$LINUX_TOP/guest/build-images" | sed -n 's/^rootfs=//p')
[ -s "$rootfs" ] || { echo "FAIL: guest/build-images gave no rootfs"; exit 1; }

work=$(mktemp -d)
httpd_pid=
peer_pid=
cleanup_virtio() {
	[ -n "$httpd_pid" ] && kill "$httpd_pid" 2>/dev/null
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	rm -rf "$work"
}
trap 'guest_cleanup; cleanup_virtio' EXIT

# The host side of the vsock checks (skiff's AF_UNIX convention).
cc -O2 -Wall -Wextra -o "$work/uds_peer" "$LINUX_TOP/tests/tools/uds_peer.c" ||
	{ echo "FAIL: cannot build tests/tools/uds_peer.c"; exit 1; }

# disk.img: 1 MiB for the partition table, then the root file system as partition 1.
disk=$work/disk.img
size=$(stat -c %s "$rootfs")
truncate -s $((size + (1 << 20))) "$disk"
echo "2048,$((size / 512)),83" | sfdisk -q "$disk" >/dev/null || { echo "FAIL: sfdisk"; exit 1; }
dd if="$rootfs" of="$disk" bs=1M seek=1 conv=notrunc status=none

# The host service: busybox httpd on a free loopback port, serving a random token.
token=skiff-$RANDOM$RANDOM
mkdir "$work/www"
echo "$token" >"$work/www/token.txt"
port=
for try in 1 2 3 4 5; do
	p=$((20000 + RANDOM % 20000))
	busybox httpd -f -p "127.0.0.1:$p" -h "$work/www" &
	httpd_pid=$!
	sleep 0.3
	if kill -0 "$httpd_pid" 2>/dev/null; then port=$p; break; fi
	httpd_pid=
done
[ -n "$port" ] || { echo "FAIL: could not start busybox httpd on a loopback port"; exit 1; }
[ "$(wget -qO- "http://127.0.0.1:$port/token.txt")" = "$token" ] ||
	{ echo "FAIL: the host service does not answer on the host"; exit 1; }

GUEST_INITRD=
GUEST_ARGS=(--disk "path=$disk" --net user --rng --vsock "cid=3,uds=$work/v.sock")
LINUX_CMDLINE="$LINUX_CMDLINE root=/dev/vda1 rw rootwait ip=dhcp"
echo "$name: skiff's guest kernel, root on virtio-blk, user networking, rng, vsock$(is_pvm && echo ', KVM PVM host')"
guest_start "$name" 1 256
trap 'guest_cleanup; cleanup_virtio' EXIT	# guest_start set its own

if guest_expect "skiff-init: reached" "$GUEST_TIMEOUT" "init" &&
	guest_expect "$GUEST_PROMPT" 120 "shell prompt"; then
	guest_cmd "grep -o ' vda1\$' /proc/partitions" 120
	grep -q 'vda1' <<<"${GUEST_REPLY#*partitions}" || guest_fail "no vda1 in /proc/partitions: $GUEST_REPLY"
	guest_cmd "grep ' / ' /proc/mounts" 120
	grep -Eq '^/dev/(root|vda1) / ext4 rw' <<<"$GUEST_REPLY" || guest_fail "/ is not ext4 from vda1: $GUEST_REPLY"
	guest_cmd "cat /sys/class/misc/hw_random/rng_current" 120
	grep -q 'virtio_rng' <<<"$GUEST_REPLY" || guest_fail "virtio-rng is not the current hw_random: $GUEST_REPLY"
	guest_cmd "ip -4 addr show eth0" 120
	grep -q 'inet 10.0.2.15/24' <<<"$GUEST_REPLY" || guest_fail "eth0 has no DHCP address 10.0.2.15: $GUEST_REPLY"
	guest_cmd "echo $token-disk >/from-guest.txt && sync && echo written" 120
	grep -q '^written' <<<"$GUEST_REPLY" || guest_fail "writing to the root file system failed: $GUEST_REPLY"
	guest_cmd "wget -qO- http://10.0.2.2:$port/token.txt" 180
	grep -q "^$token\$" <<<"$GUEST_REPLY" || guest_fail "the host service's token did not come back: $GUEST_REPLY"
	# vsock, guest-initiated: skiff connects the guest's port-5000 connection to
	# v.sock_5000, where uds_peer answers the guest's line.
	"$work/uds_peer" listen "$work/v.sock_5000" 300 >"$work/peer5000.out" 2>&1 &
	peer_pid=$!
	for _ in $(seq 50); do [ -S "$work/v.sock_5000" ] && break; sleep 0.1; done
	guest_cmd "systest --vsock-connect 5000 hello-$token" 180
	grep -q "^vsock-reply: echo: hello-$token\$" <<<"$GUEST_REPLY" ||
		guest_fail "vsock guest->host: no echo of hello-$token: $GUEST_REPLY"
	for _ in $(seq 50); do kill -0 "$peer_pid" 2>/dev/null || break; sleep 0.2; done
	kill "$peer_pid" 2>/dev/null
	wait "$peer_pid" 2>/dev/null
	peer_pid=
	grep -q "^uds_peer: got hello-$token\$" "$work/peer5000.out" ||
		guest_fail "vsock guest->host: uds_peer on v.sock_5000 did not get the line: $(cat "$work/peer5000.out")"
	# vsock, host-initiated: uds_peer sends "CONNECT 6000" on v.sock, the guest's listener
	# echoes its line. Its "ready" line comes before or after the shell's next prompt.
	guest_send "systest --vsock-listen 6000 &"
	if guest_expect "vsock-listen: ready on port 6000" 180 "the guest's vsock listener"; then
		out=$(timeout 150 "$work/uds_peer" connect "$work/v.sock" 6000 "ping-$token" 120 2>&1)
		grep -q "^uds_peer: OK [0-9][0-9]*\$" <<<"$out" ||
			guest_fail "vsock host->guest: no OK line for CONNECT 6000: $out"
		grep -q "^uds_peer: reply echo: ping-$token\$" <<<"$out" ||
			guest_fail "vsock host->guest: no echo of ping-$token: $out"
		guest_expect "vsock-listen: got ping-$token" 120 "the guest listener's line"
	fi
	# Back in step with the shell: wait for the job, then a marker the echoed command
	# line does not contain, then the prompt.
	guest_send 'wait; echo "vsock-listen"" job done"'
	guest_expect "vsock-listen job done" 180 "the end of the background vsock listener" &&
		guest_expect "$GUEST_PROMPT" 60 "shell prompt after the vsock listener"
	if grep -aq "vsock-[a-z]*: FAIL" "$GUEST_LOG"; then
		guest_fail "systest's vsock mode failed: $(grep -a "vsock-[a-z]*: FAIL" "$GUEST_LOG" | tr -d '\r' | head -n 3)"
	fi
	guest_send "poweroff -f"
	guest_wait_exit 120
	[ "$GUEST_RC" = 0 ] || guest_fail "skiff exited with status $GUEST_RC after poweroff -f, expected 0"
	# The guest's file, read from the image on the host.
	dd if="$disk" of="$work/part.ext4" bs=1M skip=1 status=none
	got=$(debugfs -R "cat /from-guest.txt" "$work/part.ext4" 2>/dev/null)
	[ "$got" = "$token-disk" ] || guest_fail "the image holds '$got' in /from-guest.txt, expected '$token-disk'"
fi
guest_phases
guest_report "$name"
