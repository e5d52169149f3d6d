/* Unit tests for the 16550A UART model (src/dev/serial.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <string.h>
#include <unistd.h>
#include "dev/serial.h"

#define GSI 4

/* UART registers (offsets) and bits used below. */
enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2,
       LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct fake {
	struct dev_host h;
	struct skiff_log log;
	int level;		/* last level driven on GSI */
	int irq_calls;
	int bad_irq;		/* calls for another GSI, or repeating a level */
	int rx_cb_calls;
};

static void fake_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct fake *f = ctx;
	if (gsi != GSI || level == f->level)
		f->bad_irq++;
	f->level = level;
	f->irq_calls++;
}

static void fake_stop(void *ctx, enum vm_stop_reason why, int code)
{
	(void)ctx; (void)why; (void)code;
}

static void rx_cb(void *arg)
{
	((struct fake *)arg)->rx_cb_calls++;
}

struct fixture {
	struct fake f;
	struct serial *s;
	int pipe[2];
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	assert_int_equal(pipe2(x->pipe, O_NONBLOCK), 0);
	x->f.log.level = LOG_ERROR;
	x->f.h = (struct dev_host){ .ctx = &x->f, .set_irq = fake_set_irq,
				    .request_stop = fake_stop, .log = &x->f.log };
	x->s = serial_create(&x->f.h, GSI, x->pipe[1]);
	assert_non_null(x->s);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	serial_destroy(x->s);
	close(x->pipe[0]);
	close(x->pipe[1]);
	assert_int_equal(x->f.bad_irq, 0);
	free(x);
	return 0;
}

static uint8_t rd(struct fixture *x, unsigned reg)
{
	uint8_t v = 0xff;
	serial_io(x->s, reg, &v, 1, false);
	return v;
}

static void wr(struct fixture *x, unsigned reg, uint8_t v)
{
	serial_io(x->s, reg, &v, 1, true);
}

/* Bytes written to out_fd so far. */
static size_t drain(struct fixture *x, uint8_t *buf, size_t cap)
{
	ssize_t n = read(x->pipe[0], buf, cap);
	return n < 0 ? 0 : (size_t)n;
}

static void test_output_bytes(void **state)
{
	struct fixture *x = *state;
	const uint8_t msg[] = { 'H', 'i', 0x00, 0xff, '\r', '\n', 0x80 };
	uint8_t buf[64];

	for (size_t i = 0; i < sizeof(msg); i++) {
		assert_int_equal(rd(x, LSR) & 0x60, 0x60);	/* THRE, TEMT */
		wr(x, THR, msg[i]);
	}
	assert_int_equal(drain(x, buf, sizeof(buf)), sizeof(msg));
	assert_memory_equal(buf, msg, sizeof(msg));
	assert_int_equal(x->f.irq_calls, 0);
}

static void test_discard_output(void **state)
{
	struct fixture *x = *state;
	struct serial *s = serial_create(&x->f.h, GSI, -1);
	uint8_t v = 'x';
	serial_io(s, THR, &v, 1, true);
	serial_destroy(s);
}

static void test_thre_interrupt(void **state)
{
	struct fixture *x = *state;

	wr(x, MCR, 0x08);			/* OUT2: IRQ to the PIC */
	assert_int_equal(rd(x, IIR), 0x01);
	wr(x, IER, 0x02);			/* ETBEI while THR empty */
	assert_int_equal(x->f.level, 1);
	assert_int_equal(rd(x, IIR), 0x02);	/* THRI; the read clears it */
	assert_int_equal(x->f.level, 0);
	assert_int_equal(rd(x, IIR), 0x01);
	wr(x, THR, 'a');			/* THR empties again at once */
	assert_int_equal(x->f.level, 1);
	assert_int_equal(rd(x, IIR), 0x02);
	assert_int_equal(x->f.level, 0);
	/* Re-enabling ETBEI raises it again; disabling drops the line. */
	wr(x, IER, 0x00);
	wr(x, IER, 0x02);
	assert_int_equal(x->f.level, 1);
	wr(x, IER, 0x00);
	assert_int_equal(x->f.level, 0);
	/* Writing IER with ETBEI already on does not re-raise. */
	wr(x, IER, 0x02);
	assert_int_equal(rd(x, IIR), 0x02);
	wr(x, IER, 0x02);
	assert_int_equal(rd(x, IIR), 0x01);
}

static void test_out2_gates_irq(void **state)
{
	struct fixture *x = *state;

	wr(x, IER, 0x02);
	assert_int_equal(x->f.irq_calls, 0);	/* OUT2 clear: line stays low */
	wr(x, MCR, 0x0b);			/* DTR RTS OUT2 */
	assert_int_equal(x->f.level, 1);
	wr(x, MCR, 0x03);
	assert_int_equal(x->f.level, 0);
	assert_int_equal(rd(x, IIR), 0x02);	/* still pending inside */
}

static void test_receive(void **state)
{
	struct fixture *x = *state;
	const uint8_t in[] = { 'o', 'k' };

	wr(x, MCR, 0x08);
	wr(x, IER, 0x01);			/* ERBFI */
	assert_int_equal(rd(x, LSR) & 0x01, 0);
	assert_int_equal(serial_receive(x->s, in, 1), 1);	/* FIFO off: 1 deep */
	assert_int_equal(serial_receive(x->s, in + 1, 1), 0);
	assert_int_equal(rd(x, LSR) & 0x03, 0x01);		/* DR, no OE */
	assert_int_equal(x->f.level, 1);
	assert_int_equal(rd(x, IIR), 0x04);
	assert_int_equal(rd(x, RBR), 'o');
	assert_int_equal(x->f.level, 0);
	assert_int_equal(rd(x, LSR) & 0x01, 0);
	assert_int_equal(serial_receive(x->s, in + 1, 1), 1);
	assert_int_equal(x->f.level, 1);
	assert_int_equal(rd(x, RBR), 'k');
	assert_int_equal(x->f.level, 0);
	assert_int_equal(rd(x, IIR), 0x01);
}

static void test_fifo_and_trigger(void **state)
{
	struct fixture *x = *state;
	uint8_t in[20];

	for (int i = 0; i < 20; i++)
		in[i] = (uint8_t)('A' + i);
	wr(x, FCR, 0x81);			/* FIFO on, trigger 8 */
	assert_int_equal(rd(x, IIR), 0xc1);
	wr(x, MCR, 0x08);
	wr(x, IER, 0x01);
	assert_int_equal(serial_receive(x->s, in, 3), 3);
	assert_int_equal(rd(x, IIR), 0xcc);	/* below trigger: timeout id */
	assert_int_equal(serial_receive(x->s, in + 3, 5), 5);
	assert_int_equal(rd(x, IIR), 0xc4);	/* at trigger */
	for (int i = 0; i < 8; i++)
		assert_int_equal(rd(x, RBR), in[i]);
	assert_int_equal(rd(x, IIR), 0xc1);
	assert_int_equal(x->f.level, 0);

	/* Clearing the RX FIFO drops pending data. */
	assert_int_equal(serial_receive(x->s, in, 4), 4);
	wr(x, FCR, 0x83);
	assert_int_equal(rd(x, LSR) & 0x01, 0);
	assert_int_equal(x->f.level, 0);
	/* Turning FIFOs off clears the IIR FIFO bits. */
	wr(x, FCR, 0x00);
	assert_int_equal(rd(x, IIR) & 0xc0, 0);
}

static void test_overflow_and_space_cb(void **state)
{
	struct fixture *x = *state;
	uint8_t in[20];

	for (int i = 0; i < 20; i++)
		in[i] = (uint8_t)i;
	serial_set_rx_space_cb(x->s, rx_cb, &x->f);
	wr(x, FCR, 0x01);
	assert_true(serial_rx_ready(x->s));
	assert_int_equal(serial_receive(x->s, in, 20), SERIAL_FIFO_SIZE);
	assert_false(serial_rx_ready(x->s));
	assert_int_equal(serial_receive(x->s, in + 16, 4), 0);
	/* Host input is flow-controlled, never lost: no overrun. */
	assert_int_equal(rd(x, LSR) & 0x02, 0);
	for (int i = 0; i < 15; i++)
		assert_int_equal(rd(x, RBR), i);
	assert_int_equal(x->f.rx_cb_calls, 0);
	assert_int_equal(rd(x, RBR), 15);
	assert_int_equal(x->f.rx_cb_calls, 1);	/* drained: tell the host */
	assert_true(serial_rx_ready(x->s));
	assert_int_equal(serial_receive(x->s, in + 16, 4), 4);
	for (int i = 16; i < 20; i++)
		assert_int_equal(rd(x, RBR), i);
	assert_int_equal(x->f.rx_cb_calls, 1);	/* nothing was refused since */
}

static void test_loopback(void **state)
{
	struct fixture *x = *state;
	uint8_t buf[64];

	/* Linux autoconfig: MCR = LOOP | OUT2 | RTS must give MSR 0x9_. */
	wr(x, MCR, 0x1a);
	assert_int_equal(rd(x, MSR) & 0xf0, 0x90);
	wr(x, MCR, 0x15);			/* LOOP | OUT1 | DTR */
	assert_int_equal(rd(x, MSR) & 0xf0, 0x60);
	wr(x, MCR, 0x10);			/* RI falls: TERI */
	assert_int_equal(rd(x, MSR), 0x04 | 0x02);	/* TERI, DDSR */
	assert_int_equal(rd(x, MSR), 0x00);

	/* Loopback bytes come back as input and never reach out_fd. */
	wr(x, MCR, 0x18);
	wr(x, IER, 0x01);
	wr(x, THR, 'L');
	assert_int_equal(rd(x, LSR) & 0x01, 0x01);
	assert_int_equal(rd(x, IIR), 0x04);
	assert_int_equal(x->f.level, 0);	/* loopback: IRQ pin off */
	assert_int_equal(rd(x, RBR), 'L');
	assert_int_equal(drain(x, buf, sizeof(buf)), 0);
	assert_int_equal(serial_receive(x->s, (const uint8_t *)"h", 1), 0);

	/* Overflow in loopback: 16 kept, OE set, read-once. */
	wr(x, FCR, 0x07);
	wr(x, IER, 0x05);			/* ERBFI | ELSI */
	for (int i = 0; i < 20; i++)
		wr(x, THR, (uint8_t)i);
	assert_int_equal(rd(x, IIR), 0xc6);	/* line status first */
	assert_int_equal(rd(x, LSR) & 0x03, 0x03);
	assert_int_equal(rd(x, LSR) & 0x02, 0x00);
	assert_int_equal(rd(x, IIR), 0xc4);
	int n = 0;
	while (rd(x, LSR) & 0x01) {
		assert_int_equal(rd(x, RBR), n);
		n++;
	}
	assert_int_equal(n, SERIAL_FIFO_SIZE);	/* Linux's size_fifo() sees 16 */
	wr(x, MCR, 0x00);
	assert_int_equal(rd(x, MSR), 0xb0 | 0x0b);	/* back to the outside lines */
}

static void test_modem_status_irq(void **state)
{
	struct fixture *x = *state;

	assert_int_equal(rd(x, MSR), 0xb0);	/* DCD DSR CTS */
	wr(x, IER, 0x08);
	wr(x, MCR, 0x18);			/* OUT2 in loopback: DCD stays, DSR/CTS drop */
	assert_int_equal(rd(x, IIR), 0x00);	/* modem status */
	assert_int_equal(rd(x, MSR), 0x80 | 0x03);
	assert_int_equal(rd(x, IIR), 0x01);
}

static void test_dlab_and_scratch(void **state)
{
	struct fixture *x = *state;
	uint8_t buf[8];

	wr(x, IER, 0x05);
	wr(x, LCR, 0x83);
	assert_int_equal(rd(x, DLL), 1);	/* default 115200: never 0 */
	assert_int_equal(rd(x, DLM), 0);
	wr(x, DLL, 0x0c);
	wr(x, DLM, 0x01);
	assert_int_equal(rd(x, DLL), 0x0c);
	assert_int_equal(rd(x, DLM), 0x01);
	assert_int_equal(drain(x, buf, sizeof(buf)), 0);	/* DLL is not THR */
	wr(x, LCR, 0x03);
	assert_int_equal(rd(x, LCR), 0x03);
	assert_int_equal(rd(x, IER), 0x05);
	wr(x, IER, 0xff);
	assert_int_equal(rd(x, IER), 0x0f);	/* bits 7:4 read 0 */
	wr(x, LCR, 0x80);
	assert_int_equal(rd(x, DLL), 0x0c);
	wr(x, LCR, 0x00);
	wr(x, SCR, 0xa5);
	assert_int_equal(rd(x, SCR), 0xa5);
	wr(x, MCR, 0xff);
	assert_int_equal(rd(x, MCR), 0x1f);
}

/* The register dance of Linux's autoconfig() and serial8250_do_startup(). */
static void test_linux_probe(void **state)
{
	struct fixture *x = *state;

	/* IER existence test. */
	uint8_t save = rd(x, IER);
	wr(x, IER, 0);
	assert_int_equal(rd(x, IER) & 0x0f, 0);
	wr(x, IER, 0x0f);
	assert_int_equal(rd(x, IER) & 0x0f, 0x0f);
	wr(x, IER, save);
	/* Loop test. */
	uint8_t save_mcr = rd(x, MCR);
	wr(x, MCR, 0x10 | 0x0a);
	assert_int_equal(rd(x, MSR) & 0xf0, 0x90);
	wr(x, MCR, save_mcr);
	/* FIFO type: 16550A. */
	wr(x, LCR, 0xbf);
	wr(x, FCR, 0);				/* "EFR" */
	wr(x, LCR, 0);
	wr(x, FCR, 0x01);
	assert_int_equal(rd(x, IIR) >> 6, 3);
	/* No EFR at LCR 0x80 nor 0xbf: offset 2 reads non-zero. */
	wr(x, LCR, 0x80);
	assert_int_not_equal(rd(x, IIR), 0);
	wr(x, LCR, 0xbf);
	assert_int_not_equal(rd(x, IIR), 0);
	/* Not a NatSemi: IIR bit 4 does not follow MCR.LOOP. */
	wr(x, LCR, 0xe0);
	assert_int_equal(rd(x, IIR) & 0x10, 0);
	/* Not a 16750: 64-byte FIFO bit stays 0 in IIR. */
	wr(x, LCR, 0);
	wr(x, FCR, 0x21);
	assert_int_equal(rd(x, IIR) >> 5, 6);
	wr(x, LCR, 0x80);
	wr(x, FCR, 0x21);
	assert_int_equal(rd(x, IIR) >> 5, 6);
	wr(x, LCR, 0);
	/* Not an XScale: IER bit 6 does not stick. */
	wr(x, IER, 0x40);
	assert_int_equal(rd(x, IER) & 0x40, 0);
	wr(x, IER, 0);

	/* startup(): clear FIFOs, THRE re-assert test (UART_BUG_THRE). */
	wr(x, FCR, 0x07);
	wr(x, FCR, 0x00);
	rd(x, LSR); rd(x, RBR); rd(x, IIR); rd(x, MSR);
	assert_int_not_equal(rd(x, LSR), 0xff);
	wr(x, IER, 0x02);
	uint8_t iir1 = rd(x, IIR);
	wr(x, IER, 0);
	wr(x, IER, 0x02);
	uint8_t iir = rd(x, IIR);
	wr(x, IER, 0);
	assert_false(!(iir1 & 0x01) && (iir & 0x01));
	assert_int_equal(iir & 0x01, 0);
	/* UART_BUG_TXEN test, with OUT2 now set. */
	wr(x, LCR, 0x03);
	wr(x, MCR, 0x0b);
	wr(x, IER, 0x02);
	uint8_t lsr = rd(x, LSR);
	iir = rd(x, IIR);
	wr(x, IER, 0);
	assert_false((lsr & 0x40) && (iir & 0x01));
	assert_int_equal(x->f.level, 0);
}

static void test_wide_access(void **state)
{
	struct fixture *x = *state;
	uint8_t w[2] = { 0x42, 0x07 };		/* SCR at 7 only: byte 1 ignored */
	serial_io(x->s, SCR, w, 2, true);
	assert_int_equal(rd(x, SCR), 0x42);
	uint8_t r[4];
	memset(r, 0xff, sizeof(r));
	serial_io(x->s, LSR, r, 4, false);	/* LSR MSR SCR, then beyond */
	assert_int_equal(r[0] & 0x60, 0x60);
	assert_int_equal(r[1], 0xb0);
	assert_int_equal(r[2], 0x42);
	assert_int_equal(r[3], 0xff);
	serial_io(x->s, 1000, r, 1, true);	/* out of range: ignored */
	serial_io(x->s, UINT64_MAX, r, 4, false);
}

static void test_fuzz(void **state)
{
	struct fixture *x = *state;
	struct serial *s = serial_create(&x->f.h, GSI, -1);
	unsigned seed = 12345;

	serial_set_rx_space_cb(s, rx_cb, &x->f);
	for (int i = 0; i < 20000; i++) {
		uint8_t d[8];
		for (int j = 0; j < 8; j++)
			d[j] = (uint8_t)rand_r(&seed);
		unsigned op = (unsigned)rand_r(&seed) % 10;
		uint64_t off = (uint64_t)rand_r(&seed) % 10;
		uint32_t len = 1u << (rand_r(&seed) % 4);
		if (op == 0) {
			serial_receive(s, d, (size_t)(rand_r(&seed) % 9));
			continue;
		}
		if (op == 1)
			serial_rx_ready(s);
		serial_io(s, off, d, len, op & 1);
		uint8_t lsr = 0xff;
		serial_io(s, LSR, &lsr, 1, false);
		assert_int_equal(lsr & 0x60, 0x60);
		assert_int_equal(lsr & 0x9c, 0);
	}
	serial_destroy(s);
}

/* The console thread pushes input, waiting on an eventfd written by the
 * rx-space callback; a "vCPU" thread drains by polling LSR/RBR. Every byte
 * arrives once, in order, and the console never waits forever. */
#define STREAM_LEN 20000

struct stream {
	struct serial *s;
	int efd;
	int failed;
};

static void efd_cb(void *arg)
{
	uint64_t one = 1;
	if (write(((struct stream *)arg)->efd, &one, sizeof(one)) < 0)
		return;		/* counter already non-zero */
}

static void *console_thread(void *arg)
{
	struct stream *st = arg;
	uint8_t buf[STREAM_LEN];
	size_t done = 0;

	for (size_t i = 0; i < STREAM_LEN; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	while (done < STREAM_LEN) {
		size_t chunk = STREAM_LEN - done < 37 ? STREAM_LEN - done : 37;
		size_t n = serial_receive(st->s, buf + done, chunk);
		done += n;
		if (n < chunk) {
			struct pollfd p = { .fd = st->efd, .events = POLLIN };
			if (poll(&p, 1, 5000) != 1) {
				st->failed = 1;
				return NULL;
			}
			uint64_t v;
			if (read(st->efd, &v, sizeof(v)) < 0)
				continue;
		}
	}
	return NULL;
}

static void test_threaded_stream(void **state)
{
	struct fixture *x = *state;
	struct stream st = { .s = x->s, .efd = eventfd(0, EFD_NONBLOCK) };
	pthread_t t;

	assert_true(st.efd >= 0);
	serial_set_rx_space_cb(x->s, efd_cb, &st);
	wr(x, FCR, 0xc1);
	wr(x, MCR, 0x0b);
	wr(x, IER, 0x01);
	assert_int_equal(pthread_create(&t, NULL, console_thread, &st), 0);
	size_t got = 0;
	while (got < STREAM_LEN && !st.failed) {
		if (!(rd(x, LSR) & 0x01))
			continue;
		assert_int_equal(rd(x, RBR), (uint8_t)(got * 7 + 3));
		got++;
	}
	pthread_join(t, NULL);
	assert_int_equal(st.failed, 0);
	assert_int_equal(got, STREAM_LEN);
	assert_int_equal(x->f.level, 0);
	serial_set_rx_space_cb(x->s, NULL, NULL);
	close(st.efd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_output_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_discard_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_thre_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out2_gates_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_receive, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fifo_and_trigger, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overflow_and_space_cb, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_modem_status_irq, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dlab_and_scratch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_linux_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide_access, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threaded_stream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fuzz, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
