// SPDX-License-Identifier: MIT
//
// custom_codec: a codec policy of your own, plugged into the writer at
// compile time with image::compress_with<C>().
//
//     custom_codec Image board.dtb image.fit
//
// `counting_gzip` writes exactly what codec::gzip writes (it delegates to its
// encoder) and counts the bytes going in and coming out, so a build tool can
// report compression ratios without a second pass. The same shape serves
// any codec: a struct with
//   - `fit_name`: the FIT `compression` value. U-Boot picks its decoder by
//     this name, so it must be one U-Boot knows ("gzip" here) and the bytes
//     must be that container exactly;
//   - `options`: default-constructible knobs, copied into each image;
//   - `encoder`: a Boost.Iostreams SymmetricFilter, constructed from
//     (const options&, source size) once per image and payload;
//   - optionally `decoder`, for the read side (fitstream::reader).
// fitstream::check_codec<C>() checks all of that with one readable message.

#include <fitstream/fitstream.hpp>

#include <cstdint>
#include <iomanip>
#include <iostream>
#include <string>

namespace {

/// Bytes that went through one image's encoder.
struct byte_counts {
    std::uint64_t in = 0;
    std::uint64_t out = 0;
};

/// gzip, counted.
struct counting_gzip {
    static constexpr std::string_view fit_name = fitstream::codec::gzip::fit_name;  // "gzip"

    struct options {
        int level = 9;                  ///< passed on to codec::gzip
        byte_counts* counts = nullptr;  ///< where to add up the bytes; may be null
    };

    class encoder {
    public:
        using char_type = char;
        encoder(const options& opts, std::uint64_t source_size)
            : inner_(fitstream::codec::gzip::options{opts.level}, source_size), counts_(opts.counts) {}

        // The SymmetricFilter step: let gzip advance `in` and `out`, then
        // count how far each moved.
        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            const char* const in_start = in;
            char* const out_start = out;
            const bool more = inner_.filter(in, in_end, out, out_end, flush);
            if (counts_) {
                counts_->in += static_cast<std::uint64_t>(in - in_start);
                counts_->out += static_cast<std::uint64_t>(out - out_start);
            }
            return more;
        }
        void close() { inner_.close(); }

    private:
        fitstream::codec::gzip::encoder inner_;
        byte_counts* counts_;
    };

    // The bytes are plain gzip, so gzip's decoder reads them back.
    using decoder = fitstream::codec::gzip::decoder;
};

// The one place the concept is checked (compress_with<> checks it again).
static_assert(fitstream::check_decodable_codec<counting_gzip>());

void report(const char* what, const byte_counts& c) {
    std::cerr << what << ": " << c.in << " bytes in, " << c.out << " bytes out";
    if (c.in) std::cerr << std::fixed << std::setprecision(1) << " (" << 100.0 * c.out / c.in << "%)";
    std::cerr << "\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: " << argv[0] << " KERNEL BOARD.dtb OUTPUT.fit\n";
        return 2;
    }
    try {
        byte_counts kernel_counts, fdt_counts;  // outlive write_fit(), which fills them

        fitstream::tree fit;
        fit.description = "Linux with a counted gzip codec";
        fit.timestamp = fitstream::source_date_epoch().value_or(0);

        auto& kernel = fit.images.emplace_back("kernel", "kernel_noload", fitstream::source::file(argv[1]));
        kernel.description = "Linux kernel";
        kernel.arch = "arm64";
        kernel.os = "linux";
        kernel.load = 0;
        kernel.entry = 0;
        kernel.compress_with<counting_gzip>({6, &kernel_counts}).add_hash<fitstream::hash::sha256>();

        auto& fdt = fit.images.emplace_back("fdt-1", "flat_dt", fitstream::source::file(argv[2]));
        fdt.description = "devicetree";
        fdt.arch = "arm64";
        fdt.compress_with<counting_gzip>({9, &fdt_counts}).add_hash<fitstream::hash::crc32>();

        fitstream::configuration conf;
        conf.name = "conf-1";
        const fitstream::dtb_info info = fitstream::inspect_dtb_file(argv[2]);
        conf.description = info.model.value_or("board");
        conf.compatible = info.compatible;
        conf.kernel = "kernel";
        conf.fdt = {"fdt-1"};
        fit.configurations.push_back(std::move(conf));
        fit.default_configuration = "conf-1";

        const auto result = fitstream::write_fit(fit, argv[3]);

        // The counts agree with what the writer stored.
        report("kernel", kernel_counts);
        report("fdt-1", fdt_counts);
        if (kernel_counts.out != result.images[0].stored_size || fdt_counts.out != result.images[1].stored_size) {
            std::cerr << "custom_codec: counted bytes disagree with the writer's\n";
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "custom_codec: " << e.what() << "\n";
        return 1;
    }
}
