/* ACPI tables (boot/acpi.c, walked from the RSDP as an OS would) and the ACPI
 * PM register device (dev/acpi_pm.c).
 *
 * Set ACPI_DUMP_DIR to also write each table built for 2 vCPUs to
 * $ACPI_DUMP_DIR/<sig>.dat, for `iasl -d`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "boot/acpi.h"
#include "boot/layout.h"
#include "core/vm.h"
#include "dev/acpi_pm.h"

/* ---- reading guest memory the way an OS does: by spec offsets ---- */

static const uint8_t *gp(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gm_ptr(gm, gpa, len);
	assert_non_null(p);
	return p;
}

static uint64_t rd(const struct guest_mem *gm, uint64_t gpa, int n)
{
	const uint8_t *p = gp(gm, gpa, n);
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint8_t sum(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gp(gm, gpa, len);
	uint8_t s = 0;
	for (uint64_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

/* Check a table's header and checksum; returns its length. */
static uint32_t check_table(const struct guest_mem *gm, uint64_t gpa, const char *sig)
{
	assert_true(gpa >= ACPI_RSDP_GPA && gpa < ACPI_REGION_END);
	assert_memory_equal(gp(gm, gpa, 4), sig, 4);
	uint32_t len = (uint32_t)rd(gm, gpa + 4, 4);
	assert_true(len >= 36);
	assert_true(gpa + len <= ACPI_REGION_END);
	assert_int_equal(sum(gm, gpa, len), 0);
	assert_memory_equal(gp(gm, gpa + 10, 6), "SKIFF ", 6);
	assert_memory_equal(gp(gm, gpa + 16, 8), "SKIFFVM ", 8);
	assert_memory_equal(gp(gm, gpa + 28, 4), "SKIF", 4);
	return len;
}

/* The legacy scan (ACPI 6.4 §5.2.5.1): 16-byte steps over 0xE0000-0xFFFFF. */
static uint64_t scan_rsdp(const struct guest_mem *gm)
{
	for (uint64_t a = 0xE0000; a < 0x100000; a += 16)
		if (!memcmp(gp(gm, a, 8), "RSD PTR ", 8) && sum(gm, a, 20) == 0)
			return a;
	return 0;
}

/* XSDT entry with signature sig, or 0. */
static uint64_t find(const struct guest_mem *gm, uint64_t xsdt, const char *sig)
{
	uint32_t len = (uint32_t)rd(gm, xsdt + 4, 4);
	for (uint64_t off = 36; off + 8 <= len; off += 8) {
		uint64_t t = rd(gm, xsdt + off, 8);
		if (!memcmp(gp(gm, t, 4), sig, 4))
			return t;
	}
	return 0;
}

static void dump(const struct guest_mem *gm, uint64_t gpa, uint32_t len, const char *name)
{
	const char *dir = getenv("ACPI_DUMP_DIR");
	if (!dir)
		return;
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s.dat", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(gp(gm, gpa, len), 1, len, f), len);
	fclose(f);
}

static void check_fadt(const struct guest_mem *gm, uint64_t fadt)
{
	assert_int_equal(check_table(gm, fadt, "FACP"), 276);
	assert_int_equal(rd(gm, fadt + 8, 1), 6);			/* revision */
	assert_int_equal(rd(gm, fadt + 46, 2), 9);			/* SCI_INT */
	assert_int_equal(rd(gm, fadt + 48, 4), 0);			/* SMI_CMD */
	assert_int_equal(rd(gm, fadt + 56, 4), ACPI_PM1A_EVT_PORT);
	assert_int_equal(rd(gm, fadt + 64, 4), ACPI_PM1A_CNT_PORT);
	assert_int_equal(rd(gm, fadt + 76, 4), 0);			/* PM_TMR_BLK */
	assert_int_equal(rd(gm, fadt + 88, 1), 4);			/* PM1_EVT_LEN */
	assert_int_equal(rd(gm, fadt + 89, 1), 2);			/* PM1_CNT_LEN */
	uint64_t boot = rd(gm, fadt + 109, 2);
	assert_int_equal(boot & 3, 3);			/* LEGACY_DEVICES | 8042 */
	uint64_t flags = rd(gm, fadt + 112, 4);
	assert_int_equal(flags & (1u << 20), 0);	/* not HW_REDUCED_ACPI */
	assert_int_not_equal(flags & (1u << 10), 0);	/* RESET_REG_SUP */
	assert_int_not_equal(flags & 1, 0);		/* WBINVD */
	/* RESET_REG: system I/O, 8 bits, port 0xCF9, value 6. */
	assert_int_equal(rd(gm, fadt + 116, 1), 1);
	assert_int_equal(rd(gm, fadt + 117, 1), 8);
	assert_int_equal(rd(gm, fadt + 120, 8), 0xcf9);
	assert_int_equal(rd(gm, fadt + 128, 1), 6);
	/* X_PM1a_EVT_BLK and X_PM1a_CNT_BLK match the 32-bit fields. */
	assert_int_equal(rd(gm, fadt + 148, 1), 1);
	assert_int_equal(rd(gm, fadt + 149, 1), 32);
	assert_int_equal(rd(gm, fadt + 152, 8), ACPI_PM1A_EVT_PORT);
	assert_int_equal(rd(gm, fadt + 172, 1), 1);
	assert_int_equal(rd(gm, fadt + 173, 1), 16);
	assert_int_equal(rd(gm, fadt + 176, 8), ACPI_PM1A_CNT_PORT);

	/* FACS: 64-byte aligned, through FIRMWARE_CTRL (X_FIRMWARE_CTRL zero). */
	uint64_t facs = rd(gm, fadt + 36, 4);
	assert_int_equal(rd(gm, fadt + 132, 8), 0);
	assert_int_not_equal(facs, 0);
	assert_int_equal(facs % 64, 0);
	assert_memory_equal(gp(gm, facs, 4), "FACS", 4);
	assert_int_equal(rd(gm, facs + 4, 4), 64);
	assert_true(facs + 64 <= ACPI_REGION_END);

	/* DSDT: both pointers agree; its AML defines \_S5 = { 5, 5, 0, 0 }. */
	uint64_t dsdt = rd(gm, fadt + 40, 4);
	assert_int_equal(rd(gm, fadt + 140, 8), dsdt);
	uint32_t len = check_table(gm, dsdt, "DSDT");
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04,
				      0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
	const uint8_t *aml = gp(gm, dsdt, len);
	assert_non_null(memmem(aml + 36, len - 36, s5, sizeof(s5)));
}

/* ---- AML, decoded as far as the checks need ---- */

/* PkgLength at p (ACPI 6.4 §20.2.4): returns the package length and sets
 * *n to the bytes it took. */
static size_t pkglen(const uint8_t *p, size_t *n)
{
	size_t follow = p[0] >> 6;
	size_t v = follow ? p[0] & 0x0f : p[0] & 0x3f;
	for (size_t i = 0; i < follow; i++)
		v |= (size_t)p[1 + i] << (4 + 8 * i);
	*n = 1 + follow;
	return v;
}

/* An integer term (ZeroOp, OneOp, Byte/Word/DWord/QWord); advances *p. */
static uint64_t aml_int(const uint8_t **p)
{
	const uint8_t *q = *p;
	int n;
	switch (q[0]) {
	case 0x00: *p += 1; return 0;
	case 0x01: *p += 1; return 1;
	case 0x0a: n = 1; break;
	case 0x0b: n = 2; break;
	case 0x0c: n = 4; break;
	case 0x0e: n = 8; break;
	default: fail_msg("not an integer: opcode 0x%02x", q[0]); return 0;
	}
	uint64_t v = 0;
	for (int i = n; i >= 1; i--)
		v = v << 8 | q[i];
	*p += 1 + n;
	return v;
}

/* Where `Name(seg, ...)` starts its value inside [body, body+len). */
static const uint8_t *named(const uint8_t *body, size_t len, const char *seg)
{
	uint8_t pat[5] = { 0x08 };
	memcpy(pat + 1, seg, 4);
	const uint8_t *at = memmem(body, len, pat, sizeof(pat));
	assert_non_null(at);
	return at + 5;
}

static uint64_t le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* _CRS of PCI0: bus 0-0, IO 0xCF8/8, the I/O window, both memory windows. */
static void check_crs(const uint8_t *v, uint64_t mmio64_base)
{
	assert_int_equal(v[0], 0x11);			/* BufferOp */
	size_t n;
	pkglen(v + 1, &n);
	const uint8_t *q = v + 1 + n;
	uint64_t size = aml_int(&q);
	const uint8_t *end = q + size;
	int seen = 0;
	while (q < end) {
		if (!(q[0] & 0x80)) {			/* small item */
			uint8_t tag = (q[0] >> 3) & 0xf, l = q[0] & 7;
			if (tag == 0xf) {		/* end tag */
				assert_int_equal(l, 1);
				seen |= 1 << 6;
				q += 2;
				break;
			}
			assert_int_equal(tag, 0x8);	/* I/O port descriptor */
			assert_int_equal(le(q + 2, 2), 0xcf8);
			assert_int_equal(le(q + 4, 2), 0xcf8);
			assert_int_equal(q[7], 8);
			seen |= 1 << 1;
			q += 1 + l;
			continue;
		}
		uint16_t l = (uint16_t)le(q + 1, 2);
		uint8_t type = q[3];
		assert_int_equal(q[4] & 0x0c, 0x0c);	/* MinFixed, MaxFixed */
		int w = q[0] == 0x88 ? 2 : q[0] == 0x87 ? 4 : q[0] == 0x8a ? 8 : 0;
		assert_int_not_equal(w, 0);
		assert_int_equal(l, 3 + 5 * w);
		uint64_t min = le(q + 6 + w, w), max = le(q + 6 + 2 * w, w), len = le(q + 6 + 4 * w, w);
		assert_int_equal(max - min + 1, len);
		if (type == 2) {
			assert_int_equal(min, 0);
			assert_int_equal(max, 0);
			seen |= 1 << 0;
		} else if (type == 1) {
			assert_int_equal(min, PCI_IO_BASE);
			assert_int_equal(max, 0xffff);
			seen |= 1 << 2;
		} else if (w == 4) {
			assert_int_equal(min, PCI_MMIO32_BASE);
			assert_int_equal(len, PCI_MMIO32_SIZE);
			seen |= 1 << 3;
		} else {
			assert_int_equal(w, 8);
			assert_int_equal(min, mmio64_base);
			assert_int_equal(len, PCI_MMIO64_SIZE);
			seen |= 1 << 4;
		}
		q += 3 + l;
	}
	assert_ptr_equal(q, end);
	assert_int_equal(seen, 0x5f);
}

/* _PRT: 32 slots x 4 pins, Package { 0xSSSSFFFF, pin, 0, 16 + (s + p) % 8 }. */
static void check_prt(const uint8_t *v)
{
	assert_int_equal(v[0], 0x12);			/* PackageOp */
	size_t n;
	size_t len = pkglen(v + 1, &n);
	const uint8_t *end = v + 1 + len;
	const uint8_t *q = v + 1 + n;
	assert_int_equal(*q++, 128);
	for (uint32_t i = 0; i < 128; i++) {
		assert_int_equal(q[0], 0x12);
		size_t en, elen = pkglen(q + 1, &en);
		const uint8_t *next = q + 1 + elen;
		q += 1 + en;
		assert_int_equal(*q++, 4);
		uint32_t slot = i / 4, pin = i % 4;
		assert_int_equal(aml_int(&q), (uint64_t)slot << 16 | 0xffff);
		assert_int_equal(aml_int(&q), pin);
		assert_int_equal(aml_int(&q), 0);
		assert_int_equal(aml_int(&q), 16 + (slot + pin) % 8);
		assert_ptr_equal(q, next);
	}
	assert_ptr_equal(q, end);
}

/* \_SB.PCI0 (inside Scope(\_SB)): ids, segment, bus, _CRS, _PRT. */
static void check_pci0(const uint8_t *aml, size_t len, uint64_t mmio64_base)
{
	static const uint8_t scope[] = { 0x10 };
	assert_memory_equal(aml, scope, 1);
	size_t n;
	size_t slen = pkglen(aml + 1, &n);
	assert_true(1 + slen <= len);
	assert_memory_equal(aml + 1 + n, "\\_SB_", 5);
	const uint8_t *dev = aml + 1 + n + 5;
	assert_int_equal(dev[0], 0x5b);
	assert_int_equal(dev[1], 0x82);
	size_t dlen = pkglen(dev + 2, &n);
	assert_true(dev + 2 + dlen <= aml + 1 + slen);
	assert_memory_equal(dev + 2 + n, "PCI0", 4);
	const uint8_t *body = dev + 2 + n + 4;
	size_t blen = dlen - n - 4;
	static const uint8_t hid[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x08 };	/* PNP0A08 */
	static const uint8_t cid[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x03 };	/* PNP0A03 */
	assert_memory_equal(named(body, blen, "_HID"), hid, sizeof(hid));
	assert_memory_equal(named(body, blen, "_CID"), cid, sizeof(cid));
	assert_int_equal(named(body, blen, "_SEG")[0], 0);
	assert_int_equal(named(body, blen, "_BBN")[0], 0);
	assert_int_equal(named(body, blen, "_UID")[0], 0);
	check_crs(named(body, blen, "_CRS"), mmio64_base);
	check_prt(named(body, blen, "_PRT"));
}

/* MCFG: one ECAM region, segment 0, buses 0-0. */
static void check_mcfg(const struct guest_mem *gm, uint64_t mcfg)
{
	assert_int_equal(check_table(gm, mcfg, "MCFG"), 44 + 16);
	assert_int_equal(rd(gm, mcfg + 8, 1), 1);			/* revision */
	assert_int_equal(rd(gm, mcfg + 44, 8), PCI_ECAM_BASE);
	assert_int_equal(rd(gm, mcfg + 52, 2), 0);			/* segment */
	assert_int_equal(rd(gm, mcfg + 54, 1), 0);			/* start bus */
	assert_int_equal(rd(gm, mcfg + 55, 1), PCI_ECAM_SIZE / (1 << 20) - 1);
}

static void check_madt(const struct guest_mem *gm, uint64_t madt, uint32_t ncpus)
{
	uint32_t len = check_table(gm, madt, "APIC");
	assert_int_equal(rd(gm, madt + 36, 4), 0xFEE00000u);
	assert_int_equal(rd(gm, madt + 40, 4) & 1, 1);		/* PCAT_COMPAT */
	uint32_t nlapic = 0, nioapic = 0, niso = 0, nnmi = 0;
	uint64_t off = 44;
	while (off < len) {
		uint64_t e = madt + off;
		uint8_t type = (uint8_t)rd(gm, e, 1), elen = (uint8_t)rd(gm, e + 1, 1);
		assert_true(elen >= 2 && off + elen <= len);
		switch (type) {
		case 0:
			assert_int_equal(elen, 8);
			assert_int_equal(rd(gm, e + 2, 1), nlapic);	/* UID */
			assert_int_equal(rd(gm, e + 3, 1), nlapic);	/* APIC ID */
			assert_int_equal(rd(gm, e + 4, 4) & 1, 1);	/* enabled */
			nlapic++;
			break;
		case 1:
			assert_int_equal(elen, 12);
			assert_int_equal(rd(gm, e + 2, 1), ncpus);
			assert_int_equal(rd(gm, e + 4, 4), 0xFEC00000u);
			assert_int_equal(rd(gm, e + 8, 4), 0);
			nioapic++;
			break;
		case 2: {
			assert_int_equal(elen, 10);
			assert_int_equal(rd(gm, e + 2, 1), 0);			/* ISA */
			uint64_t src = rd(gm, e + 3, 1), gsi = rd(gm, e + 4, 4);
			uint64_t fl = rd(gm, e + 8, 2);
			if (src == 0) {
				assert_int_equal(gsi, 2);
				assert_int_not_equal((fl >> 2) & 3, 3);		/* not level */
			} else {
				assert_int_equal(src, 9);
				assert_int_equal(gsi, 9);
				assert_int_equal(fl, 0x0d);	/* level, active high */
			}
			niso++;
			break;
		}
		case 4:
			assert_int_equal(elen, 6);
			assert_int_equal(rd(gm, e + 2, 1), 0xff);
			assert_int_equal(rd(gm, e + 5, 1), 1);			/* LINT1 */
			nnmi++;
			break;
		default:
			fail_msg("unexpected MADT entry type %u", type);
		}
		off += elen;
	}
	assert_int_equal(off, len);
	assert_int_equal(nlapic, ncpus);
	assert_int_equal(nioapic, 1);
	assert_int_equal(niso, 2);
	assert_int_equal(nnmi, 1);
}

static void walk_with(uint32_t ncpus, uint64_t mmio64_base)
{
	struct guest_mem gm;
	assert_int_equal(gm_init(&gm, 64ULL << 20), 0);
	struct acpi_params p;
	acpi_params_default(&p, ncpus);
	if (mmio64_base)
		p.pci_mmio64_base = mmio64_base;
	else
		mmio64_base = 0x100000000ULL;
	struct skiff_err e = { "" };
	uint64_t rsdp = 0;
	assert_int_equal(acpi_build(&gm, &p, &rsdp, &e), 0);
	assert_int_equal(rsdp, ACPI_RSDP_GPA);
	assert_int_equal(scan_rsdp(&gm), rsdp);

	assert_int_equal(rd(&gm, rsdp + 15, 1), 2);		/* revision */
	assert_int_equal(rd(&gm, rsdp + 20, 4), 36);		/* length */
	assert_int_equal(sum(&gm, rsdp, 36), 0);		/* extended checksum */
	assert_memory_equal(gp(&gm, rsdp + 9, 6), "SKIFF ", 6);
	uint64_t xsdt = rd(&gm, rsdp + 24, 8);
	uint32_t xlen = check_table(&gm, xsdt, "XSDT");
	assert_int_equal((xlen - 36) % 8, 0);
	for (uint64_t off = 36; off < xlen; off += 8)
		check_table(&gm, rd(&gm, xsdt + off, 8), (const char *)gp(&gm, rd(&gm, xsdt + off, 8), 4));

	uint64_t fadt = find(&gm, xsdt, "FACP"), madt = find(&gm, xsdt, "APIC");
	uint64_t mcfg = find(&gm, xsdt, "MCFG");
	assert_int_not_equal(fadt, 0);
	assert_int_not_equal(madt, 0);
	assert_int_not_equal(mcfg, 0);
	check_fadt(&gm, fadt);
	check_madt(&gm, madt, ncpus);
	check_mcfg(&gm, mcfg);
	uint64_t dsdt = rd(&gm, fadt + 40, 4);
	uint32_t dlen = (uint32_t)rd(&gm, dsdt + 4, 4);
	check_pci0(gp(&gm, dsdt + 36, dlen - 36), dlen - 36, mmio64_base);

	if (ncpus == 2) {
		dump(&gm, xsdt, xlen, "xsdt");
		dump(&gm, fadt, 276, "facp");
		dump(&gm, madt, (uint32_t)rd(&gm, madt + 4, 4), "apic");
		dump(&gm, mcfg, (uint32_t)rd(&gm, mcfg + 4, 4), "mcfg");
		dump(&gm, dsdt, dlen, "dsdt");
		dump(&gm, rd(&gm, fadt + 36, 4), 64, "facs");
		dump(&gm, rsdp, 36, "rsdp");
	}
	gm_destroy(&gm);
}

static void walk(uint32_t ncpus)
{
	walk_with(ncpus, 0);
}

static void test_tables_1cpu(void **state) { (void)state; walk(1); }
/* 8 GiB of RAM from 4 GiB up: the 64-bit PCI window moves above it. */
static void test_tables_high_window(void **state)
{
	(void)state;
	assert_int_equal(pci_mmio64_base(0), 0x100000000ULL);
	assert_int_equal(pci_mmio64_base(0xC0000000ULL), 0x100000000ULL);
	assert_int_equal(pci_mmio64_base(0x300000000ULL), 0x300000000ULL);
	assert_int_equal(pci_mmio64_base(0x300000001ULL), 0x340000000ULL);
	walk_with(2, pci_mmio64_base(0x300000001ULL));
}
static void test_tables_2cpus(void **state) { (void)state; walk(2); }
static void test_tables_max_cpus(void **state) { (void)state; walk(SKIFF_MAX_VCPUS); }

static void test_refused(void **state)
{
	(void)state;
	struct guest_mem gm;
	assert_int_equal(gm_init(&gm, 64ULL << 20), 0);
	struct acpi_params p;
	struct skiff_err e = { "" };
	uint64_t rsdp = 0;
	acpi_params_default(&p, 0);
	assert_int_equal(acpi_build(&gm, &p, &rsdp, &e), -EINVAL);
	assert_non_null(strstr(e.msg, "vCPUs"));
	acpi_params_default(&p, SKIFF_MAX_VCPUS + 1);
	e.msg[0] = '\0';
	assert_int_equal(acpi_build(&gm, &p, &rsdp, &e), -EINVAL);
	assert_true(e.msg[0] != '\0');
	acpi_params_default(&p, 1);
	p.sci_irq = 2;
	assert_int_equal(acpi_build(&gm, &p, &rsdp, &e), -EINVAL);
	gm_destroy(&gm);

	/* 768 KiB of RAM ends below the table area. */
	assert_int_equal(gm_init(&gm, 768ULL << 10), 0);
	acpi_params_default(&p, 1);
	e.msg[0] = '\0';
	assert_int_equal(acpi_build(&gm, &p, &rsdp, &e), -ENOSPC);
	assert_true(e.msg[0] != '\0');
	gm_destroy(&gm);
}

static void test_aml(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct aml a;
	/* A 100-element package needs a two-byte PkgLength. */
	aml_init(&a, buf, sizeof(buf));
	size_t at = aml_open(&a, 0x12);
	aml_byte(&a, 100);
	for (int i = 0; i < 100; i++)
		aml_integer(&a, 0);
	aml_close(&a, at);
	assert_true(aml_ok(&a));
	assert_int_equal(a.len, 1 + 2 + 1 + 100);
	size_t total = 2 + 1 + 100;
	assert_int_equal(buf[1], 0x40 | (total & 0xf));
	assert_int_equal(buf[2], total >> 4);
	assert_int_equal(buf[3], 100);

	aml_init(&a, buf, sizeof(buf));
	aml_integer(&a, 0x1234);
	aml_integer(&a, 0x12345678);
	aml_integer(&a, 0x100000000ULL);
	assert_int_equal(a.len, 3 + 5 + 9);
	assert_int_equal(buf[0], 0x0b);
	assert_int_equal(buf[3], 0x0c);
	assert_int_equal(buf[8], 0x0e);

	aml_init(&a, buf, sizeof(buf));
	aml_name(&a, "bad!");
	assert_false(aml_ok(&a));
	struct acpi_params p;
	acpi_params_default(&p, 1);
	assert_int_equal(acpi_dsdt_aml(buf, 8, &p), 0);	/* does not fit */
	assert_int_equal(acpi_dsdt_aml(buf, sizeof(buf), &p), 0);
	uint8_t big[4096];
	size_t n = acpi_dsdt_aml(big, sizeof(big), &p);
	assert_true(n > 512 && n < sizeof(big));
	assert_int_equal(acpi_dsdt_aml(big, n - 1, &p), 0);
	assert_int_equal(acpi_dsdt_aml(big, n, &p), n);
}

/* ---- the PM device, against a host that records what it was asked ---- */

struct fake_host {
	struct dev_host h;
	int nstops;
	enum vm_stop_reason why;
	int irq_gsi, irq_level, nirq;
};

static void fake_stop(void *ctx, enum vm_stop_reason why, int code)
{
	struct fake_host *f = ctx;
	(void)code;
	f->nstops++;
	f->why = why;
}

static void fake_irq(void *ctx, uint32_t gsi, int level)
{
	struct fake_host *f = ctx;
	f->irq_gsi = (int)gsi;
	f->irq_level = level;
	f->nirq++;
}

static struct acpi_pm *make_pm(struct fake_host *f)
{
	memset(f, 0, sizeof(*f));
	f->h = (struct dev_host){ .ctx = f, .set_irq = fake_irq, .request_stop = fake_stop };
	f->irq_level = -1;
	struct acpi_pm *pm = NULL;
	struct skiff_err e = { "" };
	assert_int_equal(acpi_pm_create(&f->h, ACPI_SCI_IRQ, &pm, &e), 0);
	return pm;
}

static uint32_t io_rd(bus_io_fn fn, struct acpi_pm *pm, uint64_t off, uint32_t len)
{
	uint8_t d[4] = { 0xff, 0xff, 0xff, 0xff };
	fn(pm, off, d, len, false);
	uint32_t v = 0;
	for (uint32_t i = 0; i < len; i++)
		v |= (uint32_t)d[i] << (8 * i);
	return v;
}

static void io_wr(bus_io_fn fn, struct acpi_pm *pm, uint64_t off, uint32_t len, uint32_t v)
{
	uint8_t d[4];
	for (uint32_t i = 0; i < 4; i++)
		d[i] = (uint8_t)(v >> (8 * i));
	fn(pm, off, d, len, true);
}

static void test_pm_sleep(void **state)
{
	(void)state;
	struct fake_host f;
	struct acpi_pm *pm = make_pm(&f);
	assert_int_equal(io_rd(acpi_pm_cnt_io, pm, 0, 2) & 1, 1);	/* SCI_EN */
	assert_int_equal(io_rd(acpi_pm_cnt_io, pm, 0, 1) & 1, 1);
	for (uint32_t typ = 0; typ < 8; typ++) {
		if (typ == ACPI_SLP_TYP_S5)
			continue;
		io_wr(acpi_pm_cnt_io, pm, 0, 2, typ << 10 | 1u << 13);
	}
	io_wr(acpi_pm_cnt_io, pm, 0, 2, 5u << 10);	/* SLP_TYP alone */
	assert_int_equal(f.nstops, 0);
	/* SLP_EN is write-only; SLP_TYP reads back. */
	assert_int_equal(io_rd(acpi_pm_cnt_io, pm, 0, 2), 5u << 10 | 1);
	io_wr(acpi_pm_cnt_io, pm, 0, 2, 5u << 10 | 1u << 13);
	assert_int_equal(f.nstops, 1);
	assert_int_equal(f.why, VM_STOP_POWEROFF);
	/* The same as one byte write to the high half. */
	io_wr(acpi_pm_cnt_io, pm, 1, 1, (5u << 2) | (1u << 5));
	assert_int_equal(f.nstops, 2);
	assert_int_equal(f.why, VM_STOP_POWEROFF);
	acpi_pm_destroy(pm);
}

static void test_pm_events(void **state)
{
	(void)state;
	struct fake_host f;
	struct acpi_pm *pm = make_pm(&f);
	assert_int_equal(io_rd(acpi_pm_evt_io, pm, 0, 4), 0);
	/* Enable is read/write, also as a word at offset 2. */
	io_wr(acpi_pm_evt_io, pm, 2, 2, ACPI_PM1_PWRBTN);
	assert_int_equal(io_rd(acpi_pm_evt_io, pm, 2, 2), ACPI_PM1_PWRBTN);
	assert_int_equal(io_rd(acpi_pm_evt_io, pm, 3, 1), ACPI_PM1_PWRBTN >> 8);
	assert_int_equal(f.irq_level, 0);
	/* A button press sets PWRBTN_STS and raises the SCI (GSI 9). */
	acpi_pm_power_button(pm);
	assert_int_equal(io_rd(acpi_pm_evt_io, pm, 0, 4), ACPI_PM1_PWRBTN | ACPI_PM1_PWRBTN << 16);
	assert_int_equal(f.irq_gsi, 9);
	assert_int_equal(f.irq_level, 1);
	/* Status is write-1-to-clear: zeros change nothing. */
	io_wr(acpi_pm_evt_io, pm, 0, 2, 0);
	assert_int_equal(io_rd(acpi_pm_evt_io, pm, 0, 2), ACPI_PM1_PWRBTN);
	io_wr(acpi_pm_evt_io, pm, 1, 1, ACPI_PM1_PWRBTN >> 8);
	assert_int_equal(io_rd(acpi_pm_evt_io, pm, 0, 2), 0);
	assert_int_equal(f.irq_level, 0);
	/* One dword write clears status and enable together. */
	acpi_pm_power_button(pm);
	io_wr(acpi_pm_evt_io, pm, 0, 4, ACPI_PM1_PWRBTN | 0u << 16);
	assert_int_equal(io_rd(acpi_pm_evt_io, pm, 0, 4), 0);
	assert_int_equal(f.irq_level, 0);
	/* Masked button: status set, no SCI. */
	acpi_pm_power_button(pm);
	assert_int_equal(f.irq_level, 0);
	assert_int_equal(f.nstops, 0);

	/* State round trip re-drives the SCI. */
	struct acpi_pm_state s;
	acpi_pm_get_state(pm, &s);
	assert_int_equal(s.pm1_sts, ACPI_PM1_PWRBTN);
	s.pm1_en = ACPI_PM1_PWRBTN;
	acpi_pm_set_state(pm, &s);
	assert_int_equal(f.irq_level, 1);
	acpi_pm_destroy(pm);
}

static void test_pm_reset(void **state)
{
	(void)state;
	struct fake_host f;
	struct acpi_pm *pm = make_pm(&f);
	io_wr(acpi_pm_reset_io, pm, 0, 1, 0x02);
	assert_int_equal(f.nstops, 0);
	assert_int_equal(io_rd(acpi_pm_reset_io, pm, 0, 1), 0x02);
	const uint8_t vals[] = { 0x04, 0x06, 0x0e };
	for (int i = 0; i < 3; i++) {
		io_wr(acpi_pm_reset_io, pm, 0, 1, vals[i]);
		assert_int_equal(f.nstops, i + 1);
		assert_int_equal(f.why, VM_STOP_RESET);
	}
	acpi_pm_destroy(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tables_1cpu),
		cmocka_unit_test(test_tables_2cpus),
		cmocka_unit_test(test_tables_max_cpus),
		cmocka_unit_test(test_tables_high_window),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_aml),
		cmocka_unit_test(test_pm_sleep),
		cmocka_unit_test(test_pm_events),
		cmocka_unit_test(test_pm_reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
