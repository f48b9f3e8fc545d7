// SPDX-License-Identifier: MIT
#pragma once

// Reading and checking devicetree files, and doing it for a window of the
// DTB list on several threads ahead of the (sequential) tree assembly.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/kbuild/dedup.hpp>
#include <fitstream/input/dtb.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace fitstream {
namespace detail {

// What reading a devicetree file tells: its model and compatible, and its
// digest when deduplicating.
struct dtb_inspection {
    dtb_info info;
    std::optional<digest> sha;
};

// Checks (fdt_check_full) and inspects a devicetree file's bytes.
inline dtb_inspection inspect_dtb_bytes(const std::string& bytes, const std::string& path, bool with_digest) {
    dtb_inspection out{inspect_dtb(bytes.data(), bytes.size(), path), std::nullopt};
    if (with_digest) out.sha = digest_of(bytes.data(), bytes.size());
    return out;
}

// A DTB is at most a few MiB; anything near libfdt's int limit is not one.
inline std::string read_dtb_file(const std::string& path) {
    return read_file_bounded(path, max_dtb_file_size, "devicetree blob");
}

// Reads and inspects [first, last) on `threads` threads into `out` (keyed
// by path): with 1,500 DTBs, reading them and fdt_check_full are most of
// the time spent outside the codecs. A file that fails is left out: the
// caller reads it again in list order, so its error comes where it would
// without threads.
inline void read_ahead(const std::string* first, const std::string* last, unsigned threads, bool with_digest,
                       std::unordered_map<std::string, dtb_inspection>& out) {
    out.clear();
    const auto count = static_cast<std::size_t>(last - first);
    threads = static_cast<unsigned>(std::min<std::size_t>(threads, count));
    if (threads < 2) return;
    std::vector<std::optional<dtb_inspection>> results(count);
    std::atomic<std::size_t> next{0};
    const auto work = [&] {
        for (std::size_t i; (i = next.fetch_add(1)) < count;) {
            try {
                results[i] = inspect_dtb_bytes(read_dtb_file(first[i]), first[i], with_digest);
            } catch (...) {
                // Met again, in order, by the caller.
            }
        }
    };
    std::vector<std::thread> pool;
    try {
        for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    } catch (...) {
        // No more threads to be had: the ones started and this one share
        // the list all the same.
    }
    work();
    for (auto& t : pool) t.join();
    for (std::size_t i = 0; i < count; ++i)
        if (results[i]) out.emplace(first[i], std::move(*results[i]));
}

}  // namespace detail
}  // namespace fitstream
