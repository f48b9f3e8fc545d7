// SPDX-License-Identifier: MIT
#pragma once

// libzstd behind RAII: the error category, a compression context and a
// decompression context. Only this header includes <zstd.h>.

#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/error.hpp>

// ZSTD_getCParams and ZSTD_estimate*Size (the encoders' memory) are in
// libzstd's static-linking section, exported by the shared library since
// 1.4; zstd.h guards that section on its own, so it is reached even when
// the stable part was included before.
#ifndef ZSTD_STATIC_LINKING_ONLY
#define ZSTD_STATIC_LINKING_ONLY
#define FITSTREAM_DEFINED_ZSTD_STATIC_LINKING_ONLY
#endif
#include <zstd.h>
#ifdef FITSTREAM_DEFINED_ZSTD_STATIC_LINKING_ONLY
#undef ZSTD_STATIC_LINKING_ONLY
#undef FITSTREAM_DEFINED_ZSTD_STATIC_LINKING_ONLY
#endif
#include <zstd_errors.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace fitstream {

namespace detail {
struct zstd_traits {
    static constexpr const char* name = "zstd";
    static std::string message(int ev) {
        // Codes are stored as ZSTD_ErrorCode values; ZSTD_getErrorString names them.
        return ZSTD_getErrorString(static_cast<ZSTD_ErrorCode>(ev));
    }
};
}  // namespace detail

/// Errors reported by libzstd.
inline const std::error_category& zstd_category() noexcept {
    static const detail::library_category_impl<detail::zstd_traits> instance;
    return instance;
}

namespace detail {

/// Throws when `rc` (a size_t result of a ZSTD_ function) is an error.
inline std::size_t zstd_check(std::size_t rc, const char* what) {
    if (ZSTD_isError(rc))
        throw error(std::error_code(static_cast<int>(ZSTD_getErrorCode(rc)), zstd_category()), "zstd", what);
    return rc;
}

struct zstd_cctx_deleter {
    void operator()(ZSTD_CCtx* p) const noexcept { ZSTD_freeCCtx(p); }
};
struct zstd_dctx_deleter {
    void operator()(ZSTD_DCtx* p) const noexcept { ZSTD_freeDCtx(p); }
};

/// How libzstd's multithreaded mode is used: one frame made by its own
/// worker threads, in jobs of a fixed size. libzstd's output depends on the
/// job size but not on the number of workers, as long as there is at least
/// one: so a source above the threshold (or of unknown size) always goes
/// through the workers, and the thread count only says how many.
///
/// 4 MiB jobs cost 0.15 % against libzstd's default of 8 MiB for level 3
/// and keep two workers well inside the 64 MiB the whole writer may use
/// (docs/bench/codecs.md). Below one job there is nothing to share out,
/// so a smaller source is compressed on the caller's thread.
struct zstd_threading {
    static constexpr std::size_t job_size = std::size_t{4} << 20;
    static constexpr std::uint64_t threshold = job_size;

    /// Workers for a source of `source_size` (ZSTD_CONTENTSIZE_UNKNOWN
    /// allowed): 0 (no workers) below the threshold, else at least one.
    static int workers(std::uint64_t source_size, unsigned threads, int option_workers) noexcept {
        const bool large = source_size == ZSTD_CONTENTSIZE_UNKNOWN || source_size > threshold;
        if (!large) return option_workers > 0 ? option_workers : 0;
        const unsigned wanted = std::max({1u, threads, option_workers > 0 ? static_cast<unsigned>(option_workers) : 0u});
        return static_cast<int>(std::min(wanted, 64u));
    }
};

/// The memory a zstd_compressor at `level` holds for `source_size` bytes
/// (ZSTD_CONTENTSIZE_UNKNOWN allowed) with `workers` libzstd workers:
/// libzstd's own estimate of a single-threaded stream, plus, with workers,
/// a context and an input and output job buffer for each worker and two
/// more jobs' buffers in its pool (measured with ZSTD_sizeof_CCtx on
/// libzstd 1.5: 22, 32 and 60 MiB for 1, 2 and 4 workers at level 3).
inline std::size_t zstd_compressor_memory(int level, std::uint64_t source_size, int workers) {
    const ZSTD_compressionParameters params =
        ZSTD_getCParams(level, source_size == ZSTD_CONTENTSIZE_UNKNOWN ? 0 : source_size, 0);
    std::size_t total = ZSTD_estimateCStreamSize_usingCParams(params);
    if (ZSTD_isError(total)) total = 0;
    if (workers > 0) {
        std::size_t job = ZSTD_estimateCCtxSize_usingCParams(params);
        if (ZSTD_isError(job)) job = 0;
        job += 2 * zstd_threading::job_size;
        total += (static_cast<std::size_t>(workers) + 2) * job;
    }
    return total;
}

/// libzstd's name for a source size: ZSTD_CONTENTSIZE_UNKNOWN for unknown_size.
inline std::uint64_t zstd_content_size(std::uint64_t source_size) noexcept {
    return source_size == unknown_size ? ZSTD_CONTENTSIZE_UNKNOWN : source_size;
}

/// A streaming zstd compressor producing one frame with a content checksum
/// (as the zstd command line does) and, when known, the content size.
/// `workers` > 0 hands the work to that many libzstd threads, in jobs of
/// zstd_threading::job_size.
class zstd_compressor {
public:
    zstd_compressor(int level, int workers, std::uint64_t source_size)
        : ctx_(ZSTD_createCCtx()), level_(level), workers_(workers), source_size_(source_size) {
        if (!ctx_) throw error(std::error_code(ZSTD_error_memory_allocation, zstd_category()), "zstd");
        configure();
    }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool finish) {
        // Once the frame is complete, libzstd would start a new one on the
        // next call: a SymmetricFilter must instead keep reporting its end.
        if (ended_) return false;
        ZSTD_inBuffer input{in, static_cast<std::size_t>(in_end - in), 0};
        ZSTD_outBuffer output{out, static_cast<std::size_t>(out_end - out), 0};
        const std::size_t remaining =
            zstd_check(ZSTD_compressStream2(ctx_.get(), &output, &input, finish ? ZSTD_e_end : ZSTD_e_continue),
                       "compression failed");
        in += input.pos;
        out += output.pos;
        if (finish && remaining == 0) ended_ = true;
        return finish ? remaining != 0 : true;
    }

    void reset() {
        zstd_check(ZSTD_CCtx_reset(ctx_.get(), ZSTD_reset_session_and_parameters), "reset failed");
        ended_ = false;
        configure();
    }

private:
    void configure() {
        zstd_check(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_compressionLevel, level_), "bad level");
        zstd_check(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_checksumFlag, 1), "cannot enable checksum");
        if (workers_ > 0) {
            // A libzstd built without threads refuses; single-threaded is
            // still a valid frame (other bytes, but the same on every run).
            if (!ZSTD_isError(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_nbWorkers, workers_)))
                zstd_check(ZSTD_CCtx_setParameter(ctx_.get(), ZSTD_c_jobSize,
                                                  static_cast<int>(zstd_threading::job_size)),
                           "cannot set the job size");
        }
        if (source_size_ != ZSTD_CONTENTSIZE_UNKNOWN)
            zstd_check(ZSTD_CCtx_setPledgedSrcSize(ctx_.get(), source_size_), "cannot pledge size");
    }

    std::unique_ptr<ZSTD_CCtx, zstd_cctx_deleter> ctx_;
    int level_;
    int workers_;
    std::uint64_t source_size_;
    bool ended_ = false;
};

/// A streaming decoder for exactly one zstd frame (magic 28 b5 2f fd;
/// skippable frames are refused). libzstd checks the content checksum when
/// present, and refuses windows above its default limit of 2^27 bytes, so
/// memory stays bounded whatever the frame header says. The content size in
/// the header is checked here: libzstd's streaming decoder (1.5.4) skips
/// that check when the frame ends with an empty last block and arrived in
/// pieces, so a frame that one-shot decoding (U-Boot's) refuses would pass.
class zstd_decompressor {
public:
    zstd_decompressor() : ctx_(ZSTD_createDCtx()) {
        if (!ctx_) throw error(std::error_code(ZSTD_error_memory_allocation, zstd_category()), "zstd");
    }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
        if (done_) return false;
        ZSTD_inBuffer input{in, static_cast<std::size_t>(in_end - in), 0};
        ZSTD_outBuffer output{out, static_cast<std::size_t>(out_end - out), 0};
        const std::size_t rc = ZSTD_decompressStream(ctx_.get(), &output, &input);
        if (ZSTD_isError(rc))
            throw error(std::error_code(static_cast<int>(ZSTD_getErrorCode(rc)), zstd_category()), "zstd",
                        "corrupt data");
        if (!magic_.feed(in, input.pos))
            throw error(std::error_code(ZSTD_error_prefix_unknown, zstd_category()), "zstd", "not a zstd frame");
        keep_header(in, input.pos);
        in += input.pos;
        out += output.pos;
        produced_ += output.pos;
        if (rc == 0) {  // the frame is complete and flushed
            check_content_size();
            done_ = true;
            return false;
        }
        if (stall_.stalled(input.pos != 0 || output.pos != 0, flush, in != in_end, out != out_end))
            throw error(std::error_code(ZSTD_error_srcSize_wrong, zstd_category()), "zstd", "truncated data");
        return true;
    }

    void reset() {
        zstd_check(ZSTD_DCtx_reset(ctx_.get(), ZSTD_reset_session_only), "reset failed");
        done_ = false;
        magic_.reset();
        stall_.reset();
        header_size_ = 0;
        produced_ = 0;
    }

private:
    static constexpr unsigned char frame_magic[4] = {0x28, 0xb5, 0x2f, 0xfd};

    // The first bytes of the frame, as far as a frame header can reach.
    void keep_header(const char* p, std::size_t consumed) noexcept {
        const std::size_t n = std::min(consumed, sizeof header_ - header_size_);
        std::memcpy(header_ + header_size_, p, n);
        header_size_ += n;
    }

    void check_content_size() const {
        const unsigned long long declared = ZSTD_getFrameContentSize(header_, header_size_);
        if (declared == ZSTD_CONTENTSIZE_ERROR)
            throw error(std::error_code(ZSTD_error_corruption_detected, zstd_category()), "zstd",
                        "corrupt data (unreadable frame header)");
        if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != produced_)
            throw error(std::error_code(ZSTD_error_corruption_detected, zstd_category()), "zstd",
                        "corrupt data (the frame decodes to " + std::to_string(produced_) +
                            " bytes, its header says " + std::to_string(declared) + ")");
    }

    std::unique_ptr<ZSTD_DCtx, zstd_dctx_deleter> ctx_;
    magic_check magic_{frame_magic, sizeof frame_magic};
    stall_detector stall_;
    bool done_ = false;
    unsigned char header_[18] = {};  // ZSTD_FRAMEHEADERSIZE_MAX (not in the stable API)
    std::size_t header_size_ = 0;
    std::uint64_t produced_ = 0;
};

}  // namespace detail
}  // namespace fitstream
