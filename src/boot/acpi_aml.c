/* AML encoding for the DSDT (ACPI 6.4 §20.2). */
#include "boot/acpi.h"
#include <string.h>

#define AML_ZERO_OP	0x00
#define AML_ONE_OP	0x01
#define AML_NAME_OP	0x08
#define AML_BYTE_PREFIX	0x0A
#define AML_WORD_PREFIX	0x0B
#define AML_DWORD_PREFIX 0x0C
#define AML_QWORD_PREFIX 0x0E
#define AML_SCOPE_OP	0x10
#define AML_PACKAGE_OP	0x12
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

size_t acpi_dsdt_aml(uint8_t *buf, size_t cap)
{
	struct aml a;
	aml_init(&a, buf, cap);

	/* Scope (\_SB) {}: the namespace root for devices; nothing in it yet. */
	size_t sb = aml_open(&a, AML_SCOPE_OP);
	aml_name(&a, "\\_SB_");
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
