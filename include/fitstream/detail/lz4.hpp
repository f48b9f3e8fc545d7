// SPDX-License-Identifier: MIT
#pragma once

// liblz4's frame API behind RAII: the error category, a compressor that
// writes one LZ4 frame and a decoder that reads one. Only this header
// includes <lz4frame.h>.

#include <fitstream/codec.hpp>
#include <fitstream/error.hpp>

// The error code enumeration sits in lz4frame.h's "static linking only"
// part; only its constants are used here, no function from that part.
#ifndef LZ4F_STATIC_LINKING_ONLY
#define LZ4F_STATIC_LINKING_ONLY
#define FITSTREAM_DETAIL_LZ4F_STATIC_LINKING_ONLY
#endif
#include <lz4frame.h>
#ifdef FITSTREAM_DETAIL_LZ4F_STATIC_LINKING_ONLY
#undef LZ4F_STATIC_LINKING_ONLY
#undef FITSTREAM_DETAIL_LZ4F_STATIC_LINKING_ONLY
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace fitstream {

namespace detail {
struct lz4_traits {
    static constexpr const char* name = "lz4";
    static std::string message(int ev) {
        // Codes are stored as LZ4F_errorCodes values; LZ4F_getErrorName wants
        // the size_t a function returned, which is the negated code.
        return LZ4F_getErrorName(static_cast<std::size_t>(-static_cast<std::ptrdiff_t>(ev)));
    }
};
}  // namespace detail

/// Errors reported by liblz4's frame API (LZ4F_errorCodes values).
inline const std::error_category& lz4_category() noexcept {
    static const detail::library_category_impl<detail::lz4_traits> instance;
    return instance;
}

namespace detail {

[[noreturn]] inline void throw_lz4(int code, const char* what) {
    throw error(std::error_code(code, lz4_category()), "lz4", what);
}

/// Throws when `rc` (a size_t result of an LZ4F_ function) is an error.
inline std::size_t lz4_check(std::size_t rc, const char* what) {
    if (LZ4F_isError(rc)) throw_lz4(static_cast<int>(-static_cast<std::ptrdiff_t>(rc)), what);
    return rc;
}

struct lz4_cctx_deleter {
    void operator()(LZ4F_cctx* p) const noexcept { LZ4F_freeCompressionContext(p); }
};
struct lz4_dctx_deleter {
    void operator()(LZ4F_dctx* p) const noexcept { LZ4F_freeDecompressionContext(p); }
};

/// Writes one LZ4 frame as U-Boot's ulz4fn reads it: independent blocks
/// (it refuses linked ones), no dictionary ID (a reserved-bit check there),
/// a content checksum, and the content size when known. Blocks are up to
/// 4 MiB, as the lz4 command line makes them.
class lz4_compressor {
public:
    lz4_compressor(int level, std::uint64_t source_size) {
        LZ4F_cctx* ctx = nullptr;
        lz4_check(LZ4F_createCompressionContext(&ctx, LZ4F_VERSION), "cannot create a compression context");
        ctx_.reset(ctx);
        prefs_ = LZ4F_preferences_t{};
        prefs_.frameInfo.blockSizeID = LZ4F_max4MB;
        prefs_.frameInfo.blockMode = LZ4F_blockIndependent;
        prefs_.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
        prefs_.frameInfo.frameType = LZ4F_frame;
        // 0 means "not stored"; an empty input simply has no size field.
        prefs_.frameInfo.contentSize = source_size == unknown_size ? 0 : source_size;
        prefs_.frameInfo.dictID = 0;
        prefs_.frameInfo.blockChecksumFlag = LZ4F_noBlockChecksum;
        prefs_.compressionLevel = level;
        prefs_.autoFlush = 0;
    }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool finish) {
        queue_.drain(out, out_end);
        if (!begun_) {
            unsigned char* room = queue_.reserve(LZ4F_HEADER_SIZE_MAX);
            queue_.commit(
                lz4_check(LZ4F_compressBegin(ctx_.get(), room, LZ4F_HEADER_SIZE_MAX, &prefs_), "cannot begin a frame"));
            begun_ = true;
            queue_.drain(out, out_end);
        }
        // LZ4F_compressUpdate needs room for the worst case (a whole block),
        // so it writes into the queue, which then drains into the window.
        while (queue_.empty() && in != in_end) {
            const std::size_t n = std::min(static_cast<std::size_t>(in_end - in), chunk_size);
            const std::size_t room_size = LZ4F_compressBound(n, &prefs_);
            unsigned char* room = queue_.reserve(room_size);
            queue_.commit(
                lz4_check(LZ4F_compressUpdate(ctx_.get(), room, room_size, in, n, nullptr), "compression failed"));
            in += n;
            queue_.drain(out, out_end);
        }
        if (finish && in == in_end && !ended_ && queue_.empty()) {
            const std::size_t room_size = LZ4F_compressBound(0, &prefs_);
            unsigned char* room = queue_.reserve(room_size);
            queue_.commit(lz4_check(LZ4F_compressEnd(ctx_.get(), room, room_size, nullptr), "cannot end the frame"));
            ended_ = true;
            queue_.drain(out, out_end);
        }
        return !finish || !ended_ || !queue_.empty();
    }

    void reset() {
        // A context whose frame was not ended starts a new one on the next
        // LZ4F_compressBegin; a fresh context is the simplest clean state.
        LZ4F_cctx* ctx = nullptr;
        lz4_check(LZ4F_createCompressionContext(&ctx, LZ4F_VERSION), "cannot create a compression context");
        ctx_.reset(ctx);
        queue_.clear();
        begun_ = ended_ = false;
    }

private:
    static constexpr std::size_t chunk_size = 64 * 1024;

    std::unique_ptr<LZ4F_cctx, lz4_cctx_deleter> ctx_;
    LZ4F_preferences_t prefs_{};
    output_queue queue_;
    bool begun_ = false;
    bool ended_ = false;
};

/// Reads exactly one LZ4 frame (magic 04 22 4d 18; skippable frames and the
/// legacy format are refused, as U-Boot refuses them). liblz4 checks the
/// header, block and content checksums and the content size; its buffers are
/// bounded by the largest block size, 4 MiB.
class lz4_decompressor {
public:
    lz4_decompressor() {
        LZ4F_dctx* ctx = nullptr;
        lz4_check(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION), "cannot create a decompression context");
        ctx_.reset(ctx);
    }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
        if (done_) return false;
        std::size_t in_size = static_cast<std::size_t>(in_end - in);
        std::size_t out_size = static_cast<std::size_t>(out_end - out);
        const std::size_t rc = LZ4F_decompress(ctx_.get(), out, &out_size, in, &in_size, nullptr);
        if (LZ4F_isError(rc)) {
            LZ4F_resetDecompressionContext(ctx_.get());
            throw_lz4(static_cast<int>(-static_cast<std::ptrdiff_t>(rc)), "corrupt data");
        }
        if (!magic_.feed(in, in_size)) throw_lz4(LZ4F_ERROR_frameType_unknown, "not an LZ4 frame");
        in += in_size;
        out += out_size;
        if (rc == 0) {  // the frame is complete and flushed
            done_ = true;
            return false;
        }
        if (stall_.stalled(in_size != 0 || out_size != 0, flush, in != in_end, out != out_end))
            throw_lz4(LZ4F_ERROR_frameSize_wrong, "truncated data");
        return true;
    }

    void reset() {
        LZ4F_resetDecompressionContext(ctx_.get());
        done_ = false;
        magic_.reset();
        stall_.reset();
    }

private:
    static constexpr unsigned char frame_magic[4] = {0x04, 0x22, 0x4d, 0x18};

    std::unique_ptr<LZ4F_dctx, lz4_dctx_deleter> ctx_;
    magic_check magic_{frame_magic, sizeof frame_magic};
    stall_detector stall_;
    bool done_ = false;
};

}  // namespace detail
}  // namespace fitstream
