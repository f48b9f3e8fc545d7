// SPDX-License-Identifier: MIT
#pragma once

// liblz4's frame API behind RAII: the error category, the pieces of one
// LZ4 frame (header, blocks made independently, end mark), a compressor
// that streams them and a decoder that reads one frame. Only this header
// includes <lz4frame.h>.

#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/codec/filter.hpp>
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
#include <cstring>
#include <memory>
#include <string>
#include <vector>

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

/// The LZ4 frame fitstream writes, in pieces that can be made apart: what
/// U-Boot's ulz4fn (lib/lz4_wrapper.c) reads. It needs version 01,
/// independent blocks (it refuses linked ones) and the reserved bits clear
/// (so no dictionary ID); it skips the content size, skips block checksums
/// and stops at the end mark without reading a content checksum. So:
///  - independent blocks of at most 1 MiB, each made by liblz4's frame API
///    on its own (LZ4F compresses, stores a block that does not shrink);
///  - a checksum per block instead of one for the content: the content
///    checksum is one XXH32 over everything, which blocks made in parallel
///    cannot produce; block checksums are, and still let `lz4 -t` and our
///    decoder catch a damaged frame;
///  - the content size when known, so `lz4 -t` and our decoder check it.
/// 1 MiB blocks rather than the lz4 tool's 4 MiB: 0.08 % larger, a quarter
/// of the memory per block in flight (docs/bench/codecs.md).
namespace lz4_frame {

inline constexpr std::size_t block_size = std::size_t{1} << 20;  // LZ4F_max1MB

inline LZ4F_preferences_t preferences(int level, std::uint64_t source_size) noexcept {
    LZ4F_preferences_t prefs{};
    prefs.frameInfo.blockSizeID = LZ4F_max1MB;
    prefs.frameInfo.blockMode = LZ4F_blockIndependent;
    prefs.frameInfo.contentChecksumFlag = LZ4F_noContentChecksum;
    prefs.frameInfo.frameType = LZ4F_frame;
    // 0 means "not stored"; an empty input simply has no size field.
    prefs.frameInfo.contentSize = source_size == unknown_size ? 0 : source_size;
    prefs.frameInfo.dictID = 0;
    prefs.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
    prefs.compressionLevel = level;
    prefs.autoFlush = 1;  // every update becomes blocks at once, nothing is held back
    return prefs;
}

inline std::unique_ptr<LZ4F_cctx, lz4_cctx_deleter> make_context() {
    LZ4F_cctx* raw = nullptr;
    lz4_check(LZ4F_createCompressionContext(&raw, LZ4F_VERSION), "cannot create a compression context");
    return std::unique_ptr<LZ4F_cctx, lz4_cctx_deleter>(raw);
}

/// Appends the frame header; liblz4 writes it (and its checksum byte).
/// `source_size`: the content size, or unknown_size (no size field).
inline void header(int level, std::uint64_t source_size, std::vector<char>& out) {
    const auto ctx = make_context();
    const LZ4F_preferences_t prefs = preferences(level, source_size);
    const std::size_t at = out.size();
    out.resize(at + LZ4F_HEADER_SIZE_MAX);
    const std::size_t n = lz4_check(LZ4F_compressBegin(ctx.get(), out.data() + at, LZ4F_HEADER_SIZE_MAX, &prefs),
                                    "cannot begin a frame");
    out.resize(at + n);
}

/// Appends [in, in + size) (at most block_size; nothing when 0) as one
/// block with its checksum. Thread-safe: a context of its own, whose frame
/// header is made and dropped (block bytes do not depend on it).
inline void block(int level, const char* in, std::size_t size, std::vector<char>& out) {
    if (size == 0) return;
    const auto ctx = make_context();
    const LZ4F_preferences_t prefs = preferences(level, unknown_size);
    char head[LZ4F_HEADER_SIZE_MAX];
    lz4_check(LZ4F_compressBegin(ctx.get(), head, sizeof head, &prefs), "cannot begin a frame");
    const std::size_t at = out.size();
    const std::size_t bound = LZ4F_compressBound(size, &prefs);
    out.resize(at + bound);
    const std::size_t n =
        lz4_check(LZ4F_compressUpdate(ctx.get(), out.data() + at, bound, in, size, nullptr), "compression failed");
    out.resize(at + n);
}

/// Appends the end mark (no content checksum follows).
inline void end(std::vector<char>& out) { out.insert(out.end(), 4, '\0'); }

}  // namespace lz4_frame

/// Streams the frame above: header, a block per 1 MiB of input, end mark.
/// With a known source size, input of another size is an error.
class lz4_compressor {
public:
    lz4_compressor(int level, std::uint64_t source_size) : level_(level), source_size_(source_size) { start(); }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool finish) {
        queue_.drain(out, out_end);
        while (queue_.empty() && in != in_end) {
            const std::size_t n =
                std::min(static_cast<std::size_t>(in_end - in), lz4_frame::block_size - block_.size());
            block_.insert(block_.end(), in, in + n);
            in += n;
            total_ += n;
            if (source_size_ != unknown_size && total_ > source_size_)
                throw_lz4(LZ4F_ERROR_frameSize_wrong, "more input than the declared size");
            if (block_.size() == lz4_frame::block_size) flush_block();
            queue_.drain(out, out_end);
        }
        if (finish && in == in_end && !ended_ && queue_.empty()) {
            if (source_size_ != unknown_size && total_ != source_size_)
                throw_lz4(LZ4F_ERROR_frameSize_wrong, "less input than the declared size");
            flush_block();
            packed_.clear();
            lz4_frame::end(packed_);
            queue_.append(packed_.data(), packed_.size());
            ended_ = true;
            queue_.drain(out, out_end);
        }
        return !finish || !ended_ || !queue_.empty();
    }

    void reset() {
        queue_.clear();
        block_.clear();
        total_ = 0;
        ended_ = false;
        start();
    }

private:
    void start() {
        packed_.clear();
        lz4_frame::header(level_, source_size_, packed_);
        queue_.append(packed_.data(), packed_.size());
    }
    void flush_block() {
        packed_.clear();
        lz4_frame::block(level_, block_.data(), block_.size(), packed_);
        queue_.append(packed_.data(), packed_.size());
        block_.clear();
    }

    int level_;
    std::uint64_t source_size_;
    std::uint64_t total_ = 0;
    std::vector<char> block_;
    std::vector<char> packed_;
    output_queue queue_;
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
