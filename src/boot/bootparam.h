/* The parts of the x86 Linux boot ABI skiff writes: the setup header, the
 * zero page (struct boot_params) and its e820 entries. Our own definitions,
 * laid out from Documentation/arch/x86/boot.rst ("The Real-Mode Kernel
 * Header", "Details of Header Fields") and zero-page.rst; every offset is
 * pinned with _Static_assert. All fields are little-endian (x86). */
#ifndef SKIFF_BOOTPARAM_H
#define SKIFF_BOOTPARAM_H
#include <stddef.h>
#include <stdint.h>

/* boot.rst: "HdrS" at file offset 0x202. */
#define BP_HDR_MAGIC		0x53726448u
#define BP_BOOT_FLAG		0xaa55u
#define BP_HDR_OFFSET		0x1f1u	/* file / zero-page offset of the setup header */
#define BP_HDR_END_MAX		0x290u	/* the zero page holds header bytes up to here */
#define BP_SECTOR		512u
#define BP_LOADER_UNDEFINED	0xffu	/* type_of_loader: "Special (0xFF = undefined)" */

/* loadflags (0x211) */
#define BP_LOADED_HIGH		(1u << 0)
#define BP_KASLR_FLAG		(1u << 1)
#define BP_QUIET_FLAG		(1u << 5)
#define BP_CAN_USE_HEAP		(1u << 7)

/* xloadflags (0x236, protocol 2.12+) */
#define BP_XLF_KERNEL_64		(1u << 0)
#define BP_XLF_CAN_BE_LOADED_ABOVE_4G	(1u << 1)

/* e820 types (the BIOS INT 15h AX=E820h convention Linux follows). */
#define E820_TYPE_RAM		1u
#define E820_TYPE_RESERVED	2u
#define E820_TYPE_ACPI		3u
#define E820_TYPE_NVS		4u
#define E820_TYPE_UNUSABLE	5u
#define E820_MAX_ZEROPAGE	128u	/* entries in boot_params.e820_table */

/* The real-mode kernel header, boot protocol 2.15 (offsets in the comments
 * are file offsets; the struct starts at 0x1f1). */
struct bp_setup_header {
	uint8_t  setup_sects;		/* 0x1f1: setup size in sectors; 0 means 4 */
	uint16_t root_flags;		/* 0x1f2 */
	uint32_t syssize;		/* 0x1f4: protected-mode size, 16-byte units (2.04+) */
	uint16_t ram_size;		/* 0x1f8: obsolete */
	uint16_t vid_mode;		/* 0x1fa */
	uint16_t root_dev;		/* 0x1fc */
	uint16_t boot_flag;		/* 0x1fe: 0xaa55 */
	uint16_t jump;			/* 0x200: 0xeb, d8: the header ends at 0x202 + d8 */
	uint32_t header;		/* 0x202: "HdrS" */
	uint16_t version;		/* 0x206: protocol, (major << 8) | minor */
	uint32_t realmode_swtch;	/* 0x208 */
	uint16_t start_sys_seg;		/* 0x20c: obsolete */
	uint16_t kernel_version;	/* 0x20e */
	uint8_t  type_of_loader;	/* 0x210: write */
	uint8_t  loadflags;		/* 0x211: modify */
	uint16_t setup_move_size;	/* 0x212 */
	uint32_t code32_start;		/* 0x214 */
	uint32_t ramdisk_image;		/* 0x218: write, GPA low 32 bits */
	uint32_t ramdisk_size;		/* 0x21c: write, bytes low 32 bits */
	uint32_t bootsect_kludge;	/* 0x220: obsolete */
	uint16_t heap_end_ptr;		/* 0x224 */
	uint8_t  ext_loader_ver;	/* 0x226 */
	uint8_t  ext_loader_type;	/* 0x227 */
	uint32_t cmd_line_ptr;		/* 0x228: write, GPA low 32 bits */
	uint32_t initrd_addr_max;	/* 0x22c: highest byte an initrd may occupy (2.03+) */
	uint32_t kernel_alignment;	/* 0x230: (2.05+) */
	uint8_t  relocatable_kernel;	/* 0x234: (2.05+) */
	uint8_t  min_alignment;		/* 0x235: log2 (2.10+) */
	uint16_t xloadflags;		/* 0x236: (2.12+) */
	uint32_t cmdline_size;		/* 0x238: max cmdline bytes without NUL (2.06+) */
	uint32_t hardware_subarch;	/* 0x23c: (2.07+) */
	uint64_t hardware_subarch_data;	/* 0x240 */
	uint32_t payload_offset;	/* 0x248: (2.08+) */
	uint32_t payload_length;	/* 0x24c */
	uint64_t setup_data;		/* 0x250: (2.09+) */
	uint64_t pref_address;		/* 0x258: (2.10+) */
	uint32_t init_size;		/* 0x260: bytes needed from the runtime start (2.10+) */
	uint32_t handover_offset;	/* 0x264: (2.11+) */
	uint32_t kernel_info_offset;	/* 0x268: (2.15+) */
} __attribute__((packed));

/* boot.rst, "Details of Header Fields": file offset of a header field. */
#define BP_HDR_OFF(f) (BP_HDR_OFFSET + offsetof(struct bp_setup_header, f))

_Static_assert(BP_HDR_OFF(syssize) == 0x1f4, "syssize");
_Static_assert(BP_HDR_OFF(boot_flag) == 0x1fe, "boot_flag");
_Static_assert(BP_HDR_OFF(jump) == 0x200, "jump");
_Static_assert(BP_HDR_OFF(header) == 0x202, "header");
_Static_assert(BP_HDR_OFF(version) == 0x206, "version");
_Static_assert(BP_HDR_OFF(type_of_loader) == 0x210, "type_of_loader");
_Static_assert(BP_HDR_OFF(loadflags) == 0x211, "loadflags");
_Static_assert(BP_HDR_OFF(code32_start) == 0x214, "code32_start");
_Static_assert(BP_HDR_OFF(ramdisk_image) == 0x218, "ramdisk_image");
_Static_assert(BP_HDR_OFF(ramdisk_size) == 0x21c, "ramdisk_size");
_Static_assert(BP_HDR_OFF(heap_end_ptr) == 0x224, "heap_end_ptr");
_Static_assert(BP_HDR_OFF(cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(BP_HDR_OFF(initrd_addr_max) == 0x22c, "initrd_addr_max");
_Static_assert(BP_HDR_OFF(kernel_alignment) == 0x230, "kernel_alignment");
_Static_assert(BP_HDR_OFF(relocatable_kernel) == 0x234, "relocatable_kernel");
_Static_assert(BP_HDR_OFF(xloadflags) == 0x236, "xloadflags");
_Static_assert(BP_HDR_OFF(cmdline_size) == 0x238, "cmdline_size");
_Static_assert(BP_HDR_OFF(payload_offset) == 0x248, "payload_offset");
_Static_assert(BP_HDR_OFF(setup_data) == 0x250, "setup_data");
_Static_assert(BP_HDR_OFF(pref_address) == 0x258, "pref_address");
_Static_assert(BP_HDR_OFF(init_size) == 0x260, "init_size");
_Static_assert(BP_HDR_OFF(kernel_info_offset) == 0x268, "kernel_info_offset");
_Static_assert(sizeof(struct bp_setup_header) == 0x26c - 0x1f1, "setup header size");

/* One e820 entry as the zero page stores it (zero-page.rst, 0x2d0). */
struct bp_e820_entry {
	uint64_t addr;			/* GPA, bytes */
	uint64_t size;			/* bytes */
	uint32_t type;			/* E820_TYPE_* */
} __attribute__((packed));
_Static_assert(sizeof(struct bp_e820_entry) == 20, "e820 entry size");

/* The zero page: one 4 KiB page, zeroed, then filled (zero-page.rst). Only
 * the fields skiff writes are named; the rest stays zero. */
struct bp_boot_params {
	uint8_t  _pad0[0x070];
	uint64_t acpi_rsdp_addr;	/* 0x070: GPA of the ACPI RSDP (2.14+) */
	uint8_t  _pad1[0x0c0 - 0x078];
	uint32_t ext_ramdisk_image;	/* 0x0c0: ramdisk_image bits 63:32 */
	uint32_t ext_ramdisk_size;	/* 0x0c4: ramdisk_size bits 63:32 */
	uint32_t ext_cmd_line_ptr;	/* 0x0c8: cmd_line_ptr bits 63:32 */
	uint8_t  _pad2[0x1e8 - 0x0cc];
	uint8_t  e820_entries;		/* 0x1e8 */
	uint8_t  _pad3[0x1ef - 0x1e9];
	uint8_t  sentinel;		/* 0x1ef: must stay 0 */
	uint8_t  _pad4;			/* 0x1f0 */
	struct bp_setup_header hdr;	/* 0x1f1 */
	uint8_t  _pad5[0x2d0 - 0x26c];
	struct bp_e820_entry e820_table[E820_MAX_ZEROPAGE]; /* 0x2d0 */
	uint8_t  _pad6[0x1000 - 0xcd0];
} __attribute__((packed));

_Static_assert(offsetof(struct bp_boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
_Static_assert(offsetof(struct bp_boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(offsetof(struct bp_boot_params, ext_cmd_line_ptr) == 0x0c8, "ext_cmd_line_ptr");
_Static_assert(offsetof(struct bp_boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct bp_boot_params, sentinel) == 0x1ef, "sentinel");
_Static_assert(offsetof(struct bp_boot_params, hdr) == BP_HDR_OFFSET, "hdr");
_Static_assert(offsetof(struct bp_boot_params, e820_table) == 0x2d0, "e820_table");
_Static_assert(sizeof(struct bp_boot_params) == 0x1000, "boot_params is one page");

#endif
