// SPDX-License-Identifier: MIT
#pragma once

// zlib behind RAII: the error category, a deflate stream that writes one
// gzip member and an inflate stream that reads one. Only this header
// includes <zlib.h>.

#include <fitstream/codec.hpp>
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

/// An inflate stream that accepts exactly one gzip member (windowBits
/// 15 + 16: the gzip wrapper only, as U-Boot's gunzip; a raw zlib stream is
/// rejected). Its window is fixed at 32 KiB whatever the input says.
class gzip_inflater {
public:
    gzip_inflater() { init(); }
    gzip_inflater(const gzip_inflater&) = delete;
    gzip_inflater& operator=(const gzip_inflater&) = delete;
    ~gzip_inflater() { inflateEnd(&stream_); }

    /// Decompresses as much as fits. Returns false once the member's trailer
    /// (CRC-32 and size, both checked by zlib) has been read.
    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
        if (done_) return false;
        const auto avail_in = static_cast<std::size_t>(in_end - in);
        const auto avail_out = static_cast<std::size_t>(out_end - out);
        stream_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
        stream_.avail_in = static_cast<uInt>(avail_in > UINT_MAX ? UINT_MAX : avail_in);
        stream_.next_out = reinterpret_cast<Bytef*>(out);
        stream_.avail_out = static_cast<uInt>(avail_out > UINT_MAX ? UINT_MAX : avail_out);
        const int rc = inflate(&stream_, Z_NO_FLUSH);
        const char* const new_in = reinterpret_cast<const char*>(stream_.next_in);
        char* const new_out = reinterpret_cast<char*>(stream_.next_out);
        const bool progress = new_in != in || new_out != out;
        in = new_in;
        out = new_out;
        switch (rc) {
            case Z_STREAM_END: done_ = true; return false;
            case Z_OK:
            case Z_BUF_ERROR:  // no progress possible with what it was given
                if (stall_.stalled(progress, flush, in != in_end, out != out_end))
                    throw error(std::error_code(Z_BUF_ERROR, zlib_category()), "gzip", "truncated data");
                return true;
            case Z_NEED_DICT:  // a gzip member never needs one
            case Z_DATA_ERROR: {
                std::string detail = "corrupt data";
                if (stream_.msg) detail += std::string(" (") + stream_.msg + ")";
                throw error(std::error_code(Z_DATA_ERROR, zlib_category()), "gzip", detail);
            }
            default: throw error(std::error_code(rc, zlib_category()), "gzip", "inflate failed");
        }
    }

    void reset() {
        if (inflateReset(&stream_) != Z_OK) throw error(std::error_code(Z_STREAM_ERROR, zlib_category()), "gzip");
        done_ = false;
        stall_.reset();
    }

private:
    void init() {
        stream_ = z_stream{};
        const int rc = inflateInit2(&stream_, 15 + 16);
        if (rc != Z_OK) throw error(std::error_code(rc, zlib_category()), "gzip", "cannot initialise inflate");
    }

    z_stream stream_{};
    bool done_ = false;
    stall_detector stall_;
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
