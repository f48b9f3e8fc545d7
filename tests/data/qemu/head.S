// SPDX-License-Identifier: MIT
//
// The arm64 Linux Image header (Documentation/arch/arm64/booting.rst) in
// front of a tiny test payload, so that U-Boot's bootm/booti accept it as a
// kernel. U-Boot enters at offset 0 with x0 = the devicetree's address, the
// MMU and D-cache off. We set up a stack inside the image and call
// payload_main(fdt), which prints on the UART and powers the machine off.

	.section .head.text, "ax"
	.globl	_start
_start:
	b	entry			// code0: branch past the header
	.long	0			// code1
	.quad	0			// text_offset: load at a 2 MiB boundary
	.quad	_image_size		// image_size, including .bss and the stack
	.quad	0xa			// flags: little endian, 4K pages, anywhere in RAM
	.quad	0			// res2
	.quad	0			// res3
	.quad	0			// res4
	.ascii	"ARM\x64"		// magic, at offset 0x38
	.long	0			// res5 (PE header offset: none)

entry:
	adr	x1, _stack_top		// PC-relative: works wherever U-Boot put us
	mov	sp, x1
	bl	payload_main		// x0 still holds the devicetree address
1:	wfi
	b	1b
