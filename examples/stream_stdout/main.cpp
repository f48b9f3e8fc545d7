// SPDX-License-Identifier: MIT
//
// stream_stdout: builds a FIT from a payload generated in memory and a DTB
// file, and streams it to standard output, for a pipeline:
//
//     stream_stdout board.dtb | ssh target 'cat > /boot/image.fit'
//
// The payload here is a tiny initramfs (a "newc" cpio archive holding one
// /init script) assembled in memory, as a build tool that generates its
// images would; it goes into the tree with source::memory, without a
// temporary file. The DTB stays a file and is read, in chunks, only while
// the FIT is written.
//
// fitstream::fd_sink writes to any descriptor, seekable or not: the writer
// needs random access (payloads first, the structure once the hashes are
// known), so fd_sink spools into an unnamed temporary file and copies it to
// the descriptor at the end. A pipe receives exactly the bytes a file would.
//
// This example needs only fitstream::core (codecs none and gzip, hashes).

#include <fitstream/codec/gzip.hpp>
#include <fitstream/hash/sha.hpp>
#include <fitstream/input/dtb.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/tree.hpp>
#include <fitstream/writer.hpp>

#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

namespace {

/// Appends one entry of a "newc" cpio archive (what the kernel unpacks as
/// an initramfs): a 110-byte ASCII header, the name, the data, each padded
/// to 4 bytes. mtime 0 keeps the archive reproducible.
void add_cpio_entry(std::vector<char>& out, const std::string& name, unsigned mode, const std::string& data) {
    static unsigned inode = 1;
    const unsigned fields[13] = {inode++, mode, 0, 0, 1, 0, static_cast<unsigned>(data.size()), 0, 0, 0, 0,
                                 static_cast<unsigned>(name.size() + 1), 0};
    char header[111];
    int n = std::snprintf(header, sizeof header, "070701");
    for (const unsigned f : fields) n += std::snprintf(header + n, sizeof header - n, "%08X", f);
    out.insert(out.end(), header, header + n);
    out.insert(out.end(), name.c_str(), name.c_str() + name.size() + 1);
    while (out.size() % 4) out.push_back('\0');
    out.insert(out.end(), data.begin(), data.end());
    while (out.size() % 4) out.push_back('\0');
}

std::vector<char> make_initramfs() {
    std::vector<char> cpio;
    add_cpio_entry(cpio, "init", 0100755, "#!/bin/sh\necho 'hello from a generated initramfs'\nexec /bin/sh\n");
    add_cpio_entry(cpio, "TRAILER!!!", 0, "");
    return cpio;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::cerr << "usage: " << argv[0] << " BOARD.dtb > image.fit\n";
        return 2;
    }
    if (::isatty(STDOUT_FILENO)) {
        std::cerr << "stream_stdout: standard output is a terminal; redirect it to a file or a pipe\n";
        return 2;
    }
    const std::string dtb_path = argv[1];

    try {
        fitstream::tree fit;
        fit.description = "Generated initramfs with devicetree";
        fit.timestamp = 0;  // fixed: the same inputs always stream the same bytes

        // The generated payload: owned by the source (copies share it).
        // Stored uncompressed: U-Boot does not decompress FIT ramdisks (the
        // kernel does, for a compressed initramfs).
        auto& ramdisk = fit.images.emplace_back("ramdisk", "ramdisk",
                                                fitstream::source::memory(make_initramfs(), "<initramfs>"));
        ramdisk.description = "Generated initramfs";
        ramdisk.arch = "arm64";
        ramdisk.os = "linux";
        ramdisk.add_hash<fitstream::hash::sha256>();

        // The devicetree: a file, gzip-compressed on the way through.
        auto& fdt = fit.images.emplace_back("fdt-1", "flat_dt", fitstream::source::file(dtb_path));
        fdt.description = dtb_path.substr(dtb_path.rfind('/') + 1);
        fdt.arch = "arm64";
        fdt.compress_with<fitstream::codec::gzip>().add_hash<fitstream::hash::sha256>();

        const fitstream::dtb_info info = fitstream::inspect_dtb_file(dtb_path);
        fitstream::configuration conf;
        conf.name = "conf-1";
        conf.description = info.model.value_or(fdt.description);
        conf.compatible = info.compatible;
        conf.fdt = {"fdt-1"};
        conf.ramdisk = "ramdisk";
        fit.configurations.push_back(std::move(conf));
        fit.default_configuration = "conf-1";

        // Embedded data (the default layout), streamed to descriptor 1.
        fitstream::fd_sink out(STDOUT_FILENO, "<stdout>");
        const auto result = fitstream::write_fit(fit, out);
        std::cerr << "stream_stdout: wrote " << result.total_size << " bytes\n";
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "stream_stdout: " << e.what() << "\n";
        return 1;
    }
}
