/* The guest kit's C library; runs at CPL3. See kit.h. */
#include "kit.h"

#define EXIT_PORT	0xf4

#define LAPIC_ID	0x020
#define LAPIC_SVR	0x0f0
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define ICR_ALL_BUT_SELF (3u << 18)
#define ICR_ASSERT	(1u << 14)
#define ICR_BUSY	(1u << 12)
#define ICR_INIT	(5u << 8)
#define ICR_SIPI	(6u << 8)

extern uint64_t kit_boot_params;		/* start.S: GPA of the zero page */
extern volatile uint32_t kit_ap_next;		/* start.S: next AP index */
extern char kit_tramp_start[], kit_tramp_end[];

volatile uint32_t kit_cpu_apic[KIT_MAX_CPUS];

/* ------------------------------------------------------------ console */
/* Output goes through a kernel call that writes a whole buffer from CPL0:
 * on KVM PVM each IN/OUT at CPL3 would cost a #GP and its emulation. */
void kit_write(const void *buf, size_t n)
{
	if (n)
		kit_kcall(KIT_KCALL_WRITE, (long)buf, (long)n);
}

void kit_putc(char c)
{
	kit_write(&c, 1);
}

void kit_puts(const char *s)
{
	kit_write(s, strlen(s));
}

/* printf output is collected in a buffer and written in pieces. */
struct pbuf {
	char b[128];
	size_t n;
	int total;
};

static void pb_putc(struct pbuf *p, char c)
{
	if (p->n == sizeof(p->b)) {
		kit_write(p->b, p->n);
		p->n = 0;
	}
	p->b[p->n++] = c;
	p->total++;
}

static void pb_pad(struct pbuf *p, char c, int count)
{
	while (count-- > 0)
		pb_putc(p, c);
}

static void put_num(struct pbuf *p, uint64_t v, int base, bool upper, bool neg, int width,
		    char pad, bool left)
{
	char buf[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int n = 0;
	do {
		buf[n++] = digits[v % base];
		v /= base;
	} while (v);
	int len = n + neg;
	if (neg && pad == '0' && !left)	/* the sign goes before zero padding */
		pb_putc(p, '-');
	if (!left)
		pb_pad(p, pad, width - len);
	if (neg && !(pad == '0' && !left))
		pb_putc(p, '-');
	while (n)
		pb_putc(p, buf[--n]);
	if (left)
		pb_pad(p, ' ', width - len);
}

int kit_vprintf(const char *fmt, va_list ap)
{
	struct pbuf p = { .n = 0, .total = 0 };
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			pb_putc(&p, *fmt);
			continue;
		}
		fmt++;
		bool left = false;
		char pad = ' ';
		for (; *fmt == '-' || *fmt == '0'; fmt++) {
			if (*fmt == '-')
				left = true;
			else
				pad = '0';
		}
		int width = 0;
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		int lng = 0;
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng++;
		uint64_t u;
		int64_t s;
		switch (*fmt) {
		case 'c':
			pb_putc(&p, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			if (!str)
				str = "(null)";
			int len = (int)strlen(str);
			if (!left)
				pb_pad(&p, ' ', width - len);
			while (*str)
				pb_putc(&p, *str++);
			if (left)
				pb_pad(&p, ' ', width - len);
			break;
		}
		case 'd':
		case 'i':
			s = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			u = s < 0 ? -(uint64_t)s : (uint64_t)s;
			put_num(&p, u, 10, false, s < 0, width, pad, left);
			break;
		case 'u':
		case 'x':
		case 'X':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
			put_num(&p, u, *fmt == 'u' ? 10 : 16, *fmt == 'X', false, width, pad, left);
			break;
		case 'p':
			pb_putc(&p, '0');
			pb_putc(&p, 'x');
			put_num(&p, (uint64_t)va_arg(ap, void *), 16, false, false, width, pad, left);
			break;
		case '%':
			pb_putc(&p, '%');
			break;
		case '\0':
			fmt--;			/* a lone '%' at the end */
			break;
		default:			/* unknown: print it as it stands */
			pb_putc(&p, '%');
			pb_putc(&p, *fmt);
		}
	}
	kit_write(p.b, p.n);
	return p.total;
}

int kit_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = kit_vprintf(fmt, ap);
	va_end(ap);
	return n;
}

/* ------------------------------------------------------ kernel calls, exit */
/* Returns 0 (the handler clears RAX, so that a later plain ud2 is never
 * taken for a kernel call). */
long kit_kcall(long nr, long a1, long a2)
{
	long rax = (long)KIT_KCALL_MAGIC;
	__asm__ volatile("ud2" : "+a"(rax), "+S"(a1), "+d"(a2) : "D"(nr) : "rcx", "memory");
	return rax;
}

void kit_halt(void)
{
	for (;;)
		kit_kcall(KIT_KCALL_HALT, 0, 0);
}

void kit_exit(int code)
{
	outb(EXIT_PORT, (uint8_t)code);
	kit_halt();
}

/* ------------------------------------------------------------ boot info */
static const uint8_t *zero_page(void) { return (const uint8_t *)kit_boot_params; }

const char *kit_cmdline(void)
{
	uint32_t p = *(const uint32_t *)(zero_page() + BP_CMD_LINE_PTR);
	return p ? (const char *)(uintptr_t)p : "";
}

/* The word of the command line that starts with key (a whole word, or
 * followed by '=' when key does not end in '='). */
static const char *find_word(const char *key)
{
	size_t klen = strlen(key);
	const char *p = kit_cmdline();
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (!strncmp(p, key, klen)) {
			char next = p[klen];
			if (key[klen - 1] == '=' || next == ' ' || next == '\0' || next == '=')
				return p;
		}
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

bool kit_cmdline_has(const char *key)
{
	return *key && find_word(key);
}

const char *kit_cmdline_get(const char *key_eq, size_t *len)
{
	if (!*key_eq)
		return NULL;
	const char *w = find_word(key_eq);
	if (!w)
		return NULL;
	const char *v = w + strlen(key_eq);
	if (len) {
		size_t n = 0;
		while (v[n] && v[n] != ' ')
			n++;
		*len = n;
	}
	return v;
}

uint64_t kit_cmdline_u64(const char *key_eq, uint64_t def)
{
	size_t len;
	const char *v = kit_cmdline_get(key_eq, &len);
	if (!v || !len)
		return def;
	uint64_t base = 10, r = 0;
	size_t i = 0;
	if (len > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
		base = 16;
		i = 2;
	}
	for (; i < len; i++) {
		char c = v[i];
		uint64_t d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (base == 16 && c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (base == 16 && c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return def;
		r = r * base + d;
	}
	return r;
}

int kit_e820_count(void)
{
	int n = zero_page()[BP_E820_ENTRIES];
	return n > BP_E820_MAX ? BP_E820_MAX : n;
}

const struct kit_e820 *kit_e820_entry(int i)
{
	if (i < 0 || i >= kit_e820_count())
		return NULL;
	return (const struct kit_e820 *)(zero_page() + BP_E820_TABLE) + i;
}

/* ------------------------------------------------------- memory, strings */
void *memset(void *d, int c, size_t n)
{
	uint8_t *p = d;
	while (n--)
		*p++ = (uint8_t)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;
	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;
	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x < *y ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (uint8_t)*a < (uint8_t)*b ? -1 : 1;
		if (!*a)
			return 0;
	}
	return 0;
}

/* ------------------------------------------------------ memory map, alloc */
extern uint64_t kit_pml4[512], kit_pdpt[512];	/* start.S */
extern uint64_t kit_pds[KIT_MAX_GIB][512];

#define PTE_P		0x001ULL
#define PTE_RW		0x002ULL
#define PTE_US		0x004ULL
#define PTE_PWT		0x008ULL
#define PTE_PCD		0x010ULL
#define PTE_PS		0x080ULL
#define PTE_ADDR	0x000ffffffffff000ULL
#define KIT_PT_POOL	16

/* Page-table pages for mappings beyond the first KIT_MAX_GIB GiB. */
static uint64_t pt_pool[KIT_PT_POOL][512] __attribute__((aligned(4096)));
static int pt_pool_used;
static kit_spinlock_t map_lock;

/* The table that entry *e points to, linking `fresh` (zeroed here) if the
 * entry is empty; NULL when *e maps a large page or nothing is available. */
static uint64_t *next_table(uint64_t *e, uint64_t *fresh)
{
	if (*e & PTE_P)
		return (*e & PTE_PS) ? NULL : (uint64_t *)(*e & PTE_ADDR);
	if (!fresh) {
		if (pt_pool_used == KIT_PT_POOL)
			return NULL;
		fresh = pt_pool[pt_pool_used++];
	}
	memset(fresh, 0, 4096);
	*e = (uint64_t)fresh | PTE_P | PTE_RW | PTE_US;
	return fresh;
}

int kit_map_mmio(uint64_t pa, uint64_t len)
{
	uint64_t lo = pa & ~0x1fffffULL, hi = (pa + len + 0x1fffff) & ~0x1fffffULL;
	if (!len || hi < lo || hi > (1ULL << 48))
		return -1;
	int rc = 0;
	kit_lock(&map_lock);
	for (uint64_t a = lo; a < hi; a += 0x200000) {
		uint64_t gib = a >> 30;
		uint64_t *pdpt = a >> 39 ? next_table(&kit_pml4[a >> 39], NULL) : kit_pdpt;
		uint64_t *pd = pdpt ? next_table(&pdpt[gib & 511], gib < KIT_MAX_GIB ? kit_pds[gib] : NULL)
				    : NULL;
		if (!pd) {
			rc = -1;
			break;
		}
		uint64_t *pde = &pd[(a >> 21) & 511];
		if (!(*pde & PTE_P))
			*pde = a | PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PWT | PTE_PCD;
	}
	kit_kcall(KIT_KCALL_FLUSH_TLB, 0, 0);
	kit_unlock(&map_lock);
	return rc;
}

static uint64_t alloc_next, alloc_end;
static kit_spinlock_t alloc_lock;

void *kit_alloc(size_t size, size_t align)
{
	if (!align)
		align = 16;
	kit_lock(&alloc_lock);
	if (!alloc_end) {
		/* the RAM range that holds the kit's image, above the image */
		uint64_t ke = (uint64_t)__kit_end;
		for (int i = 0; i < kit_e820_count(); i++) {
			const struct kit_e820 *e = kit_e820_entry(i);
			if (e->type == KIT_E820_RAM && e->addr <= ke && ke < e->addr + e->size) {
				alloc_next = ke;
				alloc_end = e->addr + e->size;
			}
		}
	}
	uint64_t p = (alloc_next + align - 1) & ~(uint64_t)(align - 1);
	if (!alloc_end || p < alloc_next || p + size > alloc_end || p + size < p) {
		kit_unlock(&alloc_lock);
		kit_printf("KIT: out of memory (%lu bytes wanted, 0x%lx-0x%lx free)\n",
			   (uint64_t)size, alloc_next, alloc_end);
		kit_exit(KIT_EXIT_FAIL);
	}
	alloc_next = p + size;
	kit_unlock(&alloc_lock);
	return memset((void *)p, 0, size);
}

/* ------------------------------------------------------------------ time */
void kit_delay_us(uint64_t us)
{
	uint64_t t0 = kit_rdtsc();
	while (kit_rdtsc() - t0 < us * 4000)
		cpu_relax();
}

/* ------------------------------------------------------------------- SMP */
static uint32_t lapic_read(uint32_t reg) { return mmio_read32(KIT_LAPIC + reg); }
static void lapic_write(uint32_t reg, uint32_t v) { mmio_write32(KIT_LAPIC + reg, v); }

uint32_t kit_apic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

static bool acpi_sum_ok(const uint8_t *p, uint32_t len)
{
	uint8_t s = 0;
	for (uint32_t i = 0; i < len; i++)
		s += p[i];
	return s == 0;
}

/* Enabled LAPICs in the ACPI MADT, or 0. The RSDP is searched in the BIOS
 * area 0xe0000-0xfffff (ACPI 6.5 §5.2.5.1). */
static int madt_cpus(void)
{
	const uint8_t *rsdp = NULL;
	for (uintptr_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp((const void *)a, "RSD PTR ", 8) && acpi_sum_ok((const void *)a, 20)) {
			rsdp = (const uint8_t *)a;
			break;
		}
	if (!rsdp)
		return 0;
	uint64_t sdt;
	int esize;
	if (rsdp[15] >= 2 && *(const uint64_t *)(rsdp + 24)) {
		sdt = *(const uint64_t *)(rsdp + 24);
		esize = 8;
	} else {
		sdt = *(const uint32_t *)(rsdp + 16);
		esize = 4;
	}
	if (!sdt || sdt >= (uint64_t)KIT_MAX_GIB << 30)
		return 0;
	uint32_t len = *(const uint32_t *)(sdt + 4);
	for (uint32_t off = 36; off + esize <= len; off += esize) {
		uint64_t t = esize == 8 ? *(const uint64_t *)(sdt + off) : *(const uint32_t *)(sdt + off);
		if (!t || t >= (uint64_t)KIT_MAX_GIB << 30 || memcmp((const void *)t, "APIC", 4))
			continue;
		const uint8_t *m = (const uint8_t *)t;
		uint32_t mlen = *(const uint32_t *)(m + 4);
		int n = 0;
		for (uint32_t e = 44; e + 2 <= mlen && m[e + 1] >= 2; e += m[e + 1]) {
			if (m[e] == 0 && m[e + 1] >= 8 && (*(const uint32_t *)(m + e + 4) & 1))
				n++;		/* processor local APIC, enabled */
			if (m[e] == 9 && m[e + 1] >= 16 && (*(const uint32_t *)(m + e + 8) & 1))
				n++;		/* processor local x2APIC, enabled */
		}
		return n;
	}
	return 0;
}

int kit_cpus_expected(void)
{
	uint64_t n = kit_cmdline_u64("cpus=", 0);
	if (n)
		return (int)n;
	return madt_cpus();
}

static void (*volatile ap_fn)(int cpu);
static volatile int ap_arrived, ap_done;

static void send_ipi(uint32_t icr)
{
	lapic_write(LAPIC_ICR_HI, 0);
	lapic_write(LAPIC_ICR_LO, icr);
	for (int i = 0; i < 100000 && (lapic_read(LAPIC_ICR_LO) & ICR_BUSY); i++)
		cpu_relax();
}

int kit_start_aps(void (*fn)(int cpu))
{
	int expected = kit_cpus_expected();
	size_t tlen = (size_t)(kit_tramp_end - kit_tramp_start);
	memcpy((void *)KIT_TRAMP_GPA, kit_tramp_start, tlen);
	ap_fn = fn;
	ap_arrived = 0;
	ap_done = 0;
	kit_ap_next = 1;
	kit_cpu_apic[0] = kit_apic_id();
	__atomic_thread_fence(__ATOMIC_SEQ_CST);

	lapic_write(LAPIC_SVR, lapic_read(LAPIC_SVR) | 0x1ff);	/* enable, spurious 0xff */
	send_ipi(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_INIT);
	kit_delay_us(100);
	send_ipi(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_SIPI | (KIT_TRAMP_GPA >> 12));
	kit_delay_us(100);
	send_ipi(ICR_ALL_BUT_SELF | ICR_ASSERT | ICR_SIPI | (KIT_TRAMP_GPA >> 12));

	if (expected > 1) {
		uint64_t t0 = kit_rdtsc();
		while (ap_arrived < expected - 1 && kit_rdtsc() - t0 < 10000000ULL * 4000)
			cpu_relax();
	} else if (expected == 0) {
		int seen = -1;
		uint64_t t0 = kit_rdtsc();
		while (kit_rdtsc() - t0 < 500000ULL * 4000) {
			if (ap_arrived != seen) {
				seen = ap_arrived;
				t0 = kit_rdtsc();
			}
			cpu_relax();
		}
	}
	int n;
	do {
		n = ap_arrived;
		while (ap_done < n)
			cpu_relax();
	} while (n != ap_arrived);
	return n;
}

/* ------------------------------------------------------------ CPU entry */
__attribute__((noreturn)) void kit_cpu_main(int cpu);

void kit_cpu_main(int cpu)
{
	if (cpu == 0)
		kit_exit(payload_main());
	kit_cpu_apic[cpu] = kit_apic_id();
	__atomic_fetch_add(&ap_arrived, 1, __ATOMIC_SEQ_CST);
	void (*fn)(int) = ap_fn;
	if (fn)
		fn(cpu);
	__atomic_fetch_add(&ap_done, 1, __ATOMIC_SEQ_CST);
	kit_halt();
}
