/* Startup benchmark guest: the first thing it does is the boot-timer write
 * (123 to port 0x3f0; skiff logs the time since it started), then it exits
 * through the debug-exit port with status 42. Entered by skiff in 64-bit
 * long mode at CPL0. */
	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	mov $123, %al
	mov $0x3f0, %dx
	out %al, %dx			/* the first guest I/O: boot timer */
	mov $42, %al
	out %al, $0xf4			/* debug exit: skiff exits with status 42 */
1:	cli
	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
