// SPDX-License-Identifier: MIT
#pragma once

// The number-valued properties both structure writers offer (fdt_builder,
// which holds the blob, and fdt_stream, which writes it as it goes), in terms
// of the writer's own property(name, value, size): a CRTP base, so the
// big-endian encoding is written once.

#include <fitstream/detail/lib/libfdt.hpp>

#include <cstdint>
#include <string>

namespace fitstream {
namespace detail {

template <class Writer>
class fdt_number_properties {
public:
    void property_u32(const std::string& name, std::uint32_t value) {
        char be[4];
        fdt32_st(be, value);
        writer().property(name, be, sizeof be);
    }
    /// A value of `cells` 32-bit cells (1 or 2), big-endian, high cell first.
    void property_cells(const std::string& name, std::uint64_t value, int cells) {
        if (cells == 1) return property_u32(name, static_cast<std::uint32_t>(value));
        char be[8];
        fdt64_st(be, value);  // big-endian: the high cell first
        writer().property(name, be, sizeof be);
    }

private:
    Writer& writer() { return static_cast<Writer&>(*this); }
};

}  // namespace detail
}  // namespace fitstream
