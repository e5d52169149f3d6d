#!/usr/bin/env bash
# On a terminal, skiff puts it in raw mode (a key reaches the guest without
# Enter) and restores it on exit, also when stopped by SIGTERM (exit 143).
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest echo
command -v script >/dev/null || it_skip "script(1) not installed"

# `script` gives the command a pseudo-terminal; its own stdin is forwarded
# to that terminal. The 'q' is sent without a newline: in cooked mode the
# guest would never see it.
cat >"$IT_TMP/inner.sh" <<EOS
stty -g > "$IT_TMP/before"
"$SKIFF" run -k "$GUESTS/echo.elf" 2>"$IT_TMP/err"
echo "rc=\$?" > "$IT_TMP/rc"
stty -g > "$IT_TMP/after"
EOS
(sleep 1; printf 'q'; sleep 2) | timeout 60 script -qec "bash $IT_TMP/inner.sh" /dev/null >"$IT_TMP/out" 2>&1
[ -f "$IT_TMP/rc" ] || it_fail "skiff did not finish on a terminal"
grep -q "rc=42" "$IT_TMP/rc" || it_fail "a key without Enter did not reach the guest (rc: $(cat "$IT_TMP/rc" 2>/dev/null))"
cmp -s "$IT_TMP/before" "$IT_TMP/after" || it_fail "terminal settings not restored after a normal exit"

# SIGTERM while running: clean stop, status 143, terminal restored.
cat >"$IT_TMP/inner2.sh" <<EOS
stty -g > "$IT_TMP/before2"
"$SKIFF" run -k "$GUESTS/echo.elf" 2>"$IT_TMP/err2" &
pid=\$!
sleep 1
kill -TERM \$pid
wait \$pid
echo "rc=\$?" > "$IT_TMP/rc2"
stty -g > "$IT_TMP/after2"
EOS
(sleep 4) | timeout 60 script -qec "bash $IT_TMP/inner2.sh" /dev/null >"$IT_TMP/out2" 2>&1
grep -q "rc=143" "$IT_TMP/rc2" 2>/dev/null || it_fail "SIGTERM: want status 143, got $(cat "$IT_TMP/rc2" 2>/dev/null)"
grep -qi "signal" "$IT_TMP/err2" || it_fail "SIGTERM: skiff did not say it was stopped by a signal"
cmp -s "$IT_TMP/before2" "$IT_TMP/after2" || it_fail "terminal settings not restored after SIGTERM"

it_done
