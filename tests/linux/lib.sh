# shellcheck shell=bash disable=SC2034
# Shared by the slow Linux tests (tests/linux/test_*.sh) and bench/linux-boot.
# Source it; it defines functions and sets nothing until they are called.
#
# linux_setup         checks /dev/kvm and $SKIFF, fetches Debian's kernel and builds the
#                     initramfs; sets KERNEL_ELF, KERNEL_BZ, INITRD, KERNEL_VERSION.
#                     Exits 77 (skip) when /dev/kvm is missing or the kernel cannot be had.
# linux_boot NAME KERNEL CPUS [MiB]
#                     boots under "$SKIFF run", serial on a pipe, each line stamped as it
#                     arrives; on hardware KVM sends "poweroff -f" once the initramfs says
#                     "skiff-init: reached". Sets BOOT_RC, BOOT_T0, BOOT_T1, SERIAL_LOG,
#                     STDERR_LOG, STAMPED_LOG. Logs go to build/test-logs/NAME*.log.
# t_of TEXT           seconds from skiff's start to the first serial line containing TEXT
#                     (empty if none).
# is_pvm              true on a KVM PVM host (see docs/host.md); LINUX_PVM=0/1 overrides.

LINUX_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SKIFF=${SKIFF:-$LINUX_TOP/build/skiff}
LINUX_CMDLINE=${LINUX_CMDLINE:-console=ttyS0 reboot=k panic=1}
LINUX_TIMEOUT=${LINUX_TIMEOUT:-1200}

# LINUX_PVM=1/0 overrides the detection (to exercise both paths of these scripts).
is_pvm() {
	case ${LINUX_PVM:-} in 1) return 0 ;; 0) return 1 ;; esac
	[ -d /sys/module/kvm_pvm ]
}

linux_skip() { echo "SKIP: $*"; exit 77; }

linux_setup() {
	[ -e /dev/kvm ] || linux_skip "/dev/kvm is missing"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || linux_skip "/dev/kvm is not accessible to $(id -un)"
	if [ ! -x "$SKIFF" ]; then
		echo "FAIL: no skiff binary at $SKIFF (run make, or set \$SKIFF)"
		exit 1
	fi
	local paths
	paths=$("$LINUX_TOP/scripts/fetch-debian-kernel") ||
		linux_skip "cannot fetch Debian's kernel (scripts/fetch-debian-kernel failed; no network?)"
	KERNEL_BZ=$(sed -n 's/^bzImage: //p' <<<"$paths")
	KERNEL_ELF=$(sed -n 's/^vmlinux: //p' <<<"$paths")
	KERNEL_VERSION=$(sed -n 's/^version: //p' <<<"$paths")
	INITRD=$("$LINUX_TOP/scripts/build-initramfs") ||
		linux_skip "cannot build the initramfs (scripts/build-initramfs failed)"
}

# Stamp each line with the wall clock as it arrives (bash 5: $EPOCHREALTIME).
stamp_lines() {
	local line
	while IFS= read -r line || [ -n "$line" ]; do
		printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
	done
}

t_of() {
	awk -v t0="$BOOT_T0" -v pat="$1" \
		'{ s = $0; sub(/^[^ ]* /, "", s) } index(s, pat) { printf "%.1f", $1 - t0; exit }' \
		"$STAMPED_LOG"
}

linux_boot() {
	local name=$1 kernel=$2 cpus=$3 mem=${4:-256}
	local logdir=$LINUX_TOP/build/test-logs
	mkdir -p "$logdir"
	SERIAL_LOG=$logdir/$name.log
	STDERR_LOG=$logdir/$name.stderr.log
	STAMPED_LOG=$logdir/$name.stamped.log
	local tmp fifo rcfile
	tmp=$(mktemp -d)
	fifo=$tmp/stdin
	rcfile=$tmp/rc
	mkfifo "$fifo"
	: >"$STAMPED_LOG"

	echo "boot: $SKIFF run -k $kernel -i $INITRD -c $cpus -m $mem --cmdline '$LINUX_CMDLINE'"
	BOOT_T0=$EPOCHREALTIME
	(
		timeout -k 10 "$LINUX_TIMEOUT" "$SKIFF" run -k "$kernel" -i "$INITRD" -c "$cpus" \
			-m "$mem" --cmdline "$LINUX_CMDLINE" <"$fifo" 2>"$STDERR_LOG" &
		echo $! >"$tmp/pid"
		wait $!
		echo $? >"$rcfile"
	) | stamp_lines >"$STAMPED_LOG" &
	local bg=$!
	# If this script is interrupted, take skiff down with it (timeout passes TERM on).
	trap 'kill "$(cat "'"$tmp"'/pid" 2>/dev/null)" 2>/dev/null; exit 1' INT TERM HUP
	# Hold the write end of skiff's stdin open for the whole run, so that it never sees EOF.
	exec {LINUX_IN}>"$fifo"

	local sent=false
	while kill -0 "$bg" 2>/dev/null; do
		if ! is_pvm && ! $sent && grep -q "skiff-init: reached" "$STAMPED_LOG"; then
			sleep 1
			echo "  $(t_of "skiff-init: reached")s: skiff-init: reached; sending poweroff -f"
			printf 'poweroff -f\n' >&"$LINUX_IN"
			sent=true
		fi
		sleep 1
	done
	wait "$bg"
	BOOT_T1=$EPOCHREALTIME
	trap - INT TERM HUP
	exec {LINUX_IN}>&-
	BOOT_RC=$(cat "$rcfile" 2>/dev/null || echo "?")
	rm -rf "$tmp"
	cut -d' ' -f2- "$STAMPED_LOG" >"$SERIAL_LOG"
	linux_phases
}

# Informational: how long each phase took, from skiff's start. Never asserted.
linux_phases() {
	local what t
	for what in "Linux version" "Run /init as init process" "skiff-init: reached" \
		"Attempted to kill init"; do
		t=$(t_of "$what")
		[ -n "$t" ] && echo "  ${t}s: $what"
	done
	awk -v a="$BOOT_T0" -v b="$BOOT_T1" -v rc="$BOOT_RC" \
		'BEGIN { printf "  %.1fs: skiff exited with status %s\n", b - a, rc }'
}

# The checks common to every Linux boot test. Collects failures in LINUX_FAILS.
LINUX_FAILS=()
linux_fail() { LINUX_FAILS+=("$*"); }
expect_serial() {	# TEXT WHY
	grep -qF -- "$1" "$SERIAL_LOG" || linux_fail "serial output lacks \"$1\" ($2)"
}

linux_common_checks() {
	expect_serial "Linux version" "the kernel's first message"
	local cl
	cl=$(grep -m1 "Command line:" "$SERIAL_LOG" || true)
	if [ -z "$cl" ]; then
		linux_fail "the kernel did not echo its command line"
	else
		local w
		for w in $LINUX_CMDLINE; do
			grep -qw -- "$w" <<<"$cl" || linux_fail "command line echoed without \"$w\": $cl"
		done
	fi
	if grep -E "ACPI (BIOS )?Error" "$SERIAL_LOG" >/dev/null; then
		linux_fail "ACPI errors: $(grep -E -m3 "ACPI (BIOS )?Error" "$SERIAL_LOG" | tr '\n' '|')"
	fi
	expect_serial "ttyS0 at I/O 0x3f8 (irq = 4" "serial port registered with IRQ 4"
	expect_serial "Run /init as init process" "the kernel reached its init process"
	if [ "$BOOT_RC" = 124 ]; then
		linux_fail "timed out after ${LINUX_TIMEOUT}s"
	elif is_pvm; then
		# KVM PVM: the first system call of init fails, the kernel panics and, with panic=1,
		# reboots; skiff reports a guest reset.
		expect_serial "Attempted to kill init" "on PVM init dies on its first system call"
		[ "$BOOT_RC" = 3 ] || linux_fail "skiff exited with status $BOOT_RC, expected 3 (guest reset)"
		grep -qi "reset" "$STDERR_LOG" || linux_fail "skiff's stderr does not mention the guest reset"
	else
		expect_serial "skiff-init: reached" "the initramfs's /init ran"
		[ "$BOOT_RC" = 0 ] || linux_fail "skiff exited with status $BOOT_RC after poweroff -f, expected 0"
	fi
}

linux_report() {	# NAME
	if [ ${#LINUX_FAILS[@]} -eq 0 ]; then
		echo "PASS: $1 (serial log: $SERIAL_LOG)"
		return 0
	fi
	local f
	for f in "${LINUX_FAILS[@]}"; do echo "FAIL: $1: $f"; done
	echo "--- last serial lines ($SERIAL_LOG) ---"
	tail -n 25 "$SERIAL_LOG"
	echo "--- skiff stderr ($STDERR_LOG) ---"
	tail -n 15 "$STDERR_LOG"
	return 1
}
