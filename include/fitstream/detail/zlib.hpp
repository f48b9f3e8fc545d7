// SPDX-License-Identifier: MIT
#pragma once

// zlib behind RAII: the error category and a deflate stream that writes one
// gzip member. Only this header includes <zlib.h>.

#include <fitstream/error.hpp>

#include <zlib.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <string>

namespace fitstream {

namespace detail {
struct zlib_traits {
    static constexpr const char* name = "zlib";
    static std::string message(int ev) {
        const char* text = zError(ev);
        return text ? text : "unknown zlib error";
    }
};
}  // namespace detail

/// Errors reported by zlib (Z_MEM_ERROR, Z_STREAM_ERROR, ...).
inline const std::error_category& zlib_category() noexcept {
    static const detail::library_category_impl<detail::zlib_traits> instance;
    return instance;
}

namespace detail {

/// A z_stream set up for deflate into a gzip wrapper with a fixed header:
/// mtime 0, no name, OS byte 3 (Unix), so equal input gives equal output.
class gzip_deflater {
public:
    explicit gzip_deflater(int level) : level_(level) { init(); }
    gzip_deflater(const gzip_deflater&) = delete;
    gzip_deflater& operator=(const gzip_deflater&) = delete;
    ~gzip_deflater() { deflateEnd(&stream_); }

    /// Compresses as much of [in, in_end) into [out, out_end) as fits. With
    /// finish, returns false once the gzip trailer is out.
    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool finish) {
        // zlib counts in uInt; feed at most UINT_MAX per call on 64-bit.
        const auto avail_in = static_cast<std::size_t>(in_end - in);
        const auto avail_out = static_cast<std::size_t>(out_end - out);
        stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
        stream_.avail_in = static_cast<uInt>(avail_in > UINT_MAX ? UINT_MAX : avail_in);
        stream_.next_out = reinterpret_cast<Bytef*>(out);
        stream_.avail_out = static_cast<uInt>(avail_out > UINT_MAX ? UINT_MAX : avail_out);
        const bool feeding_all = stream_.avail_in == avail_in;
        const int rc = deflate(&stream_, finish && feeding_all ? Z_FINISH : Z_NO_FLUSH);
        in = reinterpret_cast<const char*>(stream_.next_in);
        out = reinterpret_cast<char*>(stream_.next_out);
        if (rc == Z_STREAM_END) return false;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            throw error(std::error_code(rc, zlib_category()), "gzip", "deflate failed");
        return true;
    }

    void reset() {
        if (deflateReset(&stream_) != Z_OK) throw error(std::error_code(Z_STREAM_ERROR, zlib_category()), "gzip");
        set_header();
    }

private:
    void init() {
        stream_ = z_stream{};
        // windowBits 15 + 16 selects the gzip wrapper; memLevel 8 is zlib's default.
        const int rc = deflateInit2(&stream_, level_, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
        if (rc != Z_OK) throw error(std::error_code(rc, zlib_category()), "gzip", "cannot initialise deflate");
        set_header();
    }
    void set_header() {
        header_ = gz_header{};
        header_.os = 3;  // Unix, whatever the build host
        if (deflateSetHeader(&stream_, &header_) != Z_OK)
            throw error(std::error_code(Z_STREAM_ERROR, zlib_category()), "gzip", "cannot set header");
    }

    int level_;
    z_stream stream_{};
    gz_header header_{};
};

/// CRC-32 (IEEE 802.3, as zlib and U-Boot compute it).
inline std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t size) {
    const auto* p = static_cast<const Bytef*>(data);
    uLong value = crc;
    while (size > 0) {
        const auto n = static_cast<uInt>(size > UINT_MAX ? UINT_MAX : size);
        value = ::crc32(value, p, n);
        p += n;
        size -= n;
    }
    return static_cast<std::uint32_t>(value);
}

}  // namespace detail
}  // namespace fitstream
