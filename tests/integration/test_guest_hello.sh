#!/usr/bin/env bash
# The serial port is byte-exact: the hello guest's text (every printable
# ASCII byte, a "\r\n", plain "\n"s) appears on skiff's stdout unchanged and
# nothing else does; the guest's debug-exit value 42 becomes skiff's exit
# status. Also at the smallest allowed memory size (16 MiB).
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest hello

expected=$IT_TMP/expected
{
	printf 'hello from the skiff guest kit\n'
	for ((c = 0x20; c <= 0x7e; c++)); do
		printf "\\$(printf '%03o' "$c")"
	done
	printf '\r\nbye\n'
} >"$expected"

for mem in "" 16; do
	it_guest hello ${mem:+-m "$mem"}
	it_expect_rc 42 "hello${mem:+ -m $mem}"
	if ! cmp -s "$expected" "$OUT"; then
		it_fail "hello${mem:+ -m $mem}: stdout differs from the expected $(wc -c <"$expected") bytes: $(cmp "$expected" "$OUT" 2>&1 | head -1)"
	fi
	if grep -q "KIT: exception" "$OUT"; then
		it_fail "the guest took an exception"
	fi
	echo "hello${mem:+ -m $mem}: ${SECS}s"
done
it_done
