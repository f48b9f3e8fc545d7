// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `gzip`: one gzip member (RFC 1952) made by zlib, as U-Boot's gunzip wants:
/// header magic 1f 8b, method 8, mtime 0 and OS byte 3 so output is
/// reproducible. A raw zlib stream would be rejected by U-Boot. The decoder
/// reads one such member back.
///
/// Needs only zlib, which fitstream::core links.

#include <fitstream/codec.hpp>
#include <fitstream/detail/zlib.hpp>

#include <memory>

namespace fitstream {
namespace codec {

/// FIT `compression = "gzip"`.
struct gzip {
    static constexpr std::string_view fit_name = "gzip";
    struct options {
        int level = 6;  ///< 1 (fast) .. 9 (small); 6 is gzip's and pigz's default
    };

    class encoder {
    public:
        using char_type = char;
        encoder(const options& opts, std::uint64_t /*source_size*/)
            : deflater_(std::make_unique<detail::gzip_deflater>(opts.level)) {}

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            if (!flush) {
                deflater_->step(in, in_end, out, out_end, false);
                return true;
            }
            return deflater_->step(in, in_end, out, out_end, true);
        }
        void close() { deflater_->reset(); }

    private:
        // z_stream holds pointers to itself: keep it at a stable address.
        std::unique_ptr<detail::gzip_deflater> deflater_;
    };

    /// Reads one gzip member (zlib's inflate, gzip wrapper only) and checks
    /// its CRC-32 and size. Throws fitstream::error (zlib_category()) on
    /// corrupt or truncated input.
    class decoder {
    public:
        using char_type = char;
        decoder() : inflater_(std::make_unique<detail::gzip_inflater>()) {}

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            return inflater_->step(in, in_end, out, out_end, flush);
        }
        void close() { inflater_->reset(); }

    private:
        std::unique_ptr<detail::gzip_inflater> inflater_;
    };
};

static_assert(check_decodable_codec<gzip>());

}  // namespace codec
}  // namespace fitstream
