// SPDX-License-Identifier: MIT
// What the writer's pipeline (<fitstream/detail/write/pipeline.hpp>) may use
// besides time: the encoders' memory counts against the memory budget
// (lzma's match finder, zstd's contexts; at least one image always runs),
// the threads computing at once never outnumber -j nor the cores (a large
// zstd image's libzstd workers included), and segmented images hashed on
// the hashing thread give the digests the calling thread would. The bytes
// are the same for every -j, budget and core count. Small inputs: fast.
#define BOOST_TEST_MODULE fitstream pipeline resources
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <cstdint>
#include <string>
#include <vector>

#if defined(__linux__)
#include <sched.h>
#endif

namespace {

using fitstream_test::kernel_like_payload;

std::vector<char> to_vector(const std::string& s) { return {s.begin(), s.end()}; }

/// Everything the pipeline hands the calling thread, in order.
struct collected final : fitstream::detail::pipeline_consumer {
    std::string bytes;
    std::vector<std::uint8_t> digests;
    std::vector<std::size_t> order;
    void begin_image(std::size_t index) override { order.push_back(index); }
    void stored(const char* data, std::size_t size, std::uint64_t) override { bytes.append(data, size); }
    void end_image(std::size_t, const std::uint8_t* d, std::uint64_t) override {
        digests.insert(digests.end(), d, d + 64);  // sha256 + sha1 + md5 + crc32 (32 + 20 + 8 + 4)
    }
};

struct outcome {
    collected out;
    std::size_t peak_in_flight = 0;
    unsigned peak_running = 0;
};

outcome run(const fitstream::tree& fit, unsigned threads, std::size_t budget, unsigned cores,
            std::size_t chunk = 256 * 1024) {
    const fitstream::detail::tree_image_list images(fit.images);
    std::vector<std::uint64_t> sizes;
    for (const auto& img : fit.images) sizes.push_back(img.data.memory_size());
    fitstream::detail::pipeline work(images, sizes, threads, budget, chunk, cores);
    outcome o;
    work.run(o.out);
    o.peak_in_flight = work.peak_in_flight();
    o.peak_running = work.peak_running();
    return o;
}

template <class Codec>
fitstream::tree tree_of(const std::vector<std::size_t>& sizes, typename Codec::options opts = {}) {
    fitstream::tree fit;
    for (std::size_t i = 0; i < sizes.size(); ++i) {
        const std::string name = "img-" + std::to_string(i);
        auto& img = fit.images.emplace_back(
            name, "firmware",
            fitstream::source::memory(to_vector(kernel_like_payload(sizes[i], static_cast<unsigned>(i) + 3)), name));
        img.compress_with<Codec>(opts)
            .template add_hash<fitstream::hash::sha256>()
            .template add_hash<fitstream::hash::sha1>()
            .template add_hash<fitstream::hash::md5>()
            .template add_hash<fitstream::hash::crc32>();
    }
    return fit;
}

void check_same(const outcome& a, const outcome& b) {
    BOOST_TEST((a.out.bytes == b.out.bytes), "stored bytes differ");
    BOOST_TEST((a.out.digests == b.out.digests), "digests differ");
    BOOST_TEST((a.out.order == b.out.order));
}

}  // namespace

BOOST_AUTO_TEST_CASE(codecs_report_their_encoders_memory) {
    using fitstream::encoder_memory;
#ifndef FITSTREAM_NO_LZMA
    // Preset 6: liblzma's 93 MiB for a source as large as the dictionary
    // (8 MiB); a small source touches little of the window and the tree.
    const std::size_t whole = encoder_memory<fitstream::codec::lzma>({}, 40u << 20, 1);
    BOOST_TEST(whole > (90u << 20));
    BOOST_TEST(whole < (100u << 20));
    BOOST_TEST(encoder_memory<fitstream::codec::lzma>({}, fitstream::unknown_size, 1) == whole);
    const std::size_t dtb = encoder_memory<fitstream::codec::lzma>({}, 40000, 1);
    BOOST_TEST(dtb > (16u << 20));  // the hash table is touched all over
    BOOST_TEST(dtb < (24u << 20));
    BOOST_TEST(encoder_memory<fitstream::codec::lzma>({1}, 40u << 20, 1) < (10u << 20));
#endif
#ifndef FITSTREAM_NO_ZSTD
    const std::size_t single = encoder_memory<fitstream::codec::zstd>({}, 1u << 20, 4);
    const std::size_t one = encoder_memory<fitstream::codec::zstd>({}, 40u << 20, 1);
    const std::size_t four = encoder_memory<fitstream::codec::zstd>({}, 40u << 20, 4);
    BOOST_TEST(single < (4u << 20));  // no workers at or below 4 MiB
    BOOST_TEST(one > (20u << 20));
    BOOST_TEST(four > one);
    BOOST_TEST(fitstream::encoder_threads<fitstream::codec::zstd>({}, 1u << 20, 8) == 1u);
    BOOST_TEST(fitstream::encoder_threads<fitstream::codec::zstd>({}, 9u << 20, 8) == 3u);
    BOOST_TEST(fitstream::encoder_threads<fitstream::codec::zstd>({}, 40u << 20, 2) == 2u);
#endif
    // A codec that says nothing: no memory, one thread.
    BOOST_TEST(encoder_memory<fitstream::codec::gzip>({}, 40u << 20, 4) == 0u);
    BOOST_TEST(fitstream::encoder_threads<fitstream::codec::gzip>({}, 40u << 20, 4) == 1u);
}

#ifndef FITSTREAM_NO_LZMA
BOOST_AUTO_TEST_CASE(lzma_in_a_small_budget_runs_one_at_a_time_with_the_same_bytes) {
    const auto fit = tree_of<fitstream::codec::lzma>({30000, 50000, 20000, 40000}, {1});
    const auto reference = run(fit, 1, 16u << 20, 1);
    // Level 1: a 1 MiB dictionary, about 9 MiB of encoder.
    const std::size_t each = fitstream::encoder_memory<fitstream::codec::lzma>({1}, 50000, 1);
    BOOST_TEST(each > (1u << 20));
    for (const unsigned threads : {2u, 4u}) {
        BOOST_TEST_CONTEXT("-j" << threads) {
            const auto small = run(fit, threads, 1u << 20, 2);
            check_same(small, reference);
            BOOST_TEST(small.peak_running == 1u);
            // What one job holds is counted: peak_buffered reports it.
            BOOST_TEST(small.peak_in_flight >= each / 2);
            const auto large = run(fit, threads, 256u << 20, 2);
            check_same(large, reference);
            BOOST_TEST(large.peak_running <= 2u);
        }
    }
}
#endif

#ifndef FITSTREAM_NO_ZSTD
BOOST_AUTO_TEST_CASE(threads_never_outnumber_the_cores_and_zstd_workers_count) {
    // Two zstd images of three 4 MiB jobs each (libzstd's workers) and
    // small ones: -j 8 on "2 cores" computes on at most 2 threads, and the
    // bytes are those of -j 1 (one libzstd worker) whatever the count.
    const auto fit = tree_of<fitstream::codec::zstd>({9u << 20, 20000, 9u << 20, 30000, 5000});
    const auto reference = run(fit, 1, 64u << 20, 1);
    for (const unsigned threads : {2u, 3u, 8u}) {
        for (const unsigned cores : {1u, 2u}) {
            BOOST_TEST_CONTEXT("-j" << threads << " on " << cores << " cores") {
                const auto o = run(fit, threads, 64u << 20, cores);
                check_same(o, reference);
                BOOST_TEST(o.peak_running >= 1u);
                BOOST_TEST(o.peak_running <= std::min(threads, cores));
            }
        }
    }
}
#endif

BOOST_AUTO_TEST_CASE(segmented_images_hashed_beside_the_writer_give_the_same_digests) {
    // gzip cuts images into 1 MiB segments: the hashing thread sees them in
    // order, interleaved with small images hashed on the workers.
    const auto fit = tree_of<fitstream::codec::gzip>({(3u << 20) + 12345, 1000, 0, (1u << 20), 77});
    const auto reference = run(fit, 1, 16u << 20, 1);
    BOOST_TEST(reference.out.digests.size() == 5 * 64u);
    for (const unsigned threads : {2u, 8u}) {
        BOOST_TEST_CONTEXT("-j" << threads) {
            check_same(run(fit, threads, 16u << 20, 2), reference);
            check_same(run(fit, threads, 1, 8), reference);
        }
    }
}

#if defined(__linux__) && defined(CPU_COUNT)
BOOST_AUTO_TEST_CASE(dtb_read_ahead_takes_no_more_threads_than_the_cores) {
    // plan_kernel_fit()'s read-ahead, like the pipeline, is capped at the
    // cores of the affinity mask: restricted to one CPU, `-j 8` reads on one
    // thread (that is, in order, without read-ahead).
    cpu_set_t saved;
    CPU_ZERO(&saved);
    BOOST_REQUIRE(::sched_getaffinity(0, sizeof saved, &saved) == 0);
    const unsigned cores = static_cast<unsigned>(CPU_COUNT(&saved));
    BOOST_TEST(fitstream::detail::read_ahead_threads(0) == cores);
    BOOST_TEST(fitstream::detail::read_ahead_threads(1) == 1u);
    BOOST_TEST(fitstream::detail::read_ahead_threads(cores + 7) == cores);

    int first = 0;
    while (!CPU_ISSET(first, &saved)) ++first;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    BOOST_REQUIRE(::sched_setaffinity(0, sizeof one, &one) == 0);
    const unsigned on_one[] = {fitstream::detail::read_ahead_threads(0), fitstream::detail::read_ahead_threads(8)};
    BOOST_REQUIRE(::sched_setaffinity(0, sizeof saved, &saved) == 0);
    BOOST_TEST(on_one[0] == 1u);
    BOOST_TEST(on_one[1] == 1u);
}
#endif
