// SPDX-License-Identifier: MIT
#pragma once

// Reading and checking devicetree files, and doing it for a window of the
// DTB list on the worker threads ahead of the (sequential) tree assembly.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/kbuild/dedup.hpp>
#include <fitstream/detail/parallel/cores.hpp>
#include <fitstream/detail/parallel/scheduler.hpp>
#include <fitstream/input/dtb.hpp>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace fitstream {
namespace detail {

// What reading a devicetree file tells: its model and compatible, and its
// content key when deduplicating.
struct dtb_inspection {
    dtb_info info;
    std::optional<content_key> key;
};

// Checks (fdt_check_full) and inspects a devicetree file's bytes.
inline dtb_inspection inspect_dtb_bytes(const std::string& bytes, const std::string& path, bool with_key) {
    dtb_inspection out{inspect_dtb(bytes.data(), bytes.size(), path), std::nullopt};
    if (with_key) out.key = content_key_of(bytes.data(), bytes.size());
    return out;
}

// The threads that read ahead for `requested` (kernel_fit_options::threads,
// 0: one per core). Reading and checking DTBs is computing once the page
// cache is warm, so like the writer's pipeline it takes no more threads than
// the cores this process may run on: `-j 8` on two cores reads on two.
inline unsigned read_ahead_threads(unsigned requested) noexcept {
    const unsigned cores = available_cores();
    return requested == 0 ? cores : std::min(requested, cores);
}

// Reads and inspects [first, last) on `threads` worker threads (the
// writer's scheduler) into `out` (keyed by path): with 1,500 DTBs, reading
// them and fdt_check_full are most of the time spent outside the codecs. A
// file that fails is left out: the caller reads it again in list order, so
// its error comes where it would without threads. Read-ahead only saves
// time, so when no thread can be started the caller reads every file itself.
inline void read_ahead(const std::string* first, const std::string* last, unsigned threads, bool with_key,
                       std::unordered_map<std::string, dtb_inspection>& out) {
    out.clear();
    const auto count = static_cast<std::size_t>(last - first);
    threads = static_cast<unsigned>(std::min<std::size_t>(threads, count));
    if (threads < 2) return;
    struct read_job {
        std::size_t index = 0;
        std::optional<dtb_inspection> result;
    };
    std::size_t next = 0;
    // The whole window may be read ahead: each job costs 1 of `count`.
    scheduler<read_job> jobs(threads, count, 1);
    try {
        jobs.run(
            [&](read_job& job, std::size_t& reserved) {
                if (next == count) return false;
                job.index = next++;
                reserved = 0;
                return true;
            },
            [&] {
                return [&](read_job& job, scheduler<read_job>::worker&) {
                    const std::string& path = first[job.index];
                    try {
                        job.result = inspect_dtb_bytes(read_dtb_file(path), path, with_key);
                    } catch (...) {
                        // Met again, in order, by the caller.
                    }
                };
            },
            [&](read_job& job, scheduler<read_job>::results& done) {
                done.wait();
                if (job.result) out.emplace(first[job.index], std::move(*job.result));
            });
    } catch (...) {
        out.clear();  // no thread (or no memory) to be had: the caller reads in order
    }
}

}  // namespace detail
}  // namespace fitstream
