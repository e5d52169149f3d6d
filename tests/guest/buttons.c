/* buttons: waits for one of skiff's buttons, pressed by the host through the
 * API once this guest has printed "ready" on COM1 (polled I/O, interrupts
 * stay off).
 *
 * mode=cad: Ctrl-Alt-Del on the i8042 keyboard. First checks that the
 *   keyboard answers identify (0xF2: ACK 0xAB then 0x41, the translated
 *   0x83). With "raw" on the command line it clears the command byte's
 *   XLATE bit first and expects scan code set 2 (ACK 0xAB 0x83). Prints
 *   "key XX" for every byte and exits 42 if the bytes are exactly the
 *   Ctrl, Alt, Delete presses and releases, 0x33 otherwise or after
 *   "wait_s=" seconds (default 60) without them.
 * mode=power: the ACPI power button. Sets PWRBTN_EN in PM1 enable, waits
 *   for PWRBTN_STS, clears it (write 1), checks it reads clear, then powers
 *   off with SLP_TYP=S5 | SLP_EN: skiff exits 0. 0x33 on any failure. */
#include "kit.h"

#define KBD_DATA	0x60
#define KBD_STATUS	0x64
#define STS_OBF		0x01
#define CTR_XLATE	0x40

/* skiff's PM1 block (src/boot/acpi.h, described by its FADT). */
#define PM1_STS		0x600
#define PM1_EN		0x602
#define PM1_CNT		0x604
#define PWRBTN		(1u << 8)
#define SLP_TYP_S5	5
#define SLP_EN		(1u << 13)

static uint64_t deadline_us;

/* Wait up to deadline_us for a byte; -1 on time-out. */
static int kbd_read(void)
{
	for (uint64_t t = 0; t < deadline_us; t += 1000) {
		if (inb(KBD_STATUS) & STS_OBF)
			return inb(KBD_DATA);
		kit_delay_us(1000);
	}
	return -1;
}

static bool expect_bytes(const char *what, const uint8_t *want, int n)
{
	bool ok = true;
	for (int i = 0; i < n; i++) {
		int b = kbd_read();
		kit_printf("%s %x\n", what, b < 0 ? 0xfff : (unsigned)b);
		ok &= b == want[i];
	}
	return ok;
}

static int cad(void)
{
	bool raw = kit_cmdline_has("raw");
	static const uint8_t set1[] = { 0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d };
	static const uint8_t set2[] = { 0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0, 0x71,
					0xf0, 0x11, 0xf0, 0x14 };
	if (raw) {
		outb(KBD_STATUS, 0x20);			/* read the command byte */
		int ctr = kbd_read();
		if (ctr < 0)
			return KIT_EXIT_FAIL;
		outb(KBD_STATUS, 0x60);			/* write it back, untranslated */
		outb(KBD_DATA, (uint8_t)ctr & ~CTR_XLATE);
	}
	const uint8_t id[] = { 0xfa, 0xab, raw ? 0x83 : 0x41 };
	outb(KBD_DATA, 0xf2);
	if (!expect_bytes("id", id, 3))
		return KIT_EXIT_FAIL;
	kit_puts("ready\n");
	bool ok = raw ? expect_bytes("key", set2, sizeof(set2))
		      : expect_bytes("key", set1, sizeof(set1));
	/* Nothing more may follow. */
	deadline_us = 200000;
	if (kbd_read() >= 0)
		ok = false;
	kit_puts(ok ? "buttons: ctrl-alt-del ok\n" : "buttons: wrong bytes\n");
	return ok ? KIT_EXIT_OK : KIT_EXIT_FAIL;
}

static int power(void)
{
	outw(PM1_STS, 0xffff);			/* nothing pending before */
	outw(PM1_EN, PWRBTN);
	kit_puts("ready\n");
	uint64_t t = 0;
	while (!(inw(PM1_STS) & PWRBTN)) {
		if ((t += 1000) > deadline_us) {
			kit_puts("buttons: no power button\n");
			return KIT_EXIT_FAIL;
		}
		kit_delay_us(1000);
	}
	kit_puts("buttons: power button pressed\n");
	outw(PM1_STS, PWRBTN);			/* write 1 to clear */
	if (inw(PM1_STS) & PWRBTN) {
		kit_puts("buttons: PWRBTN_STS did not clear\n");
		return KIT_EXIT_FAIL;
	}
	outw(PM1_CNT, SLP_TYP_S5 << 10 | SLP_EN);
	kit_delay_us(2000000);
	kit_puts("buttons: still running after S5\n");
	return KIT_EXIT_FAIL;
}

int payload_main(void)
{
	size_t len = 0;
	const char *mode = kit_cmdline_get("mode=", &len);
	deadline_us = kit_cmdline_u64("wait_s=", 60) * 1000000;
	if (mode && len == 3 && !strncmp(mode, "cad", 3))
		return cad();
	if (mode && len == 5 && !strncmp(mode, "power", 5))
		return power();
	kit_puts("buttons: say mode=cad or mode=power\n");
	return KIT_EXIT_FAIL;
}
