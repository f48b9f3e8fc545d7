// SPDX-License-Identifier: MIT
#pragma once

// An image's bytes as the reader hands them out: stored, straight from the
// mapping, or decoded by its codec in steps of at most 1 MiB of input, so
// that pages already decoded can be dropped again and a small file cannot
// expand past the caller's limit.

#include <fitstream/codec/builtin.hpp>
#include <fitstream/error.hpp>
#include <fitstream/reader.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fitstream {

inline void reader::require_data(const image_info& img) const {
    if (img.location == data_location::missing)
        throw error(errc::bad_image, "/images/" + img.name, "image has no data");
    if (!img.data_problem.empty()) throw error(errc::bad_image, "/images/" + img.name, img.data_problem);
}

inline void reader::read_stored(const image_info& img,
                                const std::function<void(const char*, std::size_t)>& sink) const {
    require_data(img);
    const char* p = file_.data() + img.offset;
    for (std::uint64_t done = 0; done < img.size;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(img.size - done, 1u << 20));
        sink(p + done, n);
        done += n;
    }
}

inline std::uint64_t reader::read_decoded(const image_info& img,
                                          const std::function<void(const char*, std::size_t)>& sink,
                                          std::uint64_t max_decoded_size) const {
    require_data(img);
    std::uint64_t total = 0;
    const std::string subject = "/images/" + img.name;
    visit_codec(img.compression, [&](auto tag) {
        using codec = typename decltype(tag)::type;
        typename codec::decoder decoder;
        std::vector<char> out(1u << 20);
        const char* in = file_.data() + img.offset;
        const char* const in_end = in + img.size;
        for (;;) {
            // At most 1 MiB of input a step, so pages already decoded can
            // be dropped again.
            const char* step_end = in_end - in > (1 << 20) ? in + (1 << 20) : in_end;
            const char* const before = in;
            char* o = out.data();
            bool more;
            try {
                more = decoder.filter(in, step_end, o, out.data() + out.size(), step_end == in_end);
            } catch (const error& e) {
                throw error(e.code(), subject, img.compression + " data: " + e.reason());
            }
            const auto produced = static_cast<std::size_t>(o - out.data());
            if (produced > max_decoded_size - total)
                throw error(errc::bad_image, subject,
                            "decodes to more than " + std::to_string(max_decoded_size) + " bytes");
            total += produced;
            if (produced) sink(out.data(), produced);
            if (!more) break;
            // A decoder that neither reads nor writes at the end of its
            // input is waiting for bytes the image does not have.
            if (in == before && produced == 0 && in == in_end)
                throw error(errc::bad_image, subject, img.compression + " data is truncated");
        }
    });
    return total;
}

}  // namespace fitstream
