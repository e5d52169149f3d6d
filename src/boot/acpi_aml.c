/* AML encoding for the DSDT (ACPI 6.4 §20.2). */
#include "boot/acpi.h"
#include "boot/layout.h"
#include <string.h>

#define AML_ZERO_OP	0x00
#define AML_ONE_OP	0x01
#define AML_NAME_OP	0x08
#define AML_BYTE_PREFIX	0x0A
#define AML_WORD_PREFIX	0x0B
#define AML_DWORD_PREFIX 0x0C
#define AML_QWORD_PREFIX 0x0E
#define AML_SCOPE_OP	0x10
#define AML_BUFFER_OP	0x11
#define AML_PACKAGE_OP	0x12
#define AML_EXT_PREFIX	0x5B
#define AML_DEVICE_OP	0x82	/* after AML_EXT_PREFIX */
#define AML_ROOT_CHAR	'\\'
#define AML_PKGLEN_MAX	0x0FFFFFFFu	/* 28 bits (§20.2.4) */

void aml_init(struct aml *a, uint8_t *buf, size_t cap)
{
	*a = (struct aml){ .buf = buf, .cap = cap };
}

bool aml_ok(const struct aml *a)
{
	return !a->bad && a->len <= a->cap;
}

void aml_byte(struct aml *a, uint8_t b)
{
	if (a->len < a->cap)
		a->buf[a->len] = b;
	a->len++;
}

static void aml_le(struct aml *a, uint64_t v, int nbytes)
{
	for (int i = 0; i < nbytes; i++)
		aml_byte(a, (uint8_t)(v >> (8 * i)));
}

/* NameSeg characters: a lead of 'A'-'Z' or '_', then also digits (§20.2.2). */
static bool name_char_ok(char c, bool lead)
{
	return (c >= 'A' && c <= 'Z') || c == '_' || (!lead && c >= '0' && c <= '9');
}

void aml_name(struct aml *a, const char *name)
{
	if (name[0] == AML_ROOT_CHAR) {
		aml_byte(a, AML_ROOT_CHAR);
		name++;
	}
	if (strlen(name) != 4) {
		a->bad = true;
		return;
	}
	for (int i = 0; i < 4; i++) {
		if (!name_char_ok(name[i], i == 0))
			a->bad = true;
		aml_byte(a, (uint8_t)name[i]);
	}
}

void aml_integer(struct aml *a, uint64_t v)
{
	if (v == 0) {
		aml_byte(a, AML_ZERO_OP);
	} else if (v == 1) {
		aml_byte(a, AML_ONE_OP);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE_PREFIX);
		aml_le(a, v, 1);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD_PREFIX);
		aml_le(a, v, 2);
	} else if (v <= 0xffffffffu) {
		aml_byte(a, AML_DWORD_PREFIX);
		aml_le(a, v, 4);
	} else {
		aml_byte(a, AML_QWORD_PREFIX);
		aml_le(a, v, 8);
	}
}

size_t aml_open(struct aml *a, uint8_t op)
{
	aml_byte(a, op);
	return a->len;
}

/* PkgLength counts its own bytes plus the body. One byte holds up to 63;
 * otherwise the lead byte's bits 7-6 give the number of following bytes,
 * its bits 3-0 the low nibble, and each following byte 8 more bits. */
void aml_close(struct aml *a, size_t start)
{
	size_t body = a->len - start;
	size_t n = 1;
	while (n < 4 && body + n > (n == 1 ? 63u : (1u << (4 + 8 * (n - 1))) - 1))
		n++;
	size_t total = body + n;
	if (total > AML_PKGLEN_MAX) {
		a->bad = true;
		return;
	}
	uint8_t enc[4];
	if (n == 1) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
		for (size_t i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	/* Shift the body up by n bytes, as far as it is stored. */
	if (start + n < a->cap) {
		size_t end = a->len + n < a->cap ? a->len + n : a->cap;
		memmove(a->buf + start + n, a->buf + start, end - (start + n));
	}
	a->len = start;
	for (size_t i = 0; i < n; i++)
		aml_byte(a, enc[i]);
	a->len = start + total;
}

/* EisaId("PNP0A08") (§19.6.35): three letters of 5 bits, four hex digits,
 * as a big-endian 32-bit value stored as a DWord. */
static void aml_eisaid(struct aml *a, const char id[8])
{
	uint32_t v = (uint32_t)((id[0] - '@') << 26 | (id[1] - '@') << 21 | (id[2] - '@') << 16);
	for (int i = 3; i < 7; i++) {
		char c = id[i];
		v |= (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10) << (4 * (6 - i));
	}
	aml_byte(a, AML_DWORD_PREFIX);
	aml_le(a, __builtin_bswap32(v), 4);
}

static void aml_name_int(struct aml *a, const char *name, uint64_t v)
{
	aml_byte(a, AML_NAME_OP);
	aml_name(a, name);
	aml_integer(a, v);
}

/* Resource descriptors (§6.4). Address space descriptors are bridge
 * windows: producer, MinFixed, MaxFixed, positive decode. */
#define RES_IO			0x47	/* small item, 8 bytes */
#define RES_WORD_ADDR		0x88	/* large items */
#define RES_DWORD_ADDR		0x87
#define RES_QWORD_ADDR		0x8A
#define RES_END_TAG		0x79
#define RES_TYPE_MEM		0
#define RES_TYPE_IO		1
#define RES_TYPE_BUS		2
#define RES_GEN_FLAGS		0x0C	/* _MAF | _MIF, producer, _DEC positive */
#define RES_IO_ENTIRE_RANGE	0x03	/* _RNG */
#define RES_MEM_RW		0x01	/* _RW; _MEM bits 2:1: 0 non-cacheable, 1 cacheable */
#define RES_MEM_CACHEABLE	0x02

/* Word/DWord/QWord Address Space Descriptor (§6.4.3.5.1-3) of n-byte
 * fields: granularity 0, [min, max], translation 0, length. */
static void res_addr(struct aml *a, uint8_t tag, int n, uint8_t type, uint8_t tflags,
		     uint64_t min, uint64_t len)
{
	aml_byte(a, tag);
	aml_le(a, 3 + 5 * (uint64_t)n, 2);	/* bytes after the length field */
	aml_byte(a, type);
	aml_byte(a, RES_GEN_FLAGS);
	aml_byte(a, tflags);
	aml_le(a, 0, n);
	aml_le(a, min, n);
	aml_le(a, min + len - 1, n);
	aml_le(a, 0, n);
	aml_le(a, len, n);
}

/* Name(_CRS, ResourceTemplate() { bus 0-0, IO 0xCF8/8, I/O window,
 * 32-bit and 64-bit memory windows }) (§6.2.2). */
static void pci0_crs(struct aml *a, const struct acpi_params *p)
{
	aml_byte(a, AML_NAME_OP);
	aml_name(a, "_CRS");
	size_t buf = aml_open(a, AML_BUFFER_OP);
	struct aml body;
	uint8_t tmp[160];
	aml_init(&body, tmp, sizeof(tmp));
	res_addr(&body, RES_WORD_ADDR, 2, RES_TYPE_BUS, 0, 0, 1);
	aml_byte(&body, RES_IO);			/* IO(Decode16, 0xCF8, 0xCF8, 1, 8) */
	aml_byte(&body, 0x01);
	aml_le(&body, PCI_CONF1_PORT, 2);
	aml_le(&body, PCI_CONF1_PORT, 2);
	aml_byte(&body, 1);
	aml_byte(&body, PCI_CONF1_LEN);
	res_addr(&body, RES_WORD_ADDR, 2, RES_TYPE_IO, RES_IO_ENTIRE_RANGE, PCI_IO_BASE, PCI_IO_SIZE);
	res_addr(&body, RES_DWORD_ADDR, 4, RES_TYPE_MEM, RES_MEM_RW, PCI_MMIO32_BASE,
		 PCI_MMIO32_SIZE);
	if (p->pci_mmio64_size)
		res_addr(&body, RES_QWORD_ADDR, 8, RES_TYPE_MEM, RES_MEM_RW | RES_MEM_CACHEABLE,
			 p->pci_mmio64_base, p->pci_mmio64_size);
	aml_byte(&body, RES_END_TAG);
	aml_byte(&body, 0);				/* checksum 0: not computed */
	if (!aml_ok(&body)) {
		a->bad = true;
		return;
	}
	aml_integer(a, body.len);			/* BufferSize */
	for (size_t i = 0; i < body.len; i++)
		aml_byte(a, tmp[i]);
	aml_close(a, buf);
}

/* Name(_PRT, Package() { Package() { 0xSSSSFFFF, pin, 0, GSI }, ... })
 * (§6.2.13): every slot's INTA-INTD to GSIs 16-23, as pci_set_intx drives
 * them (slot s, pin p: 16 + (s + p) % 8). */
static void pci0_prt(struct aml *a)
{
	aml_byte(a, AML_NAME_OP);
	aml_name(a, "_PRT");
	size_t prt = aml_open(a, AML_PACKAGE_OP);
	aml_byte(a, ACPI_PCI_SLOTS * 4);		/* NumElements */
	for (uint32_t slot = 0; slot < ACPI_PCI_SLOTS; slot++) {
		for (uint32_t pin = 0; pin < 4; pin++) {
			size_t e = aml_open(a, AML_PACKAGE_OP);
			aml_byte(a, 4);
			aml_integer(a, (uint64_t)slot << 16 | 0xFFFF);	/* any function */
			aml_integer(a, pin);
			aml_integer(a, 0);	/* Source 0: SourceIndex is a GSI */
			aml_integer(a, PCI_INTX_GSI_BASE + (slot + pin) % PCI_INTX_GSI_COUNT);
			aml_close(a, e);
		}
	}
	aml_close(a, prt);
}

size_t acpi_dsdt_aml(uint8_t *buf, size_t cap, const struct acpi_params *p)
{
	struct aml a;
	aml_init(&a, buf, cap);

	/* Scope (\_SB) { Device (PCI0) { ... } }: the PCI host bridge
	 * (PCI Firmware 3.2 §4.1; ACPI 6.4 §6.1.5 _HID/_CID, §6.5.5 _BBN,
	 * §6.5.6 _SEG). */
	size_t sb = aml_open(&a, AML_SCOPE_OP);
	aml_name(&a, "\\_SB_");
	aml_byte(&a, AML_EXT_PREFIX);
	size_t dev = aml_open(&a, AML_DEVICE_OP);
	aml_name(&a, "PCI0");
	aml_byte(&a, AML_NAME_OP);
	aml_name(&a, "_HID");
	aml_eisaid(&a, "PNP0A08");		/* PCI Express root bridge */
	aml_byte(&a, AML_NAME_OP);
	aml_name(&a, "_CID");
	aml_eisaid(&a, "PNP0A03");		/* PCI root bridge */
	aml_name_int(&a, "_SEG", 0);
	aml_name_int(&a, "_BBN", 0);
	aml_name_int(&a, "_UID", 0);
	pci0_crs(&a, p);
	pci0_prt(&a);
	aml_close(&a, dev);
	aml_close(&a, sb);

	/* Name (_S5, Package () { SLP_TYPa, SLP_TYPb, 0, 0 }) (§7.4.2). */
	aml_byte(&a, AML_NAME_OP);
	aml_name(&a, "_S5_");
	size_t pkg = aml_open(&a, AML_PACKAGE_OP);
	aml_byte(&a, 4);	/* NumElements */
	aml_integer(&a, ACPI_SLP_TYP_S5);
	aml_integer(&a, ACPI_SLP_TYP_S5);
	aml_integer(&a, 0);
	aml_integer(&a, 0);
	aml_close(&a, pkg);

	return aml_ok(&a) ? a.len : 0;
}
