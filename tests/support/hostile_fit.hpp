// SPDX-License-Identifier: MIT
#pragma once

// Hand-made devicetrees for the read side's hostile-input tests (issue 14,
// and the fuzz regressions):
// libfdt's sequential writer into a buffer of the capacity given, then
// optional bytes after the structure (external data). dtc cannot make some
// of them (it runs out of parser stack past ~10,000 sibling nodes).

#include <libfdt.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fitstream_test {

class fdt_writer {
public:
    explicit fdt_writer(std::size_t capacity = 1u << 16) : buffer_((capacity + 7) / 8) {
        check(fdt_create(blob(), static_cast<int>(buffer_.size() * 8)));
        check(fdt_finish_reservemap(blob()));
        begin("");
    }
    fdt_writer& begin(const std::string& name) {
        check(fdt_begin_node(blob(), name.c_str()));
        return *this;
    }
    fdt_writer& end() {
        check(fdt_end_node(blob()));
        return *this;
    }
    /// A property holding exactly `value` (no terminator added).
    fdt_writer& raw(const std::string& name, const std::string& value) {
        check(fdt_property(blob(), name.c_str(), value.data(), static_cast<int>(value.size())));
        return *this;
    }
    fdt_writer& str(const std::string& name, const std::string& value) {
        return raw(name, std::string(value.c_str(), value.size() + 1));
    }
    /// A string list ("a\0b\0c\0").
    fdt_writer& strs(const std::string& name, const std::vector<std::string>& values) {
        std::string all;
        for (const auto& v : values) all += v + std::string(1, '\0');
        return raw(name, all);
    }
    fdt_writer& u32(const std::string& name, std::uint32_t value) {
        check(fdt_property_u32(blob(), name.c_str(), value));
        return *this;
    }
    fdt_writer& u64(const std::string& name, std::uint64_t value) {
        check(fdt_property_u64(blob(), name.c_str(), value));
        return *this;
    }
    /// An image node with what U-Boot requires, left open for more.
    fdt_writer& image(const std::string& name, const std::string& compression = "none") {
        return begin(name).str("description", name).str("type", "kernel").str("arch", "arm64").str("os", "linux")
            .str("compression", compression);
    }
    /// Closes the root and returns the blob, followed by `external` at the
    /// first 4-byte boundary after it (where data-offset counts from).
    std::string finish(const std::string& external = {}) {
        check(fdt_end_node(blob()));
        check(fdt_finish(blob()));
        std::string out(reinterpret_cast<const char*>(blob()), fdt_totalsize(blob()));
        if (!external.empty()) {
            out.resize((out.size() + 3) / 4 * 4, '\0');
            out += external;
        }
        return out;
    }

private:
    void* blob() { return buffer_.data(); }
    static void check(int rc) {
        if (rc != 0) throw std::runtime_error(std::string("libfdt: ") + fdt_strerror(rc));
    }
    std::vector<std::uint64_t> buffer_;
};

}  // namespace fitstream_test
