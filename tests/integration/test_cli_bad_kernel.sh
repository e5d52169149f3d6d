#!/usr/bin/env bash
# A kernel skiff cannot boot is refused at once, with status 1 or 2 and a
# message on stderr that names the problem: a missing file, a directory, an
# empty file, a file of garbage, a truncated ELF, no --kernel at all.
set -u
. "$(dirname "$0")/lib.sh"
it_need_skiff
IT_TIMEOUT=20

refused() {	# WHAT ERE ARGS...
	local what=$1 re=$2
	shift 2
	it_run "$@"
	case $RC in
	1 | 2) ;;
	*) it_fail "$what: expected exit status 1 or 2, got $RC" ;;
	esac
	it_expect_err_re "$re" "$what"
	[ -s "$OUT" ] && it_fail "$what: something was written to stdout"
	echo "$what: status $RC in ${SECS}s: $(grep -viE '^skiff: (info|debug): ' "$ERR" | head -n 1)"
}

refused "missing kernel" "does-not-exist.*(no such file|not found)" \
	run -k "$IT_TMP/does-not-exist.elf"
refused "directory as kernel" "directory|regular file" run -k "$IT_TMP"
: >"$IT_TMP/empty"
refused "empty kernel" "empty" run -k "$IT_TMP/empty"
head -c 65536 /dev/urandom >"$IT_TMP/garbage"
refused "garbage kernel" "garbage.*(elf|bzimage|format|magic)" run -k "$IT_TMP/garbage"
printf '\177ELF\002\001\001' >"$IT_TMP/truncated.elf"
refused "truncated ELF" "truncat|too short|short read" run -k "$IT_TMP/truncated.elf"
refused "no --kernel" "kernel" run
it_done
