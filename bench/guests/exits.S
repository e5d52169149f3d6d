/* Exit round-trip benchmark guest: EXITS writes to port 0x80 (ignored by
 * skiff's device in user space; the bare KVM_RUN loop of exit_floor.c just
 * re-enters), then status 42 to the debug-exit port 0xf4. EXITS is given at
 * build time (-DEXITS=n, a multiple of 100) and the loop is unrolled 100
 * times so that loop overhead is small; runs with n and 2n exits are
 * subtracted, which cancels set-up, loop and exit costs. Entered in 64-bit
 * long mode at CPL0 (skiff's boot state; exit_floor.c builds the same). */
#ifndef EXITS
#error "build with -DEXITS=n"
#endif
#if EXITS % 100
#error "EXITS must be a multiple of 100"
#endif
	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	mov $EXITS / 100, %ecx
	xor %eax, %eax
1:
	.rept 100
	out %al, $0x80
	.endr
	dec %ecx
	jnz 1b
	mov $42, %al
	out %al, $0xf4
2:	cli
	hlt
	jmp 2b

	.section .note.GNU-stack, "", @progbits
