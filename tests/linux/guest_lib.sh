# shellcheck shell=bash disable=SC2034 source-path=SCRIPTDIR
# Helpers for the slow tests that boot skiff's own guest kernel to a busybox shell and drive
# it through the serial console (tests/linux/test_guest_*.sh). Source it; it defines
# functions and sets nothing until they are called. Uses is_pvm and linux_skip from lib.sh.
#
# guest_setup          checks /dev/kvm (exit 77 without) and $SKIFF, then runs guest/make-guest
#                      (builds or reuses the kernel and images); sets GUEST_KERNEL,
#                      GUEST_INITRD (and GUEST_SYSTEST_INITRD: the initramfs plus
#                      /bin/systest). SKIFF_GUEST_KERNEL=PATH uses that kernel instead (and
#                      builds only the images).
# guest_start NAME CPUS [MiB]
#                      starts "$SKIFF run" (plus GUEST_ARGS; no -i when GUEST_INITRD is
#                      empty) in the background: stdin from a fifo held open by
#                      this shell, stdout (the serial console) to build/test-logs/NAME.log,
#                      stderr to NAME.stderr.log. An EXIT trap stops it if still running.
# guest_expect TEXT SECONDS WHAT
#                      waits until TEXT appears in the console output after the last match;
#                      returns 1 (after recording a failure) on timeout or if skiff exited.
# guest_cmd CMD SECONDS
#                      sends CMD and a newline, waits for the next shell prompt; sets
#                      GUEST_REPLY to what came in between (the echoed command included),
#                      one line per line, carriage returns removed.
# guest_send TEXT      sends TEXT and a newline, waits for nothing.
# guest_wait_exit SECONDS
#                      waits for skiff to exit; sets GUEST_RC (124 after SECONDS, when it is
#                      stopped).
# guest_t NAME         seconds from skiff's start to milestone NAME (when the console first
#                      showed it; polled, so to about 0.2 s), or empty.
# guest_fail WHY / guest_report NAME
#                      collect failures / print PASS or the failures and the log tails.
#
# Environment: SKIFF (binary, default build/skiff), SKIFF_GUEST_TIMEOUT (seconds allowed
# until "skiff-init: reached", default LINUX_TIMEOUT from lib.sh: 1200), LINUX_CMDLINE.

# shellcheck source=tests/linux/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GUEST_PROMPT='~ # '
GUEST_TIMEOUT=${SKIFF_GUEST_TIMEOUT:-$LINUX_TIMEOUT}
GUEST_FAILS=()
GUEST_PID=
GUEST_ARGS=()	# more `skiff run` arguments (devices); GUEST_INITRD= boots without one

guest_fail() { GUEST_FAILS+=("$*"); }

guest_setup() {
	[ -e /dev/kvm ] || linux_skip "/dev/kvm is missing"
	if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
		linux_skip "/dev/kvm is not accessible to $(id -un)"
	fi
	if [ ! -x "$SKIFF" ]; then
		echo "FAIL: no skiff binary at $SKIFF (run make, or set \$SKIFF)"
		exit 1
	fi
	local out t0=$SECONDS
	if [ -n "${SKIFF_GUEST_KERNEL:-}" ]; then
		echo "guest: kernel from SKIFF_GUEST_KERNEL; guest/build-images"
		out=$("$LINUX_TOP/guest/build-images") ||
			{ echo "FAIL: guest/build-images failed (its messages are above)"; exit 1; }
		GUEST_KERNEL=$SKIFF_GUEST_KERNEL
	else
		echo "guest: guest/make-guest (the first run builds the kernel: minutes)"
		out=$("$LINUX_TOP/guest/make-guest") ||
			{ echo "FAIL: guest/make-guest failed (its messages are above)"; exit 1; }
		GUEST_KERNEL=$(sed -n 's/^kernel=//p' <<<"$out")
	fi
	GUEST_INITRD=$(sed -n 's/^initrd=//p' <<<"$out")
	# The initramfs with /bin/systest in it (guest/build-images; a cache hit by now).
	GUEST_SYSTEST_INITRD=$("$LINUX_TOP/guest/build-images" | sed -n 's/^systest_initrd=//p')
	if [ ! -s "$GUEST_KERNEL" ] || [ ! -s "$GUEST_INITRD" ]; then
		echo "FAIL: guest/make-guest gave no usable kernel or initrd: $out"
		exit 1
	fi
	echo "guest: kernel=$GUEST_KERNEL initrd=$GUEST_INITRD ($((SECONDS - t0)) s)"
}

# Milestones: console text whose first appearance is timed while waiting for anything.
GUEST_MILESTONES=("Linux version" "Run /init as init process" "skiff-init: reached")
declare -A GUEST_SEEN=()

guest_poll_milestones() {
	local m
	for m in "${GUEST_MILESTONES[@]}"; do
		[ -n "${GUEST_SEEN[$m]:-}" ] && continue
		grep -qaF -- "$m" "$GUEST_LOG" 2>/dev/null &&
			GUEST_SEEN[$m]=$(guest_now)
	done
}

guest_now() { awk -v a="$GUEST_T0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
guest_t() { echo "${GUEST_SEEN[$1]:-}"; }

guest_stop() {	# stops skiff if it is still running (TERM, then KILL)
	[ -n "$GUEST_PID" ] || return 0
	if kill -0 "$GUEST_PID" 2>/dev/null; then
		local kids _
		kids=$(pgrep -P "$GUEST_PID" 2>/dev/null)
		kill -TERM "$GUEST_PID" 2>/dev/null	# timeout passes it on to skiff
		for _ in $(seq 50); do kill -0 "$GUEST_PID" 2>/dev/null || break; sleep 0.2; done
		# shellcheck disable=SC2086 # kids: a list of pids
		kill -0 "$GUEST_PID" 2>/dev/null && kill -KILL "$GUEST_PID" $kids 2>/dev/null
	fi
	wait "$GUEST_PID" 2>/dev/null
	GUEST_PID=
}

guest_cleanup() {
	guest_stop
	[ -n "${GUEST_IN:-}" ] && exec {GUEST_IN}>&-
	GUEST_IN=
	[ -n "${GUEST_TMP:-}" ] && rm -rf "$GUEST_TMP"
	GUEST_TMP=
}

guest_start() {
	local name=$1 cpus=$2 mem=${3:-256}
	local logdir=$LINUX_TOP/build/test-logs
	mkdir -p "$logdir"
	GUEST_LOG=$logdir/$name.log
	GUEST_STDERR=$logdir/$name.stderr.log
	GUEST_TMP=$(mktemp -d)
	mkfifo "$GUEST_TMP/stdin"
	: >"$GUEST_LOG"
	GUEST_OFF=0
	trap guest_cleanup EXIT
	trap 'guest_cleanup; echo "interrupted"; exit 1' INT TERM HUP

	local args=(-k "$GUEST_KERNEL")
	[ -n "$GUEST_INITRD" ] && args+=(-i "$GUEST_INITRD")
	args+=(-c "$cpus" -m "$mem" --cmdline "$LINUX_CMDLINE" "${GUEST_ARGS[@]}")
	echo "boot: $SKIFF run ${args[*]}"
	GUEST_T0=$EPOCHREALTIME
	# The overall limit is a backstop; each wait below has its own, shorter one.
	timeout -k 10 $((GUEST_TIMEOUT + 900)) "$SKIFF" run "${args[@]}" \
		<"$GUEST_TMP/stdin" >"$GUEST_LOG" 2>"$GUEST_STDERR" &
	GUEST_PID=$!
	# Hold the write end of skiff's stdin for the whole run, so that it never sees EOF.
	exec {GUEST_IN}>"$GUEST_TMP/stdin"
}

# The console output after offset GUEST_OFF, bytes (LC_ALL=C).
guest_tail() { tail -c +$((GUEST_OFF + 1)) "$GUEST_LOG"; }

guest_expect() {	# TEXT SECONDS WHAT
	local text=$1 limit=$2 what=$3 end hit pos
	end=$(awk -v a="$EPOCHREALTIME" -v s="$limit" 'BEGIN { printf "%.0f", a + s }')
	while :; do
		guest_poll_milestones
		hit=$(guest_tail | LC_ALL=C grep -abo -F -m 1 -- "$text" | head -n 1)
		if [ -n "$hit" ]; then
			pos=${hit%%:*}
			GUEST_OFF=$((GUEST_OFF + pos + ${#text}))
			GUEST_SEEN[$text]=${GUEST_SEEN[$text]:-$(guest_now)}
			return 0
		fi
		if ! kill -0 "$GUEST_PID" 2>/dev/null; then
			guest_poll_milestones
			guest_fail "skiff exited before $what (\"$text\")"
			return 1
		fi
		if [ "${EPOCHREALTIME%.*}" -ge "$end" ]; then
			guest_fail "no $what (\"$text\") within ${limit}s"
			return 1
		fi
		sleep 0.2
	done
}

guest_send() { printf '%s\n' "$1" >&"$GUEST_IN"; }

guest_cmd() {	# CMD SECONDS
	local start=$GUEST_OFF t0=$EPOCHREALTIME
	GUEST_REPLY=
	guest_send "$1"
	guest_expect "$GUEST_PROMPT" "$2" "shell prompt after \"$1\"" || return 1
	GUEST_REPLY=$(tail -c +$((start + 1)) "$GUEST_LOG" | head -c $((GUEST_OFF - start - ${#GUEST_PROMPT})) | tr -d '\r')
	awk -v a="$t0" -v b="$EPOCHREALTIME" -v c="$1" 'BEGIN { printf "  %.1fs for \"%s\"\n", b - a, c }'
}

guest_wait_exit() {	# SECONDS
	local _
	for _ in $(seq $(($1 * 5))); do
		kill -0 "$GUEST_PID" 2>/dev/null || break
		sleep 0.2
	done
	if kill -0 "$GUEST_PID" 2>/dev/null; then
		guest_stop
		GUEST_RC=124
	else
		wait "$GUEST_PID"
		GUEST_RC=$?
		GUEST_PID=
	fi
	GUEST_T1=$(guest_now)
}

# Informational: when each milestone appeared, from skiff's start; skiff's boot timer.
guest_phases() {
	local m t
	for m in "${GUEST_MILESTONES[@]}" "$GUEST_PROMPT"; do
		t=$(guest_t "$m")
		[ -n "$t" ] && echo "  ${t}s: $([ "$m" = "$GUEST_PROMPT" ] && echo "first shell prompt" || echo "$m")"
	done
	t=$(sed -n 's/.*guest boot timer: \([0-9]*\) us since skiff started.*/\1/p' "$GUEST_STDERR" | head -n 1)
	[ -n "$t" ] && awk -v us="$t" 'BEGIN { printf "  %.1fs: skiff boot timer (\"init reached\", port 0x3f0)\n", us / 1e6 }'
	[ -n "${GUEST_T1:-}" ] && echo "  ${GUEST_T1}s: skiff exited with status ${GUEST_RC:-?}"
}

# The boot timer must have fired if the kernel has /dev/port; /init says when it has not.
guest_check_boot_timer() {
	if grep -qaF "skiff-init: no /dev/port" "$GUEST_LOG"; then
		echo "NOTE: the guest kernel has no /dev/port (CONFIG_DEVPORT): boot timer not checked"
	elif ! grep -q "guest boot timer: [0-9]* us since skiff started" "$GUEST_STDERR"; then
		guest_fail "skiff did not log the guest boot timer (/init writes 123 to port 0x3f0 through /dev/port)"
	fi
}

guest_report() {	# NAME
	guest_cleanup
	if [ ${#GUEST_FAILS[@]} -eq 0 ]; then
		echo "PASS: $1 (serial log: $GUEST_LOG)"
		return 0
	fi
	local f
	for f in "${GUEST_FAILS[@]}"; do echo "FAIL: $1: $f"; done
	echo "--- last serial lines ($GUEST_LOG) ---"
	tail -n 25 "$GUEST_LOG" | tr -d '\r'
	echo "--- skiff stderr ($GUEST_STDERR) ---"
	tail -n 15 "$GUEST_STDERR"
	return 1
}
