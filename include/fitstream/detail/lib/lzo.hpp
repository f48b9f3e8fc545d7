// SPDX-License-Identifier: MIT
#pragma once

// liblzo2 behind RAII, inside the lzop file format that U-Boot's `lzo`
// decompression reads: the error category, the pieces of an lzop file
// (codec::lzo's segments put them together) and an lzop reader. Only this
// header includes <lzo/...>.
//
// What U-Boot's lzop_decompress (lib/lzo/lzo1x_decompress.c) accepts, and
// therefore what the writer produces:
//  - magic 89 4c 5a 4f 00 0d 0a 1a 0a; then version, library version,
//    version-needed and method are skipped without a look (7 bytes, so the
//    version-needed field is assumed present: version >= 0x0940); a level
//    byte and mtime_high follow only when version >= 0x0940;
//  - flags: only F_H_FILTER is looked at (its 4-byte field is skipped, the
//    filter is NOT undone); an extra field (F_H_EXTRA_FIELD) is not
//    understood and would derail the parser; mode, mtimes and name are
//    skipped; the header checksum is skipped, never checked;
//  - each block: u32 uncompressed size (0 ends the stream), u32 compressed
//    size, then EXACTLY ONE 4-byte checksum word is skipped. So the file
//    must carry one checksum of the uncompressed data (F_ADLER32_D or
//    F_CRC32_D) and no checksum of the compressed data (F_ADLER32_C /
//    F_CRC32_C add a second word to compressed blocks); no checksum at all
//    would derail it too. Nothing is verified;
//  - compressed size must be 1..uncompressed size; equal sizes mean a stored
//    block, copied as is (releases before that fix ran the LZO decoder on
//    stored blocks and failed).
// lzop 1.04's default output fits exactly: version 0x1040, needs 0x0940,
// flags F_ADLER32_D | F_OS_UNIX (plus F_STDIN/F_STDOUT, which nobody reads),
// 256 KiB blocks, incompressible blocks stored. The writer makes the same
// with mode 0, mtime 0, no name and no F_STDIN/F_STDOUT, so output depends
// on the input alone.

#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/error.hpp>

#include <lzo/lzo1x.h>
#include <lzo/lzoconf.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

namespace fitstream {

namespace detail {
struct lzo_traits {
    static constexpr const char* name = "lzo";
    static std::string message(int ev) {
        switch (ev) {
            case LZO_E_OK: return "success";
            case LZO_E_ERROR: return "error";
            case LZO_E_OUT_OF_MEMORY: return "out of memory";
            case LZO_E_NOT_COMPRESSIBLE: return "not compressible";
            case LZO_E_INPUT_OVERRUN: return "input overrun";
            case LZO_E_OUTPUT_OVERRUN: return "output overrun";
            case LZO_E_LOOKBEHIND_OVERRUN: return "lookbehind overrun";
            case LZO_E_EOF_NOT_FOUND: return "end of stream not found";
            case LZO_E_INPUT_NOT_CONSUMED: return "input not consumed";
            case LZO_E_NOT_YET_IMPLEMENTED: return "not implemented";
            case LZO_E_INVALID_ARGUMENT: return "invalid argument";
            case LZO_E_INVALID_ALIGNMENT: return "invalid alignment";
            case LZO_E_OUTPUT_NOT_CONSUMED: return "output not consumed";
            case LZO_E_INTERNAL_ERROR: return "internal error";
            default: return "unknown liblzo2 error";
        }
    }
};
}  // namespace detail

/// Errors reported by liblzo2 (LZO_E_* values), and by the lzop container
/// around it.
inline const std::error_category& lzo_category() noexcept {
    static const detail::library_category_impl<detail::lzo_traits> instance;
    return instance;
}

namespace detail {

[[noreturn]] inline void throw_lzo(int rc, const std::string& what) {
    throw error(std::error_code(rc, lzo_category()), "lzo", what);
}

// The lzop file format (lzop 1.04's conf.h and lzop.c).
namespace lzop {
inline constexpr unsigned char magic[9] = {0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a};
inline constexpr std::uint16_t version = 0x1040;         // the lzop release whose output we mirror
inline constexpr std::uint16_t version_needed = 0x0940;  // first version with level and mtime_high
inline constexpr std::uint8_t m_lzo1x_1 = 1;
inline constexpr std::uint8_t m_lzo1x_1_15 = 2;
inline constexpr std::uint8_t m_lzo1x_999 = 3;
inline constexpr std::uint32_t f_adler32_d = 0x00000001;
inline constexpr std::uint32_t f_adler32_c = 0x00000002;
inline constexpr std::uint32_t f_h_extra_field = 0x00000040;
inline constexpr std::uint32_t f_crc32_d = 0x00000100;
inline constexpr std::uint32_t f_crc32_c = 0x00000200;
inline constexpr std::uint32_t f_multipart = 0x00000400;
inline constexpr std::uint32_t f_h_filter = 0x00000800;
inline constexpr std::uint32_t f_h_crc32 = 0x00001000;
inline constexpr std::uint32_t f_os_unix = 0x03000000;
// Bits lzop itself refuses (not a flag, an OS or a character set).
inline constexpr std::uint32_t f_reserved = ~(0x00003fffu | 0xff000000u | 0x00f00000u);
inline constexpr std::size_t block_size = 256 * 1024;  // lzop's default
// lzop's own MAX_BLOCK_SIZE: the most a reader allocates for one block.
inline constexpr std::uint32_t max_block_size = 64u * 1024 * 1024;
}  // namespace lzop

inline std::uint32_t lzo_adler32_of(const unsigned char* p, std::size_t n) {
    return static_cast<std::uint32_t>(lzo_adler32(1, p, static_cast<lzo_uint>(n)));
}
inline std::uint32_t lzo_crc32_of(const unsigned char* p, std::size_t n) {
    return static_cast<std::uint32_t>(lzo_crc32(0, p, static_cast<lzo_uint>(n)));
}
// lzop's header fields are big-endian. libfdt's fdt32_ld would do, but it
// would make libfdt a dependency of this codec, which has none.
inline std::uint32_t load_be32(const unsigned char* p) noexcept {
    return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
           static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}
inline std::uint16_t load_be16(const unsigned char* p) noexcept {
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}

inline void lzo_initialise() {
    // Checks that the library and this build agree on type sizes; cheap.
    if (lzo_init() != LZO_E_OK) throw_lzo(LZO_E_ERROR, "liblzo2 initialisation failed");
}

/// How lzop's -1 .. -9 compress: 1 is LZO1X-1(15), 2..6 LZO1X-1 (level
/// byte 5, as lzop writes for them), 7..9 LZO1X-999 at that level.
struct lzop_method {
    std::uint8_t method = lzop::m_lzo1x_1;
    std::uint8_t level_byte = 5;
    std::size_t work_size = LZO1X_1_MEM_COMPRESS;

    static lzop_method for_level(int level) {
        if (level == 1) return {lzop::m_lzo1x_1_15, 1, LZO1X_1_15_MEM_COMPRESS};
        if (level >= 2 && level <= 6) return {lzop::m_lzo1x_1, 5, LZO1X_1_MEM_COMPRESS};
        if (level >= 7 && level <= 9)
            return {lzop::m_lzo1x_999, static_cast<std::uint8_t>(level), LZO1X_999_MEM_COMPRESS};
        throw_lzo(LZO_E_INVALID_ARGUMENT, "bad level (valid: 1..9)");
    }
};

/// The pieces of the lzop file described at the top of this file; blocks
/// are independent, so they can be made on any thread.
namespace lzop_file {

inline constexpr std::size_t compress_bound(std::size_t n) { return n + n / 16 + 64 + 3; }

inline void put_be32(std::uint32_t v, char* p) noexcept {
    for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (24 - 8 * i));
}

/// Appends the file header: mode 0, mtime 0, no name, one Adler-32 of the
/// data per block.
inline void header(const lzop_method& m, std::vector<char>& out) {
    unsigned char h[9 + 2 + 2 + 2 + 1 + 1 + 4 + 4 + 4 + 4 + 1];
    std::size_t n = 0;
    auto put8 = [&](std::uint32_t v) { h[n++] = static_cast<unsigned char>(v); };
    auto put16 = [&](std::uint32_t v) { put8(v >> 8), put8(v); };
    auto put32 = [&](std::uint32_t v) { put16(v >> 16), put16(v); };
    for (unsigned char b : lzop::magic) put8(b);
    put16(lzop::version);
    put16(LZO_VERSION & 0xffff);
    put16(lzop::version_needed);
    put8(m.method);
    put8(m.level_byte);
    put32(lzop::f_adler32_d | lzop::f_os_unix);
    put32(0);  // mode
    put32(0);  // mtime_low
    put32(0);  // mtime_high
    put8(0);   // name length
    out.insert(out.end(), h, h + n);
    // The header checksum covers everything after the magic.
    const std::size_t at = out.size();
    out.resize(at + 4);
    put_be32(lzo_adler32_of(h + sizeof lzop::magic, n - sizeof lzop::magic), out.data() + at);
}

/// Appends [in, in + size) as lzop blocks of lzop::block_size (nothing
/// when size is 0: a zero size word ends the file). `work` holds
/// m.work_size bytes, used by one thread at a time.
inline void blocks(const lzop_method& m, unsigned char* work, const char* in, std::size_t size,
                   std::vector<char>& out) {
    while (size > 0) {
        const std::size_t n = std::min(size, lzop::block_size);
        const auto* src = reinterpret_cast<const unsigned char*>(in);
        const std::size_t at = out.size();
        out.resize(at + 12 + compress_bound(n));
        auto* const dst = reinterpret_cast<unsigned char*>(out.data() + at + 12);
        lzo_uint packed = 0;
        int rc = LZO_E_ERROR;
        switch (m.method) {
            case lzop::m_lzo1x_1_15: rc = lzo1x_1_15_compress(src, n, dst, &packed, work); break;
            case lzop::m_lzo1x_1: rc = lzo1x_1_compress(src, n, dst, &packed, work); break;
            default:
                rc = lzo1x_999_compress_level(src, n, dst, &packed, work, nullptr, 0, nullptr, m.level_byte);
                break;
        }
        if (rc != LZO_E_OK) throw_lzo(rc, "compression failed");
        const bool stored = packed >= n;  // as lzop: never store a block that grew
        put_be32(static_cast<std::uint32_t>(n), out.data() + at);
        put_be32(static_cast<std::uint32_t>(stored ? n : packed), out.data() + at + 4);
        put_be32(lzo_adler32_of(src, n), out.data() + at + 8);
        if (stored) std::memcpy(dst, src, n);
        out.resize(at + 12 + (stored ? n : packed));
        in += n;
        size -= n;
    }
}

/// Appends the end of the file.
inline void end(std::vector<char>& out) { out.insert(out.end(), 4, '\0'); }

}  // namespace lzop_file

/// Reads one lzop file: any LZO1X method, every checksum lzop can write
/// (header Adler-32 or CRC-32, per-block Adler-32/CRC-32 of the data and of
/// the compressed data), all verified. Refused, as U-Boot cannot use them:
/// filters, extra header fields, multipart files. No block may claim more
/// than lzop's own 64 MiB limit; block buffers grow only as data arrives,
/// except the one output buffer of the block's stated size.
class lzop_decompressor {
public:
    lzop_decompressor() { lzo_initialise(); }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
        for (;;) {
            queue_.drain(out, out_end);
            if (!queue_.empty()) return true;  // the window is full
            if (state_ == state::done) return false;
            if (!advance(in, in_end)) break;   // needs more input
        }
        if (flush) throw_lzo(LZO_E_INPUT_OVERRUN, "truncated data");
        return true;
    }

    void reset() {
        state_ = state::magic;
        buf_.clear();
        checks_.clear();
        block_.clear();
        queue_.clear();
    }

private:
    enum class state { magic, fixed, rest, name, block_size, block_packed, block_checks, block_data, done };

    // Appends input to `to` until it holds `size` bytes; true once it does.
    static bool gather(std::vector<unsigned char>& to, std::size_t size, const char*& in, const char* in_end) {
        const std::size_t n = std::min(size - to.size(), static_cast<std::size_t>(in_end - in));
        to.insert(to.end(), reinterpret_cast<const unsigned char*>(in), reinterpret_cast<const unsigned char*>(in) + n);
        in += n;
        return to.size() == size;
    }

    // Takes one step through the format; false when input ran out first.
    bool advance(const char*& in, const char* in_end) {
        switch (state_) {
            case state::magic:  // magic and version
                if (!gather(buf_, 11, in, in_end)) return false;
                if (!std::equal(std::begin(lzop::magic), std::end(lzop::magic), buf_.begin()))
                    throw_lzo(LZO_E_ERROR, "not an lzop file");
                version_ = load_be16(&buf_[9]);
                if (version_ < 0x0900) throw_lzo(LZO_E_ERROR, "lzop file version too old");
                // library version, [version needed], method, [level], flags
                want_ = 11 + 2 + (new_format() ? 2 : 0) + 1 + (new_format() ? 1 : 0) + 4;
                state_ = state::fixed;
                return true;
            case state::fixed: {
                if (!gather(buf_, want_, in, in_end)) return false;
                std::size_t at = 13;
                if (new_format()) {
                    const std::uint16_t needed = load_be16(&buf_[at]);
                    at += 2;
                    if (needed < 0x0900 || needed > lzop::version)
                        throw_lzo(LZO_E_ERROR, "lzop file needs an unknown lzop version");
                }
                const std::uint8_t method = buf_[at++];
                if (method != lzop::m_lzo1x_1 && method != lzop::m_lzo1x_1_15 && method != lzop::m_lzo1x_999)
                    throw_lzo(LZO_E_NOT_YET_IMPLEMENTED, "lzop method " + std::to_string(method) + " is not LZO1X");
                if (new_format()) ++at;  // level: the decoder does not need it
                flags_ = load_be32(&buf_[at]);
                if (flags_ & lzop::f_reserved) throw_lzo(LZO_E_ERROR, "lzop header has unknown flags");
                if (flags_ & (lzop::f_h_filter | lzop::f_h_extra_field | lzop::f_multipart))
                    throw_lzo(LZO_E_NOT_YET_IMPLEMENTED,
                              "lzop filters, extra fields and multipart files are not supported");
                // mode, mtime_low, [mtime_high], name length
                want_ += 4 + 4 + (new_format() ? 4 : 0) + 1;
                state_ = state::rest;
                return true;
            }
            case state::rest:
                if (!gather(buf_, want_, in, in_end)) return false;
                want_ += buf_.back() + 4u;  // the name, then the header checksum
                state_ = state::name;
                return true;
            case state::name: {
                if (!gather(buf_, want_, in, in_end)) return false;
                const unsigned char* covered = buf_.data() + sizeof lzop::magic;
                const std::size_t covered_size = buf_.size() - sizeof lzop::magic - 4;
                const std::uint32_t sum = (flags_ & lzop::f_h_crc32) ? lzo_crc32_of(covered, covered_size)
                                                                     : lzo_adler32_of(covered, covered_size);
                if (sum != load_be32(&buf_[buf_.size() - 4])) throw_lzo(LZO_E_ERROR, "lzop header checksum mismatch");
                buf_.clear();
                state_ = state::block_size;
                return true;
            }
            case state::block_size:
                if (!gather(buf_, 4, in, in_end)) return false;
                size_ = load_be32(buf_.data());
                buf_.clear();
                if (size_ == 0) {
                    state_ = state::done;
                    return true;
                }
                if (size_ > lzop::max_block_size) throw_lzo(LZO_E_ERROR, "lzop block larger than 64 MiB");
                state_ = state::block_packed;
                return true;
            case state::block_packed: {
                if (!gather(buf_, 4, in, in_end)) return false;
                packed_ = load_be32(buf_.data());
                buf_.clear();
                if (packed_ == 0 || packed_ > size_) throw_lzo(LZO_E_ERROR, "corrupt data (bad block size)");
                // Checksums of the data; of the compressed data only when it is.
                want_ = 4u * ((flags_ & lzop::f_adler32_d ? 1 : 0) + (flags_ & lzop::f_crc32_d ? 1 : 0));
                if (packed_ < size_)
                    want_ += 4u * ((flags_ & lzop::f_adler32_c ? 1 : 0) + (flags_ & lzop::f_crc32_c ? 1 : 0));
                state_ = state::block_checks;
                return true;
            }
            case state::block_checks:
                if (!gather(checks_, want_, in, in_end)) return false;
                state_ = state::block_data;
                return true;
            case state::block_data:
                if (!gather(block_, packed_, in, in_end)) return false;
                decode_block();
                checks_.clear();
                block_.clear();
                state_ = state::block_size;
                return true;
            case state::done: return false;
        }
        return false;
    }

    void decode_block() {
        // Checksum words in file order: of the data (Adler-32, CRC-32), then
        // of the compressed data, present for compressed blocks only.
        const bool packed = packed_ < size_;
        const unsigned char* word = checks_.data();
        auto take = [&](bool present) -> std::uint32_t {
            if (!present) return 0;
            const std::uint32_t v = load_be32(word);
            word += 4;
            return v;
        };
        const std::uint32_t d_adler = take(flags_ & lzop::f_adler32_d);
        const std::uint32_t d_crc = take(flags_ & lzop::f_crc32_d);
        const std::uint32_t c_adler = take(packed && (flags_ & lzop::f_adler32_c));
        const std::uint32_t c_crc = take(packed && (flags_ & lzop::f_crc32_c));
        auto check = [&](std::uint32_t flag, std::uint32_t expected, std::uint32_t (*sum)(const unsigned char*,
                                                                                           std::size_t),
                         const unsigned char* p, std::size_t n) {
            if ((flags_ & flag) && sum(p, n) != expected)
                throw_lzo(LZO_E_ERROR, "corrupt data (block checksum mismatch)");
        };

        const unsigned char* data = block_.data();
        if (packed) {
            check(lzop::f_adler32_c, c_adler, lzo_adler32_of, data, packed_);
            check(lzop::f_crc32_c, c_crc, lzo_crc32_of, data, packed_);
            unsigned char* room = queue_.reserve(size_);  // the queue is empty here
            lzo_uint produced = size_;
            const int rc = lzo1x_decompress_safe(data, packed_, room, &produced, nullptr);
            if (rc != LZO_E_OK) throw_lzo(rc, "corrupt data");
            if (produced != size_) throw_lzo(LZO_E_ERROR, "corrupt data (block decodes to the wrong size)");
            data = room;
        }
        check(lzop::f_adler32_d, d_adler, lzo_adler32_of, data, size_);
        check(lzop::f_crc32_d, d_crc, lzo_crc32_of, data, size_);
        if (packed) {
            queue_.commit(size_);
        } else {
            queue_.append(data, size_);  // a stored block
        }
    }

    bool new_format() const noexcept { return version_ >= 0x0940; }

    state state_ = state::magic;
    std::vector<unsigned char> buf_;     // header, then each block's size fields
    std::vector<unsigned char> checks_;  // one block's checksum words
    std::vector<unsigned char> block_;   // one block's stored bytes, as they arrive
    output_queue queue_;                 // decoded bytes not yet handed out
    std::size_t want_ = 0;
    std::uint16_t version_ = 0;
    std::uint32_t flags_ = 0;
    std::uint32_t size_ = 0;
    std::uint32_t packed_ = 0;
};

}  // namespace detail
}  // namespace fitstream
