// SPDX-License-Identifier: MIT
//
// A test "kernel" for QEMU's virt machine: prints a marker, where it runs,
// the devicetree address it was handed and the root node's "model" and
// first "compatible" string of that devicetree, on the PL011 UART, then asks
// PSCI to power the machine off (so QEMU exits). Freestanding: no libc, no
// MMU, no interrupts.
//
// Output, one line each, CRLF-terminated:
//   FITSTREAM-PAYLOAD: started
//   FITSTREAM-PAYLOAD: at=0x...                 (the address of the Image header)
//   FITSTREAM-PAYLOAD: fdt=0x...
//   FITSTREAM-PAYLOAD: model=<model>            (or "model=<none>", or "bad-fdt")
//   FITSTREAM-PAYLOAD: compatible=<first entry>
//   FITSTREAM-PAYLOAD: done

typedef unsigned char u8;
typedef unsigned int u32;
typedef unsigned long u64;

extern char _start[];  // head.S: the Image header; ADR (-mcmodel=tiny) gives its run-time address

#define UART_BASE 0x09000000ul  // QEMU virt's PL011
#define UART_DR 0x00
#define UART_FR 0x18
#define UART_FR_TXFF (1u << 5)
#define UART_FR_BUSY (1u << 3)

#define FDT_MAGIC 0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE 2u
#define FDT_PROP 3u
#define FDT_NOP 4u
#define FDT_END 9u

static volatile u32* uart_reg(u64 offset) { return (volatile u32*)(UART_BASE + offset); }

static void put_char(char c) {
    while (*uart_reg(UART_FR) & UART_FR_TXFF) {
    }
    *uart_reg(UART_DR) = (u8)c;
}

static void put_str(const char* s) {
    while (*s) put_char(*s++);
}

// Printable characters only, at most `max` of them: a corrupt tree must not
// flood the console or send control characters.
static void put_bounded(const char* s, u32 max) {
    for (u32 i = 0; i < max && s[i]; ++i) put_char(s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
}

static void put_hex(u64 v) {
    put_str("0x");
    for (int shift = 60; shift >= 0; shift -= 4) put_char("0123456789abcdef"[(v >> shift) & 0xf]);
}

static void line_start(void) { put_str("FITSTREAM-PAYLOAD: "); }
static void line_end(void) { put_str("\r\n"); }

static u32 be32(const void* p) {
    const u8* b = (const u8*)p;
    return ((u32)b[0] << 24) | ((u32)b[1] << 16) | ((u32)b[2] << 8) | (u32)b[3];
}

static int str_eq(const char* a, const char* b) {
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

static u32 str_len(const char* s, u32 max) {
    u32 n = 0;
    while (n < max && s[n]) ++n;
    return n;
}

// Walks the structure block for the root node's properties (depth 1).
// Returns 0 when the walk reached the root's FDT_END_NODE, -1 on a malformed
// tree.
static int find_root_props(const u8* fdt, const char** model, const char** compatible) {
    if (be32(fdt) != FDT_MAGIC) return -1;
    const u32 totalsize = be32(fdt + 4);
    const u32 off_struct = be32(fdt + 8);
    const u32 off_strings = be32(fdt + 12);
    const u32 size_struct = be32(fdt + 36);
    if (totalsize > (64u << 20) || off_struct >= totalsize || off_strings >= totalsize) return -1;
    const u8* p = fdt + off_struct;
    const u8* end = p + size_struct;
    const char* strings = (const char*)(fdt + off_strings);
    int depth = 0;
    while (p + 4 <= end) {
        const u32 token = be32(p);
        p += 4;
        if (token == FDT_BEGIN_NODE) {
            const u32 n = str_len((const char*)p, (u32)(end - p));
            p += (n + 1 + 3) & ~3u;
            ++depth;
        } else if (token == FDT_END_NODE) {
            if (--depth == 0) return 0;
        } else if (token == FDT_PROP) {
            if (p + 8 > end) return -1;
            const u32 len = be32(p);
            const char* name = strings + be32(p + 4);
            const char* value = (const char*)(p + 8);
            if (depth == 1 && len > 0) {
                if (str_eq(name, "model")) *model = value;
                if (str_eq(name, "compatible")) *compatible = value;
            }
            p += 8 + ((len + 3) & ~3u);
        } else if (token == FDT_NOP) {
        } else {
            return token == FDT_END ? 0 : -1;
        }
    }
    return -1;
}

static void psci_system_off(void) {
    // PSCI 0.2 SYSTEM_OFF; QEMU virt's PSCI conduit is HVC when it boots
    // firmware at EL1 (no EL2/EL3 emulated), as here.
    register u64 x0 __asm__("x0") = 0x84000008ul;
    __asm__ volatile("hvc #0" : "+r"(x0) : : "x1", "x2", "x3", "memory");
}

void payload_main(u64 fdt_address) {
    line_start();
    put_str("started");
    line_end();
    line_start();
    put_str("at=");
    put_hex((u64)_start);
    line_end();
    line_start();
    put_str("fdt=");
    put_hex(fdt_address);
    line_end();

    const char* model = 0;
    const char* compatible = 0;
    const int rc = fdt_address ? find_root_props((const u8*)fdt_address, &model, &compatible) : -1;
    line_start();
    if (rc != 0) {
        put_str("bad-fdt");
    } else {
        put_str("model=");
        if (model) put_bounded(model, 200); else put_str("<none>");
        line_end();
        line_start();
        put_str("compatible=");
        if (compatible) put_bounded(compatible, 200); else put_str("<none>");
    }
    line_end();
    line_start();
    put_str("done");
    line_end();
    while (*uart_reg(UART_FR) & UART_FR_BUSY) {
    }
    psci_system_off();
}
