/* PS/2 keyboard controller (Intel 8042 as in the IBM PC/AT Technical
 * Reference, with the PS/2 auxiliary-port commands), with nothing plugged
 * into either port. Data port 0x60 and status/command port 0x64: register two
 * 1-byte ranges: I8042_DATA_PORT with i8042_io_data and I8042_CMD_PORT with
 * i8042_io_cmd.
 *
 * What it is for: resetting the machine - command 0xFE (and any 0xF0-0xFF
 * pulse with bit 0 clear, or writing the output port with bit 0 clear via
 * command 0xD1) calls h->request_stop(VM_STOP_RESET) - and letting Linux's
 * i8042 driver probe without waiting on time-outs: controller commands are
 * answered at once (self-test 0xAA -> 0x55, interface tests -> 0x00,
 * command-byte read/write 0x20/0x60, output-port read/write 0xD0/0xD1, output
 * buffer writes 0xD2/0xD3 echo back, port enable/disable). Bytes sent to the
 * keyboard or mouse go nowhere (no device answers), so the guest's device
 * probes fail after their own time-outs. The input buffer is never full
 * (status bit 1 reads 0).
 *
 * Interrupts: while a byte waits in the output buffer and the command byte
 * enables the interrupt for its port (bit 0 keyboard, bit 1 aux), GSI
 * I8042_KBD_GSI (ISA IRQ 1) or I8042_AUX_GSI (ISA IRQ 12) is high; each byte
 * gives its own rising edge, as on the real part (Linux's probe checks aux
 * IRQ delivery this way). Thread-safe (per-device mutex). */
#ifndef SKIFF_DEV_I8042_H
#define SKIFF_DEV_I8042_H
#include <stdbool.h>
#include <stdint.h>
#include "core/devhost.h"

#define I8042_DATA_PORT 0x60	/* 1 byte */
#define I8042_CMD_PORT  0x64	/* 1 byte: status on read, command on write */
#define I8042_KBD_GSI   1	/* ISA IRQ 1 */
#define I8042_AUX_GSI   12	/* ISA IRQ 12 */

struct i8042;

/* Create the controller (command byte 0x64: translated, aux disabled, both
 * interrupts off, as a BIOS leaves it). h (not owned) must outlive it.
 * NULL if out of memory. */
struct i8042 *i8042_create(const struct dev_host *h);

/* Free the device; k may be NULL. */
void i8042_destroy(struct i8042 *k);

/* Port I/O handlers (bus_io_fn); opaque is the struct i8042. i8042_io_data
 * serves the 1-byte range at 0x60, i8042_io_cmd the one at 0x64. Only offset
 * 0 is decoded; other bytes of a wider access are ignored (reads 0xff). */
void i8042_io_data(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void i8042_io_cmd(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

#endif
