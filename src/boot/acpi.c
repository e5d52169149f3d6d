/* ACPI table layout and assembly (ACPI 6.4 §5.2). See boot/acpi.h. */
#include "boot/acpi.h"
#include "boot/layout.h"
#include <errno.h>
#include <string.h>
#include "core/vm.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "the tables are little-endian and written with host stores");

#define PACKED __attribute__((packed))

struct acpi_rsdp {		/* §5.2.5.3 */
	char signature[8];
	uint8_t checksum;	/* over the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_addr;
	uint32_t length;
	uint64_t xsdt_addr;
	uint8_t ext_checksum;	/* over all `length` bytes */
	uint8_t reserved[3];
} PACKED;
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP");

struct acpi_header {		/* §5.2.6 */
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} PACKED;
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header");

struct acpi_gas {		/* Generic Address Structure, §5.2.3.2 */
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} PACKED;
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS");

struct acpi_fadt {		/* §5.2.9, Table 5.9 */
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk;
	uint32_t pm2_cnt_blk, pm_tmr_blk, gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_blk_len, gpe1_blk_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} PACKED;
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT revision 6");
_Static_assert(offsetof(struct acpi_fadt, flags) == 112, "FADT flags");
_Static_assert(offsetof(struct acpi_fadt, x_pm1a_evt_blk) == 148, "FADT X_PM1a_EVT_BLK");

struct acpi_facs {		/* §5.2.10, Table 5.14 */
	char signature[4];
	uint32_t length;
	uint32_t hardware_signature;
	uint32_t firmware_waking_vector;
	uint32_t global_lock;
	uint32_t flags;
	uint64_t x_firmware_waking_vector;
	uint8_t version;
	uint8_t reserved0[3];
	uint32_t ospm_flags;
	uint8_t reserved1[24];
} PACKED;
_Static_assert(sizeof(struct acpi_facs) == 64, "FACS");

struct acpi_madt {		/* §5.2.12, Table 5.19 */
	struct acpi_header h;
	uint32_t lapic_addr;
	uint32_t flags;
} PACKED;
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT");

struct madt_lapic {		/* §5.2.12.2, type 0 */
	uint8_t type, length, uid, apic_id;
	uint32_t flags;
} PACKED;
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT local APIC");

struct madt_ioapic {		/* §5.2.12.3, type 1 */
	uint8_t type, length, id, reserved;
	uint32_t address;
	uint32_t gsi_base;
} PACKED;
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT I/O APIC");

struct madt_iso {		/* §5.2.12.5, type 2 */
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags;
} PACKED;
_Static_assert(sizeof(struct madt_iso) == 10, "MADT interrupt source override");

struct madt_lapic_nmi {		/* §5.2.12.7, type 4 */
	uint8_t type, length, uid;
	uint16_t flags;
	uint8_t lint;
} PACKED;
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT local APIC NMI");

struct acpi_mcfg {		/* PCI Firmware 3.2 §4.1.2, Table 4-3 */
	struct acpi_header h;
	uint64_t reserved;
} PACKED;
_Static_assert(sizeof(struct acpi_mcfg) == 44, "MCFG");

struct mcfg_alloc {		/* Table 4-3: one ECAM region */
	uint64_t base;
	uint16_t segment;
	uint8_t start_bus, end_bus;
	uint32_t reserved;
} PACKED;
_Static_assert(sizeof(struct mcfg_alloc) == 16, "MCFG allocation");

/* FADT Fixed Feature Flags (Table 5.10) and IA-PC boot flags (Table 5.11). */
#define FADT_F_WBINVD		(1u << 0)
#define FADT_F_PROC_C1		(1u << 2)
#define FADT_F_SLP_BUTTON	(1u << 5)	/* no fixed sleep button */
#define FADT_F_RESET_REG_SUP	(1u << 10)
#define IAPC_LEGACY_DEVICES	(1u << 0)
#define IAPC_8042		(1u << 1)
#define IAPC_VGA_NOT_PRESENT	(1u << 2)

#define GAS_SYSTEM_IO	1
#define GAS_ACCESS_BYTE	1
#define GAS_ACCESS_WORD	2

#define MADT_PCAT_COMPAT	(1u << 0)
#define MADT_LAPIC_ENABLED	(1u << 0)
/* MPS INTI flags (Table 5.26): polarity bits 1:0, trigger mode bits 3:2. */
#define MPS_POLARITY_HIGH	0x1
#define MPS_TRIGGER_EDGE	(0x1 << 2)
#define MPS_TRIGGER_LEVEL	(0x3 << 2)

#define DSDT_AML_MAX	4096	/* bytes; the AML is about 2 KiB (mostly _PRT) */
#define XSDT_ENTRIES	3	/* FADT, MADT, MCFG */
#define NMI_ALL_CPUS	0xFF

/* GPAs of each table, packed upward from ACPI_RSDP_GPA. */
struct acpi_layout {
	uint64_t rsdp, facs, dsdt, fadt, madt, mcfg, xsdt, end;
	uint32_t dsdt_len, madt_len, xsdt_len;
};

static uint64_t place(uint64_t *cur, uint64_t size, uint64_t align)
{
	uint64_t at = (*cur + align - 1) & ~(align - 1);
	*cur = at + size;
	return at;
}

static void layout(struct acpi_layout *l, uint32_t ncpus, size_t aml_len)
{
	uint64_t cur = ACPI_RSDP_GPA;
	l->dsdt_len = (uint32_t)(sizeof(struct acpi_header) + aml_len);
	l->madt_len = (uint32_t)(sizeof(struct acpi_madt) + ncpus * sizeof(struct madt_lapic) +
				 sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_iso) +
				 sizeof(struct madt_lapic_nmi));
	l->xsdt_len = (uint32_t)(sizeof(struct acpi_header) + XSDT_ENTRIES * sizeof(uint64_t));
	l->rsdp = place(&cur, sizeof(struct acpi_rsdp), 16);
	l->facs = place(&cur, sizeof(struct acpi_facs), 64);	/* §5.2.10: 64-byte aligned */
	l->dsdt = place(&cur, l->dsdt_len, 16);
	l->fadt = place(&cur, sizeof(struct acpi_fadt), 16);
	l->madt = place(&cur, l->madt_len, 16);
	l->mcfg = place(&cur, sizeof(struct acpi_mcfg) + sizeof(struct mcfg_alloc), 16);
	l->xsdt = place(&cur, l->xsdt_len, 16);
	l->end = cur;
}

static uint8_t sum8(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint8_t s = 0;
	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + b[i]);
	return s;
}

/* Fill a table header; the checksum is set by seal() once the body is done. */
static void header(struct acpi_header *h, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "SKIFF ", 6);
	memcpy(h->oem_table_id, "SKIFFVM ", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "SKIF", 4);
	h->creator_revision = 1;
}

static void seal(struct acpi_header *h)
{
	h->checksum = 0;
	h->checksum = (uint8_t)-sum8(h, h->length);
}

static struct acpi_gas gas_io(uint16_t port, uint8_t bits, uint8_t access)
{
	return (struct acpi_gas){ .space_id = GAS_SYSTEM_IO, .bit_width = bits,
				  .access_size = access, .address = port };
}

static void build_fadt(uint8_t *base, const struct acpi_layout *l, const struct acpi_params *p)
{
	struct acpi_fadt *f = (void *)(base + (l->fadt - ACPI_RSDP_GPA));
	header(&f->h, "FACP", sizeof(*f), 6);
	f->minor_version = 4;				/* FADT 6.4 */
	/* §5.2.9: FIRMWARE_CTRL must be zero when X_FIRMWARE_CTRL is not (and
	 * the other way round); the FACS is below 4 GiB, so use the 32-bit one. */
	f->firmware_ctrl = (uint32_t)l->facs;
	f->dsdt = (uint32_t)l->dsdt;
	f->x_dsdt = l->dsdt;
	f->sci_int = p->sci_irq;
	f->smi_cmd = 0;		/* no SMI command port: ACPI mode is always on */
	f->pm1a_evt_blk = p->pm1a_evt_port;
	f->pm1a_cnt_blk = p->pm1a_cnt_port;
	f->pm1_evt_len = ACPI_PM1_EVT_LEN;
	f->pm1_cnt_len = ACPI_PM1_CNT_LEN;
	f->x_pm1a_evt_blk = gas_io(p->pm1a_evt_port, ACPI_PM1_EVT_LEN * 8, GAS_ACCESS_WORD);
	f->x_pm1a_cnt_blk = gas_io(p->pm1a_cnt_port, ACPI_PM1_CNT_LEN * 8, GAS_ACCESS_WORD);
	f->p_lvl2_lat = 101;	/* > 100: C2 not supported */
	f->p_lvl3_lat = 1001;	/* > 1000: C3 not supported */
	f->iapc_boot_arch = IAPC_LEGACY_DEVICES | IAPC_8042 | IAPC_VGA_NOT_PRESENT;
	/* The power button is a fixed feature (PWR_BUTTON clear): see acpi_pm. */
	f->flags = FADT_F_WBINVD | FADT_F_PROC_C1 | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP;
	f->reset_reg = gas_io(ACPI_RESET_PORT, 8, GAS_ACCESS_BYTE);
	f->reset_value = ACPI_RESET_VALUE;
	seal(&f->h);
}

static void build_madt(uint8_t *base, const struct acpi_layout *l, const struct acpi_params *p)
{
	uint8_t *t = base + (l->madt - ACPI_RSDP_GPA);
	struct acpi_madt *m = (void *)t;
	header(&m->h, "APIC", l->madt_len, 5);
	m->lapic_addr = p->lapic_addr;
	m->flags = MADT_PCAT_COMPAT;	/* dual 8259s present: mask them for APIC mode */
	size_t off = sizeof(*m);
	for (uint32_t i = 0; i < p->ncpus; i++) {
		struct madt_lapic *c = (void *)(t + off);
		*c = (struct madt_lapic){ .type = 0, .length = sizeof(*c), .uid = (uint8_t)i,
					  .apic_id = (uint8_t)i, .flags = MADT_LAPIC_ENABLED };
		off += sizeof(*c);
	}
	struct madt_ioapic *io = (void *)(t + off);
	*io = (struct madt_ioapic){ .type = 1, .length = sizeof(*io), .id = p->ioapic_id,
				    .address = p->ioapic_addr, .gsi_base = 0 };
	off += sizeof(*io);
	/* The PIT's IRQ0 is wired to I/O APIC pin 2 (pin 0 is the 8259 INTR). */
	struct madt_iso *pit = (void *)(t + off);
	*pit = (struct madt_iso){ .type = 2, .length = sizeof(*pit), .bus = 0, .source = 0,
				  .gsi = 2, .flags = MPS_TRIGGER_EDGE };
	off += sizeof(*pit);
	/* The SCI is level-triggered, active high (§5.2.12.5 requires the ISO). */
	struct madt_iso *sci = (void *)(t + off);
	*sci = (struct madt_iso){ .type = 2, .length = sizeof(*sci), .bus = 0,
				  .source = (uint8_t)p->sci_irq, .gsi = p->sci_irq,
				  .flags = MPS_POLARITY_HIGH | MPS_TRIGGER_LEVEL };
	off += sizeof(*sci);
	struct madt_lapic_nmi *nmi = (void *)(t + off);
	*nmi = (struct madt_lapic_nmi){ .type = 4, .length = sizeof(*nmi), .uid = NMI_ALL_CPUS,
					.flags = 0, .lint = 1 };
	seal(&m->h);
}

static void build_mcfg(uint8_t *base, const struct acpi_layout *l)
{
	struct acpi_mcfg *m = (void *)(base + (l->mcfg - ACPI_RSDP_GPA));
	header(&m->h, "MCFG", sizeof(*m) + sizeof(struct mcfg_alloc), 1);
	struct mcfg_alloc *a = (void *)(m + 1);
	*a = (struct mcfg_alloc){ .base = PCI_ECAM_BASE, .segment = 0, .start_bus = 0,
				  .end_bus = (uint8_t)(PCI_ECAM_SIZE / (1 << 20) - 1) };
	seal(&m->h);
}

static void build_rest(uint8_t *base, const struct acpi_layout *l, const uint8_t *aml)
{
	struct acpi_facs *facs = (void *)(base + (l->facs - ACPI_RSDP_GPA));
	memcpy(facs->signature, "FACS", 4);
	facs->length = sizeof(*facs);
	facs->version = 2;

	struct acpi_header *dsdt = (void *)(base + (l->dsdt - ACPI_RSDP_GPA));
	header(dsdt, "DSDT", l->dsdt_len, 2);	/* revision 2: 64-bit integers */
	memcpy(dsdt + 1, aml, l->dsdt_len - sizeof(*dsdt));
	seal(dsdt);

	struct acpi_header *xsdt = (void *)(base + (l->xsdt - ACPI_RSDP_GPA));
	header(xsdt, "XSDT", l->xsdt_len, 1);
	const uint64_t entries[XSDT_ENTRIES] = { l->fadt, l->madt, l->mcfg };
	memcpy(xsdt + 1, entries, sizeof(entries));
	seal(xsdt);

	struct acpi_rsdp *r = (void *)(base + (l->rsdp - ACPI_RSDP_GPA));
	memcpy(r->signature, "RSD PTR ", 8);
	memcpy(r->oem_id, "SKIFF ", 6);
	r->revision = 2;
	r->length = sizeof(*r);
	r->xsdt_addr = l->xsdt;
	r->checksum = (uint8_t)-sum8(r, 20);
	r->ext_checksum = (uint8_t)-sum8(r, sizeof(*r));
}

void acpi_params_default(struct acpi_params *p, uint32_t ncpus)
{
	*p = (struct acpi_params){
		.ncpus = ncpus,
		.ioapic_id = (uint8_t)ncpus,
		.ioapic_addr = ACPI_IOAPIC_ADDR,
		.lapic_addr = ACPI_LAPIC_ADDR,
		.pm1a_evt_port = ACPI_PM1A_EVT_PORT,
		.pm1a_cnt_port = ACPI_PM1A_CNT_PORT,
		.sci_irq = ACPI_SCI_IRQ,
		.pci_mmio64_base = pci_mmio64_base(0),
		.pci_mmio64_size = PCI_MMIO64_SIZE,
	};
}

static int check_params(const struct acpi_params *p, struct skiff_err *e)
{
	if (p->ncpus == 0 || p->ncpus > SKIFF_MAX_VCPUS)
		return skiff_fail(e, EINVAL, "ACPI: %u vCPUs (must be 1..%d)",
				  p->ncpus, SKIFF_MAX_VCPUS);
	if (p->sci_irq == 0 || p->sci_irq == 2 || p->sci_irq > 15)
		return skiff_fail(e, EINVAL, "ACPI: SCI IRQ %u is not a usable ISA IRQ",
				  p->sci_irq);
	if (!p->pm1a_evt_port || !p->pm1a_cnt_port)
		return skiff_fail(e, EINVAL, "ACPI: PM1a event and control ports are required");
	if (p->pci_mmio64_size && p->pci_mmio64_base + p->pci_mmio64_size <= p->pci_mmio64_base)
		return skiff_fail(e, EINVAL, "ACPI: the 64-bit PCI window wraps");
	return 0;
}

int acpi_build(struct guest_mem *gm, const struct acpi_params *p,
	       uint64_t *rsdp_gpa, struct skiff_err *e)
{
	int rc = check_params(p, e);
	if (rc)
		return rc;
	uint8_t aml[DSDT_AML_MAX];
	size_t aml_len = acpi_dsdt_aml(aml, sizeof(aml), p);
	if (!aml_len)
		return skiff_fail(e, ENOSPC, "ACPI: DSDT AML exceeds %d bytes", DSDT_AML_MAX);

	struct acpi_layout l;
	layout(&l, p->ncpus, aml_len);
	if (l.end > ACPI_REGION_END)
		return skiff_fail(e, ENOSPC, "ACPI: tables for %u vCPUs need %llu bytes, "
				  "more than the %llu below 1 MiB", p->ncpus,
				  (unsigned long long)(l.end - ACPI_RSDP_GPA),
				  (unsigned long long)(ACPI_REGION_END - ACPI_RSDP_GPA));
	uint8_t *base = gm_ptr(gm, ACPI_RSDP_GPA, l.end - ACPI_RSDP_GPA);
	if (!base)
		return skiff_fail(e, ENOSPC, "ACPI: guest RAM does not cover [%#llx, %#llx)",
				  (unsigned long long)ACPI_RSDP_GPA, (unsigned long long)l.end);

	memset(base, 0, l.end - ACPI_RSDP_GPA);
	build_fadt(base, &l, p);
	build_madt(base, &l, p);
	build_mcfg(base, &l);
	build_rest(base, &l, aml);
	*rsdp_gpa = l.rsdp;
	return 0;
}
