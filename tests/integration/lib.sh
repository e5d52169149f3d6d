# Shared by the integration tests (tests/integration/test_*.sh): each boots
# small guests from tests/guest under skiff and checks what they print and how
# skiff exits. Source it after `set -u`; it only defines functions and the
# variables below.
#
#   $SKIFF    the skiff binary (default build/skiff)
#   $GUESTS   directory of the guest ELFs (default build/guests; `make guests`)
#   $IT_TIMEOUT seconds one skiff run may take (default 120)
#
# it_need_kvm           exit 77 (skip) without a usable /dev/kvm
# it_need_skiff         exit 1 without an executable $SKIFF
# it_need_guest NAME..  exit 1 when $GUESTS/NAME.elf is missing
# it_run ARGS...        run "$SKIFF ARGS..." under timeout, stdin from /dev/null;
#                       sets RC, OUT (stdout file), ERR (stderr file), SECS
# it_guest NAME ARGS... it_run run -k $GUESTS/NAME.elf ARGS...
# it_fail MSG           record a failure (printed at once, with the last run's output)
# it_expect_rc WANT WHAT
# it_expect_out TEXT    stdout contains the line TEXT (fixed string, whole line)
# it_expect_err_re ERE WHAT  stderr, info lines aside, matches the extended
#                       regex (case-insensitive)
# it_done               print PASS/FAIL and exit 0/1

IT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SKIFF=${SKIFF:-$IT_TOP/build/skiff}
GUESTS=${GUESTS:-$IT_TOP/build/guests}
IT_TIMEOUT=${IT_TIMEOUT:-120}
IT_NAME=$(basename "$0" .sh)
IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/skiff-$IT_NAME.XXXXXX")
trap 'rm -rf "$IT_TMP"' EXIT
IT_FAILS=0
IT_RUNS=0
IT_T0=$EPOCHREALTIME
RC=
OUT=
ERR=
SECS=
IT_LAST=

it_skip() { echo "SKIP: $IT_NAME: $*"; exit 77; }

it_need_kvm() {
	[ -e /dev/kvm ] || it_skip "/dev/kvm is missing"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || it_skip "/dev/kvm is not accessible to $(id -un)"
}

it_need_skiff() {
	if [ ! -x "$SKIFF" ]; then
		echo "FAIL: $IT_NAME: no skiff binary at $SKIFF (run make, or set \$SKIFF)"
		exit 1
	fi
}

it_need_guest() {
	local g
	for g in "$@"; do
		if [ ! -f "$GUESTS/$g.elf" ]; then
			echo "FAIL: $IT_NAME: no guest $GUESTS/$g.elf (run make guests, or set \$GUESTS)"
			exit 1
		fi
	done
}

# Seconds between two $EPOCHREALTIME stamps, 3 decimals.
it_secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

it_run() {
	IT_RUNS=$((IT_RUNS + 1))
	OUT=$IT_TMP/run$IT_RUNS.out
	ERR=$IT_TMP/run$IT_RUNS.err
	IT_LAST="$SKIFF $*"
	local t0=$EPOCHREALTIME
	timeout -k 5 "$IT_TIMEOUT" "$SKIFF" "$@" </dev/null >"$OUT" 2>"$ERR"
	RC=$?
	SECS=$(it_secs "$t0" "$EPOCHREALTIME")
	if [ "$RC" = 124 ] || [ "$RC" = 137 ]; then
		it_fail "timed out after ${IT_TIMEOUT}s"
	fi
}

it_guest() {
	local g=$1
	shift
	it_run run -k "$GUESTS/$g.elf" "$@"
}

# Print at most 20 lines of a file, non-printing bytes made visible.
it_show() {
	if [ -s "$1" ]; then
		head -c 4000 "$1" | cat -v | head -n 20 | sed 's/^/    | /'
	else
		echo "    (empty)"
	fi
}

it_fail() {
	IT_FAILS=$((IT_FAILS + 1))
	echo "FAIL: $IT_NAME: $*"
	if [ -n "$IT_LAST" ]; then
		echo "  command: $IT_LAST (exit status $RC, ${SECS}s)"
		echo "  stdout:"
		it_show "$OUT"
		echo "  stderr:"
		it_show "$ERR"
	fi
}

it_expect_rc() {	# WANT WHAT
	[ "$RC" = "$1" ] || it_fail "$2: expected exit status $1, got $RC"
}

it_expect_out() {	# TEXT
	grep -qxF -- "$1" "$OUT" || it_fail "stdout lacks the line \"$1\""
}

# Informational lines ("skiff: info: ...") are not the message looked for.
it_expect_err_re() {	# ERE WHAT
	grep -viE '^skiff: (info|debug): ' "$ERR" | grep -qiE -- "$1" ||
		it_fail "$2: stderr (info lines aside) does not match /$1/"
}

it_done() {
	local secs
	secs=$(it_secs "$IT_T0" "$EPOCHREALTIME")
	if [ "$IT_FAILS" -eq 0 ]; then
		echo "PASS: $IT_NAME ($IT_RUNS runs, ${secs}s)"
		exit 0
	fi
	echo "FAIL: $IT_NAME: $IT_FAILS failed check(s) ($IT_RUNS runs, ${secs}s)"
	exit 1
}

# ---- virtio devices (tests/integration/test_virtio_*.sh)
#
# it_need_virtio WHAT ARGS...  skip (77) when this skiff does not create the
#                       device(s) ARGS yet (a device model not wired in);
#                       any other failure to start is a test failure
# it_blk_pattern FIRST COUNT SEED   the blk guest's pattern for COUNT
#                       sectors from FIRST (tests/guest/blk.c) on stdout
# it_netpeer            build bench/netpeer.c (the UDP peer) into $IT_TMP;
#                       sets NETPEER
it_need_virtio() {	# WHAT ARGS...
	local what=$1
	shift
	it_need_guest exitcode
	it_run run -k "$GUESTS/exitcode.elf" -p code=42 "$@"
	[ "$RC" = 42 ] && return 0
	if grep -qiE 'not wired|not (yet )?(supported|implemented)|function not implemented' "$ERR"; then
		it_skip "$what: not available in this skiff yet: $(grep -viE '^skiff: (info|debug): ' "$ERR" | head -1)"
	fi
	it_fail "$what: skiff does not start with $*"
	it_done
}

it_blk_pattern() {	# FIRST COUNT SEED
	awk -v f="$1" -v n="$2" -v seed="$3" 'BEGIN {
		for (s = f; s < f + n; s++)
			for (l = 0; l < 16; l++)
				printf "blk %08d.%02d seed %010d\n", s % 100000000, l, seed
	}'
}

it_netpeer() {
	NETPEER=$IT_TMP/netpeer
	[ -x "$NETPEER" ] && return 0
	${CC:-cc} -O2 -o "$NETPEER" "$IT_TOP/bench/netpeer.c" ||
		{ echo "FAIL: $IT_NAME: cannot build bench/netpeer.c"; exit 1; }
}

# API tests (curl on the Unix socket $sock). it_api METHOD PATH [BODY]:
# prints the HTTP status; the body lands in $IT_TMP/resp.
it_api() {
	curl -s -o "$IT_TMP/resp" -w '%{http_code}' --unix-socket "$sock" -X "$1" \
		"http://localhost$2" -H 'Accept: application/json' \
		-H 'Content-Type: application/json' ${3:+-d "$3"}
}
# it_expect_api WANT [TEXT] METHOD PATH [BODY]: the status must be WANT and,
# with TEXT, the body must contain it.
it_expect_api() {
	local want=$1 text= got
	shift
	case $1 in GET|PUT|PATCH|DELETE) ;; *) text=$1; shift ;; esac
	got=$(it_api "$@")
	[ "$got" = "$want" ] || it_fail "$1 $2 ${3:-}: HTTP $got, expected $want: $(cat "$IT_TMP/resp")"
	[ -z "$text" ] || grep -qF -- "$text" "$IT_TMP/resp" ||
		it_fail "$1 $2: the answer lacks '$text': $(cat "$IT_TMP/resp")"
}
# it_api_launch [ARGS...]: skiff --api-sock $sock ARGS in the background
# (stdout $OUT, stderr $ERR, unless the caller set them), pid in $pid; fails
# unless the socket appears within 3 s.
it_api_launch() {
	OUT=${OUT:-$IT_TMP/api.out}
	ERR=${ERR:-$IT_TMP/api.err}
	IT_LAST="$SKIFF --api-sock $sock $*"
	timeout -k 5 "$IT_TIMEOUT" "$SKIFF" --api-sock "$sock" "$@" </dev/null >"$OUT" 2>"$ERR" &
	pid=$!
	for _ in $(seq 300); do [ -S "$sock" ] && break; sleep 0.01; done
	[ -S "$sock" ] || it_fail "no API socket at $sock"
}
