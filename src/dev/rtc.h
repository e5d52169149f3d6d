/* CMOS real-time clock and 128 bytes of CMOS RAM, after the Motorola
 * MC146818A datasheet as built into PC chipsets: index port 0x70, data port
 * 0x71 (register the 2-byte range RTC_PORT_BASE..+RTC_PORT_LEN with rtc_io).
 *
 * Time and date are computed from the host's UTC clock at each read, in BCD or
 * binary (register B bit 2) and 24- or 12-hour form (register B bit 1); the
 * century is at index 0x32 (point the FADT "century" field there). Register A
 * never reports update-in-progress; register C reads as 0 (no interrupts are
 * modelled: no periodic, alarm or update IRQ 8) and register D as 0x80 (RAM
 * and time valid). Guest writes to the time registers move the guest's clock:
 * they are kept as an offset from host time, applied at once, or - while
 * register B's SET bit is on - when SET is cleared, as Linux's
 * mc146818_set_time() expects. The day-of-week register is always computed
 * from the date; writes to it are ignored.
 *
 * Bit 7 of the index is the PC's NMI-mask bit; it is masked off (and has no
 * effect). All functions are thread-safe (per-device mutex). */
#ifndef SKIFF_DEV_RTC_H
#define SKIFF_DEV_RTC_H
#include <stdbool.h>
#include <stdint.h>
#include "core/devhost.h"

#define RTC_PORT_BASE 0x70	/* index port; data port is RTC_PORT_BASE + 1 */
#define RTC_PORT_LEN  2		/* bytes of port space to register */
#define RTC_CENTURY_INDEX 0x32	/* CMOS index of the century (FADT.century) */

struct rtc;

/* Create a clock set to host UTC with register A = 0x26, B = 0x02 (24-hour,
 * BCD), RAM zeroed. h (not owned) must outlive it. NULL if out of memory. */
struct rtc *rtc_create(const struct dev_host *h);

/* Free the device; r may be NULL. */
void rtc_destroy(struct rtc *r);

/* Port I/O handler (bus_io_fn) for ports 0x70-0x71; opaque is the struct rtc.
 * Offset 0 selects the register (write only; reads return 0xff), offset 1
 * reads/writes it. Wider accesses act as consecutive byte accesses. */
void rtc_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
