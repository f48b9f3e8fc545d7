// SPDX-License-Identifier: MIT
#pragma once

// Drives a codec's `segments` the way the parallel writer may, for the
// codec tests and the U-Boot tests that decode what it makes.

#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <string>
#include <thread>
#include <vector>

namespace fitstream_test {

/// Compresses `input` through C::segments the way a parallel writer may:
/// `threads` std::threads take segments from a shared counter from the last
/// to the first (so neither order nor thread is the natural one), each
/// handed the dictionary bytes the contract promises; then header, the
/// segments in order with add(), trailer.
template <class C>
std::string encode_segments(const std::string& input, const typename C::options& options = {},
                            unsigned threads = 3) {
    typename C::segments seg(options, input.size());
    const std::size_t size = seg.segment_size();
    BOOST_TEST_REQUIRE(size > 0u);
    const std::size_t count = input.empty() ? 1 : (input.size() + size - 1) / size;
    std::vector<std::vector<char>> bytes(count);
    std::vector<typename C::segments::summary> summaries(count);
    std::atomic<std::size_t> next{0};
    const typename C::segments& shared = seg;  // encode() is const and thread-safe
    auto work = [&] {
        for (std::size_t k; (k = next.fetch_add(1)) < count;) {
            const std::size_t i = count - 1 - k;
            const std::size_t offset = i * size;
            const std::size_t n = std::min(size, input.size() - offset);
            const std::size_t dict = std::min(shared.dictionary_size(), offset);
            summaries[i] = shared.encode(i, input.data() + offset - dict, dict, input.data() + offset, n,
                                         i + 1 == count, bytes[i]);
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();

    std::vector<char> out;
    seg.header(out);
    for (std::size_t i = 0; i < count; ++i) {
        out.insert(out.end(), bytes[i].begin(), bytes[i].end());
        seg.add(summaries[i]);
    }
    seg.trailer(out);
    return std::string(out.begin(), out.end());
}

}  // namespace fitstream_test
