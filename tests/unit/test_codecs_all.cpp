// SPDX-License-Identifier: MIT
// Every built-in codec, encoder and decoder (<fitstream/codec/*.hpp>):
//  - round trips through our decoder and through the codec's reference
//    command-line tool (gzip, bzip2, xz --format=lzma, lzop, lz4, zstd);
//  - the reference tools' own output decoded by our decoders;
//  - the SymmetricFilter contract across chunk boundaries: 1-byte input
//    chunks and 1-byte output windows, odd-sized chunks, and
//    detail::run_filter with a 1 MiB scratch, giving identical bytes;
//  - the container U-Boot reads, byte by byte (and, for lzop, U-Boot's own
//    block walk, redone here with liblzo2);
//  - corrupt, truncated and hostile input throwing fitstream::error of the
//    codec library's category, with bounded memory.
#define BOOST_TEST_MODULE codecs_all
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <boost/iostreams/device/array.hpp>
#include <boost/iostreams/device/back_inserter.hpp>
#include <boost/iostreams/filter/symmetric.hpp>
#include <boost/iostreams/filtering_stream.hpp>

#include <lzo/lzo1x.h>
#include <zlib.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

namespace {

using fitstream_test::kernel_like_payload;
using fitstream_test::check_same;
using fitstream_test::random_bytes;
using fitstream_test::tool;
namespace codec = fitstream::codec;

using all_codecs = std::tuple<codec::none, codec::gzip, codec::bzip2, codec::lzma, codec::lzo, codec::lz4, codec::zstd>;
using compressing_codecs = std::tuple<codec::gzip, codec::bzip2, codec::lzma, codec::lzo, codec::lz4, codec::zstd>;

constexpr std::size_t mib = 1024 * 1024;

/// A reference tool that refuses its input exits before reading all of it;
/// writing the rest must fail with EPIPE, not kill the test with SIGPIPE.
struct ignore_sigpipe {
    ignore_sigpipe() { std::signal(SIGPIPE, SIG_IGN); }
};

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

struct sample {
    const char* name;
    std::string bytes;
};

enum sample_id { empty_sample, one_byte_sample, kernel_sample, random_sample, small_kernel_sample, sample_count };

/// Empty, one byte, ~3 MiB that compresses like machine code, 1 MiB of
/// noise, and 300 KiB of code (past one 256 KiB lzop block) for the slow
/// byte-at-a-time runs.
const sample& samples(sample_id id) {
    static const std::vector<sample> all = {
        {"empty", std::string()},
        {"one byte", std::string(1, '\x5a')},
        {"kernel-like 3 MiB + 7", kernel_like_payload(3 * mib + 7)},
        {"random 1 MiB", random_bytes(mib, 20240601u)},
        {"kernel-like 300 KiB + 3", kernel_like_payload(300 * 1024 + 3, 7)},
    };
    return all.at(id);
}
constexpr sample_id all_samples[] = {empty_sample, one_byte_sample, kernel_sample, random_sample};

std::uint32_t be32(const std::string& s, std::size_t at) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + at;
    return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
}
std::uint16_t be16(const std::string& s, std::size_t at) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data()) + at;
    return static_cast<std::uint16_t>(p[0] << 8 | p[1]);
}
std::uint64_t le64(const std::string& s, std::size_t at) {
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(s[at + i]);
    return v;
}
std::uint32_t le32(const std::string& s, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(s[at + i]);
    return v;
}
unsigned byte(const std::string& s, std::size_t at) { return static_cast<unsigned char>(s.at(at)); }

// ---------------------------------------------------------------------------
// Per codec: reference tools and error category
// ---------------------------------------------------------------------------

template <class C>
struct reference;
template <>
struct reference<codec::none> {
    static std::vector<std::string> compress() { return {"cat"}; }
    static std::vector<std::string> decompress() { return {"cat"}; }
    static const std::error_category* category() { return nullptr; }
};
template <>
struct reference<codec::gzip> {
    static std::vector<std::string> compress() { return {"gzip", "-c"}; }
    static std::vector<std::string> decompress() { return {"gzip", "-dc"}; }
    static const std::error_category* category() { return &fitstream::zlib_category(); }
};
template <>
struct reference<codec::bzip2> {
    static std::vector<std::string> compress() { return {"bzip2", "-c"}; }
    static std::vector<std::string> decompress() { return {"bzip2", "-dc"}; }
    static const std::error_category* category() { return &fitstream::bzip2_category(); }
};
template <>
struct reference<codec::lzma> {
    // -0: the format is the same at every level, and -6 needs ~5 s for
    // the 3 MiB sample, which the suite has no time for twice.
    static std::vector<std::string> compress() { return {"lzma", "-0", "-c"}; }
    static std::vector<std::string> decompress() { return {"xz", "--format=lzma", "-dc"}; }
    static const std::error_category* category() { return &fitstream::lzma_category(); }
};
template <>
struct reference<codec::lzo> {
    static std::vector<std::string> compress() { return {"lzop", "-c"}; }
    static std::vector<std::string> decompress() { return {"lzop", "-dc"}; }
    static const std::error_category* category() { return &fitstream::lzo_category(); }
};
template <>
struct reference<codec::lz4> {
    static std::vector<std::string> compress() { return {"lz4", "-c"}; }  // frame format, not -l
    static std::vector<std::string> decompress() { return {"lz4", "-dc"}; }
    static const std::error_category* category() { return &fitstream::lz4_category(); }
};
template <>
struct reference<codec::zstd> {
    static std::vector<std::string> compress() { return {"zstd", "-q", "-c"}; }
    static std::vector<std::string> decompress() { return {"zstd", "-q", "-dc"}; }
    static const std::error_category* category() { return &fitstream::zstd_category(); }
};

// ---------------------------------------------------------------------------
// Driving the SymmetricFilter API
// ---------------------------------------------------------------------------

struct pumped {
    std::string out;
    std::size_t consumed = 0;
};

/// Feeds `input` in `in_chunk`-byte chunks (flush == false), then flushes,
/// with `out_window`-byte output windows, until the filter says it is done.
template <class Filter>
pumped pump(Filter& filter, const std::string& input, std::size_t in_chunk, std::size_t out_window) {
    pumped r;
    std::vector<char> window(out_window);
    const char* const begin = input.data();
    const char* const end = begin + input.size();
    const char* in = begin;
    bool more = true;
    int idle = 0;
    auto call = [&](const char* chunk_end, bool flush) {
        const char* const before = in;
        char* out = window.data();
        more = filter.filter(in, chunk_end, out, window.data() + window.size(), flush);
        r.out.append(window.data(), static_cast<std::size_t>(out - window.data()));
        if (in == before && out == window.data()) {
            if (++idle > 16) throw std::runtime_error("the filter makes no progress");
        } else {
            idle = 0;
        }
    };
    while (more && in != end) {
        const char* const chunk_end = in + std::min(in_chunk, static_cast<std::size_t>(end - in));
        while (more && in != chunk_end) call(chunk_end, false);
    }
    while (more) call(end, true);
    r.consumed = static_cast<std::size_t>(in - begin);
    return r;
}

template <class C>
std::string encode(const std::string& input, const typename C::options& options = {}) {
    typename C::encoder encoder(options, input.size());
    std::string out;
    std::vector<char> scratch(mib);
    fitstream::detail::run_filter(encoder, input.data(), input.size(), true, scratch.data(), scratch.size(),
                                   [&](const char* p, std::size_t n) { out.append(p, n); });
    return out;
}

/// Decodes with detail::run_filter and a 1 MiB scratch; `consumed` says how
/// much of the input the decoder took.
template <class C>
std::string decode(const std::string& compressed, std::size_t* consumed = nullptr) {
    typename C::decoder decoder;
    std::string out;
    std::vector<char> scratch(mib);
    const std::size_t n =
        fitstream::detail::run_filter(decoder, compressed.data(), compressed.size(), true, scratch.data(),
                                      scratch.size(), [&](const char* p, std::size_t k) { out.append(p, k); });
    if (consumed) *consumed = n;
    return out;
}

/// Each codec's encoding of each sample, made once (some are slow).
template <class C>
const std::string& encoded(sample_id id) {
    static std::map<sample_id, std::string> cache;
    auto it = cache.find(id);
    if (it == cache.end()) it = cache.emplace(id, encode<C>(samples(id).bytes)).first;
    return it->second;
}

/// Runs `f`, which must throw a fitstream::error from codec C's library.
template <class C, class F>
void expect_codec_error(F&& f, const std::string& what) {
    try {
        f();
        BOOST_ERROR(what << ": no exception");
    } catch (const fitstream::error& e) {
        BOOST_TEST(e.subject() == std::string(C::fit_name), what << ": subject " << e.subject());
        const std::error_category* category = reference<C>::category();
        if (category)
            BOOST_TEST((e.code().category() == *category),
                       what << ": category " << e.code().category().name() << ", want " << category->name());
        BOOST_TEST_MESSAGE(what << ": " << e.what());
    }
}

}  // namespace

BOOST_TEST_GLOBAL_FIXTURE(ignore_sigpipe);

// ---------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(builtin_codecs_are_every_name_u_boot_decodes) {
    BOOST_TEST(fitstream::codec_names() == "none, gzip, bzip2, lzma, lzo, lz4, zstd");
    for (const char* name : {"none", "gzip", "bzip2", "lzma", "lzo", "lz4", "zstd"}) {
        BOOST_TEST(fitstream::is_codec_name(name), name);
        std::string seen;
        fitstream::visit_codec(name, [&](auto tag) { seen = decltype(tag)::type::fit_name; });
        BOOST_TEST(seen == name);
    }
    // There is no FIT name for xz or lzip: U-Boot's lzma is LZMA_Alone.
    for (const char* name : {"xz", "lzip", "lz4-legacy", "zlib", "LZ4", ""}) {
        BOOST_TEST(!fitstream::is_codec_name(name), name);
        try {
            fitstream::visit_codec(name, [](auto) {});
            BOOST_ERROR(name << ": no exception");
        } catch (const fitstream::error& e) {
            BOOST_TEST((e.code() == fitstream::errc::unsupported));
            BOOST_TEST(std::string(e.what()).find("none, gzip, bzip2, lzma, lzo, lz4, zstd") != std::string::npos);
        }
    }
}

namespace {
struct encoder_only {
    static constexpr std::string_view fit_name = "none";
    using options = codec::none::options;
    using encoder = codec::none::encoder;
};
struct bad_decoder {
    static constexpr std::string_view fit_name = "none";
    using options = codec::none::options;
    using encoder = codec::none::encoder;
    struct decoder {
        using char_type = char;
        explicit decoder(int);  // not default-constructible
        bool filter(const char*&, const char*, char*&, char*, bool);
        void close();
    };
};
}  // namespace

BOOST_AUTO_TEST_CASE(decodable_codec_trait) {
    static_assert(fitstream::is_decodable_codec_v<codec::none>);
    static_assert(fitstream::is_decodable_codec_v<codec::gzip>);
    static_assert(fitstream::is_decodable_codec_v<codec::bzip2>);
    static_assert(fitstream::is_decodable_codec_v<codec::lzma>);
    static_assert(fitstream::is_decodable_codec_v<codec::lzo>);
    static_assert(fitstream::is_decodable_codec_v<codec::lz4>);
    static_assert(fitstream::is_decodable_codec_v<codec::zstd>);
    static_assert(fitstream::is_codec_v<encoder_only> && !fitstream::is_decodable_codec_v<encoder_only>);
    static_assert(fitstream::is_codec_v<bad_decoder> && !fitstream::is_decodable_codec_v<bad_decoder>);
    static_assert(!fitstream::is_decodable_codec_v<int>);
    BOOST_TEST(true);
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(round_trip_through_our_decoder, C, all_codecs) {
    for (sample_id id : all_samples) {
        const auto& s = samples(id);
        const std::string& packed = encoded<C>(id);
        std::size_t consumed = 0;
        check_same(decode<C>(packed, &consumed), s.bytes, std::string(C::fit_name) + " / " + s.name);
        BOOST_TEST(consumed == packed.size(), s.name);
        if (id == kernel_sample && !std::is_same_v<C, codec::none>)
            BOOST_TEST(packed.size() < s.bytes.size() / 4 * 3, s.name << " compressed to " << packed.size());
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(round_trip_through_the_reference_tool, C, all_codecs) {
    for (sample_id id : all_samples) {
        const auto& s = samples(id);
        check_same(tool(reference<C>::decompress(), encoded<C>(id)), s.bytes,
                   reference<C>::decompress().front() + " -d of our " + std::string(C::fit_name) + " / " + s.name);
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(reference_tool_output_through_our_decoder, C, all_codecs) {
    for (sample_id id : all_samples) {
        const auto& s = samples(id);
        const std::string theirs = tool(reference<C>::compress(), s.bytes);
        std::size_t consumed = 0;
        check_same(decode<C>(theirs, &consumed), s.bytes,
                   "our " + std::string(C::fit_name) + " decoder on " + reference<C>::compress().front() + " / " +
                       s.name);
        BOOST_TEST(consumed == theirs.size(), s.name);
    }
}

// ---------------------------------------------------------------------------
// The SymmetricFilter contract across chunk boundaries
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(one_byte_chunks_and_windows, C, all_codecs) {
    for (sample_id id : {empty_sample, one_byte_sample, small_kernel_sample}) {
        const auto& s = samples(id);
        const std::string what = std::string(C::fit_name) + " / " + s.name;
        typename C::encoder encoder(typename C::options{}, s.bytes.size());
        const pumped packed = pump(encoder, s.bytes, 1, 1);
        BOOST_TEST(packed.consumed == s.bytes.size());
        // Equal bytes however the input arrives: output is reproducible.
        check_same(packed.out, encoded<C>(id), what + ": byte-wise encoding vs one call");

        typename C::decoder decoder;
        const pumped unpacked = pump(decoder, packed.out, 1, 1);
        BOOST_TEST(unpacked.consumed == packed.out.size());
        check_same(unpacked.out, s.bytes, what + ": byte-wise decoding");
    }
}

namespace {
/// Options for re-encoding the big samples: the defaults, except a faster
/// lzma preset (the encoder's chunk handling does not depend on the preset,
/// and preset 6 needs ~5 s for the 3 MiB sample) and bzip2's smallest
/// blocks (faster, and more block boundaries to cross).
template <class C>
typename C::options quick_options() {
    typename C::options options{};
    if constexpr (std::is_same_v<C, codec::lzma>) options.level = 0;
    if constexpr (std::is_same_v<C, codec::bzip2>) options.block_size_100k = 1;
    return options;
}
}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(odd_chunks_and_windows, C, all_codecs) {
    // Encoding: 300 KiB of code (past lzop's 256 KiB and bzip2 -1's 100 kB
    // blocks) and the noise; decoding: the 3 MiB sample and the noise.
    for (sample_id id : {small_kernel_sample, random_sample}) {
        const auto& s = samples(id);
        const std::string what = std::string(C::fit_name) + " / " + s.name;
        typename C::encoder encoder(quick_options<C>(), s.bytes.size());
        const pumped packed = pump(encoder, s.bytes, 4093, 1021);
        BOOST_TEST(packed.consumed == s.bytes.size());
        if constexpr (std::is_same_v<C, codec::zstd>) {
            // libzstd's streaming output depends on how the input arrives
            // (all of it in one ZSTD_e_end call vs. in pieces), so only the
            // decoded bytes are compared. The writer always feeds it in
            // fixed-size pieces, so its output is still reproducible.
            check_same(decode<C>(packed.out), s.bytes, what + ": chunked encoding, decoded");
        } else {
            check_same(packed.out, encode<C>(s.bytes, quick_options<C>()), what + ": chunked encoding vs one call");
        }
    }
    for (sample_id id : {kernel_sample, random_sample}) {
        const auto& s = samples(id);
        typename C::decoder decoder;
        const pumped unpacked = pump(decoder, encoded<C>(id), 1021, 4093);
        BOOST_TEST(unpacked.consumed == encoded<C>(id).size());
        check_same(unpacked.out, s.bytes, std::string(C::fit_name) + " / " + s.name + ": chunked decoding");
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(unknown_source_size, C, all_codecs) {
    // The writer passes unknown_size for sources it cannot size up front.
    const std::string& input = samples(small_kernel_sample).bytes;
    typename C::encoder encoder(typename C::options{}, fitstream::unknown_size);
    const pumped packed = pump(encoder, input, 65536, 65536);
    check_same(decode<C>(packed.out), input, std::string(C::fit_name) + ": unknown size, our decoder");
    check_same(tool(reference<C>::decompress(), packed.out), input,
               std::string(C::fit_name) + ": unknown size, reference tool");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(close_makes_filters_reusable, C, all_codecs) {
    const std::string& input = samples(small_kernel_sample).bytes;
    typename C::encoder encoder(typename C::options{}, input.size());
    // Abandon a first stream half-way, then start again.
    {
        const char* in = input.data();
        std::vector<char> window(100000);
        char* out = window.data();
        encoder.filter(in, input.data() + 1000, out, window.data() + window.size(), false);
    }
    encoder.close();
    check_same(pump(encoder, input, 65536, 65536).out, encoded<C>(small_kernel_sample),
               std::string(C::fit_name) + ": encoder after close()");
    encoder.close();
    check_same(pump(encoder, input, 65536, 65536).out, encoded<C>(small_kernel_sample),
               std::string(C::fit_name) + ": encoder after a second close()");

    typename C::decoder decoder;
    const std::string& packed = encoded<C>(small_kernel_sample);
    const char* in = packed.data();
    std::vector<char> window(512);
    char* out = window.data();
    decoder.filter(in, packed.data() + packed.size() / 3, out, window.data() + window.size(), false);
    decoder.close();
    check_same(pump(decoder, packed, 4096, 4096).out, input, std::string(C::fit_name) + ": decoder after close()");
    decoder.close();
    check_same(pump(decoder, packed, 4096, 4096).out, input,
               std::string(C::fit_name) + ": decoder after a second close()");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(boost_iostreams_adapts_both_filters, C, all_codecs) {
    namespace io = boost::iostreams;
    const std::string& input = samples(small_kernel_sample).bytes;
    std::string packed;
    {
        io::filtering_ostream os;
        os.push(io::symmetric_filter<typename C::encoder>(4096, typename C::options{}, input.size()));
        os.push(io::back_inserter(packed));
        os.write(input.data(), static_cast<std::streamsize>(input.size()));
        os.reset();  // closes the chain: the encoder is flushed
    }
    check_same(packed, encoded<C>(small_kernel_sample), std::string(C::fit_name) + ": through Boost.Iostreams");
    std::string unpacked;
    {
        io::filtering_ostream os;
        os.push(io::symmetric_filter<typename C::decoder>(4096));
        os.push(io::back_inserter(unpacked));
        os.write(packed.data(), static_cast<std::streamsize>(packed.size()));
        os.reset();
    }
    check_same(unpacked, input, std::string(C::fit_name) + ": decoded through Boost.Iostreams");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(boost_iostreams_input_chains_end, C, all_codecs) {
    // symmetric_filter on an input chain calls filter() again after the end:
    // a filter that does not keep reporting its end would never stop.
    namespace io = boost::iostreams;
    for (sample_id id : {empty_sample, small_kernel_sample}) {
        const std::string& input = samples(id).bytes;
        const std::string what = std::string(C::fit_name) + " / " + samples(id).name;
        auto read_all = [&](io::filtering_istream& in, std::size_t bound) {
            std::string got;
            char buf[997];
            while (got.size() <= bound && (in.read(buf, sizeof buf) || in.gcount() > 0))
                got.append(buf, static_cast<std::size_t>(in.gcount()));
            return got;
        };
        io::filtering_istream encoding;
        encoding.push(io::symmetric_filter<typename C::encoder>(1000, typename C::options{}, input.size()));
        encoding.push(io::array_source(input.data(), input.size()));
        const std::string packed = read_all(encoding, 2 * input.size() + 4096);
        check_same(packed, encoded<C>(id), what + ": encoded through an input chain");

        io::filtering_istream decoding;
        decoding.push(io::symmetric_filter<typename C::decoder>(1000));
        decoding.push(io::array_source(packed.data(), packed.size()));
        check_same(read_all(decoding, input.size() + 4096), input, what + ": decoded through an input chain");
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(calls_after_the_end_add_nothing, C, all_codecs) {
    for (sample_id id : {empty_sample, small_kernel_sample}) {
        const std::string& input = samples(id).bytes;
        const std::string what = std::string(C::fit_name) + " / " + samples(id).name;
        typename C::encoder encoder(typename C::options{}, input.size());
        const std::string packed = pump(encoder, input, 65536, 65536).out;
        typename C::decoder decoder;
        check_same(pump(decoder, packed, 65536, 65536).out, input, what);
        std::vector<char> window(4096);
        for (int again = 1; again <= 3; ++again) {
            const char* in = input.data() + input.size();
            char* out = window.data();
            BOOST_TEST(!encoder.filter(in, in, out, window.data() + window.size(), true),
                       what << ": encoder call " << again);
            BOOST_TEST(out == window.data(), what << ": encoder call " << again << " after the end wrote");
            const char* pin = packed.data() + packed.size();
            out = window.data();
            BOOST_TEST(!decoder.filter(pin, pin, out, window.data() + window.size(), true),
                       what << ": decoder call " << again);
            BOOST_TEST(out == window.data(), what << ": decoder call " << again << " after the end wrote");
        }
    }
}

// ---------------------------------------------------------------------------
// Corrupt, truncated and hostile input
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(truncated_input_throws, C, compressing_codecs) {
    const std::string& packed = encoded<C>(small_kernel_sample);
    for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{4}, std::size_t{13}, packed.size() / 2,
                            packed.size() - 5, packed.size() - 1}) {
        const std::string what = std::string(C::fit_name) + " cut to " + std::to_string(cut) + " bytes";
        expect_codec_error<C>([&] { decode<C>(packed.substr(0, cut)); }, what);
        expect_codec_error<C>(
            [&] {
                typename C::decoder decoder;
                pump(decoder, packed.substr(0, cut), 1, 1);
            },
            what + ", byte-wise");
    }
    // The empty encoding is a complete stream; any cut of it is not.
    const std::string& empty = encoded<C>(empty_sample);
    expect_codec_error<C>([&] { decode<C>(empty.substr(0, empty.size() - 1)); },
                          std::string(C::fit_name) + ": empty stream minus its last byte");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(corrupt_input_throws, C, compressing_codecs) {
    const std::string& packed = encoded<C>(small_kernel_sample);
    {
        std::string bad = packed;
        bad[0] = '\xff';  // no container starts with ff
        expect_codec_error<C>([&] { decode<C>(bad); }, std::string(C::fit_name) + ": first byte ff");
    }
    for (std::size_t at : {packed.size() / 3, packed.size() / 2}) {
        std::string bad = packed;
        bad[at] = static_cast<char>(bad[at] ^ 0x55);
        expect_codec_error<C>([&] { decode<C>(bad); },
                              std::string(C::fit_name) + ": byte " + std::to_string(at) + " flipped");
    }
    // Noise is not a stream, whatever the codec.
    expect_codec_error<C>([&] { decode<C>(random_bytes(4096, 99)); }, std::string(C::fit_name) + ": noise");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(bytes_after_the_stream_are_left_alone, C, compressing_codecs) {
    const std::string& input = samples(small_kernel_sample).bytes;
    const std::string& packed = encoded<C>(small_kernel_sample);
    std::size_t consumed = 0;
    check_same(decode<C>(packed + "trailing bytes", &consumed), input, std::string(C::fit_name) + " + trailer");
    BOOST_TEST(consumed == packed.size());
    typename C::decoder decoder;
    const pumped byte_wise = pump(decoder, packed + "trailing", 1, 1);
    BOOST_TEST(byte_wise.consumed == packed.size());
    check_same(byte_wise.out, input, std::string(C::fit_name) + " + trailer, byte-wise");
}

BOOST_AUTO_TEST_CASE(lzop_block_size_is_bounded) {
    // A valid lzop header (ours, without its end marker) and a block that
    // claims 2 GiB: refused from the header, before any allocation.
    const std::string& empty = encoded<codec::lzo>(empty_sample);
    const std::string header = empty.substr(0, empty.size() - 4);
    const std::string huge = header + std::string("\x80\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x00", 12);
    expect_codec_error<codec::lzo>([&] { decode<codec::lzo>(huge); }, "lzop block of 2 GiB");
    // 64 MiB + 1: just past lzop's own limit.
    const std::string past = header + std::string("\x04\x00\x00\x01\x00\x00\x00\x10\x00\x00\x00\x00", 12);
    expect_codec_error<codec::lzo>([&] { decode<codec::lzo>(past); }, "lzop block of 64 MiB + 1");
    // Compressed size larger than the block, or zero.
    const std::string bigger = header + std::string("\x00\x00\x00\x10\x00\x00\x00\x11\x00\x00\x00\x00", 12);
    expect_codec_error<codec::lzo>([&] { decode<codec::lzo>(bigger); }, "lzop compressed size > size");
    const std::string zero = header + std::string("\x00\x00\x00\x10\x00\x00\x00\x00\x00\x00\x00\x00", 12);
    expect_codec_error<codec::lzo>([&] { decode<codec::lzo>(zero); }, "lzop compressed size 0");
}

BOOST_AUTO_TEST_CASE(lzop_header_checksum_and_features) {
    const std::string& packed = encoded<codec::lzo>(one_byte_sample);
    std::string bad = packed;
    bad[35] = static_cast<char>(bad[35] ^ 1);  // a byte of the header checksum (34..37)
    expect_codec_error<codec::lzo>([&] { decode<codec::lzo>(bad); }, "lzop header checksum");
    // F_H_FILTER: U-Boot would skip the filter field and not undo the filter.
    std::string filtered = packed;
    filtered[19] = static_cast<char>(filtered[19] | 0x08);  // flags are bytes 17..20
    expect_codec_error<codec::lzo>([&] { decode<codec::lzo>(filtered); }, "lzop filter flag");
}

BOOST_AUTO_TEST_CASE(lzma_dictionary_size_is_bounded) {
    // An LZMA_Alone header asking for a 4 GiB dictionary: refused by the
    // decoder's memory limit, not allocated.
    const std::string header("\x5d\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 13);
    expect_codec_error<codec::lzma>([&] { decode<codec::lzma>(header + std::string(64, '\0')); },
                                    "lzma 4 GiB dictionary");
    // Properties byte past lc/lp/pb's range.
    std::string props = encoded<codec::lzma>(one_byte_sample);
    props[0] = '\xe1';
    expect_codec_error<codec::lzma>([&] { decode<codec::lzma>(props); }, "lzma properties byte 225");
}

// ---------------------------------------------------------------------------
// The containers U-Boot reads
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(none_stores_bytes) {
    for (sample_id id : all_samples) BOOST_TEST((encoded<codec::none>(id) == samples(id).bytes), samples(id).name);
}

BOOST_AUTO_TEST_CASE(gzip_container) {
    for (sample_id id : all_samples) {
        const std::string& g = encoded<codec::gzip>(id);
        BOOST_TEST_REQUIRE(g.size() >= 18u);
        BOOST_TEST(byte(g, 0) == 0x1fu);
        BOOST_TEST(byte(g, 1) == 0x8bu);
        BOOST_TEST(byte(g, 2) == 8u);   // deflate
        BOOST_TEST(byte(g, 3) == 0u);   // no name, no extra, no comment
        BOOST_TEST(le32(g, 4) == 0u);   // mtime 0: reproducible
        BOOST_TEST(byte(g, 9) == 3u);   // Unix
        BOOST_TEST(le32(g, g.size() - 4) == static_cast<std::uint32_t>(samples(id).bytes.size()));
    }
}

BOOST_AUTO_TEST_CASE(bzip2_container) {
    for (sample_id id : all_samples) {
        const std::string& b = encoded<codec::bzip2>(id);
        BOOST_TEST(b.substr(0, 4) == "BZh9");
    }
    codec::bzip2::options small;
    small.block_size_100k = 1;
    const std::string b1 = encode<codec::bzip2>(samples(small_kernel_sample).bytes, small);
    BOOST_TEST(b1.substr(0, 4) == "BZh1");
    check_same(tool({"bzip2", "-dc"}, b1), samples(small_kernel_sample).bytes, "bzip2 -1");
    small.block_size_100k = 10;
    BOOST_CHECK_THROW(codec::bzip2::encoder(small, 0), fitstream::error);
}

BOOST_AUTO_TEST_CASE(lzma_container_is_lzma_alone) {
    for (sample_id id : all_samples) {
        const std::string& l = encoded<codec::lzma>(id);
        BOOST_TEST_REQUIRE(l.size() > 13u);
        // Preset 6: lc=3 lp=0 pb=2 -> (2 * 5 + 0) * 9 + 3 = 0x5d; 8 MiB dictionary.
        BOOST_TEST(byte(l, 0) == 0x5du);
        BOOST_TEST(le32(l, 1) == 8u * 1024 * 1024);
        // Size "unknown" (all ones), which U-Boot's LzmaTools accepts; the
        // data ends with an end marker. Not xz (fd 37 7a 58 5a 00), not lzip.
        BOOST_TEST(le64(l, 5) == ~std::uint64_t{0});
        BOOST_TEST(l.substr(0, 6) != std::string("\xfd" "7zXZ\0", 6));
        BOOST_TEST(l.substr(0, 4) != "LZIP");
    }
    codec::lzma::options fast;
    fast.level = 0;
    const std::string& input = samples(small_kernel_sample).bytes;
    const std::string l0 = encode<codec::lzma>(input, fast);
    BOOST_TEST(le32(l0, 1) == 256u * 1024);  // preset 0's dictionary
    check_same(tool({"lzma", "-dc"}, l0), input, "lzma -0 via lzma -dc");
    check_same(decode<codec::lzma>(l0), input, "lzma -0 via our decoder");
    fast.level = 10;
    BOOST_CHECK_THROW(codec::lzma::encoder(fast, 0), fitstream::error);
}

BOOST_AUTO_TEST_CASE(lz4_container_is_one_frame_u_boot_reads) {
    for (sample_id id : all_samples) {
        const std::string& f = encoded<codec::lz4>(id);
        const std::string what = samples(id).name;
        BOOST_TEST_REQUIRE(f.size() >= 11u);  // header without size, end mark
        BOOST_TEST(le32(f, 0) == 0x184d2204u, what);  // frame magic, not legacy 0x184c2102
        const unsigned flg = byte(f, 4);
        const unsigned bd = byte(f, 5);
        BOOST_TEST((flg >> 6) == 1u, what);          // version 01
        BOOST_TEST((flg >> 5 & 1) == 1u, what);      // independent blocks (U-Boot needs them)
        BOOST_TEST((flg >> 4 & 1) == 1u, what);      // block checksums (U-Boot skips them)
        BOOST_TEST((flg >> 2 & 1) == 0u, what);      // no content checksum (blocks are made apart)
        BOOST_TEST((flg & 0x03) == 0u, what);        // no dictionary ID, reserved bit clear (ulz4fn checks)
        BOOST_TEST((bd & 0x8f) == 0u, what);         // reserved bits clear (ulz4fn checks)
        BOOST_TEST((bd >> 4 & 7) == 6u, what);       // 1 MiB blocks
        const bool has_size = flg >> 3 & 1;
        BOOST_TEST(has_size == !samples(id).bytes.empty(), what);  // 0 means "absent" in LZ4F
        if (has_size) BOOST_TEST(le64(f, 6) == samples(id).bytes.size(), what);
        // The end mark closes the frame.
        BOOST_TEST(le32(f, f.size() - 4) == 0u, what);
    }
    // Unknown size: no content size field.
    codec::lz4::encoder unknown(codec::lz4::options{}, fitstream::unknown_size);
    const std::string f = pump(unknown, samples(one_byte_sample).bytes, 1, 64).out;
    BOOST_TEST((byte(f, 4) >> 3 & 1) == 0u);
    // A size that turns out wrong is an error, not a wrong header.
    codec::lz4::encoder liar(codec::lz4::options{}, 5);
    BOOST_CHECK_THROW(pump(liar, std::string(4, 'x'), 4, 64), fitstream::error);
}

BOOST_AUTO_TEST_CASE(lz4_frames_with_several_blocks_and_hc_levels) {
    // 5.5 MiB: six 1 MiB blocks, the last partial.
    const std::string input = kernel_like_payload(5 * mib + mib / 2, 3);
    const std::string f = encode<codec::lz4>(input);
    check_same(decode<codec::lz4>(f), input, "lz4 5 MiB, our decoder");
    check_same(tool({"lz4", "-dc"}, f), input, "lz4 5 MiB, lz4 -dc");
    codec::lz4::options hc;
    hc.level = 9;
    const std::string small = encode<codec::lz4>(samples(small_kernel_sample).bytes, hc);
    BOOST_TEST(small.size() < encoded<codec::lz4>(small_kernel_sample).size());
    check_same(tool({"lz4", "-dc"}, small), samples(small_kernel_sample).bytes, "lz4 -9, lz4 -dc");
    // Skippable frames are valid LZ4 streams, but not what U-Boot reads.
    const std::string skippable = std::string("\x50\x2a\x4d\x18\x04\x00\x00\x00" "abcd", 12) + f;
    expect_codec_error<codec::lz4>([&] { decode<codec::lz4>(skippable); }, "lz4 skippable frame first");
    // The legacy format (lz4 -l), which U-Boot rejects.
    const std::string legacy = tool({"lz4", "-l", "-c"}, samples(one_byte_sample).bytes);
    expect_codec_error<codec::lz4>([&] { decode<codec::lz4>(legacy); }, "lz4 legacy format");
}

BOOST_AUTO_TEST_CASE(zstd_container) {
    for (sample_id id : all_samples) {
        const std::string& z = encoded<codec::zstd>(id);
        BOOST_TEST(le32(z, 0) == 0xfd2fb528u, samples(id).name);
    }
    const std::string skippable =
        std::string("\x50\x2a\x4d\x18\x04\x00\x00\x00" "abcd", 12) + encoded<codec::zstd>(one_byte_sample);
    expect_codec_error<codec::zstd>([&] { decode<codec::zstd>(skippable); }, "zstd skippable frame first");
}

namespace {

/// U-Boot's lzop_decompress (lib/lzo/lzo1x_decompress.c), redone with
/// liblzo2: its header walk, its block walk that skips exactly one checksum
/// word, stored blocks copied. Returns the output, or throws.
std::string u_boot_lzop_decompress(const std::string& file) {
    static const unsigned char magic[] = {0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a};
    const auto* src = reinterpret_cast<const unsigned char*>(file.data());
    const auto* const send = src + file.size();
    if (std::memcmp(src, magic, sizeof magic) != 0) throw std::runtime_error("magic");
    src += sizeof magic;
    const unsigned version = src[0] << 8 | src[1];
    src += 7;
    if (version >= 0x0940) src++;
    if ((std::uint32_t(src[0]) << 24 | std::uint32_t(src[1]) << 16 | std::uint32_t(src[2]) << 8 | src[3]) & 0x800)
        src += 4;
    src += 12;
    if (version >= 0x0940) src += 4;
    const unsigned name = *src++;
    src += name + 4;
    auto get32 = [](const unsigned char* p) {
        return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 | p[3];
    };
    std::string out;
    while (src < send) {
        const std::uint32_t dlen = get32(src);
        src += 4;
        if (dlen == 0) {
            if (src != send) throw std::runtime_error("bytes after the end marker");
            return out;
        }
        const std::uint32_t slen = get32(src);
        src += 8;
        if (slen == 0 || slen > dlen) throw std::runtime_error("bad block sizes");
        if (src + slen > send) throw std::runtime_error("block past the end");
        if (dlen == slen) {
            out.append(reinterpret_cast<const char*>(src), slen);
        } else {
            std::string block(dlen, '\0');
            lzo_uint n = dlen;
            const int r = lzo1x_decompress_safe(src, slen, reinterpret_cast<unsigned char*>(&block[0]), &n, nullptr);
            if (r != LZO_E_OK || n != dlen) throw std::runtime_error("lzo1x_decompress_safe: " + std::to_string(r));
            out += block;
        }
        src += slen;
    }
    throw std::runtime_error("no end marker");
}

}  // namespace

BOOST_AUTO_TEST_CASE(lzo_container_is_the_lzop_file_u_boot_reads) {
    BOOST_TEST_REQUIRE(lzo_init() == LZO_E_OK);
    for (sample_id id : all_samples) {
        const std::string& l = encoded<codec::lzo>(id);
        const std::string what = samples(id).name;
        BOOST_TEST_REQUIRE(l.size() >= 42u);  // header (38) and end marker
        BOOST_TEST(l.substr(0, 9) == std::string("\x89LZO\x00\r\n\x1a\n", 9), what);
        BOOST_TEST(be16(l, 9) == 0x1040u, what);   // lzop 1.04's format
        BOOST_TEST(be16(l, 13) == 0x0940u, what);  // needs 0.94: level and mtime_high present
        BOOST_TEST(byte(l, 15) == 1u, what);       // M_LZO1X_1
        BOOST_TEST(byte(l, 16) == 5u, what);       // as lzop -3 writes it
        // F_ADLER32_D | F_OS_UNIX: one checksum word per block, as U-Boot skips.
        BOOST_TEST(be32(l, 17) == 0x03000001u, what);
        BOOST_TEST(be32(l, 21) == 0u, what);  // mode
        BOOST_TEST(be32(l, 25) == 0u, what);  // mtime_low
        BOOST_TEST(be32(l, 29) == 0u, what);  // mtime_high
        BOOST_TEST(byte(l, 33) == 0u, what);  // no name
        const auto* covered = reinterpret_cast<const Bytef*>(l.data()) + 9;
        BOOST_TEST(be32(l, 34) == static_cast<std::uint32_t>(adler32(1, covered, 34 - 9)), what);  // zlib's Adler-32
        BOOST_TEST(be32(l, l.size() - 4) == 0u, what);  // end marker
        check_same(u_boot_lzop_decompress(l), samples(id).bytes, "U-Boot's lzop walk / " + what);
    }
    // Noise is stored, block by block: U-Boot copies those.
    const std::string& noise = encoded<codec::lzo>(random_sample);
    BOOST_TEST(be32(noise, 38) == 256u * 1024);
    BOOST_TEST(be32(noise, 42) == 256u * 1024);
    // Code is compressed: the first block shrinks.
    const std::string& code = encoded<codec::lzo>(kernel_sample);
    BOOST_TEST(be32(code, 42) < be32(code, 38));
}

BOOST_AUTO_TEST_CASE(lzo_levels_as_lzop_chooses_them) {
    const std::string& input = samples(small_kernel_sample).bytes;
    for (int level : {1, 3, 6, 7, 9}) {
        codec::lzo::options options;
        options.level = level;
        const std::string l = encode<codec::lzo>(input, options);
        const std::string what = "lzo level " + std::to_string(level);
        BOOST_TEST(byte(l, 15) == (level == 1 ? 2u : level <= 6 ? 1u : 3u), what);
        check_same(tool({"lzop", "-dc"}, l), input, what + ", lzop -dc");
        check_same(decode<codec::lzo>(l), input, what + ", our decoder");
        check_same(u_boot_lzop_decompress(l), input, what + ", U-Boot's walk");
    }
    codec::lzo::options bad;
    bad.level = 0;
    BOOST_CHECK_THROW(codec::lzo::encoder(bad, 0), fitstream::error);
}

BOOST_AUTO_TEST_CASE(lzo_decoder_reads_every_lzop_checksum) {
    // Files made with lzop's other checksum (CRC-32, for the header and the
    // blocks) and its slow method parse and verify too.
    const std::string& input = samples(small_kernel_sample).bytes;
    for (const char* option : {"--crc32", "-1", "-9"}) {
        const std::string theirs = tool({"lzop", option, "-c"}, input);
        check_same(decode<codec::lzo>(theirs), input, std::string("lzop ") + option);
    }
}
