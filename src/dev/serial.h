/* 16550A UART (National Semiconductor PC16550D datasheet, June 1995), as
 * found at COM1 on a PC: 8 byte-wide registers at I/O 0x3f8..0x3ff, ISA IRQ 4.
 *
 * Model: 16-byte receive FIFO; transmission is instantaneous (a byte written
 * to THR goes straight to out_fd, so THRE and TEMT always read 1). Interrupt
 * identification, priorities and the THRE-interrupt rules follow the datasheet
 * (Table IV) closely enough for Linux's 8250 driver to probe the port as a
 * 16550A and run it interrupt-driven (see serial.c for the details Linux
 * depends on).
 *
 * IRQ gating: like a PC, the interrupt reaches the line only while MCR.OUT2
 * is set and loopback is off (on PC boards OUT2 enables the IRQ driver;
 * loopback forces the OUT2 pin inactive). Linux sets OUT2 whenever it uses
 * the IRQ; a guest that wants interrupts must do the same.
 *
 * Threads: every function here may be called from any thread (vCPU threads
 * and the console thread); a per-device mutex serialises the state. */
#ifndef SKIFF_DEV_SERIAL_H
#define SKIFF_DEV_SERIAL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/devhost.h"

#define SERIAL_COM1_BASE 0x3f8	/* I/O port base of COM1 */
#define SERIAL_COM1_GSI  4	/* ISA IRQ 4 */
#define SERIAL_IO_LEN    8	/* bytes of port space to register */
#define SERIAL_FIFO_SIZE 16	/* bytes in the receive FIFO */

struct serial;

/* Create a UART raising interrupt line `gsi` through h->set_irq. Guest output
 * is written to out_fd with write(2) (not owned; -1 discards it). h must
 * outlive the device. Returns NULL if out of memory.
 * A blocking out_fd that nobody drains blocks the writing vCPU; the embedding
 * program should ignore SIGPIPE if out_fd may be a pipe or socket. */
struct serial *serial_create(const struct dev_host *h, uint32_t gsi, int out_fd);

/* Free the device (s may be NULL). Nothing may call into it any more. */
void serial_destroy(struct serial *s);

/* Port I/O handler (bus_io_fn) for the 8-byte range at the UART base; opaque
 * is the struct serial. Wider accesses act as consecutive byte accesses. */
void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Push host input into the receive FIFO. Accepts at most the free FIFO space
 * (16 bytes with FIFOs on, 1 with FIFOs off, 0 in loopback mode) and returns
 * how many bytes of buf it took; the caller keeps the rest and retries after
 * serial_rx_ready() says true or the rx-space callback fires. Flow-controlled
 * input is never lost, so this never sets LSR.OE. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);

/* True when serial_receive() would accept at least one byte now. A false
 * answer arms the rx-space callback, as a short serial_receive() does. */
bool serial_rx_ready(struct serial *s);

/* Register cb(arg), called after serial_receive() could not take everything
 * it was given, once the guest has drained the receive FIFO (or cleared it,
 * or left loopback) so that input fits again. Called on a vCPU thread with
 * the device lock released, so cb may call serial_receive(); it should be
 * quick (e.g. write an eventfd that wakes the console loop). cb NULL
 * unregisters; a call already under way may still run once. */
void serial_set_rx_space_cb(struct serial *s, void (*cb)(void *arg), void *arg);

#endif
