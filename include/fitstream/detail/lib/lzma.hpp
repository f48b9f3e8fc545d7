// SPDX-License-Identifier: MIT
#pragma once

// liblzma behind RAII: the error category and the LZMA_Alone (.lzma)
// encoder and decoder. Only this header includes <lzma.h>.
//
// Why lzma_alone_encoder's header is kept as it is: it stores the
// uncompressed size as "unknown" (eight 0xff bytes) and ends the data with
// an end-of-payload marker. U-Boot's lzmaBuffToBuffDecompress
// (lib/lzma/LzmaTools.c) reads that u64 at bytes 5..12 and treats all-ones
// as unknown explicitly: with a 64-bit SizeT it becomes (SizeT)-1, which
// skips the "output buffer too small" short-cut and decodes up to the end
// marker (bounded by the output buffer in current releases); with a 32-bit
// SizeT it is accepted only when all eight bytes are 0xff, for exactly this
// case. The `lzma` command of xz-utils writes the same header. Writing the
// real size instead would need the raw LZMA1 encoder and a hand-made
// header, and a stored size followed by an end marker is refused by liblzma
// before 5.2.6 (dropping the marker needs LZMA_FILTER_LZMA1EXT, liblzma
// 5.4); it would buy nothing U-Boot needs, so we do not.

#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/error.hpp>

#include <lzma.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

namespace fitstream {

namespace detail {
struct lzma_traits {
    static constexpr const char* name = "lzma";
    static std::string message(int ev) {
        // liblzma has no strerror of its own.
        switch (static_cast<lzma_ret>(ev)) {
            case LZMA_OK: return "success";
            case LZMA_STREAM_END: return "end of stream";
            case LZMA_NO_CHECK: return "no integrity check";
            case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
            case LZMA_GET_CHECK: return "integrity check type available";
            case LZMA_MEM_ERROR: return "cannot allocate memory";
            case LZMA_MEMLIMIT_ERROR: return "memory usage limit reached";
            case LZMA_FORMAT_ERROR: return "file format not recognized";
            case LZMA_OPTIONS_ERROR: return "invalid or unsupported options";
            case LZMA_DATA_ERROR: return "data is corrupt";
            case LZMA_BUF_ERROR: return "no progress is possible (truncated input?)";
            case LZMA_PROG_ERROR: return "programming error";
            default: return "unknown liblzma error";
        }
    }
};
}  // namespace detail

/// Errors reported by liblzma (lzma_ret values).
inline const std::error_category& lzma_category() noexcept {
    static const detail::library_category_impl<detail::lzma_traits> instance;
    return instance;
}

namespace detail {

[[noreturn]] inline void throw_lzma(lzma_ret rc, const char* what) {
    throw error(std::error_code(static_cast<int>(rc), lzma_category()), "lzma", what);
}

/// The most memory the LZMA_Alone decoder may use. A header can ask for a
/// dictionary of up to 4 GiB; `lzma -9` needs 64 MiB (about 65 MiB in all).
inline constexpr std::uint64_t lzma_decoder_memory_limit = 256u << 20;

class lzma_stream_holder {
public:
    lzma_stream_holder() = default;
    lzma_stream_holder(const lzma_stream_holder&) = delete;
    lzma_stream_holder& operator=(const lzma_stream_holder&) = delete;
    ~lzma_stream_holder() { lzma_end(&stream_); }

protected:
    // Runs lzma_code on the window; returns its result and whether it moved.
    lzma_ret code(const char*& in, const char* in_end, char*& out, char* out_end, lzma_action action,
                  bool& progress) {
        stream_.next_in = reinterpret_cast<const std::uint8_t*>(in);
        stream_.avail_in = static_cast<std::size_t>(in_end - in);
        stream_.next_out = reinterpret_cast<std::uint8_t*>(out);
        stream_.avail_out = static_cast<std::size_t>(out_end - out);
        const lzma_ret rc = lzma_code(&stream_, action);
        const char* const new_in = reinterpret_cast<const char*>(stream_.next_in);
        char* const new_out = reinterpret_cast<char*>(stream_.next_out);
        progress = new_in != in || new_out != out;
        in = new_in;
        out = new_out;
        return rc;
    }

    lzma_stream stream_ = LZMA_STREAM_INIT;
};

/// The memory an LZMA_Alone encoder at `level` holds for a source of
/// `source_size` bytes (unknown_size allowed), as far as it is ever touched.
/// liblzma allocates its match finder for the whole dictionary
/// (lzma_raw_encoder_memusage: 93 MiB at preset 6), but a source smaller
/// than the dictionary only reaches the start of the window and of the
/// binary tree, about 9 bytes per input byte (1 for the window, 8 for the
/// tree), the rest staying untouched and so out of the resident set; the
/// hash table and the coder's state are hashed into all over and counted
/// whole. 0 for a level outside 0..9 (the encoder refuses it).
inline std::size_t lzma_alone_encoder_memory(int level, std::uint64_t source_size) {
    lzma_options_lzma options{};
    if (level < 0 || level > 9 || lzma_lzma_preset(&options, static_cast<std::uint32_t>(level))) return 0;
    const lzma_filter filters[2] = {{LZMA_FILTER_LZMA1, &options}, {LZMA_VLI_UNKNOWN, nullptr}};
    const std::uint64_t full = lzma_raw_encoder_memusage(filters);
    if (full == UINT64_MAX) return 0;
    const std::uint64_t dict = options.dict_size;
    const std::uint64_t used = std::min<std::uint64_t>(source_size, dict);
    const std::uint64_t untouched = std::min<std::uint64_t>(9 * (dict - used), full - full / 8);
    return static_cast<std::size_t>(full - untouched);
}

/// LZMA_Alone from a preset (0..9, as `lzma -0` .. `lzma -9`): 5 property
/// bytes, u64 size "unknown", LZMA1 data with an end marker. See the file
/// comment for why the size stays unknown.
class lzma_alone_compressor : private lzma_stream_holder {
public:
    explicit lzma_alone_compressor(int level) : level_(level) { init(); }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool finish) {
        if (ended_) return false;
        // LZMA_FINISH only once all input is in: liblzma forbids new input
        // after it, and a caller may still hold some back.
        const lzma_action action = finish && in == in_end ? LZMA_FINISH : LZMA_RUN;
        bool progress = false;
        const lzma_ret rc = code(in, in_end, out, out_end, action, progress);
        if (rc == LZMA_STREAM_END) {
            ended_ = true;
            return false;
        }
        if (rc != LZMA_OK && rc != LZMA_BUF_ERROR) throw_lzma(rc, "compression failed");
        return true;
    }

    void reset() {
        ended_ = false;
        init();  // re-initialising a stream reuses its memory
    }

private:
    void init() {
        lzma_options_lzma options{};
        if (level_ < 0 || level_ > 9 || lzma_lzma_preset(&options, static_cast<std::uint32_t>(level_)))
            throw_lzma(LZMA_OPTIONS_ERROR, "bad level (valid: 0..9)");
        const lzma_ret rc = lzma_alone_encoder(&stream_, &options);
        if (rc != LZMA_OK) throw_lzma(rc, "cannot initialise the encoder");
    }

    int level_;
    bool ended_ = false;
};

/// Reads one LZMA_Alone stream: with a size in the header it stops there,
/// with "unknown" it needs the end marker. Memory use is capped at
/// lzma_decoder_memory_limit, whatever the header's dictionary size.
class lzma_alone_decompressor : private lzma_stream_holder {
public:
    lzma_alone_decompressor() { init(); }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
        if (done_) return false;
        bool progress = false;
        const lzma_ret rc = code(in, in_end, out, out_end, LZMA_RUN, progress);
        switch (rc) {
            case LZMA_STREAM_END: done_ = true; return false;
            case LZMA_OK:
            case LZMA_BUF_ERROR:
                if (stall_.stalled(progress, flush, in != in_end, out != out_end))
                    throw_lzma(LZMA_BUF_ERROR, "truncated data");
                return true;
            case LZMA_MEMLIMIT_ERROR: throw_lzma(rc, "dictionary larger than the decoder allows");
            case LZMA_FORMAT_ERROR:
            case LZMA_OPTIONS_ERROR:
            case LZMA_DATA_ERROR: throw_lzma(rc, "corrupt data");
            default: throw_lzma(rc, "decompression failed");
        }
    }

    void reset() {
        done_ = false;
        stall_.reset();
        init();
    }

private:
    void init() {
        const lzma_ret rc = lzma_alone_decoder(&stream_, lzma_decoder_memory_limit);
        if (rc != LZMA_OK) throw_lzma(rc, "cannot initialise the decoder");
    }

    bool done_ = false;
    stall_detector stall_;
};

}  // namespace detail
}  // namespace fitstream
