/* Small PC ports with no datasheet device behind them. One object, one
 * bus_io_fn per port; the VM registers each range it wants:
 *
 *   port  len  handler                 what
 *   0xf4  4    debugport_exit_io       isa-debug-exit (QEMU's convention, used
 *                                      by kvm-unit-tests): any write of value v
 *                                      stops the VM with VM_STOP_DEBUG_EXIT and
 *                                      code v & 0xff, the process exit status.
 *                                      Reads return 0xff.
 *   0x3f0 1    debugport_timer_io      boot timer (Firecracker's convention):
 *                                      writing 123 logs "guest boot timer: N us
 *                                      since skiff started" at LOG_INFO and
 *                                      records the first such time. Other
 *                                      values are ignored; reads return 0xff.
 *   0x80  1    debugport_post_io       POST code: writes ignored, reads 0xff.
 *                                      Linux writes it for I/O delays; a VM
 *                                      may rather absorb it with an ioeventfd,
 *                                      or the guest use io_delay=none.
 *   0x61  1    debugport_sysctl_io     system control port B (IBM PC/AT
 *                                      Technical Reference, port 61h): bits
 *                                      0-3 are stored; bit 4 (refresh) and
 *                                      bit 5 (PIT channel 2 OUT) toggle on
 *                                      every read, so loops that wait for
 *                                      either to change (Linux's PIT TSC
 *                                      calibration) always end. Register it
 *                                      only when the in-kernel PIT does not
 *                                      claim 0x61 (KVM_CREATE_PIT2 with
 *                                      KVM_PIT_SPEAKER_DUMMY serves it with
 *                                      the real channel 2 output instead).
 *
 * Thread-safe (per-device mutex). */
#ifndef SKIFF_DEV_DEBUGPORT_H
#define SKIFF_DEV_DEBUGPORT_H
#include <stdbool.h>
#include <stdint.h>
#include "core/devhost.h"

#define DEBUGPORT_EXIT_PORT       0xf4
#define DEBUGPORT_EXIT_LEN        4
#define DEBUGPORT_TIMER_PORT      0x3f0
#define DEBUGPORT_TIMER_LEN       1
#define DEBUGPORT_TIMER_MAGIC     123
#define DEBUGPORT_POST_PORT       0x80
#define DEBUGPORT_POST_LEN        1
#define DEBUGPORT_SYSCTL_PORT     0x61
#define DEBUGPORT_SYSCTL_LEN      1

struct debugport;

/* h (not owned) must outlive the device; its start_ns is the boot timer's
 * origin. NULL if out of memory. */
struct debugport *debugport_create(const struct dev_host *h);

/* Free the device; d may be NULL. */
void debugport_destroy(struct debugport *d);

/* bus_io_fn handlers; opaque is the struct debugport. Offsets are relative
 * to the ports above. */
void debugport_exit_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void debugport_timer_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void debugport_post_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void debugport_sysctl_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Nanoseconds from h->start_ns (CLOCK_MONOTONIC) to the guest's first boot
 * timer write of 123; 0 if there was none yet (a real 0 reads as 1). */
uint64_t debugport_boot_time_ns(struct debugport *d);

#endif
