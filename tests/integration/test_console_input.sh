#!/usr/bin/env bash
# Console input reaches the guest through COM1; Ctrl-A x quits; Ctrl-A Ctrl-A
# sends one Ctrl-A; input that arrives faster than the guest reads it is kept,
# not dropped (the UART's FIFO holds 16 bytes; skiff holds the rest).
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest echo

# Feed stdin from a file instead of /dev/null.
run_with_input() { # INPUT-FILE ARGS...
	local in=$1
	shift
	IT_RUNS=$((IT_RUNS + 1))
	OUT=$IT_TMP/run$IT_RUNS.out
	ERR=$IT_TMP/run$IT_RUNS.err
	IT_LAST="$SKIFF $* < $in"
	timeout -k 5 "$IT_TIMEOUT" "$SKIFF" "$@" <"$in" >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 124 ] && it_fail "timed out"
}

# 1. Plain input, longer than the FIFO: every byte arrives, in order.
long=$(printf 'abcdefghijklmnoprstuvwxyz0123456789%.0s' 1 2 3 4)  # no 'q': it ends the guest
printf '%sq' "$long" >"$IT_TMP/in1"
run_with_input "$IT_TMP/in1" run -k "$GUESTS/echo.elf"
it_expect_rc 42 "the guest read 'q' and exited"
want=$(printf '%s' "$long" | tr a-z A-Z)
grep -qF "$want" "$OUT" || it_fail "echoed text differs: want $want"

# 2. Ctrl-A x quits with status 0 and says so; nothing after it is sent.
printf 'ab\001xq' >"$IT_TMP/in2"
run_with_input "$IT_TMP/in2" run -k "$GUESTS/echo.elf"
it_expect_rc 0 "Ctrl-A x"
it_expect_err_re "quit" "skiff says the console quit"
grep -q "echo: bye" "$OUT" && it_fail "the 'q' after Ctrl-A x reached the guest"

# 3. Ctrl-A Ctrl-A delivers one Ctrl-A (0x01) to the guest.
printf 'x\001\001yq' >"$IT_TMP/in3"
run_with_input "$IT_TMP/in3" run -k "$GUESTS/echo.elf"
it_expect_rc 42 "escaped Ctrl-A then q"
grep -q "$(printf 'X\001Y')" "$OUT" || it_fail "Ctrl-A Ctrl-A did not arrive as one 0x01"

it_done
