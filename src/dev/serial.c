/* 16550A UART, after the National Semiconductor PC16550D datasheet.
 *
 * What Linux's 8250 driver (drivers/tty/serial/8250/8250_port.c) relies on:
 * - autoconfig(): IER keeps exactly bits 0-3 (it writes 0x0f and expects
 *   0x0f back, and later writes bit 6 expecting it to read back 0, or it
 *   decides the chip is an XScale); in loopback with MCR = LOOP|OUT2|RTS
 *   the MSR high nibble must read 0x90 (DCD from OUT2, CTS from RTS).
 * - With FIFOs enabled IIR bits 7:6 read 11 (16550A); IIR bits 5:4 read 0
 *   (bit 5 set would make it a 16750, bit 4 is compared against MCR.LOOP
 *   by the NatSemi probe); offset 2 reads IIR whatever LCR holds, so the
 *   EFR probes (LCR = 0x80, 0xbf) see a non-zero value and find no EFR.
 * - size_fifo() counts how many looped-back bytes it can read: 16 here.
 * - startup() checks that enabling IER.ETBEI while THR is empty raises the
 *   THRE interrupt, twice (IER 0 in between) - else it sets UART_BUG_THRE
 *   and polls with a timer - and that IIR shows it right after the enable
 *   (else UART_BUG_TXEN). So a 0->1 change of ETBEI with THR empty sets
 *   the THRE interrupt; reading IIR while it reports THRE clears it; every
 *   THR write sets it again (the transmitter is instantly empty).
 * - The console write path saves IER, writes 0, polls LSR, and restores
 *   IER: the restore re-raises THRE, which restarts interrupt-driven TX.
 * - probe_baud() divides by the divisor latch, so its reset value is 1
 *   (115200 baud), never 0.
 *
 * Receive interrupts: below the FIFO trigger level a real UART raises the
 * character-timeout interrupt (IIR 0x0c) four character times after the last
 * byte. There is no line timing here, so that interrupt is reported at once;
 * Linux treats 0x04 and 0x0c alike. */
#include "dev/serial.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Register offsets (datasheet Table II). */
enum {
	REG_RBR_THR = 0,	/* DLL when LCR.DLAB */
	REG_IER = 1,		/* DLM when LCR.DLAB */
	REG_IIR_FCR = 2,
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_ERBFI	0x01	/* received data available */
#define IER_ETBEI	0x02	/* THR empty */
#define IER_ELSI	0x04	/* receiver line status */
#define IER_EDSSI	0x08	/* modem status */
#define IER_MASK	0x0f

#define IIR_NONE	0x01	/* no interrupt pending */
#define IIR_MSI		0x00
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_RLSI	0x06
#define IIR_CTI		0x0c	/* character timeout */
#define IIR_FIFO_ON	0xc0

#define FCR_ENABLE	0x01
#define FCR_CLEAR_RX	0x02
#define FCR_CLEAR_TX	0x04
#define FCR_KEEP	0xc9	/* enable, DMA mode, trigger level */

#define LCR_DLAB	0x80

#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT1	0x04
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define MCR_MASK	0x1f

#define LSR_DR		0x01
#define LSR_OE		0x02
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

#define MSR_DCTS	0x01
#define MSR_DDSR	0x02
#define MSR_TERI	0x04
#define MSR_DDCD	0x08
#define MSR_CTS		0x10
#define MSR_DSR		0x20
#define MSR_RI		0x40
#define MSR_DCD		0x80

/* Everything a snapshot needs; plain data. */
struct serial_state {
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	uint8_t fcr;		/* FCR_KEEP bits as last written */
	uint8_t lsr_err;	/* sticky LSR error bits (OE), cleared by LSR reads */
	uint8_t msr_delta;	/* MSR bits 3:0, cleared by MSR reads */
	bool thri_pending;	/* THRE interrupt condition (datasheet Table IV) */
	uint8_t rx[SERIAL_FIFO_SIZE];
	uint8_t rx_head, rx_count;
	uint8_t rx_last;	/* RBR value when the FIFO is empty */
	bool irq_level;		/* level last driven on the line */
	bool rx_blocked;	/* the host has input waiting for FIFO space */
};

struct serial {
	pthread_mutex_t lock;
	const struct dev_host *host;
	uint32_t gsi;
	int out_fd;
	bool out_err_logged;
	void (*rx_cb)(void *arg);
	void *rx_cb_arg;
	struct serial_state st;
};

static bool fifo_on(const struct serial_state *st)
{
	return st->fcr & FCR_ENABLE;
}

static unsigned fifo_cap(const struct serial_state *st)
{
	return fifo_on(st) ? SERIAL_FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct serial_state *st)
{
	static const uint8_t level[4] = { 1, 4, 8, 14 };
	return fifo_on(st) ? level[st->fcr >> 6] : 1;
}

/* Bytes the host may push now: none in loopback (the serial input pin is
 * disconnected there, and host input must not be lost). */
static unsigned host_space(const struct serial_state *st)
{
	if (st->mcr & MCR_LOOP || st->rx_count >= fifo_cap(st))
		return 0;
	return fifo_cap(st) - st->rx_count;
}

static void rx_clear(struct serial_state *st)
{
	st->rx_head = 0;
	st->rx_count = 0;
}

static void rx_push(struct serial_state *st, uint8_t b)
{
	st->rx[(st->rx_head + st->rx_count) % SERIAL_FIFO_SIZE] = b;
	st->rx_count++;
}

/* A byte arriving at the receiver (only from loopback) with the FIFO or
 * holding register full: in FIFO mode it is lost; in 16450 mode it
 * overwrites the unread byte. Either way LSR.OE is set. */
static void rx_arrive(struct serial_state *st, uint8_t b)
{
	if (st->rx_count < fifo_cap(st)) {
		rx_push(st, b);
		return;
	}
	st->lsr_err |= LSR_OE;
	if (!fifo_on(st))
		st->rx[st->rx_head] = b;
}

/* Modem status inputs: fixed "carrier, DSR, CTS" on the outside world; in
 * loopback the MCR outputs feed them (datasheet, MCR bit 4). */
static uint8_t msr_lines(const struct serial_state *st)
{
	if (!(st->mcr & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	uint8_t m = 0;
	if (st->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (st->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (st->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (st->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

/* Highest-priority pending interrupt, as IIR bits 3:0 (datasheet Table IV). */
static uint8_t iir_id(const struct serial_state *st)
{
	if (st->ier & IER_ELSI && st->lsr_err)
		return IIR_RLSI;
	if (st->ier & IER_ERBFI && st->rx_count)
		return st->rx_count >= rx_trigger(st) ? IIR_RDI : IIR_CTI;
	if (st->ier & IER_ETBEI && st->thri_pending)
		return IIR_THRI;
	if (st->ier & IER_EDSSI && st->msr_delta)
		return IIR_MSI;
	return IIR_NONE;
}

static void update_irq(struct serial *s)
{
	struct serial_state *st = &s->st;
	bool level = iir_id(st) != IIR_NONE && (st->mcr & MCR_OUT2) &&
		     !(st->mcr & MCR_LOOP);
	if (level != st->irq_level) {
		st->irq_level = level;
		s->host->set_irq(s->host->ctx, s->gsi, level);
	}
}

/* Write one byte to out_fd, retrying on EINTR and waiting on EAGAIN. Other
 * errors drop the byte; the first one is logged. */
static void out_byte(struct serial *s, uint8_t b)
{
	if (s->out_fd < 0)
		return;
	for (;;) {
		ssize_t n = write(s->out_fd, &b, 1);
		if (n == 1)
			return;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			struct pollfd p = { .fd = s->out_fd, .events = POLLOUT };
			if (poll(&p, 1, -1) >= 0 || errno == EINTR)
				continue;
		}
		if (!s->out_err_logged) {
			s->out_err_logged = true;
			skiff_log(s->host->log, LOG_WARN,
				  "serial: output write failed (%s); dropping output",
				  n < 0 ? strerror(errno) : "short write");
		}
		return;
	}
}

static uint8_t reg_read(struct serial *s, unsigned reg)
{
	struct serial_state *st = &s->st;
	bool dlab = st->lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case REG_RBR_THR:
		if (dlab)
			return st->dll;
		if (st->rx_count) {
			st->rx_last = st->rx[st->rx_head];
			st->rx_head = (st->rx_head + 1) % SERIAL_FIFO_SIZE;
			st->rx_count--;
		}
		return st->rx_last;
	case REG_IER:
		return dlab ? st->dlm : st->ier;
	case REG_IIR_FCR:
		v = iir_id(st);
		if (v == IIR_THRI)
			st->thri_pending = false;	/* reading IIR clears THRE */
		return v | (fifo_on(st) ? IIR_FIFO_ON : 0);
	case REG_LCR:
		return st->lcr;
	case REG_MCR:
		return st->mcr;
	case REG_LSR:
		v = LSR_THRE | LSR_TEMT | st->lsr_err | (st->rx_count ? LSR_DR : 0);
		st->lsr_err = 0;
		return v;
	case REG_MSR:
		v = msr_lines(st) | st->msr_delta;
		st->msr_delta = 0;
		return v;
	default:
		return st->scr;
	}
}

static void fcr_write(struct serial_state *st, uint8_t v)
{
	/* Changing FCR0 empties both FIFOs; the other bits are only written
	 * together with FCR0 = 1 (datasheet, FCR description). */
	if ((v & FCR_ENABLE) != (st->fcr & FCR_ENABLE))
		rx_clear(st);
	if (!(v & FCR_ENABLE)) {
		st->fcr = 0;
		return;
	}
	if (v & FCR_CLEAR_RX)
		rx_clear(st);
	/* FCR_CLEAR_TX: the transmitter never holds data. */
	st->fcr = v & FCR_KEEP;
}

static void reg_write(struct serial *s, unsigned reg, uint8_t v)
{
	struct serial_state *st = &s->st;
	bool dlab = st->lcr & LCR_DLAB;
	uint8_t old;

	switch (reg) {
	case REG_RBR_THR:
		if (dlab) {
			st->dll = v;
			break;
		}
		if (st->mcr & MCR_LOOP)
			rx_arrive(st, v);
		else
			out_byte(s, v);
		st->thri_pending = true;	/* THR is empty again at once */
		break;
	case REG_IER:
		if (dlab) {
			st->dlm = v;
			break;
		}
		v &= IER_MASK;
		/* Enabling ETBEI while THR is empty raises THRE. */
		if (v & IER_ETBEI && !(st->ier & IER_ETBEI))
			st->thri_pending = true;
		st->ier = v;
		break;
	case REG_IIR_FCR:
		fcr_write(st, v);
		break;
	case REG_LCR:
		st->lcr = v;
		break;
	case REG_MCR:
		old = msr_lines(st);
		st->mcr = v & MCR_MASK;
		v = msr_lines(st);
		if ((old ^ v) & MSR_CTS)
			st->msr_delta |= MSR_DCTS;
		if ((old ^ v) & MSR_DSR)
			st->msr_delta |= MSR_DDSR;
		if ((old & MSR_RI) && !(v & MSR_RI))
			st->msr_delta |= MSR_TERI;	/* trailing edge only */
		if ((old ^ v) & MSR_DCD)
			st->msr_delta |= MSR_DDCD;
		break;
	case REG_LSR:
	case REG_MSR:
		break;		/* read-only here (factory test use on real parts) */
	default:
		st->scr = v;
		break;
	}
}

/* After a guest access: should the host be told that input fits again?
 * Only once the FIFO is empty, so the console loop refills in bursts. */
static bool take_rx_notify(struct serial_state *st)
{
	if (!st->rx_blocked || st->rx_count || (st->mcr & MCR_LOOP))
		return false;
	st->rx_blocked = false;
	return true;
}

struct serial *serial_create(const struct dev_host *h, uint32_t gsi, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL)) {
		free(s);
		return NULL;
	}
	s->host = h;
	s->gsi = gsi;
	s->out_fd = out_fd;
	s->st.dll = 1;		/* 115200 baud: Linux's probe_baud() divides by it */
	s->st.thri_pending = true;
	skiff_log(h->log, LOG_DEBUG, "serial: 16550A on gsi %u, output fd %d", gsi, out_fd);
	return s;
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void serial_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct serial *s = opaque;
	void (*cb)(void *) = NULL;
	void *arg = NULL;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len; i++) {
		if (offset >= SERIAL_IO_LEN || i >= SERIAL_IO_LEN - offset)
			break;		/* outside the 8 registers: ignore / 0xff */
		unsigned reg = (unsigned)(offset + i);
		if (is_write)
			reg_write(s, reg, data[i]);
		else
			data[i] = reg_read(s, reg);
	}
	update_irq(s);
	if (take_rx_notify(&s->st)) {
		cb = s->rx_cb;
		arg = s->rx_cb_arg;
	}
	pthread_mutex_unlock(&s->lock);
	if (cb)
		cb(arg);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = host_space(&s->st);
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		rx_push(&s->st, buf[i]);
	if (n < len)
		s->st.rx_blocked = true;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

bool serial_rx_ready(struct serial *s)
{
	bool ready;

	pthread_mutex_lock(&s->lock);
	ready = host_space(&s->st) > 0;
	if (!ready)
		s->st.rx_blocked = true;	/* arm the rx-space callback */
	pthread_mutex_unlock(&s->lock);
	return ready;
}

void serial_set_rx_space_cb(struct serial *s, void (*cb)(void *arg), void *arg)
{
	pthread_mutex_lock(&s->lock);
	s->rx_cb = cb;
	s->rx_cb_arg = arg;
	pthread_mutex_unlock(&s->lock);
}
