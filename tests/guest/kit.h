/* The guest kit's C library. Payloads run at CPL3 with IOPL=3 and interrupts
 * off, on an identity map of all RAM (user pages), so they use port I/O and
 * MMIO directly (on KVM PVM, IN/OUT at CPL3 trap and the kit performs them at
 * CPL0, see below). A payload defines payload_main(); its return value becomes
 * the exit status through the debug-exit port 0xf4 (0 is indistinguishable
 * from power-off in skiff, so tests expect non-zero codes such as 42).
 *
 * Exit codes of the kit itself: 0x80 + vector for an unexpected exception
 * (reported on COM1 as "KIT: exception ..."), 0xa1 for more than
 * KIT_MAX_CPUS CPUs. */
#ifndef KIT_H
#define KIT_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kit_layout.h"

#define KIT_EXIT_OK	0x2a	/* the conventional "test passed" code */
#define KIT_EXIT_FAIL	0x33	/* the conventional "test failed" code */

int payload_main(void);

/* ---- port I/O and MMIO
 * On KVM PVM the CPU runs guest CPL3 without its IOPL, so IN/OUT fault (#GP)
 * and the kit's handler performs them at CPL0 (tens of microseconds each);
 * on hardware KVM they run directly. */
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint16_t inw(uint16_t port) { uint16_t v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }

static inline uint8_t mmio_read8(uint64_t a) { return *(volatile uint8_t *)a; }
static inline uint16_t mmio_read16(uint64_t a) { return *(volatile uint16_t *)a; }
static inline uint32_t mmio_read32(uint64_t a) { return *(volatile uint32_t *)a; }
static inline uint64_t mmio_read64(uint64_t a) { return *(volatile uint64_t *)a; }
static inline void mmio_write8(uint64_t a, uint8_t v) { *(volatile uint8_t *)a = v; }
static inline void mmio_write16(uint64_t a, uint16_t v) { *(volatile uint16_t *)a = v; }
static inline void mmio_write32(uint64_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline void mmio_write64(uint64_t a, uint64_t v) { *(volatile uint64_t *)a = v; }

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline uint64_t kit_rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* ---- serial console (COM1) and exit */
void kit_putc(char c);			/* raw byte: no \n -> \r\n translation */
void kit_write(const void *buf, size_t n);
void kit_puts(const char *s);		/* no newline appended */
/* printf-lite: %c %s %d %i %u %x %X %p %%, flags '0' and '-', a width, and
 * the length modifiers l, ll, z. Returns the bytes written. */
int kit_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kit_vprintf(const char *fmt, va_list ap);
__attribute__((noreturn)) void kit_exit(int code);	/* out 0xf4, then halt */
__attribute__((noreturn)) void kit_halt(void);		/* this CPU stops for good */

/* ---- kernel calls (served at CPL0 by the kit's #UD handler; see
 * KIT_KCALL_* in kit_layout.h). a1 is passed in RSI, a2 in RDX. */
long kit_kcall(long nr, long a1, long a2);

/* ---- boot information */
const char *kit_cmdline(void);			/* "" when there is none */
bool kit_cmdline_has(const char *key);	/* a word "key" or "key=..." */
/* The value of "key=..." (pass "key="), ending at a space or NUL, or NULL.
 * *len (if not NULL) receives its length. */
const char *kit_cmdline_get(const char *key_eq, size_t *len);
/* The value of "key=N" as a decimal or 0x-hex number, or def. */
uint64_t kit_cmdline_u64(const char *key_eq, uint64_t def);

struct kit_e820 {
	uint64_t addr;
	uint64_t size;
	uint32_t type;			/* 1 = RAM */
} __attribute__((packed));
#define KIT_E820_RAM 1
int kit_e820_count(void);
const struct kit_e820 *kit_e820_entry(int i);	/* NULL past the end */

/* The kit's own image, page tables and stacks: [__kit_start, __kit_end). */
extern char __kit_start[], __kit_end[];

/* ---- memory and strings (gcc may emit calls to the first four) */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strncmp(const char *a, const char *b, size_t n);

/* ---- SMP */
typedef struct { volatile int locked; } kit_spinlock_t;
static inline void kit_lock(kit_spinlock_t *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
}
static inline void kit_unlock(kit_spinlock_t *l) { __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE); }

#define KIT_LAPIC 0xfee00000ULL
uint32_t kit_apic_id(void);		/* this CPU's LAPIC ID (xAPIC MMIO) */
/* CPUs the firmware describes: "cpus=N" on the command line if given, else
 * the enabled LAPICs in the ACPI MADT, else 0 (unknown). */
int kit_cpus_expected(void);
/* Start every AP (INIT + SIPI + SIPI, broadcast), run fn(cpu index) on each
 * at CPL3, wait until all that arrived have returned, and halt them. Waits
 * for kit_cpus_expected() - 1 APs (10 s at most), or, when that is unknown,
 * until none has arrived for 0.5 s. Returns the number of APs that ran.
 * May be called again: the halted APs are re-INITed. */
int kit_start_aps(void (*fn)(int cpu));
/* LAPIC ID of each CPU index that has run (index 0: the boot CPU). */
extern volatile uint32_t kit_cpu_apic[KIT_MAX_CPUS];

/* ---- memory map and allocation (for device drivers, e.g. virtio.c)
 * Identity-map [pa, pa + len) as uncached user MMIO (2 MiB pages, rounded
 * out; below 2^48), beside what the kit mapped at start. Ranges already
 * mapped (RAM, the kit's MMIO pages) keep their mapping. Returns 0, or -1
 * when the kit's page-table pool is exhausted or the range is too high. */
int kit_map_mmio(uint64_t pa, uint64_t len);
/* Zeroed RAM, `align` a power of two (0: 16), from the RAM above the kit's
 * image (never freed). Exits with KIT_EXIT_FAIL and a message when RAM runs
 * out. GPA = address (identity map), so it can be handed to devices. */
void *kit_alloc(size_t size, size_t align);

/* Busy-wait about `us` microseconds (TSC, assumed at most 4 GHz: waits are
 * at least as long as asked, at most 4x longer on a 1 GHz TSC). */
void kit_delay_us(uint64_t us);

#endif
