// SPDX-License-Identifier: MIT
#pragma once

// libbz2 behind RAII: the error category, a compressor that writes one
// `BZh` stream and a decompressor that reads one. Only this header includes
// <bzlib.h>.

#include <fitstream/detail/codec/filter.hpp>
#include <fitstream/error.hpp>

#include <bzlib.h>

#include <climits>
#include <cstddef>
#include <string>

namespace fitstream {

namespace detail {
struct bzip2_traits {
    static constexpr const char* name = "bzip2";
    static std::string message(int ev) {
        // libbz2's BZ2_bzerror needs a stream; name the codes here.
        switch (ev) {
            case BZ_OK: return "success";
            case BZ_RUN_OK: return "running";
            case BZ_FLUSH_OK: return "flushing";
            case BZ_FINISH_OK: return "finishing";
            case BZ_STREAM_END: return "end of stream";
            case BZ_SEQUENCE_ERROR: return "sequence error";
            case BZ_PARAM_ERROR: return "parameter error";
            case BZ_MEM_ERROR: return "cannot allocate memory";
            case BZ_DATA_ERROR: return "data integrity error";
            case BZ_DATA_ERROR_MAGIC: return "not a bzip2 stream (bad magic)";
            case BZ_IO_ERROR: return "I/O error";
            case BZ_UNEXPECTED_EOF: return "unexpected end of data";
            case BZ_OUTBUFF_FULL: return "output buffer full";
            case BZ_CONFIG_ERROR: return "libbz2 was miscompiled";
            default: return "unknown libbz2 error";
        }
    }
};
}  // namespace detail

/// Errors reported by libbz2 (BZ_* values).
inline const std::error_category& bzip2_category() noexcept {
    static const detail::library_category_impl<detail::bzip2_traits> instance;
    return instance;
}

namespace detail {

[[noreturn]] inline void throw_bzip2(int rc, const char* what) {
    throw error(std::error_code(rc, bzip2_category()), "bzip2", what);
}

// Points a bz_stream at the windows (libbz2 counts in unsigned int).
inline void bzip2_window(bz_stream& s, const char* in, const char* in_end, char* out, char* out_end) {
    const auto avail_in = static_cast<std::size_t>(in_end - in);
    const auto avail_out = static_cast<std::size_t>(out_end - out);
    s.next_in = const_cast<char*>(in);
    s.avail_in = static_cast<unsigned>(avail_in > UINT_MAX ? UINT_MAX : avail_in);
    s.next_out = out;
    s.avail_out = static_cast<unsigned>(avail_out > UINT_MAX ? UINT_MAX : avail_out);
}

/// One bzip2 stream ("BZh" + block size digit), blocks of
/// block_size_100k * 100 000 bytes (1..9; 9 is bzip2's default).
class bzip2_compressor {
public:
    explicit bzip2_compressor(int block_size_100k) : block_size_100k_(block_size_100k) { init(); }
    bzip2_compressor(const bzip2_compressor&) = delete;
    bzip2_compressor& operator=(const bzip2_compressor&) = delete;
    ~bzip2_compressor() { BZ2_bzCompressEnd(&stream_); }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool finish) {
        if (ended_) return false;
        // BZ_FINISH only once all input is in (libbz2 wants the input it was
        // finishing with to stay the same); BZ_RUN without input or without
        // room would make no progress, which libbz2 reports as an error.
        const bool finishing = finish && in == in_end;
        if (out == out_end || (!finishing && in == in_end)) return true;
        bzip2_window(stream_, in, in_end, out, out_end);
        const int rc = BZ2_bzCompress(&stream_, finishing ? BZ_FINISH : BZ_RUN);
        in = stream_.next_in;
        out = stream_.next_out;
        if (rc == BZ_STREAM_END) {
            ended_ = true;
            return false;
        }
        if (rc != BZ_RUN_OK && rc != BZ_FINISH_OK) throw_bzip2(rc, "compression failed");
        return true;
    }

    void reset() {
        BZ2_bzCompressEnd(&stream_);
        ended_ = false;
        init();
    }

private:
    void init() {
        stream_ = bz_stream{};
        if (block_size_100k_ < 1 || block_size_100k_ > 9) throw_bzip2(BZ_PARAM_ERROR, "bad block size (valid: 1..9)");
        // verbosity 0; workFactor 0 selects libbz2's default (30).
        const int rc = BZ2_bzCompressInit(&stream_, block_size_100k_, 0, 0);
        if (rc != BZ_OK) throw_bzip2(rc, "cannot initialise the compressor");
    }

    int block_size_100k_;
    bz_stream stream_{};
    bool ended_ = false;
};

/// Reads one bzip2 stream; libbz2 checks every block's CRC and the stream
/// CRC. Memory is bounded by the largest block size (900 000 bytes, about
/// 3.6 MiB of tables).
class bzip2_decompressor {
public:
    bzip2_decompressor() { init(); }
    bzip2_decompressor(const bzip2_decompressor&) = delete;
    bzip2_decompressor& operator=(const bzip2_decompressor&) = delete;
    ~bzip2_decompressor() { BZ2_bzDecompressEnd(&stream_); }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
        if (done_) return false;
        bzip2_window(stream_, in, in_end, out, out_end);
        const int rc = BZ2_bzDecompress(&stream_);
        const bool progress = stream_.next_in != in || stream_.next_out != out;
        in = stream_.next_in;
        out = stream_.next_out;
        switch (rc) {
            case BZ_STREAM_END: done_ = true; return false;
            case BZ_OK:
                if (stall_.stalled(progress, flush, in != in_end, out != out_end))
                    throw_bzip2(BZ_UNEXPECTED_EOF, "truncated data");
                return true;
            case BZ_DATA_ERROR:
            case BZ_DATA_ERROR_MAGIC: throw_bzip2(rc, "corrupt data");
            default: throw_bzip2(rc, "decompression failed");
        }
    }

    void reset() {
        BZ2_bzDecompressEnd(&stream_);
        done_ = false;
        stall_.reset();
        init();
    }

private:
    void init() {
        stream_ = bz_stream{};
        // verbosity 0; small 0: the fast decoder (the small one halves memory).
        const int rc = BZ2_bzDecompressInit(&stream_, 0, 0);
        if (rc != BZ_OK) throw_bzip2(rc, "cannot initialise the decompressor");
    }

    bz_stream stream_{};
    bool done_ = false;
    stall_detector stall_;
};

}  // namespace detail
}  // namespace fitstream
