// SPDX-License-Identifier: MIT
#pragma once

// An image's bytes as the reader hands them out: stored, straight from the
// mapping, or decoded by its codec in steps of at most 1 MiB of input, so
// that pages already decoded can be dropped again and a small file cannot
// expand past the caller's limit.

#include <fitstream/codec/builtin.hpp>
#include <fitstream/detail/read/node_path.hpp>
#include <fitstream/error.hpp>
#include <fitstream/reader.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fitstream {

inline void reader::require_data(const image_info& img) const {
    if (img.location == data_location::missing)
        throw error(errc::bad_image, "/images/" + img.name, "image has no data");
    if (!img.data_problem.empty()) throw error(errc::bad_image, "/images/" + img.name, img.data_problem);
}

inline void reader::for_each_stored_piece(const image_info& img,
                                         const std::function<void(const char*, std::size_t, bool)>& piece) const {
    require_data(img);
    std::vector<char> buffer;
    for (std::uint64_t done = 0; done < img.size;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(img.size - done, 1u << 20));
        piece(file_.bytes(img.offset + done, n, buffer), n, done + n == img.size);
        done += n;
    }
    static const char empty = 0;
    if (img.size == 0) piece(&empty, 0, true);
}

inline void reader::read_stored(const image_info& img,
                                const std::function<void(const char*, std::size_t)>& sink) const {
    for_each_stored_piece(img, [&](const char* p, std::size_t n, bool) {
        if (n) sink(p, n);
    });
}

inline std::uint64_t reader::read_decoded(const image_info& img,
                                          const std::function<void(const char*, std::size_t)>& sink,
                                          std::uint64_t max_decoded_size) const {
    require_data(img);
    std::uint64_t total = 0;
    const std::string subject = "/images/" + detail::shown_name(img.name);
    if (!img.cipher.empty())
        throw error(errc::unsupported, subject,
                    "encrypted (" + detail::shown_name(img.cipher) + ", key-name-hint '" +
                        detail::shown_name(img.cipher_key_name) +
                        "'): fitpack does not decrypt; U-Boot built with CONFIG_FIT_CIPHER does, with the key in its "
                        "control DTB");
    visit_codec(img.compression, [&](auto tag) {
        using codec = typename decltype(tag)::type;
        typename codec::decoder decoder;
        // Output in steps of 1 MiB, in a buffer left uninitialised; a stored
        // image ("none") decodes to its own size, so a small one gets a small
        // buffer: a FIT of 20,000 tiny images must not cost 20 GB of zeroing.
        // (A codec keeps 1 MiB: some decode a block at a time.)
        const std::size_t out_size =
            img.compression == "none" ? static_cast<std::size_t>(std::clamp<std::uint64_t>(img.size, 4096, 1u << 20))
                                      : std::size_t(1) << 20;
        const std::unique_ptr<char[]> out_buffer(new char[out_size]);
        char* const out = out_buffer.get();
        char* const out_end = out + out_size;
        bool more = true;
        // At most 1 MiB of input a step (read as it is needed, so pages
        // already decoded can be dropped again), decoded until the step is
        // used up or the decoder is done.
        for_each_stored_piece(img, [&](const char* in, std::size_t n, bool last) {
            const char* const in_end = in + n;
            while (more) {
                const char* const before = in;
                char* o = out;
                try {
                    more = decoder.filter(in, in_end, o, out_end, last);
                } catch (const error& e) {
                    throw error(e.code(), subject, img.compression + " data: " + e.reason());
                }
                const auto produced = static_cast<std::size_t>(o - out);
                if (produced > max_decoded_size - total)
                    throw error(errc::limit_exceeded, subject,
                                "decodes to more than " + std::to_string(max_decoded_size) + " bytes");
                total += produced;
                if (produced) sink(out, produced);
                if (in == before && produced == 0) {
                    // A decoder that neither reads nor writes at the end of
                    // its input is waiting for bytes the image does not have.
                    if (last && more) throw error(errc::bad_image, subject, img.compression + " data is truncated");
                    if (in == in_end) break;  // wants the next piece
                }
                if (!last && in == in_end && o != out_end) break;
            }
        });
    });
    return total;
}

}  // namespace fitstream
