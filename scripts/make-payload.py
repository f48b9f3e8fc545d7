#!/usr/bin/env python3
"""Write a deterministic, kernel-like payload for demos and tests.

The file starts with a valid arm64 Linux "Image" header (so `file` and U-Boot's
booti recognise it as one) and is followed by a mix of low-entropy "code",
NUL-separated strings and zero padding, so that it compresses roughly like a
real kernel (about 2:1 with gzip). The same arguments always give the same
bytes, on every machine: nothing is read from the system.

    python3 scripts/make-payload.py -o build/demo/Image            # 3 MiB
    python3 scripts/make-payload.py -o Image --size 512K --seed 7
"""

import argparse
import os
import struct
import sys

WORDS = (
    "Booting Linux on physical CPU", "Machine model:", "earlycon: pl11 at MMIO",
    "Memory: available", "psci: probing for conduit method from DT.",
    "GICv3: 256 SPIs implemented", "arch_timer: cp15 timer(s) running at",
    "clocksource: arch_sys_counter:", "Console: colour dummy device 80x25",
    "Calibrating delay loop (skipped), value calculated using timer frequency",
    "pid_max: default: 32768 minimum: 301", "Mount-cache hash table entries:",
    "rcu: Hierarchical SRCU implementation.", "smp: Bringing up secondary CPUs ...",
    "CPU features: detected: 32-bit EL0 Support", "devtmpfs: initialized",
    "NET: Registered PF_NETLINK/PF_ROUTE protocol family", "Serial: AMBA PL011 UART driver",
    "VFS: Mounted root (ext4 filesystem) on device", "Freeing unused kernel memory:",
    "Run /sbin/init as init process", "Kernel panic - not syncing:", "fdt", "initrd",
    "of_platform_populate", "clk_register", "irq_domain_add_linear", "kmalloc-128",
)


def xorshift32(state):
    """One step of Marsaglia's xorshift32: fast, portable, fully specified."""
    state ^= (state << 13) & 0xFFFFFFFF
    state ^= state >> 17
    state ^= (state << 5) & 0xFFFFFFFF
    return state


def parse_size(text):
    units = {"": 1, "K": 1024, "M": 1024 * 1024}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    suffix = text[-1] if text and text[-1] in "KM" else ""
    number = text[: len(text) - len(suffix)]
    if not number.isdigit():
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 4096, 512K, 3M)")
    size = int(number) * units[suffix]
    if size < 4096:
        raise argparse.ArgumentTypeError("size must be at least 4K")
    return size


def make_payload(size, seed):
    state = (seed * 2654435761 + 0x9E3779B9) & 0xFFFFFFFF or 1

    def rand():
        nonlocal state
        state = xorshift32(state)
        return state

    # "Instructions": 32-bit words whose top byte comes from a small set of
    # opcodes and whose other bits are partly masked, as in real AArch64 code.
    opcodes = (0x91, 0xF9, 0xB9, 0xAA, 0x94, 0x54, 0x52, 0x2A, 0xD6, 0xA9)
    pack_word = struct.Struct("<I").pack

    body = bytearray()
    body_size = size - 64
    while len(body) < body_size:
        kind = rand() % 10
        if kind < 6:  # code
            for _ in range(64 + rand() % 1024):
                word = rand()
                body += pack_word((opcodes[word % len(opcodes)] << 24) | (word & 0x001F07E0))
        elif kind < 9:  # strings, as in .rodata
            for _ in range(4 + rand() % 24):
                body += WORDS[rand() % len(WORDS)].encode() + b" %d\n\0"
        else:  # alignment padding
            body += bytes(4096 - len(body) % 4096)
    del body[body_size:]
    return arm64_image_header(size) + bytes(body)


def arm64_image_header(image_size):
    """The 64-byte arm64 Image header (Documentation/arch/arm64/booting.rst)
    of an Image of `image_size` bytes. bench/gen puts it on its payload too."""
    header = struct.pack(
        "<IIQQQQQQII",
        0x14000010,   # code0: b +0x40 (branch over the header)
        0,            # code1
        0,            # text_offset
        image_size,   # image_size
        0xA,          # flags: little endian, 4K pages, placed anywhere
        0, 0, 0,      # res2, res3, res4
        0x644D5241,   # magic "ARM\x64"
        0,            # res5 (no PE/COFF header)
    )
    assert len(header) == 64
    return header


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", required=True, help="file to write")
    parser.add_argument("--size", type=parse_size, default=3 * 1024 * 1024,
                        help="size in bytes, or with a K or M suffix (default 3M)")
    parser.add_argument("--seed", type=int, default=1, help="seed (default 1)")
    args = parser.parse_args(argv)
    data = make_payload(args.size, args.seed)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "wb") as out:
        out.write(data)
    print(f"make-payload: wrote {len(data)} bytes to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
