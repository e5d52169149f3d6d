#!/usr/bin/env bash
# Every vCPU comes up: the smp guest starts the APs with INIT/SIPI (real-mode
# trampoline -> long mode -> CPL3), each CPU reports its LAPIC ID and takes a
# shared spinlock; the guest prints "cpu <i> apic <id>" per CPU and exits with
# the number of CPUs. KVM gives vCPU i the APIC ID i. The ACPI MADT, when the
# guest finds one, must list the same number of CPUs.
# SMP_CPUS overrides the vCPU counts tried (default "1 2 4 8 16 64"; 64 is
# skiff's maximum).
set -u
. "$(dirname "$0")/lib.sh"
it_need_kvm
it_need_skiff
it_need_guest smp

for n in ${SMP_CPUS:-1 2 4 8 16 64}; do
	it_guest smp -c "$n"
	it_expect_rc "$n" "-c $n: exit status = CPUs seen"
	expected=$IT_TMP/expected
	: >"$expected"
	for ((i = 0; i < n; i++)); do
		echo "cpu $i apic $i" >>"$expected"
	done
	grep '^cpu ' "$OUT" | cmp -s - "$expected" ||
		it_fail "-c $n: the CPU lines differ from \"cpu i apic i\" for i < $n"
	summary=$(grep '^smp: ' "$OUT" | tail -n 1)
	case $summary in
	"smp: $n cpus, $n expected") ;;
	"smp: $n cpus, 0 expected") echo "note: the guest found no ACPI MADT" ;;
	*) it_fail "-c $n: summary \"$summary\", expected \"smp: $n cpus, $n expected\"" ;;
	esac
	echo "-c $n: ${SECS}s"
done
it_done
