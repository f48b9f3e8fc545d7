// SPDX-License-Identifier: MIT
#pragma once

// A devicetree produced in order and handed out as it is produced: the
// same bytes libfdt's sequential writer (fdt_builder) makes for the same
// calls, without the whole tree in memory. Used in two passes: one that
// only measures (the structure's size and its strings block, which come
// before any payload is placed), then one that emits, holding only the
// bytes not yet taken (a node or so) and the strings block (the few dozen
// property names a FIT uses).
//
// What libfdt decides is reproduced, not guessed: where the structure block
// starts is asked of libfdt itself; a property name's offset follows
// fdt_find_add_string_() (a name is looked up as the first match in the
// strings table as it is at that moment, whole or as the tail of a longer
// name, and a new name goes in front of those already there), and
// fdt_finish() adds the final table's size to each offset.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/write/fdt_numbers.hpp>
#include <fitstream/error.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

class fdt_stream : public fdt_number_properties<fdt_stream> {
public:
    /// Measuring: counts bytes and collects the strings block.
    fdt_stream() = default;
    /// Emitting: `strings` is the block the measuring pass collected.
    explicit fdt_stream(std::string strings) : measuring_(false), final_strings_(std::move(strings)) {}

    /// Where libfdt starts the structure block: after the header and the
    /// empty reserve map.
    static std::size_t struct_begin() {
        alignas(8) char probe[256];
        fdt_check(fdt_create(probe, sizeof probe), "fdt_create");
        fdt_check(fdt_finish_reservemap(probe), "reserve map");
        return fdt_off_dt_struct(probe);
    }

    /// The header and reserve map of a finished tree whose structure block
    /// is `struct_size` bytes and whose strings block is `strings_size`.
    static std::vector<char> header(std::uint64_t struct_size, std::uint64_t strings_size) {
        // An empty tree finished by libfdt (fdt_finish() sets the magic and
        // the last compatible version), then given the real sizes.
        alignas(8) char probe[256];
        fdt_check(fdt_create(probe, sizeof probe), "fdt_create");
        fdt_check(fdt_finish_reservemap(probe), "reserve map");
        fdt_check(fdt_finish(probe), "finish");
        const std::uint32_t begin = fdt_off_dt_struct(probe);
        fdt_set_size_dt_struct(probe, static_cast<std::uint32_t>(struct_size));
        fdt_set_off_dt_strings(probe, static_cast<std::uint32_t>(begin + struct_size));
        fdt_set_size_dt_strings(probe, static_cast<std::uint32_t>(strings_size));
        fdt_set_totalsize(probe, static_cast<std::uint32_t>(begin + struct_size + strings_size));
        return std::vector<char>(probe, probe + begin);
    }

    void begin_node(const std::string& name) {
        tag(FDT_BEGIN_NODE);
        bytes(name.c_str(), name.size() + 1);
    }
    void end_node() { tag(FDT_END_NODE); }
    /// The FDT_END tag that closes the structure block.
    void end() { tag(FDT_END); }

    void property(const std::string& name, const void* value, std::size_t size) {
        property_header(name, size);
        bytes(value, size);
    }
    void property_string(const std::string& name, std::string_view value) {
        property_header(name, value.size() + 1);
        bytes(value.data(), value.size(), /*pad_after=*/false);
        bytes("", 1);
    }
    void property_strings(const std::string& name, const std::vector<std::string>& values) {
        std::size_t size = 0;
        for (const auto& v : values) size += v.size() + 1;
        property_header(name, size);
        for (const auto& v : values) bytes(v.c_str(), v.size() + 1, /*pad_after=*/false);
        pad();
    }
    /// A zero-filled value of `size` bytes; returns its position (see
    /// position()), to patch() while it is still pending.
    std::uint64_t placeholder(const std::string& name, std::size_t size) {
        property_header(name, size);
        const std::uint64_t at = position();
        zeros(size);
        return at;
    }

    /// The structure block's bytes so far, with payloads spliced in (see
    /// splice()), counted from the start of the blob.
    std::uint64_t position() const noexcept { return struct_begin_ + struct_size_; }
    std::uint64_t struct_size() const noexcept { return struct_size_; }

    /// Overwrites pending bytes at `at` (a position()).
    void patch(std::uint64_t at, const void* data, std::size_t size) {
        if (measuring_) return;
        if (at < pending_at_ || at + size > pending_at_ + pending_.size())
            throw std::logic_error("fitstream: patching bytes already written");
        std::memcpy(pending_.data() + (at - pending_at_), data, size);
    }
    /// The bytes not taken yet, starting at position pending_position().
    std::string_view pending() const noexcept { return pending_; }
    std::uint64_t pending_position() const noexcept { return pending_at_; }
    /// Forgets the pending bytes: the caller has written them.
    void take() {
        pending_at_ += pending_.size();
        pending_.clear();
    }
    /// `size` bytes (an embedded payload, padded to 4) stand at the end of
    /// the pending bytes, written by the caller: position() moves past them.
    /// Call it with nothing pending.
    void splice(std::uint64_t size) {
        struct_size_ += size;
        pending_at_ += size;
    }

    /// The strings block: after measuring, what an emitting pass needs.
    const std::string& strings() const noexcept { return measuring_ ? table_ : final_strings_; }

private:
    void tag(std::uint32_t t) {
        char be[4];
        fdt32_st(be, t);
        bytes(be, 4, false);
    }
    void property_header(const std::string& name, std::size_t size) {
        if (size > static_cast<std::size_t>(INT32_MAX / 2))
            throw error(errc::limit_exceeded, name, "property too large for libfdt");
        tag(FDT_PROP);
        char be[8];
        fdt32_st(be, static_cast<std::uint32_t>(size));
        fdt32_st(be + 4, name_offset(name));
        bytes(be, 8, false);
    }
    // Appends `size` bytes, then zeros to the next 4-byte boundary.
    void bytes(const void* data, std::size_t size, bool pad_after = true) {
        if (!measuring_) pending_.append(static_cast<const char*>(data), size);
        struct_size_ += size;
        if (pad_after) pad();
    }
    void zeros(std::size_t size) {
        if (!measuring_) pending_.append(size, '\0');
        struct_size_ += size;
        pad();
    }
    void pad() {
        const std::size_t gap = (4 - struct_size_ % 4) % 4;
        if (!measuring_) pending_.append(gap, '\0');
        struct_size_ += gap;
    }

    // fdt_find_add_string_(): the first match in the table as it stands,
    // else the name goes in front. The offset is then made final, as
    // fdt_finish() does, by adding the final table's size.
    std::uint32_t name_offset(const std::string& name) {
        for (const auto& [known, offset] : cache_)
            if (known == name) return finish_offset(offset);
        const std::string_view terminated(name.c_str(), name.size() + 1);
        std::int64_t offset = 0;
        const std::size_t found = table_.find(terminated);
        if (found != std::string::npos) {
            offset = static_cast<std::int64_t>(found) - static_cast<std::int64_t>(table_.size());
        } else {
            table_.insert(0, terminated.data(), terminated.size());
            cache_.clear();  // a name may now match inside the new one first
            offset = -static_cast<std::int64_t>(table_.size());
        }
        cache_.emplace_back(name, offset);
        return finish_offset(offset);
    }
    std::uint32_t finish_offset(std::int64_t offset) const {
        return measuring_ ? 0 : static_cast<std::uint32_t>(static_cast<std::int64_t>(final_strings_.size()) + offset);
    }

    bool measuring_ = true;
    std::string final_strings_;
    std::string table_;  // the strings table as libfdt holds it while writing
    std::vector<std::pair<std::string, std::int64_t>> cache_;  // offsets found since the table last grew
    std::uint64_t struct_begin_ = struct_begin();
    std::uint64_t struct_size_ = 0;
    std::string pending_;
    std::uint64_t pending_at_ = struct_begin_;
};

}  // namespace detail
}  // namespace fitstream
