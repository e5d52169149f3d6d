/* libFuzzer target: a hostile guest poking the legacy devices. The input is
 * a sequence of 8-byte operations {device, offset, size, direction, value}
 * dispatched through a real PIO bus (the same registrations the VM makes),
 * interleaved with host console input. ASan/UBSan catch memory errors; the
 * checks below catch broken invariants (IRQ levels outside 0/1, reads that
 * leave bytes of the access unfilled are fine: the bus pre-fills them).
 *
 * Build: make fuzz (clang); run: build/fuzz/fuzz_devices -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "boot/acpi.h"
#include "core/bus.h"
#include "core/devhost.h"
#include "dev/acpi_pm.h"
#include "dev/debugport.h"
#include "dev/i8042.h"
#include "dev/rtc.h"
#include "dev/serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fake_vm {
	int stops;
	int last_level[32];
};

static void fake_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct fake_vm *vm = ctx;
	if (gsi >= 32 || (level != 0 && level != 1))
		abort();
	vm->last_level[gsi] = level;
}

static void fake_stop(void *ctx, enum vm_stop_reason why, int code)
{
	struct fake_vm *vm = ctx;
	(void)why;
	(void)code;
	vm->stops++;
}

static const uint16_t ports[] = { 0x3f8, 0x70, 0x60, 0x64, 0xf4, 0x3f0, 0x80, 0x600, 0x604, 0xcf9 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fake_vm fvm = { 0 };
	struct skiff_log log = { .level = -1, .out = NULL };
	struct dev_host h = { .ctx = &fvm, .set_irq = fake_set_irq, .request_stop = fake_stop,
			      .log = &log, .start_ns = 1 };
	struct bus pio;
	bus_init(&pio, 0x10000);
	struct serial *com1 = serial_create(&h, 4, -1);
	struct rtc *rtc = rtc_create(&h);
	struct i8042 *kbd = i8042_create(&h);
	struct debugport *dbg = debugport_create(&h);
	struct acpi_pm *pm = NULL;
	if (!com1 || !rtc || !kbd || !dbg || acpi_pm_create(&h, 9, &pm, NULL))
		abort();
	bus_register(&pio, 0x3f8, 8, serial_io, com1, "com1");
	bus_register(&pio, 0x70, 2, rtc_io, rtc, "rtc");
	bus_register(&pio, 0x60, 1, i8042_io_data, kbd, "kbd");
	bus_register(&pio, 0x64, 1, i8042_io_cmd, kbd, "kbd");
	bus_register(&pio, 0xf4, 4, debugport_exit_io, dbg, "exit");
	bus_register(&pio, 0x3f0, 1, debugport_timer_io, dbg, "timer");
	bus_register(&pio, 0x80, 1, debugport_post_io, dbg, "post");
	bus_register(&pio, 0x600, 4, acpi_pm_evt_io, pm, "evt");
	bus_register(&pio, 0x604, 2, acpi_pm_cnt_io, pm, "cnt");
	bus_register(&pio, 0xcf9, 1, acpi_pm_reset_io, pm, "rst");

	for (size_t i = 0; i + 8 <= size; i += 8) {
		const uint8_t *op = data + i;
		if (op[0] == 0xff) {	/* host console input */
			serial_receive(com1, op + 1, 7);
			continue;
		}
		if (op[0] == 0xfe) {	/* the host's buttons and key presses */
			if (op[1] & 1)
				i8042_send_ctrl_alt_del(kbd);
			else if (op[1] & 2)
				acpi_pm_power_button(pm);
			else
				i8042_kbd_send(kbd, op + 2, (op[1] >> 5) % 7);
			continue;
		}
		uint16_t port = ports[op[0] % (sizeof(ports) / sizeof(ports[0]))] + (op[1] & 0xf);
		static const uint32_t sizes[] = { 1, 2, 4, 8 };
		uint32_t len = sizes[op[2] & 3];
		uint8_t buf[8];
		memcpy(buf, op + 3, 4);
		memcpy(buf + 4, op + 3, 4);
		bus_access(&pio, port, buf, len, op[7] & 1);
	}

	serial_destroy(com1);
	rtc_destroy(rtc);
	i8042_destroy(kbd);
	debugport_destroy(dbg);
	acpi_pm_destroy(pm);
	bus_destroy(&pio);
	return 0;
}
