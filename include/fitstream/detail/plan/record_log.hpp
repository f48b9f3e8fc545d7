// SPDX-License-Identifier: MIT
#pragma once

// An append-only log of serialized records (the images and configurations
// of a fit_plan): the last MiB in memory, everything before it in an
// anonymous temporary file, read back in order by cursors of their own.
// With a million DTBs the paths, descriptions and compatible strings are
// hundreds of MiB; the writer needs each of them once or twice, in order,
// so they need not stay resident.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fitstream {
namespace detail {

class record_log {
public:
    record_log() = default;
    record_log(const record_log&) = delete;
    record_log& operator=(const record_log&) = delete;
    record_log(record_log&&) noexcept = default;
    record_log& operator=(record_log&&) noexcept = default;

    /// Bytes kept in memory before they go to the temporary file.
    static constexpr std::size_t memory_size = 1u << 20;

    std::uint64_t size() const noexcept { return spilled_ + tail_.size(); }

    /// Appends `bytes`; returns the offset where they start.
    std::uint64_t append(std::string_view bytes) {
        const std::uint64_t at = size();
        if (tail_.size() + bytes.size() > memory_size && !tail_.empty()) spill();
        if (bytes.size() > memory_size) {
            write_out(bytes.data(), bytes.size());
        } else {
            tail_.append(bytes.data(), bytes.size());
        }
        return at;
    }

    /// Copies `n` bytes from `offset` (which must be within size()).
    void read(std::uint64_t offset, char* out, std::size_t n) const {
        if (offset < spilled_) {
            const auto from_file = static_cast<std::size_t>(std::min<std::uint64_t>(n, spilled_ - offset));
            pread_exact(file_.get(), out, from_file, offset, "fitstream plan (temporary file)");
            out += from_file;
            offset += from_file;
            n -= from_file;
        }
        if (n > 0) std::memcpy(out, tail_.data() + (offset - spilled_), n);
    }

    /// Reads the log in order from an offset, a buffer at a time.
    class cursor {
    public:
        explicit cursor(const record_log& log, std::uint64_t from = 0) : log_(&log), next_(from) {}

        void read(char* out, std::size_t n) {
            while (n > 0) {
                if (at_ == end_) fill();
                const std::size_t take = std::min(n, end_ - at_);
                std::memcpy(out, buffer_.data() + at_, take);
                at_ += take;
                out += take;
                n -= take;
            }
        }
        std::uint64_t read_varint() {
            std::uint64_t value = 0;
            for (int shift = 0; shift < 64; shift += 7) {
                char c;
                read(&c, 1);
                value |= std::uint64_t(static_cast<unsigned char>(c) & 0x7f) << shift;
                if (!(static_cast<unsigned char>(c) & 0x80)) return value;
            }
            throw error(errc::invalid_input, "fitstream plan", "corrupt record");
        }
        std::string read_string() {
            std::string s(static_cast<std::size_t>(read_varint()), '\0');
            read(s.data(), s.size());
            return s;
        }

    private:
        static constexpr std::size_t step = 64 * 1024;
        void fill() {
            const std::uint64_t left = log_->size() - next_;
            if (left == 0) throw error(errc::invalid_input, "fitstream plan", "record past the end of the log");
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left, step));
            buffer_.resize(step);
            log_->read(next_, buffer_.data(), n);
            next_ += n;
            at_ = 0;
            end_ = n;
        }
        const record_log* log_;
        std::uint64_t next_;  // log offset of the byte after the buffer
        std::vector<char> buffer_;
        std::size_t at_ = 0, end_ = 0;
    };

private:
    void spill() {
        write_out(tail_.data(), tail_.size());
        tail_.clear();
    }
    void write_out(const char* data, std::size_t n) {
        if (!file_) file_ = create_anonymous_temporary();
        pwrite_all(file_.get(), data, n, spilled_, "fitstream plan (temporary file)");
        spilled_ += n;
    }

    unique_fd file_;
    std::uint64_t spilled_ = 0;  // bytes in the file, the log's first
    std::string tail_;           // the bytes after them
};

/// Builds one record: varints and length-prefixed strings.
class record_builder {
public:
    record_builder& varint(std::uint64_t value) {
        do {
            char c = static_cast<char>(value & 0x7f);
            value >>= 7;
            if (value) c = static_cast<char>(c | 0x80);
            bytes_.push_back(c);
        } while (value);
        return *this;
    }
    record_builder& string(std::string_view s) {
        varint(s.size());
        bytes_.append(s.data(), s.size());
        return *this;
    }
    std::string_view bytes() const noexcept { return bytes_; }
    void clear() noexcept { bytes_.clear(); }

private:
    std::string bytes_;
};

}  // namespace detail
}  // namespace fitstream
