// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `none`: stores the bytes as they are.

#include <fitstream/codec/concept.hpp>

#include <algorithm>
#include <cstring>

namespace fitstream {
namespace codec {

/// The identity codec: FIT `compression = "none"`.
struct none {
    static constexpr std::string_view fit_name = "none";
    struct options {};

    class encoder {
    public:
        using char_type = char;
        encoder(const options&, std::uint64_t) {}

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            const std::ptrdiff_t n = std::min(in_end - in, out_end - out);
            if (n > 0) {
                std::memcpy(out, in, static_cast<std::size_t>(n));
                in += n;
                out += n;
            }
            return !flush || in != in_end;
        }
        void close() {}
    };

    /// Copies the bytes back out; there is nothing to be corrupt.
    class decoder {
    public:
        using char_type = char;
        decoder() = default;

        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            const std::ptrdiff_t n = std::min(in_end - in, out_end - out);
            if (n > 0) {
                std::memcpy(out, in, static_cast<std::size_t>(n));
                in += n;
                out += n;
            }
            return !flush || in != in_end;
        }
        void close() {}
    };
};

static_assert(check_decodable_codec<none>());

}  // namespace codec
}  // namespace fitstream
