/* PCI interrupts on bus 0: INTx (slots sharing a wired-OR GSI), and MSI-X
 * (pci/msix.c): the table and PBA, delivery through routes, irqfds and
 * masking, and a refused initialisation. Fixture: pci_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "unit/pci_fixture.h"

static void test_intx(void **state)
{
	struct fx *x = *state;
	struct skiff_err e = { "" };
	static struct tdev t[9];
	for (int i = 0; i < 9; i++) {
		tdev_init(&t[i], &x->f, false);
		assert_int_equal(pci_bus_add(x->pci, &t[i].pci, &e), i + 1);
	}
	/* Slot 1 and slot 9 share GSI 17: the line is wired-OR. */
	assert_int_equal(t[0].pci.intx_gsi, 17);
	assert_int_equal(t[8].pci.intx_gsi, 17);
	assert_int_equal(t[7].pci.intx_gsi, 16);
	pci_set_intx(&t[0].pci, 1);
	assert_int_equal(x->f.level[17], 1);
	assert_int_not_equal(cf8_rd(x, 1, 6, 2) & 0x8, 0);		/* interrupt status */
	assert_int_equal(cf8_rd(x, 9, 6, 2) & 0x8, 0);
	pci_set_intx(&t[8].pci, 1);
	int nirq = x->f.nirq;
	pci_set_intx(&t[0].pci, 0);
	assert_int_equal(x->f.level[17], 1);		/* slot 9 still holds it */
	assert_int_equal(x->f.nirq, nirq);
	pci_set_intx(&t[8].pci, 1);			/* no change, no call */
	assert_int_equal(x->f.nirq, nirq);
	pci_set_intx(&t[8].pci, 0);
	assert_int_equal(x->f.level[17], 0);
	/* Interrupt Disable holds the line low; status still shows the level. */
	pci_set_intx(&t[2].pci, 1);
	assert_int_equal(x->f.level[19], 1);
	cf8_wr(x, 3, 4, 2, 0x0400);
	assert_int_equal(x->f.level[19], 0);
	assert_int_not_equal(cf8_rd(x, 3, 6, 2) & 0x8, 0);
	pci_set_intx(&t[2].pci, 1);
	assert_int_equal(x->f.level[19], 0);
	cf8_wr(x, 3, 4, 2, 0);
	assert_int_equal(x->f.level[19], 1);
	pci_set_intx(&t[2].pci, 0);
	assert_int_equal(x->f.level[19], 0);
	/* A device on no bus: ignored. */
	struct pci_device lone;
	pci_dev_init(&lone, "lone", 1, 2, 0, 0, 0, 0);
	pci_set_intx(&lone, 1);
	for (int g = 16; g < 24; g++)
		assert_true(x->f.level[g] <= 0);
}

/* ---- MSI-X ---- */

static uint64_t efd_count(int fd)
{
	uint64_t v = 0;
	if (read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

static void msix_ctrl(struct fx *x, struct mx *m, uint16_t bits)
{
	cf8_wr(x, 1, m->cap + 2, 2, bits);
}

static void test_msix_table(void **state)
{
	struct fx *x = *state;
	struct mx m;
	mx_init(x, &m);
	/* Reset state: every vector masked, message zero. */
	for (int v = 0; v < 4; v++) {
		assert_int_equal(io_rd(&x->mmio, m.tbl + 16 * v + 12, 4), 1);
		assert_int_equal(io_rd(&x->mmio, m.tbl + 16 * v, 8), 0);
	}
	/* Dword and qword writes read back; reserved control bits read 0. */
	io_wr(&x->mmio, m.tbl + 16, 4, 0xfee01000);
	io_wr(&x->mmio, m.tbl + 20, 4, 0);
	io_wr(&x->mmio, m.tbl + 24, 8, 0xfffffffe00004041ULL);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 16, 8), 0xfee01000);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 24, 8), 0x0000000000004041ULL);
	assert_int_equal(m.t.msix.vec[1].data, 0x4041);
	/* Odd sizes and unaligned accesses: all-ones, nothing written. */
	assert_int_equal(io_rd(&x->mmio, m.tbl + 16, 2), 0xffff);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 17, 1), 0xff);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 20, 8), ~0ULL);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 18, 4), 0xffffffffu);
	io_wr(&x->mmio, m.tbl + 16, 2, 0);
	io_wr(&x->mmio, m.tbl + 16, 1, 0);
	io_wr(&x->mmio, m.tbl + 20, 8, 0);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 16, 4), 0xfee01000);
	/* Straddling the table's start or end: not the device's register. */
	assert_int_equal(io_rd(&x->mmio, m.tbl - 4, 8), ~0ULL);
	assert_int_equal(io_rd(&x->mmio, m.tbl + 64 - 4, 8), ~0ULL);
	/* Outside table and PBA the device's own handler answers. */
	int before = m.t.nacc[0];
	io_rd(&x->mmio, m.tbl + 64, 4);
	assert_int_equal(m.t.nacc[0], before + 1);
	/* PBA: read-only, all clear. */
	assert_int_equal(io_rd(&x->mmio, m.pba, 8), 0);
	io_wr(&x->mmio, m.pba, 8, ~0ULL);
	assert_int_equal(io_rd(&x->mmio, m.pba, 4), 0);
	assert_int_equal(io_rd(&x->mmio, m.pba, 2), 0xffff);
	msix_destroy(&m.t.msix);
}

static void test_msix_delivery(void **state)
{
	struct fx *x = *state;
	struct fake_host *f = &x->f;
	struct mx m;
	mx_init(x, &m);
	struct msix *ms = &m.t.msix;
	io_wr(&x->mmio, m.tbl + 0, 8, 0xfee00000);
	io_wr(&x->mmio, m.tbl + 8, 4, 0x31);
	/* Disabled: nothing happens, nothing pends. */
	assert_false(msix_enabled(ms));
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(io_rd(&x->mmio, m.pba, 8), 0);
	assert_int_equal(f->nalloc + f->nsignal, 0);
	/* Enabled, vector masked: the pending bit. */
	msix_ctrl(x, &m, 0x8000);
	assert_true(msix_enabled(ms));
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(msix_notify(ms, 2), 0);
	assert_int_equal(io_rd(&x->mmio, m.pba, 8), 0x5);
	assert_int_equal(f->nalloc, 0);
	/* Unmask vector 0: routed (GSI, route, irqfd) and the pending one fires. */
	io_wr(&x->mmio, m.tbl + 12, 4, 0);
	assert_int_equal(f->nalloc, 1);
	assert_int_equal(f->nroute, 1);
	int gsi = ms->vec[0].gsi;
	assert_true(gsi >= 24);
	assert_int_equal(f->route_addr[gsi], 0xfee00000);
	assert_int_equal(f->route_data[gsi], 0x31);
	int efd = f->irqfd_efd[gsi];
	assert_true(efd >= 0);
	assert_int_equal(efd_count(efd), 1);
	assert_int_equal(io_rd(&x->mmio, m.pba, 8), 0x4);
	/* Raised again: one eventfd write, no new route. */
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(efd_count(efd), 2);
	assert_int_equal(f->nroute, 1);
	/* Function mask: pends; clearing it fires. */
	msix_ctrl(x, &m, 0xc000);
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(efd_count(efd), 0);
	assert_int_equal(io_rd(&x->mmio, m.pba, 4), 0x5);
	msix_ctrl(x, &m, 0x8000);
	assert_int_equal(efd_count(efd), 1);
	assert_int_equal(io_rd(&x->mmio, m.pba, 4), 0x4);
	/* A new message is routed before the next interrupt (same GSI and fd). */
	io_wr(&x->mmio, m.tbl + 12, 4, 1);
	io_wr(&x->mmio, m.tbl + 8, 4, 0x32);
	io_wr(&x->mmio, m.tbl + 12, 4, 0);
	assert_int_equal(f->nroute, 2);
	assert_int_equal(f->route_data[gsi], 0x32);
	assert_int_equal(ms->vec[0].gsi, gsi);
	assert_int_equal(f->irqfd_efd[gsi], efd);
	/* Out-of-range vectors are the guest's choice: -EINVAL, no interrupt. */
	assert_int_equal(msix_notify(ms, 4), -EINVAL);
	assert_int_equal(msix_notify(ms, MSIX_NO_VECTOR), -EINVAL);
	/* A message KVM refuses: delivered through KVM_SIGNAL_MSI instead. */
	f->refuse_route = true;
	io_wr(&x->mmio, m.tbl + 16, 8, 0xfee02000);
	io_wr(&x->mmio, m.tbl + 24, 8, 0x41);		/* data 0x41, unmasked */
	assert_int_equal(f->nsignal, 0);
	assert_int_equal(msix_notify(ms, 1), 0);
	assert_int_equal(f->nsignal, 1);
	assert_int_equal(f->signal_addr, 0xfee02000);
	assert_int_equal(f->signal_data, 0x41);
	/* Disable: pending bits stay as they are; nothing is delivered. */
	msix_ctrl(x, &m, 0);
	assert_int_equal(msix_notify(ms, 0), 0);
	assert_int_equal(efd_count(efd), 0);
	/* Teardown detaches the irqfds and frees the GSIs. */
	int allocs = f->nalloc;
	msix_destroy(ms);
	assert_int_equal(f->nfree, allocs);
	assert_int_equal(f->irqfd_efd[gsi], -1);
	m.t.has_msix = false;
}

static void test_msix_init_refused(void **state)
{
	struct fx *x = *state;
	struct tdev t;
	tdev_init(&t, &x->f, false);
	struct msix m;
	const struct dev_host *h = &x->f.h;
	assert_int_equal(msix_init(&m, &t.pci, h, 0, 0, 0, 0x800), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, h, MSIX_MAX_VECTORS + 1, 0, 0, 0x800), -EINVAL);
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 1, 0, 0x800), -EINVAL);	/* I/O BAR */
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 3, 0, 0x800), -EINVAL);	/* no BAR */
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 0, 4, 0x800), -EINVAL);	/* unaligned */
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 0, 0, 0x20), -EINVAL);	/* overlap */
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 0, 0x3ff8, 0), -EINVAL);	/* past the end */
	assert_int_equal(msix_init(&m, &t.pci, h, 4, 0, 0xfffffff8u, 0), -EINVAL);
	assert_false(msix_bar_access(&m, 0, (uint8_t[4]){ 0 }, 4, false));
	assert_int_equal(msix_notify(&m, 0), -EINVAL);
	msix_destroy(&m);
	assert_int_equal(msix_table_size(64), 1024);
	assert_int_equal(msix_pba_size(1), 8);
	assert_int_equal(msix_pba_size(64), 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix_init_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
