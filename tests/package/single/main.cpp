// A consumer of the installed single header that leaves out every codec
// whose library it does not link: CMake's fitstream::single (asked for with
// COMPONENTS single zstd) defines FITSTREAM_NO_BZIP2, _LZMA, _LZO and _LZ4
// and links libfdt, zlib, libdeflate, libcrypto, the Boost headers and
// libzstd. It writes a FIT with a zstd and a gzip image, reads it back and
// checks what it decodes.
#include <fitstream/fitstream.hpp>

// The C headers of the codecs left out were not included either.
#if defined(BZ_OK) || defined(LZMA_VERSION) || defined(LZO_VERSION) || defined(LZ4F_VERSION)
#error "a codec left out with FITSTREAM_NO_<CODEC> still included its C library header"
#endif
#if !defined(FITSTREAM_NO_BZIP2) || !defined(FITSTREAM_NO_LZMA) || !defined(FITSTREAM_NO_LZO) || \
    !defined(FITSTREAM_NO_LZ4) || defined(FITSTREAM_NO_ZSTD)
#error "fitstream::single should define FITSTREAM_NO_BZIP2, _LZMA, _LZO and _LZ4, not FITSTREAM_NO_ZSTD"
#endif

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

int main() {
    try {
        if (fitstream::codec_names() != "none, gzip, zstd") {
            std::cerr << "consumer_single: builtin codecs are " << fitstream::codec_names() << '\n';
            return 1;
        }
        std::vector<char> payload;
        for (int i = 0; i < 300000; ++i)
            payload.push_back(static_cast<char>("fitstream "[i % 10] + i / 7919 % 3));

        fitstream::tree fit;
        fit.description = "single-header consumer";
        fit.timestamp = 0;
        auto& kernel =
            fit.images.emplace_back("kernel", "kernel_noload", fitstream::source::memory(payload, "kernel"));
        kernel.arch = "arm64";
        kernel.os = "linux";
        kernel.load = 0;
        kernel.entry = 0;
        kernel.compress_with<fitstream::codec::zstd>().add_hash<fitstream::hash::sha256>();
        auto& ramdisk = fit.images.emplace_back("ramdisk", "ramdisk", fitstream::source::memory(payload, "ramdisk"));
        ramdisk.arch = "arm64";
        ramdisk.os = "linux";
        ramdisk.compress_with<fitstream::codec::gzip>().add_hash<fitstream::hash::crc32>();
        auto& conf = fit.configurations.emplace_back();
        conf.name = "conf-1";
        conf.kernel = "kernel";
        conf.ramdisk = "ramdisk";

        const std::string path = "consumer_single.fit";
        fitstream::write_fit(fit, path);

        const fitstream::reader back(path);
        const auto problems = back.verify();
        for (const auto& p : problems) std::cerr << "consumer_single: " << p.subject << ": " << p.message << '\n';
        if (!problems.empty()) return 1;
        for (const char* name : {"kernel", "ramdisk"}) {
            const auto* img = back.find_image(name);
            std::string decoded;
            if (img) back.read_decoded(*img, [&](const char* p, std::size_t n) { decoded.append(p, n); });
            if (!img || decoded != std::string(payload.begin(), payload.end())) {
                std::cerr << "consumer_single: " << name << " did not round-trip\n";
                return 1;
            }
            std::cout << "consumer_single: " << name << ": " << img->compression << ", " << img->size
                      << " bytes stored\n";
        }
        // A codec left out is an unknown compression, like any other name.
        try {
            fitstream::visit_codec("lz4", [](auto) {});
            std::cerr << "consumer_single: lz4 was accepted\n";
            return 1;
        } catch (const fitstream::error& e) {
            std::cout << "consumer_single: " << e.what() << '\n';
        }
        std::remove(path.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "consumer_single: " << e.what() << '\n';
        return 1;
    }
}
