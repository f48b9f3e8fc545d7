// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `gzip`: one gzip member (RFC 1952) made by zlib, as U-Boot's gunzip wants:
/// header magic 1f 8b, method 8, mtime 0 and OS byte 3 so output is
/// reproducible. A raw zlib stream would be rejected by U-Boot.

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
};

static_assert(check_codec<gzip>());

}  // namespace codec
}  // namespace fitstream
