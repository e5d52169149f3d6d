/* ACPI PM1a event/control registers and the 0xCF9 reset register. See
 * dev/acpi_pm.h. */
#include "dev/acpi_pm.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "boot/acpi.h"

/* Status bits that can be pending, enable bits the guest may set, and the
 * ones of those that raise the SCI (§4.8.3.1). */
#define PM1_STS_MASK (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | \
		      ACPI_PM1_RTC | ACPI_PM1_WAK_STS)
#define PM1_EN_MASK  (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | \
		      ACPI_PM1_RTC)
#define PM1_CNT_KEEP (ACPI_PM1_CNT_BM_RLD | ACPI_PM1_CNT_SLP_TYP)
#define RESET_KEEP   0x0a	/* SYS_RST and FULL_RST; RST_CPU is a trigger */

struct acpi_pm {
	const struct dev_host *h;	/* borrowed */
	uint32_t sci_gsi;
	pthread_mutex_t lock;		/* guards s and sci_level */
	struct acpi_pm_state s;
	int sci_level;			/* what set_irq last drove: 0, 1; -1 unknown */
};

int acpi_pm_create(const struct dev_host *h, uint32_t sci_gsi, struct acpi_pm **out,
		   struct skiff_err *e)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));
	if (!pm)
		return skiff_fail(e, ENOMEM, "ACPI PM: out of memory");
	int rc = pthread_mutex_init(&pm->lock, NULL);
	if (rc) {
		free(pm);
		return skiff_fail(e, rc, "ACPI PM: mutex: %s", strerror(rc));
	}
	pm->h = h;
	pm->sci_gsi = sci_gsi;
	pm->sci_level = -1;
	*out = pm;
	return 0;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

/* Drive the SCI from status & enable (level-triggered). Lock held. */
static void sci_update(struct acpi_pm *pm)
{
	int level = (pm->s.pm1_sts & pm->s.pm1_en & PM1_EN_MASK) != 0;
	if (level != pm->sci_level && pm->h->set_irq)
		pm->h->set_irq(pm->h->ctx, pm->sci_gsi, level);
	pm->sci_level = level;
}

/* Read bytes [off, off+len) of a little-endian register block img[0..size). */
static void block_read(const uint8_t *img, unsigned size, uint64_t off, uint8_t *data,
		       uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (off < size && i < size - off)
			data[i] = img[off + i];
}

/* The bytes of a write that land in the 16-bit register at byte `pos` of the
 * block: their value in *val and which bytes were written in *mask. */
static void reg_write16(uint64_t off, const uint8_t *data, uint32_t len, unsigned pos,
			uint16_t *val, uint16_t *mask)
{
	*val = *mask = 0;
	if (off >= pos + 2u)
		return;
	for (uint32_t i = 0; i < len; i++) {
		if (off + i < pos || off + i >= pos + 2u)
			continue;
		unsigned shift = 8 * (unsigned)(off + i - pos);
		*val |= (uint16_t)(data[i] << shift);
		*mask |= (uint16_t)(0xffu << shift);
	}
}

void acpi_pm_evt_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	pthread_mutex_lock(&pm->lock);
	if (is_write) {
		uint16_t val, mask;
		reg_write16(offset, data, len, 0, &val, &mask);
		pm->s.pm1_sts &= (uint16_t)~(val & mask);
		reg_write16(offset, data, len, 2, &val, &mask);
		pm->s.pm1_en = (uint16_t)((pm->s.pm1_en & ~mask) | (val & mask & PM1_EN_MASK));
		sci_update(pm);
	} else {
		const uint8_t img[4] = { (uint8_t)pm->s.pm1_sts, (uint8_t)(pm->s.pm1_sts >> 8),
					 (uint8_t)pm->s.pm1_en, (uint8_t)(pm->s.pm1_en >> 8) };
		block_read(img, sizeof(img), offset, data, len);
	}
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_cnt_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	bool poweroff = false;
	pthread_mutex_lock(&pm->lock);
	if (is_write) {
		uint16_t val, mask;
		reg_write16(offset, data, len, 0, &val, &mask);
		uint16_t cnt = (uint16_t)((pm->s.pm1_cnt & ~mask) | (val & mask));
		unsigned typ = (cnt & ACPI_PM1_CNT_SLP_TYP) >> ACPI_PM1_CNT_SLP_TYP_SHIFT;
		/* §4.8.3.2.1: SLP_EN starts the transition to state SLP_TYP. */
		if ((cnt & ACPI_PM1_CNT_SLP_EN) && typ == ACPI_SLP_TYP_S5)
			poweroff = true;
		pm->s.pm1_cnt = cnt & PM1_CNT_KEEP;
	} else {
		uint16_t cnt = pm->s.pm1_cnt | ACPI_PM1_CNT_SCI_EN;
		const uint8_t img[2] = { (uint8_t)cnt, (uint8_t)(cnt >> 8) };
		block_read(img, sizeof(img), offset, data, len);
	}
	pthread_mutex_unlock(&pm->lock);
	if (poweroff) {
		skiff_log(pm->h->log, LOG_DEBUG, "ACPI: guest entered S5, powering off");
		pm->h->request_stop(pm->h->ctx, VM_STOP_POWEROFF, 0);
	}
}

void acpi_pm_reset_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct acpi_pm *pm = opaque;
	if (offset != 0 || len == 0)
		return;
	bool reset = false;
	pthread_mutex_lock(&pm->lock);
	if (is_write) {
		reset = data[0] & ACPI_RESET_RST_CPU;
		pm->s.reset_ctl = data[0] & RESET_KEEP;
	} else {
		data[0] = pm->s.reset_ctl;
	}
	pthread_mutex_unlock(&pm->lock);
	if (reset) {
		skiff_log(pm->h->log, LOG_DEBUG, "ACPI: reset through port 0xcf9");
		pm->h->request_stop(pm->h->ctx, VM_STOP_RESET, 0);
	}
}

void acpi_pm_power_button(struct acpi_pm *pm)
{
	pthread_mutex_lock(&pm->lock);
	pm->s.pm1_sts |= ACPI_PM1_PWRBTN;
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_get_state(struct acpi_pm *pm, struct acpi_pm_state *s)
{
	pthread_mutex_lock(&pm->lock);
	*s = pm->s;
	pthread_mutex_unlock(&pm->lock);
}

void acpi_pm_set_state(struct acpi_pm *pm, const struct acpi_pm_state *s)
{
	pthread_mutex_lock(&pm->lock);
	pm->s.pm1_sts = s->pm1_sts & PM1_STS_MASK;
	pm->s.pm1_en = s->pm1_en & PM1_EN_MASK;
	pm->s.pm1_cnt = s->pm1_cnt & PM1_CNT_KEEP;
	pm->s.reset_ctl = s->reset_ctl & RESET_KEEP;
	pm->sci_level = -1;	/* force the line to the restored level */
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
}
