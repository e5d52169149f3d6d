/* PS/2 keyboard controller (Intel 8042 as in the IBM PC/AT Technical
 * Reference, with the PS/2 auxiliary-port commands), with a PS/2 keyboard
 * (dev/ps2kbd.h, scan code set 2) on the first port and nothing on the
 * auxiliary port. Data port 0x60 and status/command port 0x64: register two
 * 1-byte ranges: I8042_DATA_PORT with i8042_io_data and I8042_CMD_PORT with
 * i8042_io_cmd.
 *
 * What it is for: resetting the machine - command 0xFE (and any 0xF0-0xFF
 * pulse with bit 0 clear, or writing the output port with bit 0 clear via
 * command 0xD1) calls h->request_stop(VM_STOP_RESET) - delivering the host's
 * Ctrl-Alt-Del (i8042_send_ctrl_alt_del), and letting Linux's i8042 and
 * atkbd drivers probe without waiting on time-outs: controller commands are
 * answered at once (self-test 0xAA -> 0x55, interface tests -> 0x00,
 * command-byte read/write 0x20/0x60, output-port read/write 0xD0/0xD1, output
 * buffer writes 0xD2/0xD3 echo back, port enable/disable), and so are the
 * keyboard's commands (ps2kbd.h). Bytes sent to the mouse (0xD4) go nowhere,
 * so the guest's mouse probe fails after its own time-out. The input buffer
 * is never full (status bit 1 reads 0).
 *
 * Keyboard bytes: the keyboard hands the controller its next byte only while
 * the output buffer is empty and the keyboard port enabled (command byte bit
 * 4 clear); with the command byte's XLATE bit (6) set the controller
 * translates scan code set 2 to set 1 on the way, as a PC's 8042 does.
 *
 * Interrupts: while a byte waits in the output buffer and the command byte
 * enables the interrupt for its port (bit 0 keyboard, bit 1 aux), GSI
 * I8042_KBD_GSI (ISA IRQ 1) or I8042_AUX_GSI (ISA IRQ 12) is high; each byte
 * gives its own rising edge, as on the real part (Linux's probe checks aux
 * IRQ delivery this way). Thread-safe (per-device mutex). */
#ifndef SKIFF_DEV_I8042_H
#define SKIFF_DEV_I8042_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/devhost.h"
#include "dev/ps2kbd.h"

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

/* Key presses from the host: queue n set-2 scan code bytes on the keyboard
 * as one unit (all or none) and deliver the first one if the output buffer
 * is free. Returns 0, -EAGAIN when the guest has turned the keyboard's
 * scanning off (0xF5), -ENOSPC when the keyboard's queue (PS2KBD_QUEUE
 * bytes) lacks room because the guest is not reading; dropped bytes are
 * counted (i8042_kbd_dropped). Thread-safe. */
int i8042_kbd_send(struct i8042 *k, const uint8_t *codes, size_t n);
/* Press and release Ctrl, Alt, Delete (ps2kbd_ctrl_alt_del); as above. */
int i8042_send_ctrl_alt_del(struct i8042 *k);
/* Injected bytes dropped so far. */
uint64_t i8042_kbd_dropped(struct i8042 *k);

#endif
