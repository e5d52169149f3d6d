/* smp: start every AP with INIT/SIPI; each CPU (boot CPU included) reads its
 * LAPIC ID, checks that it runs at CPL3, and adds to a shared counter under
 * a spinlock. The boot CPU prints "cpu <i> apic <id>" per CPU, sorted by
 * APIC ID, then "smp: <n> cpus, <e> expected", and exits with n.
 * Failures (duplicate APIC IDs, a CPU not at CPL3, a lost count) exit 0xee. */
#include "kit.h"

#define ROUNDS 10000
#define SMP_FAIL 0xee

static kit_spinlock_t lock;
static volatile uint64_t counter;
static volatile int not_cpl3;

static void work(int cpu)
{
	(void)cpu;
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	if ((cs & 3) != 3)
		__atomic_fetch_add(&not_cpl3, 1, __ATOMIC_SEQ_CST);
	for (int i = 0; i < ROUNDS; i++) {
		kit_lock(&lock);
		counter = counter + 1;
		kit_unlock(&lock);
	}
}

int payload_main(void)
{
	int expected = kit_cpus_expected();
	int n = 1 + kit_start_aps(work);
	work(0);
	uint32_t ids[KIT_MAX_CPUS];
	for (int i = 0; i < n; i++)
		ids[i] = kit_cpu_apic[i];
	for (int i = 1; i < n; i++)		/* insertion sort */
		for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			uint32_t t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	int bad = 0;
	for (int i = 0; i < n; i++) {
		kit_printf("cpu %d apic %u\n", i, ids[i]);
		if (i && ids[i] == ids[i - 1]) {
			kit_printf("smp: duplicate apic id %u\n", ids[i]);
			bad++;
		}
	}
	if (not_cpl3) {
		kit_printf("smp: %d cpus not at CPL3\n", not_cpl3);
		bad++;
	}
	if (counter != (uint64_t)n * ROUNDS) {
		kit_printf("smp: counter %lu, expected %lu\n", counter, (uint64_t)n * ROUNDS);
		bad++;
	}
	kit_printf("smp: %d cpus, %d expected\n", n, expected);
	return bad ? SMP_FAIL : n;
}
