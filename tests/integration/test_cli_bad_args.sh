#!/usr/bin/env bash
# Bad options are refused at once, with status 1 or 2 and a message on
# stderr naming the problem: -c 0, -c beyond the maximum, -c not a number,
# -m below the minimum, a command line over 4095 bytes, an unknown option, an
# option without its value, an unknown subcommand.
set -u
. "$(dirname "$0")/lib.sh"
it_need_skiff
IT_TIMEOUT=20
kernel=$GUESTS/hello.elf
[ -f "$kernel" ] || kernel=/bin/true	# refused before the kernel matters

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

refused "-c 0" "cpu.*0|0.*cpu" run -k "$kernel" -c 0
refused "-c 65" "cpu.*65|65.*cpu" run -k "$kernel" -c 65
refused "-c x" "cpu" run -k "$kernel" -c x
refused "-m 1" "(mem|mib).*1|1.*(mem|mib)" run -k "$kernel" -m 1
refused "-m 0" "mem|mib" run -k "$kernel" -m 0
refused "--cmdline of 4096 bytes" "(command line|cmdline).*(4096|4095|long)" \
	run -k "$kernel" --no-pvm-params --cmdline "$(head -c 4096 /dev/zero | tr '\0' x)"
refused "--cmdline of 100000 bytes" "command line|cmdline" \
	run -k "$kernel" --cmdline "$(head -c 100000 /dev/zero | tr '\0' x)"
refused "unknown option" "bogus-option" run -k "$kernel" --bogus-option
refused "option without value" "cpus|value|argument" run -k "$kernel" -c
refused "unknown subcommand" "frobnicate" frobnicate
it_done
