// SPDX-License-Identifier: MIT
// One payload on all cores: the optional `segments` part of the Codec
// concept (<fitstream/codec/concept.hpp>) for gzip, lz4 and lzo, and zstd's own
// worker threads.
//  - segments compressed out of order on several std::threads, then header
//    + segments + trailer, decode with the reference tool (gzip -t and
//    gzip -dc, lz4 -t and lz4 -dc, lzop -t and lzop -dc) and with our
//    decoder, at sizes around the segment size and across many segments;
//  - they are byte for byte what the plain encoder makes, so the writer's
//    output cannot depend on whether, or on how many threads, it uses;
//  - the same through the type erasure the writer uses
//    (image::compress_with -> codec_binding::make_segmenter);
//  - gzip's member has the fixed header and joined CRC/ISIZE trailer;
//  - zstd: one frame whose bytes are the same for 1, 2, 3 and 4 threads,
//    above and below the size where libzstd's workers take over.
#define BOOST_TEST_MODULE codec_segments
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "segments.hpp"
#include "support.hpp"

#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace codec = fitstream::codec;
using fitstream_test::kernel_like_payload;
using fitstream_test::temp_dir;
using fitstream_test::write_file;

constexpr std::size_t mib = std::size_t{1} << 20;

/// The plain encoder, through detail::run_filter with a 64 KiB scratch.
template <class C>
std::string encode_plain(const std::string& input, const typename C::options& options = {},
                         std::uint64_t source_size = 0, bool use_source_size = true) {
    typename C::encoder encoder(options, use_source_size ? input.size() : source_size);
    std::string out;
    std::vector<char> scratch(64 * 1024);
    fitstream::detail::run_filter(encoder, input.data(), input.size(), true, scratch.data(), scratch.size(),
                                   [&](const char* p, std::size_t n) { out.append(p, n); });
    return out;
}

template <class C>
std::string decode_ours(const std::string& compressed) {
    typename C::decoder decoder;
    std::string out;
    std::vector<char> scratch(mib);
    const std::size_t consumed =
        fitstream::detail::run_filter(decoder, compressed.data(), compressed.size(), true, scratch.data(),
                                      scratch.size(), [&](const char* p, std::size_t n) { out.append(p, n); });
    BOOST_TEST(consumed == compressed.size());
    return out;
}

/// The reference tool's test mode and its decompression, from a file.
struct tool {
    std::string program;
    std::string suffix;
};
template <class C>
tool tool_for();
template <>
tool tool_for<codec::gzip>() {
    return {"gzip", ".gz"};
}
template <>
tool tool_for<codec::lz4>() {
    return {"lz4", ".lz4"};
}
template <>
tool tool_for<codec::lzo>() {
    return {"lzop", ".lzo"};
}

template <class C>
void check_with_reference_tool(const std::string& compressed, const std::string& input, const std::string& what) {
    const tool t = tool_for<C>();
    temp_dir dir;
    const auto file = dir / ("payload" + t.suffix);
    write_file(file, compressed);
    fitstream_test::tool({t.program, "-t", file.string()});
    const std::string back = fitstream_test::tool({t.program, "-dc", file.string()});
    BOOST_TEST((back == input), what << ": " << t.program << " -dc gives " << back.size() << " bytes, want "
                                     << input.size());
}

/// Sizes around the segment boundary and across many segments.
std::vector<std::size_t> sizes_for(std::size_t segment) {
    return {0, 1, segment - 1, segment, segment + 1, 3 * segment + 12345};
}

using segmented_codecs = std::tuple<codec::gzip, codec::lz4, codec::lzo>;

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(segments_decode_and_equal_the_plain_encoder, C, segmented_codecs) {
    static_assert(fitstream::has_segments_v<C>);
    const std::size_t segment = typename C::segments(typename C::options{}, 0).segment_size();
    for (const std::size_t size : sizes_for(segment)) {
        const std::string what = std::string(C::fit_name) + " " + std::to_string(size) + " bytes";
        const std::string input = kernel_like_payload(size, static_cast<unsigned>(size % 97 + 1));
        const std::string parallel = fitstream_test::encode_segments<C>(input);
        check_with_reference_tool<C>(parallel, input, what);
        BOOST_TEST((decode_ours<C>(parallel) == input), what << ": our decoder");
        const std::string plain = encode_plain<C>(input);
        BOOST_TEST((plain == parallel), what << ": plain encoder " << plain.size() << " bytes, segments "
                                             << parallel.size());
        // One thread and eight threads: the same bytes.
        BOOST_TEST((fitstream_test::encode_segments<C>(input, {}, 1) == parallel), what << ": 1 thread");
        BOOST_TEST((fitstream_test::encode_segments<C>(input, {}, 8) == parallel), what << ": 8 threads");
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(segment_size_is_fixed_by_options_alone, C, segmented_codecs) {
    const std::size_t reference = typename C::segments(typename C::options{}, 0).segment_size();
    for (const std::uint64_t size : {std::uint64_t{1}, std::uint64_t{mib}, std::uint64_t{1} << 32})
        BOOST_TEST(typename C::segments(typename C::options{}, size).segment_size() == reference);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(segments_at_other_levels, C, segmented_codecs) {
    const std::string input = kernel_like_payload(2 * mib + 4321, 11);
    for (const int level : {1, 9}) {
        typename C::options options;
        options.level = level;
        const std::string what = std::string(C::fit_name) + " level " + std::to_string(level);
        const std::string parallel = fitstream_test::encode_segments<C>(input, options);
        check_with_reference_tool<C>(parallel, input, what);
        BOOST_TEST((encode_plain<C>(input, options) == parallel), what << ": plain encoder differs");
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(incompressible_segments, C, segmented_codecs) {
    // Noise: gzip's stored blocks, lz4's and lzop's uncompressed blocks.
    std::string input(mib + 777, '\0');
    std::uint32_t x = 12345;
    for (char& c : input) {
        x = x * 1664525u + 1013904223u;
        c = static_cast<char>(x >> 24);
    }
    const std::string parallel = fitstream_test::encode_segments<C>(input);
    check_with_reference_tool<C>(parallel, input, std::string(C::fit_name) + " noise");
    BOOST_TEST((decode_ours<C>(parallel) == input));
    BOOST_TEST((encode_plain<C>(input) == parallel));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(type_erased_segmenter_matches, C, segmented_codecs) {
    // What the writer holds: image::compress_with<C>() -> codec_binding.
    fitstream::image img("kernel", "kernel", fitstream::source::file("unused"));
    img.compress_with<C>();
    BOOST_TEST_REQUIRE(img.codec().segmented());
    const std::string input = kernel_like_payload(2 * mib + 99, 4);
    const auto seg = img.codec().make_segmenter(input.size());
    std::vector<char> out;
    seg->header(out);
    const std::size_t size = seg->segment_size();
    const std::size_t count = (input.size() + size - 1) / size;
    std::vector<fitstream::detail::segment_output> parts(count);
    std::vector<std::thread> pool;
    for (std::size_t i = 0; i < count; ++i) {
        pool.emplace_back([&, i] {
            const std::size_t offset = i * size;
            const std::size_t dict = std::min(seg->dictionary_size(), offset);
            seg->encode(i, input.data() + offset - dict, dict, input.data() + offset,
                        std::min(size, input.size() - offset), i + 1 == count, parts[i]);
        });
    }
    for (auto& t : pool) t.join();
    for (const auto& p : parts) {
        out.insert(out.end(), p.bytes.begin(), p.bytes.end());
        seg->add(p);
    }
    seg->trailer(out);
    BOOST_TEST((std::string(out.begin(), out.end()) == encode_plain<C>(input)));
}

BOOST_AUTO_TEST_CASE(codecs_without_segments_say_so) {
    BOOST_TEST(!fitstream::has_segments_v<codec::none>);
    BOOST_TEST(!fitstream::has_segments_v<codec::zstd>);   // libzstd's own workers instead
    BOOST_TEST(!fitstream::has_segments_v<codec::bzip2>);  // one bzip2 stream
    BOOST_TEST(!fitstream::has_segments_v<codec::lzma>);   // one LZMA_Alone stream
}

BOOST_AUTO_TEST_CASE(gzip_member_header_and_joined_trailer) {
    const std::string input = kernel_like_payload(3 * mib + 5, 8);
    const std::string gz = fitstream_test::encode_segments<codec::gzip>(input);
    BOOST_TEST_REQUIRE(gz.size() > 18u);
    // 1f 8b, deflate, no flags, mtime 0, XFL 0 (level 6), OS 3: one member.
    BOOST_TEST((gz.substr(0, 10) == std::string("\x1f\x8b\x08\0\0\0\0\0\0\x03", 10)));
    const auto* t = reinterpret_cast<const unsigned char*>(gz.data() + gz.size() - 8);
    auto le32 = [](const unsigned char* p) {
        return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
               static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
    };
    const auto crc = static_cast<std::uint32_t>(
        ::crc32(0L, reinterpret_cast<const Bytef*>(input.data()), static_cast<uInt>(input.size())));
    BOOST_TEST(le32(t) == crc);
    BOOST_TEST(le32(t + 4) == static_cast<std::uint32_t>(input.size()));
    // Non-final segments end with an empty stored block (sync flush marker);
    // four segments, three markers at least.
    std::size_t markers = 0;
    for (std::size_t at = 0; (at = gz.find(std::string("\0\0\xff\xff", 4), at)) != std::string::npos; ++at)
        ++markers;
    BOOST_TEST(markers >= 3u);
    // One member: gzip -l counts the whole input under one header.
    temp_dir dir;
    write_file(dir / "k.gz", gz);
    const std::string listing = fitstream_test::tool({"gzip", "-lv", (dir / "k.gz").string()});
    BOOST_TEST(listing.find(std::to_string(input.size())) != std::string::npos, listing);
}

BOOST_AUTO_TEST_CASE(gzip_plain_encoder_with_unknown_size) {
    const std::string input = kernel_like_payload(2 * mib + 3, 6);
    const std::string gz = encode_plain<codec::gzip>(input, {}, fitstream::unknown_size, false);
    BOOST_TEST((gz == fitstream_test::encode_segments<codec::gzip>(input)));
}

BOOST_AUTO_TEST_CASE(lz4_frame_size_in_header_and_liar_refused) {
    const std::string input = kernel_like_payload(mib + 1, 2);
    const std::string f = fitstream_test::encode_segments<codec::lz4>(input);
    // FLG: version 01, independent blocks, block checksums, content size.
    BOOST_TEST(static_cast<unsigned char>(f[4]) == 0x78u);
    BOOST_TEST(static_cast<unsigned char>(f[5]) == 0x60u);  // 1 MiB blocks
    codec::lz4::encoder liar(codec::lz4::options{}, input.size() + 1);
    std::vector<char> scratch(mib);
    BOOST_CHECK_THROW(fitstream::detail::run_filter(liar, input.data(), input.size(), true, scratch.data(),
                                                     scratch.size(), [](const char*, std::size_t) {}),
                      fitstream::error);
}

BOOST_AUTO_TEST_CASE(zstd_output_is_the_same_for_any_thread_count) {
    // Above 4 MiB libzstd's workers make the frame; at or below, the
    // caller's thread. Neither may depend on the thread count.
    for (const std::size_t size : {std::size_t{3} * mib, 9 * mib + 17}) {
        const std::string input = kernel_like_payload(size, 5);
        std::string first;
        for (const unsigned threads : {1u, 2u, 3u, 4u}) {
            codec::zstd::encoder enc(codec::zstd::options{}, input.size(), threads);
            std::string out;
            std::vector<char> scratch(64 * 1024);
            fitstream::detail::run_filter(enc, input.data(), input.size(), true, scratch.data(), scratch.size(),
                                           [&](const char* p, std::size_t n) { out.append(p, n); });
            if (threads == 1) {
                first = out;
                BOOST_TEST((decode_ours<codec::zstd>(out) == input));
                BOOST_TEST((fitstream_test::tool({"zstd", "-q", "-dc"}, out) == input));
                // The two-argument constructor is the one-thread case.
                BOOST_TEST((encode_plain<codec::zstd>(input) == out));
            } else {
                BOOST_TEST((out == first), size << " bytes, " << threads << " threads");
            }
        }
    }
    // Through the type erasure the writer uses.
    fitstream::image img("kernel", "kernel", fitstream::source::file("unused"));
    img.compress_with<codec::zstd>();
    const std::string input = kernel_like_payload(6 * mib, 3);
    std::string one, four;
    for (const unsigned threads : {1u, 4u}) {
        auto enc = img.codec().make_encoder(input.size(), threads);
        std::string& out = threads == 1 ? one : four;
        std::vector<char> scratch(64 * 1024);
        fitstream::detail::run_filter(*enc, input.data(), input.size(), true, scratch.data(), scratch.size(),
                                       [&](const char* p, std::size_t n) { out.append(p, n); });
    }
    BOOST_TEST((one == four));
    BOOST_TEST((decode_ours<codec::zstd>(one) == input));
}
