/* ACPI fixed-hardware PM registers (ACPI 6.4 §4.8.3) and the PIIX-style reset
 * control register at I/O port 0xCF9, as described by boot/acpi.c's FADT:
 *
 *   PM1a_EVT_BLK (4 bytes at ACPI_PM1A_EVT_PORT): PM1 status (offset 0,
 *     write-1-to-clear, §4.8.3.1.1) and PM1 enable (offset 2, §4.8.3.1.2).
 *   PM1a_CNT_BLK (2 bytes at ACPI_PM1A_CNT_PORT, §4.8.3.2.1): SCI_EN always
 *     reads 1 (the platform is always in ACPI mode); writing SLP_EN with
 *     SLP_TYP = ACPI_SLP_TYP_S5 (\_S5) powers the VM off. Other sleep types
 *     are not offered by the DSDT and are ignored.
 *   Reset control (1 byte at ACPI_RESET_PORT): writing a value with bit 2
 *     (RST_CPU) set, e.g. the FADT's RESET_VALUE 0x06, resets the VM.
 *
 * The SCI is driven level-high on `sci_gsi` while (status & enable) has a
 * fixed event pending; the only event source is acpi_pm_power_button().
 *
 * Accesses of 1, 2 or 4 bytes at any offset inside a block are served byte
 * by byte; bytes beyond the block read as 0xff and are ignored on write.
 * Thread-safe: a mutex guards the state; stop requests go to the dev_host
 * after it is released. */
#ifndef SKIFF_ACPI_PM_H
#define SKIFF_ACPI_PM_H
#include <stdbool.h>
#include <stdint.h>
#include "core/bus.h"
#include "core/devhost.h"
#include "core/err.h"

/* PM1 status/enable bits (§4.8.3.1) and PM1 control bits (§4.8.3.2.1). */
#define ACPI_PM1_TMR		(1u << 0)
#define ACPI_PM1_GBL		(1u << 5)
#define ACPI_PM1_PWRBTN		(1u << 8)
#define ACPI_PM1_SLPBTN		(1u << 9)
#define ACPI_PM1_RTC		(1u << 10)
#define ACPI_PM1_WAK_STS	(1u << 15)
#define ACPI_PM1_CNT_SCI_EN	(1u << 0)
#define ACPI_PM1_CNT_BM_RLD	(1u << 1)
#define ACPI_PM1_CNT_GBL_RLS	(1u << 2)
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP	(7u << ACPI_PM1_CNT_SLP_TYP_SHIFT)
#define ACPI_PM1_CNT_SLP_EN	(1u << 13)
#define ACPI_RESET_RST_CPU	(1u << 2)

/* Guest-visible state, plain data for snapshots. */
struct acpi_pm_state {
	uint16_t pm1_sts;	/* PM1 status */
	uint16_t pm1_en;	/* PM1 enable */
	uint16_t pm1_cnt;	/* PM1 control, without the write-only bits */
	uint8_t reset_ctl;	/* 0xCF9, without RST_CPU */
};

struct acpi_pm;

/* Create the device. h is borrowed and must outlive it; sci_gsi is the GSI
 * of the SCI (the FADT's SCI_INT). Returns 0 and *out, or -ENOMEM/-errno
 * from pthread with e filled. */
int acpi_pm_create(const struct dev_host *h, uint32_t sci_gsi, struct acpi_pm **out,
		   struct skiff_err *e);
/* Free the device (pm may be NULL). Unregister its ranges first. */
void acpi_pm_destroy(struct acpi_pm *pm);

/* bus_io_fn handlers (core/bus.h); opaque is the struct acpi_pm. Register
 * evt at pm1a_evt_port (len ACPI_PM1_EVT_LEN), cnt at pm1a_cnt_port (len
 * ACPI_PM1_CNT_LEN) and reset at ACPI_RESET_PORT (len 1). */
void acpi_pm_evt_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void acpi_pm_cnt_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void acpi_pm_reset_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Press the power button: set PWRBTN_STS and raise the SCI if the guest has
 * set PWRBTN_EN (an ACPI OS then shuts down gracefully). Thread-safe. */
void acpi_pm_power_button(struct acpi_pm *pm);

/* Snapshot support: copy the state out, or replace it (and re-drive the SCI
 * line to match). Call with the vCPUs paused. */
void acpi_pm_get_state(struct acpi_pm *pm, struct acpi_pm_state *s);
void acpi_pm_set_state(struct acpi_pm *pm, const struct acpi_pm_state *s);

#endif
