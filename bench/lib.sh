# Shared helpers of skiff's benchmark scripts (sourced, bash).
#
# Environment:
#   SKIFF        the skiff binary (default: build/skiff)
#   BENCH_BUILD  where bench/Makefile builds (default: build/bench)
#   BENCH_ROWS   if set, a file each script appends its summary rows to
#                ("metric|skiff|reference|ratio|target|met"), read by run-all
set -u
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SKIFF=${SKIFF:-$BENCH_ROOT/build/skiff}
BENCH_BUILD=${BENCH_BUILD:-$BENCH_ROOT/build/bench}
FLOOR=$BENCH_BUILD/exit_floor

bench_die() { echo "bench: $*" >&2; exit 1; }

# Build the bench guests and exit_floor (and any extra targets, e.g.
# exits-N.elf given as file names under $BENCH_BUILD); check skiff is built.
bench_build() {
	local t targets=()
	for t in "$@"; do targets+=("$BENCH_BUILD/$t"); done
	make -s -C "$BENCH_ROOT/bench" BUILD="$BENCH_BUILD" all "${targets[@]}" >&2 ||
		bench_die "building bench/ failed"
	[ -x "$SKIFF" ] || bench_die "$SKIFF not found: run 'make' first"
	[ -r /dev/kvm ] && [ -w /dev/kvm ] || bench_die "/dev/kvm is not usable by $(id -un)"
}

# "PVM" or "hardware KVM", with a few words.
bench_host_kind() {
	if [ -d /sys/module/kvm_pvm ]; then
		echo "KVM PVM (software virtualization: guest CPL0 emulated, CPL3 native)"
	elif [ -d /sys/module/kvm_intel ]; then
		echo "hardware KVM (Intel VT-x, kvm_intel)"
	elif [ -d /sys/module/kvm_amd ]; then
		echo "hardware KVM (AMD-V, kvm_amd)"
	else
		echo "KVM (module unknown)"
	fi
}

bench_is_pvm() { [ -d /sys/module/kvm_pvm ]; }

bench_header() {
	local cpu
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
	echo "# $1"
	echo "date:   $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "host:   $(bench_host_kind)"
	echo "        $(uname -sr), $(nproc) CPUs, ${cpu:-unknown CPU}"
	echo "skiff:  $SKIFF ($("$SKIFF" --version 2>/dev/null | head -1))"
	echo "load:   $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min; other work here adds to wall times)"
	echo
}

# bench_row METRIC SKIFF REFERENCE RATIO TARGET MET
bench_row() {
	[ -n "${BENCH_ROWS:-}" ] || return 0
	local IFS='|'
	echo "$*" >>"$BENCH_ROWS"
}

# Monotonic-enough wall clock in microseconds (bash 5 EPOCHREALTIME).
now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }

# Statistics over integers on stdin, one per line.
stat_min() { sort -n | head -1; }
stat_median() {
	local a n
	mapfile -t a < <(sort -n)
	n=${#a[@]}
	[ "$n" -gt 0 ] || { echo 0; return; }
	if [ $((n % 2)) = 1 ]; then echo "${a[n / 2]}"; else echo $(((a[n / 2 - 1] + a[n / 2]) / 2)); fi
}

# fmt_ratio A B: A/B with two decimals ("-" if B is 0).
fmt_ratio() {
	[ "${2:-0}" -gt 0 ] 2>/dev/null || { echo "-"; return; }
	local r=$(($1 * 100 / $2))
	printf '%d.%02d' $((r / 100)) $((r % 100))
}

# fmt_ms US: microseconds as milliseconds with two decimals.
fmt_ms() { local v=$(($1 / 10)); printf '%d.%02d' $((v / 100)) $((v % 100)); }

# fmt_mib KB: kilobytes as MiB with two decimals.
fmt_mib() { local v=$(($1 * 100 / 1024)); printf '%d.%02d' $((v / 100)) $((v % 100)); }

# smaps_list PID: one line per mapping of the process:
#   SIZE_KB PERMS NAME RSS_KB       (NAME "[anon]" for anonymous mappings)
smaps_list() {
	local line range perms size rss=0 cur="" name
	while IFS= read -r line; do
		case "$line" in
		[0-9a-f]*-[0-9a-f]*' '*)
			[ -n "$cur" ] && echo "$cur $rss"
			# shellcheck disable=SC2086
			set -- $line
			range=$1 perms=$2
			shift 5
			name=${*:-[anon]}
			name=${name// /_}
			size=$(((16#${range#*-} - 16#${range%-*}) / 1024))
			cur="$size $perms $name"
			rss=0 ;;
		Rss:*)
			# shellcheck disable=SC2086
			set -- $line
			rss=$2 ;;
		esac
	done <"/proc/$1/smaps" 2>/dev/null
	[ -n "$cur" ] && echo "$cur $rss"
	return 0
}

# status_kb PID FIELD: a kB field of /proc/PID/status (VmRSS, RssAnon...).
status_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status" 2>/dev/null; }
