// SPDX-License-Identifier: MIT
#pragma once

// libfdt's sequential writer behind RAII: a growing buffer that records
// where placeholder values sit, so the writer can fill them in once the
// payloads have streamed past.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/write/fdt_numbers.hpp>
#include <fitstream/error.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace fitstream {
namespace detail {

/// A devicetree built with libfdt's sequential-write functions.
///
/// A builder made with measure() writes nothing: it adds up the size
/// libfdt would need for the same calls (its block layout and its reuse of
/// a property name already in the strings block, as suffix of another
/// included). Building a tree twice, measuring first, lets the real
/// builder start at the exact size: no buffer is copied, zero-filled twice
/// or left with slack, which for 100,000 DTBs is tens of MiB. Should the
/// measure ever fall short, the buffer still doubles on FDT_ERR_NOSPACE.
class fdt_builder : public fdt_number_properties<fdt_builder> {
public:
    explicit fdt_builder(std::size_t initial_size = 4096) : buffer_(std::max(initial_size, min_size)) {
        fdt_check(fdt_create(buffer_.data(), static_cast<int>(buffer_.size())), "fdt_create");
        retry([&] { return fdt_finish_reservemap(buffer_.data()); }, "reserve map");
    }

    /// A builder that only measures: see size().
    static fdt_builder measure() { return fdt_builder(measuring_tag{}); }

    /// Measuring: the totalsize of the blob the calls so far and finish()
    /// would make.
    std::size_t size() const {
        return struct_begin_ + struct_size_ + fdt_tag_size + strings_.size();
    }

    void begin_node(const std::string& name) {
        if (measuring_) return (void)(struct_size_ += fdt_tag_size + align4(name.size() + 1));
        retry([&] { return fdt_begin_node(buffer_.data(), name.c_str()); }, name);
    }
    void end_node() {
        if (measuring_) return (void)(struct_size_ += fdt_tag_size);
        retry([&] { return fdt_end_node(buffer_.data()); }, "end node");
    }
    void property(const std::string& name, const void* value, std::size_t size) {
        check_size(size, name);
        if (measuring_) return measure_property(name, size);
        retry([&] { return fdt_property(buffer_.data(), name.c_str(), value, static_cast<int>(size)); }, name);
    }
    void property_string(const std::string& name, std::string_view value) {
        if (measuring_) return measure_property(name, value.size() + 1);
        std::string terminated(value);
        property(name, terminated.c_str(), terminated.size() + 1);
    }
    /// A string list: each string NUL-terminated, one after another.
    void property_strings(const std::string& name, const std::vector<std::string>& values) {
        if (measuring_) {
            std::size_t size = 0;
            for (const auto& v : values) size += v.size() + 1;
            return measure_property(name, size);
        }
        std::string joined;
        for (const auto& v : values) {
            joined += v;
            joined += '\0';
        }
        property(name, joined.data(), joined.size());
    }

    /// Writes a zero-filled property of `size` bytes and returns the offset
    /// of its value from the start of the blob, for filling in later.
    std::size_t placeholder(const std::string& name, std::size_t size) {
        check_size(size, name);
        if (measuring_) {
            measure_property(name, size);
            return struct_begin_ + struct_size_ - align4(size);
        }
        void* value = nullptr;
        retry([&] { return fdt_property_placeholder(buffer_.data(), name.c_str(), static_cast<int>(size), &value); },
              name);
        if (size > 0) std::memset(value, 0, size);
        return static_cast<std::size_t>(static_cast<char*>(value) - buffer_.data());
    }

    /// Offset, from the start of the blob, of the end of what has been
    /// written to the structure block so far.
    std::size_t struct_end() const {
        if (measuring_) return struct_begin_ + struct_size_;
        return fdt_off_dt_struct(buffer_.data()) + fdt_size_dt_struct(buffer_.data());
    }

    /// Finishes the tree and returns the blob, trimmed to its totalsize
    /// (the capacity stays what the builder started with, or grew to).
    /// The structure block stays where it was while building, so offsets
    /// from placeholder() and struct_end() remain valid.
    std::vector<char> finish() && {
        retry([&] { return fdt_finish(buffer_.data()); }, "finish");
        buffer_.resize(fdt_totalsize(buffer_.data()));
        return std::move(buffer_);
    }

private:
    struct measuring_tag {};
    // Where the structure block starts (after the header and the empty
    // reserve map) is libfdt's to say: asked of it once, in a small buffer.
    explicit fdt_builder(measuring_tag) : measuring_(true) {
        alignas(8) char probe[256];
        fdt_check(fdt_create(probe, sizeof probe), "fdt_create");
        fdt_check(fdt_finish_reservemap(probe), "reserve map");
        struct_begin_ = fdt_off_dt_struct(probe);
    }

    // Then come the structure block, whose FDT_END tag fdt_finish() adds,
    // and the strings.
    static constexpr std::size_t fdt_tag_size = 4;
    static constexpr std::size_t min_size = 256;

    static void check_size(std::size_t size, const std::string& name) {
        if (size > static_cast<std::size_t>(INT32_MAX / 2))
            throw error(errc::limit_exceeded, name, "property too large for libfdt");
    }

    static std::size_t align4(std::size_t n) { return (n + 3) & ~std::size_t(3); }

    // FDT_PROP, length, name offset, then the value padded to 4 bytes; the
    // name joins the strings block unless it is already there, as a whole
    // string or the tail of one (libfdt's fdt_find_add_string_ searches so).
    void measure_property(const std::string& name, std::size_t size) {
        struct_size_ += 3 * fdt_tag_size + align4(size);
        if (names_seen_.size() < max_names_seen &&
            std::find(names_seen_.begin(), names_seen_.end(), name) != names_seen_.end())
            return;
        const std::string_view terminated(name.c_str(), name.size() + 1);
        if (std::string_view(strings_).find(terminated) == std::string_view::npos)
            strings_.insert(0, terminated.data(), terminated.size());
        if (names_seen_.size() < max_names_seen) names_seen_.push_back(name);
    }

    template <class Op>
    void retry(Op&& op, const std::string& subject) {
        for (;;) {
            const int rc = op();
            if (rc != -FDT_ERR_NOSPACE) {
                fdt_check(rc, subject, "cannot build FIT structure");
                return;
            }
            if (buffer_.size() > static_cast<std::size_t>(INT32_MAX / 2))
                throw error(std::error_code(rc, libfdt_category()), subject, "FIT structure too large");
            std::vector<char> bigger(buffer_.size() * 2);
            fdt_check(fdt_resize(buffer_.data(), bigger.data(), static_cast<int>(bigger.size())), subject,
                      "cannot grow FIT structure");
            buffer_.swap(bigger);
        }
    }

    std::vector<char> buffer_;
    bool measuring_ = false;
    std::size_t struct_begin_ = 0;  // measuring: see the measuring constructor
    std::size_t struct_size_ = 0;  // measuring: the structure block so far, without FDT_END
    std::string strings_;          // measuring: the strings block as libfdt would hold it
    // Measuring: names known to be in strings_ already (a FIT uses a few
    // dozen, so a short list saves searching the block for each property).
    static constexpr std::size_t max_names_seen = 64;
    std::vector<std::string> names_seen_;
};

}  // namespace detail
}  // namespace fitstream
