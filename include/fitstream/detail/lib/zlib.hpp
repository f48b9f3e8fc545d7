// SPDX-License-Identifier: MIT
#pragma once

// zlib behind RAII: the error category, an inflate stream that reads one
// gzip member, CRC-32 joining, and deflate_continue(), which makes
// libdeflate's whole DEFLATE streams into pieces of one. Only this header
// includes <zlib.h>.

#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/error.hpp>

#include <zlib.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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


/// CRC-32 of A followed by B, from crc(A), crc(B) and B's length.
inline std::uint32_t crc32_join(std::uint32_t crc_a, std::uint32_t crc_b, std::uint64_t size_b) noexcept {
    // z_off_t is 64 bits on the platforms we build for; pieces are small anyway.
    return static_cast<std::uint32_t>(::crc32_combine(crc_a, crc_b, static_cast<z_off_t>(size_b)));
}

/// Makes the complete raw DEFLATE stream at out[begin..] a piece that
/// another stream may follow: clears the BFINAL bit of its last block and
/// appends an empty stored block (00 00 ff ff, pigz's and zlib's sync flush
/// marker), which also brings the end to a byte boundary. The technique is
/// zlib's examples/gzjoin.c: DEFLATE does not say where a block starts, so
/// the stream is inflated with Z_BLOCK, which stops at every block boundary
/// and reports the unused bits of the last byte read. Inflating costs about
/// a fifth of what libdeflate spends compressing, and checks its output.
/// Throws fitstream::error (zlib_category()) if the stream is not one
/// complete raw DEFLATE stream.
inline void deflate_continue(std::vector<char>& out, std::size_t begin) {
    struct inflate_guard {
        z_stream stream{};
        ~inflate_guard() { inflateEnd(&stream); }
    } guard;
    z_stream& z = guard.stream;
    const int init = inflateInit2(&z, -15);  // raw DEFLATE
    if (init != Z_OK) throw error(std::error_code(init, zlib_category()), "gzip", "cannot initialise inflate");
    auto* const start = reinterpret_cast<Bytef*>(out.data() + begin);
    const std::size_t size = out.size() - begin;
    if (size > UINT_MAX) throw error(std::error_code(Z_STREAM_ERROR, zlib_category()), "gzip", "piece too large");
    z.next_in = start;
    z.avail_in = static_cast<uInt>(size);
    std::unique_ptr<Bytef[]> scratch(new Bytef[64 * 1024]);  // decoded bytes are not kept
    std::uint64_t last_header_bit = 0;  // where the most recent block header starts
    int end_pad = -1;                   // unused bits after the last block's end code
    for (;;) {
        z.next_out = scratch.get();
        z.avail_out = 64 * 1024;
        const int rc = inflate(&z, Z_BLOCK);
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK)
            throw error(std::error_code(rc == Z_BUF_ERROR ? Z_DATA_ERROR : rc, zlib_category()), "gzip",
                        "libdeflate produced an incomplete DEFLATE stream");
        // data_type: bits 0-2 unused bits of the last byte read, 64 in the
        // last block, 128 at a block boundary (after an end-of-block code).
        if (z.data_type & 128) {
            const auto used_bits = static_cast<std::uint64_t>(z.next_in - start) * 8 - (z.data_type & 7);
            if (z.data_type & 64)
                end_pad = z.data_type & 7;  // the last block just ended
            else
                last_header_bit = used_bits;  // the next block's header starts here
        }
    }
    if (z.avail_in != 0 || end_pad < 0)
        throw error(std::error_code(Z_DATA_ERROR, zlib_category()), "gzip",
                    "libdeflate produced an unexpected DEFLATE stream");
    auto* const bytes = reinterpret_cast<unsigned char*>(out.data() + begin);
    bytes[last_header_bit / 8] &= static_cast<unsigned char>(~(1u << (last_header_bit % 8)));
    // The padding after the last block becomes the start of an empty stored
    // block: 3 header bits 000 (not final, stored), then to a byte boundary,
    // then LEN 0000 and NLEN ffff. Three or more padding bits hold the
    // header; fewer need one more zero byte.
    if (end_pad > 0) bytes[size - 1] &= static_cast<unsigned char>(0xffu >> end_pad);
    if (end_pad < 3) out.push_back(0);
    out.insert(out.end(), {'\0', '\0', '\xff', '\xff'});
}

}  // namespace detail
}  // namespace fitstream
