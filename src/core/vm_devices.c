/* The platform's devices, created in a fixed order and registered on the
 * VM's buses: COM1, CMOS RTC, i8042, the debug ports, the ACPI PM block. */
#include "core/vm_internal.h"
#include "boot/acpi.h"
#include "dev/acpi_pm.h"
#include "dev/debugport.h"
#include "dev/i8042.h"
#include "dev/rtc.h"
#include "dev/serial.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct vm_devices {
	struct serial *com1;
	struct rtc *rtc;
	struct i8042 *i8042;
	struct debugport *dbg;
	struct acpi_pm *pm;
	int rx_space_efd;	/* written when the guest drains COM1's RX FIFO */
};

static void rx_space(void *arg)
{
	struct vm_devices *d = arg;
	uint64_t one = 1;
	if (write(d->rx_space_efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is already non-zero, the loop will wake. */
	}
}

struct pio_dev {
	uint16_t port, len;
	bus_io_fn fn;
	void *opaque;
	const char *name;
};

int vm_devices_create(struct skiff_vm *vm, struct skiff_err *e)
{
	struct vm_devices *d = calloc(1, sizeof(*d));
	if (!d)
		return skiff_fail(e, ENOMEM, "out of memory");
	vm->devs = d;
	d->rx_space_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->rx_space_efd < 0)
		return skiff_fail(e, errno, "eventfd: %s", strerror(errno));
	const struct dev_host *h = &vm->host;
	d->com1 = serial_create(h, SERIAL_COM1_GSI, vm->cfg.console_out);
	d->rtc = rtc_create(h);
	d->i8042 = i8042_create(h);
	d->dbg = debugport_create(h);
	if (!d->com1 || !d->rtc || !d->i8042 || !d->dbg)
		return skiff_fail(e, ENOMEM, "out of memory creating devices");
	int r = acpi_pm_create(h, ACPI_SCI_IRQ, &d->pm, e);
	if (r)
		return r;
	serial_set_rx_space_cb(d->com1, rx_space, d);

	const struct pio_dev pio[] = {
		{ SERIAL_COM1_BASE, SERIAL_IO_LEN, serial_io, d->com1, "com1" },
		{ RTC_PORT_BASE, RTC_PORT_LEN, rtc_io, d->rtc, "rtc" },
		{ I8042_DATA_PORT, 1, i8042_io_data, d->i8042, "i8042-data" },
		{ I8042_CMD_PORT, 1, i8042_io_cmd, d->i8042, "i8042-cmd" },
		{ DEBUGPORT_EXIT_PORT, DEBUGPORT_EXIT_LEN, debugport_exit_io, d->dbg, "debug-exit" },
		{ DEBUGPORT_TIMER_PORT, 1, debugport_timer_io, d->dbg, "boot-timer" },
		{ DEBUGPORT_POST_PORT, 1, debugport_post_io, d->dbg, "post-code" },
		{ ACPI_PM1A_EVT_PORT, ACPI_PM1_EVT_LEN, acpi_pm_evt_io, d->pm, "acpi-pm1a-evt" },
		{ ACPI_PM1A_CNT_PORT, ACPI_PM1_CNT_LEN, acpi_pm_cnt_io, d->pm, "acpi-pm1a-cnt" },
		{ ACPI_RESET_PORT, 1, acpi_pm_reset_io, d->pm, "acpi-reset" },
	};
	for (size_t i = 0; i < sizeof(pio) / sizeof(pio[0]); i++) {
		r = bus_register(&vm->pio, pio[i].port, pio[i].len, pio[i].fn, pio[i].opaque, pio[i].name);
		if (r)
			return skiff_fail(e, -r, "registering %s at port 0x%x: %s", pio[i].name,
					  pio[i].port, strerror(-r));
	}
	return 0;
}

void vm_devices_destroy(struct skiff_vm *vm)
{
	struct vm_devices *d = vm->devs;
	if (!d)
		return;
	if (d->com1)
		serial_destroy(d->com1);
	if (d->rtc)
		rtc_destroy(d->rtc);
	if (d->i8042)
		i8042_destroy(d->i8042);
	if (d->dbg)
		debugport_destroy(d->dbg);
	acpi_pm_destroy(d->pm);
	if (d->rx_space_efd >= 0)
		close(d->rx_space_efd);
	free(d);
	vm->devs = NULL;
}

size_t vm_devices_console_input(struct skiff_vm *vm, const uint8_t *buf, size_t len)
{
	return serial_receive(vm->devs->com1, buf, len);
}

int vm_devices_console_space_fd(struct skiff_vm *vm)
{
	return vm->devs->rx_space_efd;
}

struct i8042 *vm_devices_i8042(struct skiff_vm *vm)
{
	return vm->devs->i8042;
}

struct acpi_pm *vm_devices_acpi_pm(struct skiff_vm *vm)
{
	return vm->devs->pm;
}

uint64_t skiff_vm_boot_timer_ns(struct skiff_vm *vm)
{
	return debugport_boot_time_ns(vm->devs->dbg);
}
