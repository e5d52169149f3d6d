#!/usr/bin/env bash
# Many VMs on one host (docs/management.md): three `skiff run --name` VMs of
# the idle guest in a private runtime directory; `skiff list` shows each with
# its vCPUs, memory and state; pause/resume/info through the API socket; a
# SIGKILLed VM's entry is reported and removed by the next list, and so are
# fabricated entries of a reused pid and of a dead socket; `skiff stop
# --force` ends a VM (exit 0, entry and socket gone) and the default stop
# falls back to skiff_stop; host limits (--max-vms, --max-mem-mib) refuse a
# VM with the message, in `skiff run` and at InstanceStart; duplicate and
# bad ids are refused.
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest idle
it_need_guest buttons
command -v curl >/dev/null || it_skip "curl is not installed"

export SKIFF_RUNTIME_DIR=$IT_TMP/rt
RT=$SKIFF_RUNTIME_DIR
declare -A VPID	# name -> pid of its `timeout skiff` wrapper
cleanup() {
	local n
	for n in "${!VPID[@]}"; do kill -KILL "${VPID[$n]}" 2>/dev/null; done
	for n in "$RT"/*.json; do
		[ -f "$n" ] && kill -KILL "$(sed 's/.*"pid":\([0-9]*\).*/\1/' "$n")" 2>/dev/null
	done
	rm -rf "$IT_TMP"
}
trap cleanup EXIT

# start_vm NAME CPUS MEM [ARGS...]: a background skiff run of the idle guest
start_vm() {
	local out=$IT_TMP/$1.out name=$1 cpus=$2 mem=$3
	shift 3
	timeout -k 5 "$IT_TIMEOUT" "$SKIFF" run -k "$GUESTS/idle.elf" --name "$name" -c "$cpus" \
		-m "$mem" "$@" </dev/null >"$out" 2>"$out.err" &
	set -- "$name"
	VPID[$1]=$!
	for _ in $(seq 600); do grep -qx "idle ready" "$out" && return 0; sleep 0.05; done
	it_fail "VM $1 did not start: $(cat "$out.err")"
}
# wait_vm NAME: wait for its process; sets RC
wait_vm() {
	wait "${VPID[$1]}"
	RC=$?
	unset "VPID[$1]"
}
entry_pid() { sed 's/.*"pid":\([0-9]*\).*/\1/' "$RT/$1.json"; }
list() { it_run list; }
# expect_row ID STATE VCPUS MEM: a row of the last list
expect_row() {
	awk -v id="$1" -v st="$2" -v c="$3" -v m="$4" \
		'$1 == id && $2 == st && $3 == c && $4 == m { f = 1 } END { exit !f }' "$OUT" ||
		it_fail "list: no row '$1 $2 $3 $4'"
}
expect_no_row() {
	awk -v id="$1" '$1 == id { f = 1 } END { exit f }' "$OUT" || it_fail "list still shows $1"
}

start_vm vm-a 1 32
truncate -s 1M "$IT_TMP/disk.img"
start_vm vm-b 2 48 --disk "$IT_TMP/disk.img,ro" --rng
start_vm vm-c 1 64
list
it_expect_rc 0 "skiff list"
head -1 "$OUT" | grep -qE '^ID +STATE +VCPUS +MEM\(MiB\) +UPTIME +PID +SOCKET' ||
	it_fail "list: header"
expect_row vm-a Running 1 32
expect_row vm-b Running 2 48
expect_row vm-c Running 1 64
[ "$(grep -c '^vm-' "$OUT")" = 3 ] || it_fail "list: want 3 VMs"
grep -q "$RT/vm-b.sock" "$OUT" || it_fail "list: vm-b's socket"
awk -v p="$(entry_pid vm-b)" '$1 == "vm-b" && $6 == p { f = 1 } END { exit !f }' "$OUT" ||
	it_fail "list: vm-b's pid"

it_run pause vm-b
it_expect_rc 0 "skiff pause vm-b"
list
expect_row vm-b Paused 2 48
expect_row vm-a Running 1 32
it_run list --json
grep -q '"state": "Paused"' "$OUT" || it_fail "list --json: no Paused VM"
it_run resume vm-b
it_expect_rc 0 "skiff resume vm-b"
list
expect_row vm-b Running 2 48
it_run info vm-b
it_expect_rc 0 "skiff info vm-b"
for want in '"id": "vm-b"' '"state": "Running"' '"vcpu_count": 2' '"mem_size_mib": 48' \
	    '"kernel_image_path": ' "\"path_on_host\": \"$IT_TMP/disk.img\"" '"is_read_only": true' \
	    '"entropy": {}'; do
	grep -qF "$want" "$OUT" || it_fail "info: lacks $want"
done

# A VMM that does not answer (SIGSTOP): listed with the reason, not removed.
kill -STOP "$(entry_pid vm-b)"
list
kill -CONT "$(entry_pid vm-b)"
it_expect_rc 0 "skiff list with a stopped VMM"
grep -qE '^vm-b +\?\(no answer\) +2 +48 ' "$OUT" || it_fail "list: vm-b not shown as not answering"
it_expect_err_re "VM vm-b: the VMM does not answer on .*vm-b.sock \(timed out\)" "no answer"
[ -e "$RT/vm-b.json" ] || it_fail "the entry of a VMM that does not answer was removed"

# SIGKILL: no clean-up by the VM; the next list finds the entry stale.
kill -KILL "$(entry_pid vm-c)"
wait_vm vm-c
list
it_expect_rc 0 "skiff list after a SIGKILL"
it_expect_err_re 'VM vm-c \(pid [0-9]+\): stale entry removed: its process is gone' "stale vm-c"
expect_no_row vm-c
expect_row vm-a Running 1 32
expect_row vm-b Running 2 48
[ "$(grep -c '^vm-' "$OUT")" = 2 ] || it_fail "list: want 2 VMs after the kill"
[ -e "$RT/vm-c.json" ] && it_fail "vm-c's entry is still there"
[ -e "$RT/vm-c.sock" ] && it_fail "vm-c's socket is still there"
list
grep -q "vm-c" "$ERR" && it_fail "the stale entry was reported twice"

# Fabricated stale entries: a reused pid (this shell, wrong start time) and a
# live process whose socket is dead.
st=$(awk '{ sub(/.*\) /, ""); print $20 }' /proc/$$/stat)
printf '{"created":1,"id":"ghost","mem_mib":16,"pid":%d,"socket":"%s/ghost.sock","start_time":%d,"started":1,"vcpus":1}' \
	$$ "$RT" $((st + 1)) >"$RT/ghost.json"
printf '{"created":1,"id":"deaf","mem_mib":16,"pid":%d,"socket":"%s/deaf.sock","start_time":%d,"started":1,"vcpus":1}' \
	$$ "$RT" "$st" >"$RT/deaf.json"
list
it_expect_err_re 'VM ghost .*stale entry removed: its pid now belongs to another process' "reused pid"
it_expect_err_re 'VM deaf .*stale entry removed: its API socket is dead' "dead socket"
[ -e "$RT/ghost.json" ] || [ -e "$RT/deaf.json" ] && it_fail "fabricated entries left"

# Unknown ids, bad ids, duplicate ids.
it_run pause nosuch
it_expect_rc 1 "pause of an unknown id"
it_expect_err_re "no VM with id .nosuch." "unknown id"
it_run info 'a/b'
it_expect_rc 1 "info of a bad id"
it_expect_err_re "not a VM id" "bad id"
for bad in 'a/b' '' 'a.b' "$(printf 'x%.0s' $(seq 65))"; do
	it_run run -k "$GUESTS/idle.elf" --name "$bad"
	it_expect_rc 2 "skiff run --name '$bad'"
	it_expect_err_re "--name wants 1..64 characters" "bad name '$bad'"
done
it_run --api-sock "$IT_TMP/x.sock" --id 'no spaces'
it_expect_rc 2 "Firecracker mode --id with a space"
it_run run -k "$GUESTS/idle.elf" --name vm-b
it_expect_rc 1 "a second vm-b"
it_expect_err_re "the VM id .vm-b. is in use by pid $(entry_pid vm-b)" "duplicate id"

# stop --force: the VM exits 0 at once, its entry and socket go.
it_run stop --force vm-a
it_expect_rc 0 "skiff stop --force vm-a"
wait_vm vm-a
it_expect_rc 0 "vm-a's skiff after skiff stop"
grep -q "stopped on request" "$IT_TMP/vm-a.out.err" || it_fail "vm-a: no stop message"
[ -e "$RT/vm-a.json" ] && it_fail "vm-a's entry is still there"
[ -e "$RT/vm-a.sock" ] && it_fail "vm-a's socket is still there"

# The default stop on a paused VM: resumed, the power button reaches the guest
# (the buttons guest powers off on it: S5, exit 0), no forced stop.
timeout -k 5 "$IT_TIMEOUT" "$SKIFF" run -k "$GUESTS/buttons.elf" -p mode=power --name pw \
	-m 16 </dev/null >"$IT_TMP/pw.out" 2>"$IT_TMP/pw.out.err" &
VPID[pw]=$!
for _ in $(seq 600); do grep -q "ready" "$IT_TMP/pw.out" && break; sleep 0.05; done
it_run pause pw
it_expect_rc 0 "skiff pause pw"
it_run stop --timeout 20 pw
it_expect_rc 0 "skiff stop pw (paused, buttons guest)"
grep -q "stopping it now" "$ERR" && it_fail "stop of paused pw fell back to skiff_stop: $(cat "$ERR")"
wait_vm pw
it_expect_rc 0 "pw's skiff after the power button"
grep -q "power button pressed" "$IT_TMP/pw.out" || it_fail "pw: the guest did not see the button: $(cat "$IT_TMP/pw.out")"

# Host limits: vm-b runs (48 MiB).
it_run limits --max-vms 2
it_expect_rc 0 "skiff limits --max-vms 2"
grep -q "max-vms *2 (1 started now)" "$OUT" || it_fail "limits output: $(cat "$OUT")"
start_vm vm-d 1 32
it_run run -k "$GUESTS/idle.elf" --name vm-e -m 16
it_expect_rc 1 "a third VM with --max-vms 2"
it_expect_err_re "host limit: 2 VMs running, --max-vms is 2 \(skiff limits\)" "max-vms"
[ -e "$RT/vm-e.json" ] && it_fail "the refused VM left an entry"
it_run limits --clear
it_run limits --max-mem-mib 100
it_expect_rc 0 "skiff limits --max-mem-mib 100"
it_run run -k "$GUESTS/idle.elf" --name vm-e -m 32
it_expect_rc 1 "48+32+32 MiB with --max-mem-mib 100"
it_expect_err_re "host limit: 2 VMs use 80 MiB of guest memory, this one wants 32 MiB, --max-mem-mib is 100" "max-mem"
# Firecracker mode: the limit is checked at InstanceStart (400), the process stays.
fcsock=$IT_TMP/fc.sock
timeout -k 5 "$IT_TIMEOUT" "$SKIFF" --api-sock "$fcsock" --id fc1 </dev/null \
	>"$IT_TMP/fc.out" 2>"$IT_TMP/fc.err" &
VPID[fc1]=$!
for _ in $(seq 300); do [ -S "$fcsock" ] && break; sleep 0.02; done
api() {
	curl -s -o "$IT_TMP/resp" -w '%{http_code}' --unix-socket "$fcsock" -X "$1" \
		"http://localhost$2" -d "$3"
}
[ "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/idle.elf\"}")" = 204 ] ||
	it_fail "fc1 boot-source: $(cat "$IT_TMP/resp")"
[ "$(api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}')" = 204 ] ||
	it_fail "fc1 machine-config: $(cat "$IT_TMP/resp")"
[ "$(api PUT /actions '{"action_type": "InstanceStart"}')" = 400 ] ||
	it_fail "fc1 InstanceStart over the limit was not refused"
grep -q 'host limit: 2 VMs use 80 MiB of guest memory, this one wants 64 MiB' "$IT_TMP/resp" ||
	it_fail "fc1 InstanceStart: $(cat "$IT_TMP/resp")"
list
grep -qE '^fc1 +Not started +- +- +- ' "$OUT" || it_fail "list: fc1 not started"
grep -q "^fc1 .*$fcsock" "$OUT" || it_fail "list: fc1's own --api-sock"
it_run limits --clear
[ "$(api PUT /actions '{"action_type": "InstanceStart"}')" = 204 ] ||
	it_fail "fc1 InstanceStart without limits: $(cat "$IT_TMP/resp")"
list
expect_row fc1 Running 1 64
# the default stop: the idle guest ignores the power button, so skiff_stop
it_run stop --timeout 1 fc1
it_expect_rc 0 "skiff stop fc1"
wait_vm fc1
it_expect_rc 0 "fc1's skiff after skiff stop"
[ -e "$fcsock" ] && it_fail "fc1's socket is still there"

# Four VMs starting together with room for two: the check and the entry
# write share the lock, so exactly two get in.
it_run limits --max-vms 4
for i in 1 2 3 4; do
	timeout -k 5 "$IT_TIMEOUT" "$SKIFF" run -k "$GUESTS/idle.elf" --name "race-$i" -m 16 \
		</dev/null >"$IT_TMP/race-$i.out" 2>"$IT_TMP/race-$i.err" &
	VPID[race-$i]=$!
done
for _ in $(seq 600); do
	done_n=0
	for i in 1 2 3 4; do
		if grep -qx "idle ready" "$IT_TMP/race-$i.out" || ! kill -0 "${VPID[race-$i]}" 2>/dev/null
		then done_n=$((done_n + 1)); fi
	done
	[ $done_n = 4 ] && break
	sleep 0.05
done
refused=$(cat "$IT_TMP"/race-*.err | grep -c "host limit: 4 VMs running, --max-vms is 4")
[ "$refused" = 2 ] || it_fail "racing starts: $refused refused, want 2: $(cat "$IT_TMP"/race-*.err)"
list
[ "$(grep -c '^race-' "$OUT")" = 2 ] || it_fail "racing starts: want 2 race VMs listed"
it_run limits --clear
for i in 1 2 3 4; do
	if grep -qx "idle ready" "$IT_TMP/race-$i.out"; then
		it_run stop --force "race-$i"
		it_expect_rc 0 "skiff stop --force race-$i"
	fi
	wait_vm "race-$i"
done

for n in vm-b vm-d; do
	it_run stop --force "$n"
	it_expect_rc 0 "skiff stop --force $n"
	wait_vm "$n"
done
list
[ "$(grep -c . "$OUT")" = 1 ] || it_fail "VMs left at the end"
ls "$RT"/*.json >/dev/null 2>&1 && it_fail "entries left: $(ls "$RT")"
it_done
