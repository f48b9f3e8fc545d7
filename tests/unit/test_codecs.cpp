// SPDX-License-Identifier: MIT
// Codec policies (<fitstream/codec/concept.hpp>, <fitstream/codec/builtin.hpp>): every
// encoder's output is decoded by the codec's own reference library (zlib's
// inflate for gzip, libzstd's ZSTD_decompressStream for zstd, identity for
// none), never by fitstream, and the container U-Boot expects is checked
// byte by byte (gzip header, one member; zstd frame magic, content size).
#define BOOST_TEST_MODULE fitstream codecs
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <boost/iostreams/device/array.hpp>
#include <boost/iostreams/device/back_inserter.hpp>
#include <boost/iostreams/filter/symmetric.hpp>
#include <boost/iostreams/filtering_stream.hpp>

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <vector>

namespace {

using fitstream_test::kernel_like_payload;
using fitstream_test::check_same;
using fitstream_test::random_bytes;
namespace codec = fitstream::codec;

using all_codecs = std::tuple<codec::none, codec::gzip, codec::zstd>;

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

struct sample {
    std::string name;
    std::string bytes;
};

/// Empty, one byte, ~3 MiB that compresses like machine code, 1 MiB of noise.
const std::vector<sample>& samples() {
    static const std::vector<sample> all = {
        {"empty", std::string()},
        {"one byte", std::string(1, '\x5a')},
        {"kernel-like 3 MiB + 7", kernel_like_payload(3u * 1024 * 1024 + 7)},
        {"random 1 MiB", random_bytes(1u << 20, 20240601u)},
    };
    return all;
}

// ---------------------------------------------------------------------------
// Reference decoders (zlib / libzstd directly; not fitstream code)
// ---------------------------------------------------------------------------

const unsigned char* bytes_of(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

/// Checks the gzip member header U-Boot's gunzip wants, inflates with zlib
/// (gzip wrapper only: windowBits 15 + 16) and checks nothing follows the
/// first member.
std::string gunzip_reference(const std::string& gz, const std::string& what) {
    BOOST_REQUIRE_MESSAGE(gz.size() >= 18, what << ": " << gz.size() << " bytes is too short for a gzip member");
    const unsigned char* u = bytes_of(gz);
    BOOST_TEST(u[0] == 0x1f, what << ": magic byte 0");
    BOOST_TEST(u[1] == 0x8b, what << ": magic byte 1");
    BOOST_TEST(u[2] == 8, what << ": compression method must be deflate (8)");
    BOOST_TEST(u[3] == 0, what << ": FLG must be 0 (no name, comment, extra field or header CRC)");
    BOOST_TEST((u[4] == 0 && u[5] == 0 && u[6] == 0 && u[7] == 0), what << ": MTIME must be 0 for reproducible output");
    BOOST_TEST(u[9] == 3, what << ": OS byte must be 3 (Unix)");

    z_stream s{};
    BOOST_REQUIRE(inflateInit2(&s, 15 + 16) == Z_OK);
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    s.avail_in = static_cast<uInt>(gz.size());
    std::string out;
    std::vector<char> buf(1u << 16);
    int rc = Z_OK;
    while (rc == Z_OK) {
        s.next_out = reinterpret_cast<Bytef*>(buf.data());
        s.avail_out = static_cast<uInt>(buf.size());
        rc = inflate(&s, Z_NO_FLUSH);
        out.append(buf.data(), buf.size() - s.avail_out);
    }
    BOOST_TEST(rc == Z_STREAM_END, what << ": inflate ended with " << rc << " (" << (s.msg ? s.msg : "") << ")");
    // Exactly one member: nothing may follow its trailer.
    BOOST_TEST(s.avail_in == 0u, what << ": " << s.avail_in << " bytes follow the first gzip member");
    inflateEnd(&s);
    return out;
}

/// Checks the zstd frame (magic, content-size field, checksum flag, one
/// frame only) and decompresses it with ZSTD_decompressStream.
std::string unzstd_reference(const std::string& z, std::uint64_t pledged, std::uint64_t actual,
                             const std::string& what) {
    BOOST_REQUIRE_MESSAGE(z.size() >= 6, what << ": " << z.size() << " bytes is too short for a zstd frame");
    const unsigned char* u = bytes_of(z);
    BOOST_TEST((u[0] == 0x28 && u[1] == 0xb5 && u[2] == 0x2f && u[3] == 0xfd), what << ": zstd frame magic");
    // RFC 8878 3.1.1.1.1: Frame_Header_Descriptor bit 2 is Content_Checksum_flag.
    BOOST_TEST(((u[4] >> 2) & 1) == 1, what << ": frame must carry a content checksum");
    const unsigned long long fcs = ZSTD_getFrameContentSize(z.data(), z.size());
    if (pledged != fitstream::unknown_size) {
        BOOST_TEST(fcs == pledged, what << ": frame content size " << fcs << ", pledged " << pledged);
    } else {
        // libzstd may still record the size when everything arrives in one ZSTD_e_end call.
        BOOST_TEST((fcs == ZSTD_CONTENTSIZE_UNKNOWN || fcs == actual), what << ": frame content size " << fcs);
    }
    BOOST_TEST(ZSTD_findFrameCompressedSize(z.data(), z.size()) == z.size(), what << ": exactly one frame");

    ZSTD_DCtx* d = ZSTD_createDCtx();
    BOOST_REQUIRE(d != nullptr);
    ZSTD_inBuffer in{z.data(), z.size(), 0};
    std::vector<char> buf(ZSTD_DStreamOutSize());
    std::string out;
    std::size_t ret = 1;
    for (;;) {
        ZSTD_outBuffer o{buf.data(), buf.size(), 0};
        ret = ZSTD_decompressStream(d, &o, &in);
        if (ZSTD_isError(ret)) {
            BOOST_ERROR(what << ": ZSTD_decompressStream: " << ZSTD_getErrorName(ret));
            break;
        }
        out.append(buf.data(), o.pos);
        if (ret == 0) break;  // frame complete and flushed
        if (o.pos == 0 && in.pos == in.size) {
            BOOST_ERROR(what << ": zstd frame is truncated");
            break;
        }
    }
    BOOST_TEST(ret == 0u, what << ": frame not complete");
    BOOST_TEST(in.pos == in.size, what << ": " << (in.size - in.pos) << " bytes follow the frame");
    ZSTD_freeDCtx(d);
    return out;
}

/// Decodes `encoded` with codec C's reference decoder and checks it gives
/// back `input`. `pledged` is the source size given to the encoder.
template <class C>
void check_decodes(const std::string& encoded, const std::string& input, std::uint64_t pledged,
                   const std::string& what) {
    std::string decoded;
    if constexpr (std::is_same_v<C, codec::none>) {
        decoded = encoded;
    } else if constexpr (std::is_same_v<C, codec::gzip>) {
        decoded = gunzip_reference(encoded, what);
    } else {
        static_assert(std::is_same_v<C, codec::zstd>);
        decoded = unzstd_reference(encoded, pledged, input.size(), what);
    }
    check_same(decoded, input, what + ": decoded output");
}

// ---------------------------------------------------------------------------
// Ways to drive an encoder
// ---------------------------------------------------------------------------

/// Feeds `input` to a fresh encoder in `in_chunk`-byte pieces through
/// fitstream::detail::run_filter, with a scratch buffer of `scratch_size`.
template <class C>
std::string encode_run(typename C::encoder& enc, const std::string& input, std::size_t in_chunk,
                       std::size_t scratch_size) {
    std::string out;
    std::vector<char> scratch(scratch_size);
    std::size_t done = 0;
    do {
        const std::size_t n = std::min(in_chunk, input.size() - done);
        fitstream::detail::run_filter(enc, input.data() + done, n, done + n == input.size(), scratch.data(),
                                       scratch.size(), [&](const char* p, std::size_t k) { out.append(p, k); });
        done += n;
    } while (done < input.size());
    return out;
}

template <class C>
std::string encode_run(const std::string& input, std::uint64_t pledged, std::size_t in_chunk,
                       std::size_t scratch_size, const typename C::options& opts = {}) {
    typename C::encoder enc(opts, pledged);
    return encode_run<C>(enc, input, in_chunk, scratch_size);
}

/// Drives the SymmetricFilter contract by hand: one input byte per call and
/// a one-byte output window, then flush calls until filter() says done.
/// Checks the pointer discipline of every call (plain ifs: millions of calls).
template <class C>
std::string encode_by_hand_one_byte(const std::string& input, std::uint64_t pledged, const std::string& what) {
    typename C::encoder enc(typename C::options{}, pledged);
    std::string out;
    const char* in = input.data();
    const char* const end = in + input.size();
    char window[1];
    int idle = 0;  // consecutive calls that neither consumed nor produced
    while (in != end) {
        const char* const before = in;
        const char* const chunk_end = in + 1;
        char* o = window;
        const bool more = enc.filter(in, chunk_end, o, window + 1, false);
        if (!more) BOOST_FAIL(what << ": filter(flush = false) returned false");
        if (in < before || in > chunk_end) BOOST_FAIL(what << ": filter moved `in` outside its range");
        if (o < window || o > window + 1) BOOST_FAIL(what << ": filter moved `out` outside its window");
        out.append(window, static_cast<std::size_t>(o - window));
        idle = (in == before && o == window) ? idle + 1 : 0;
        if (idle > 16) BOOST_FAIL(what << ": encoder makes no progress while fed");
    }
    for (;;) {
        char* o = window;
        const char* const before = in;
        const bool more = enc.filter(in, end, o, window + 1, true);
        if (in != before) BOOST_FAIL(what << ": filter consumed input it was not given");
        if (o < window || o > window + 1) BOOST_FAIL(what << ": filter moved `out` outside its window");
        out.append(window, static_cast<std::size_t>(o - window));
        if (!more) break;
        idle = (o == window) ? idle + 1 : 0;
        if (idle > 16) BOOST_FAIL(what << ": encoder makes no progress while flushing");
    }
    return out;
}

/// "a, b, c" -> {"a", "b", "c"}.
std::vector<std::string> split_names(const std::string& list) {
    std::vector<std::string> out;
    std::size_t from = 0;
    while (from <= list.size()) {
        const std::size_t comma = list.find(", ", from);
        out.push_back(list.substr(from, comma == std::string::npos ? std::string::npos : comma - from));
        if (comma == std::string::npos) break;
        from = comma + 2;
    }
    return out;
}

std::string label(const std::string& codec_name, const sample& s, const std::string& how) {
    return codec_name + " / " + s.name + " / " + how;
}

}  // namespace

// ---------------------------------------------------------------------------
// Round trips through the reference decoders
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(run_filter_whole_input_round_trips, C, all_codecs) {
    for (const auto& s : samples()) {
        for (const std::uint64_t pledged : {static_cast<std::uint64_t>(s.bytes.size()), fitstream::unknown_size}) {
            const std::string how = pledged == fitstream::unknown_size ? "whole input, size unknown"
                                                                       : "whole input, size known";
            const std::string encoded =
                encode_run<C>(s.bytes, pledged, s.bytes.size() + 1, std::size_t{64} << 10);
            check_decodes<C>(encoded, s.bytes, pledged, label(std::string(C::fit_name), s, how));
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(run_filter_odd_chunks_and_small_scratch_round_trip, C, all_codecs) {
    for (const auto& s : samples()) {
        const std::string encoded = encode_run<C>(s.bytes, s.bytes.size(), 4093, 17);
        check_decodes<C>(encoded, s.bytes, s.bytes.size(),
                         label(std::string(C::fit_name), s, "4093-byte chunks, 17-byte scratch"));
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(run_filter_one_byte_chunks_and_windows_round_trip, C, all_codecs) {
    for (const auto& s : samples()) {
        const std::string encoded = encode_run<C>(s.bytes, s.bytes.size(), 1, 1);
        check_decodes<C>(encoded, s.bytes, s.bytes.size(), label(std::string(C::fit_name), s, "run_filter 1-byte"));
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(filter_by_hand_one_byte_chunks_and_windows_round_trip, C, all_codecs) {
    for (const auto& s : samples()) {
        const std::string what = label(std::string(C::fit_name), s, "by hand 1-byte");
        const std::string encoded = encode_by_hand_one_byte<C>(s.bytes, s.bytes.size(), what);
        check_decodes<C>(encoded, s.bytes, s.bytes.size(), what);
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(output_is_deterministic_and_close_resets, C, all_codecs) {
    const std::string input = kernel_like_payload(300000, 7);
    const std::string first = encode_run<C>(input, input.size(), 65536, 4096);
    const std::string second = encode_run<C>(input, input.size(), 65536, 4096);
    check_same(second, first, std::string(C::fit_name) + ": same input, fresh encoder");

    // One encoder, closed after a complete stream, must start over cleanly.
    typename C::encoder enc(typename C::options{}, input.size());
    const std::string a = encode_run<C>(enc, input, 65536, 4096);
    enc.close();
    const std::string b = encode_run<C>(enc, input, 65536, 4096);
    check_same(a, first, std::string(C::fit_name) + ": first stream of a reused encoder");
    check_same(b, first, std::string(C::fit_name) + ": stream after close()");

    // ... and also when closed in the middle of a stream.
    typename C::encoder broken(typename C::options{}, input.size());
    {
        std::vector<char> scratch(4096);
        fitstream::detail::run_filter(broken, input.data(), input.size() / 2, false, scratch.data(), scratch.size(),
                                       [](const char*, std::size_t) {});
    }
    broken.close();
    check_same(encode_run<C>(broken, input, 65536, 4096), first,
               std::string(C::fit_name) + ": stream after close() mid-stream");
    check_decodes<C>(first, input, input.size(), std::string(C::fit_name) + ": deterministic output");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(filter_after_end_of_stream_produces_nothing, C, all_codecs) {
    // Once filter(..., flush = true) has returned false the stream is
    // complete; calling it again (Boost.Iostreams' symmetric_filter does, on
    // every read after the end) must add nothing and keep returning false.
    for (const std::string& input : {std::string(), kernel_like_payload(10000, 6)}) {
        typename C::encoder enc(typename C::options{}, input.size());
        const std::string encoded = encode_run<C>(enc, input, 4096, 4096);
        for (int again = 0; again < 3; ++again) {
            std::vector<char> scratch(4096);
            const char* in = input.data() + input.size();
            char* out = scratch.data();
            const bool more = enc.filter(in, in, out, scratch.data() + scratch.size(), true);
            BOOST_TEST(!more, C::fit_name << ", " << input.size() << " bytes: call " << again + 1
                                          << " after the end returned true");
            BOOST_TEST(out - scratch.data() == 0, C::fit_name << ", " << input.size() << " bytes: call " << again + 1
                                                      << " after the end produced " << (out - scratch.data())
                                                      << " more bytes");
        }
        check_decodes<C>(encoded, input, input.size(), std::string(C::fit_name) + ": stream before the extra calls");
    }
}

// ---------------------------------------------------------------------------
// Boost.Iostreams' header-only symmetric_filter adapts every encoder
// ---------------------------------------------------------------------------

template <class C>
using adapted_encoder = boost::iostreams::symmetric_filter<typename C::encoder>;

BOOST_AUTO_TEST_CASE_TEMPLATE(symmetric_filter_adapter_on_output_chain, C, all_codecs) {
    const std::string input = kernel_like_payload(700001, 3);
    std::string encoded;
    {
        boost::iostreams::filtering_ostream out;
        // symmetric_filter(buffer_size, args...) forwards args to encoder(options, source_size).
        out.push(adapted_encoder<C>(4096, typename C::options{}, static_cast<std::uint64_t>(input.size())));
        out.push(boost::iostreams::back_inserter(encoded));
        // Uneven writes, so the filter sees partial blocks.
        std::size_t done = 0;
        for (std::size_t piece = 1; done < input.size(); piece = piece * 3 + 1) {
            const std::size_t n = std::min(piece, input.size() - done);
            out.write(input.data() + done, static_cast<std::streamsize>(n));
            done += n;
        }
        BOOST_TEST(out.good());
        out.reset();  // closes the chain: flush == true until the encoder is done
    }
    check_decodes<C>(encoded, input, input.size(), std::string(C::fit_name) + " via filtering_ostream");
    check_same(encoded, encode_run<C>(input, input.size(), 1u << 20, 1u << 20),
               std::string(C::fit_name) + ": adapter output vs run_filter output");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(symmetric_filter_adapter_on_input_chain, C, all_codecs) {
    for (const std::string& input : {std::string(), kernel_like_payload(500003, 4)}) {
        boost::iostreams::filtering_istream in;
        in.push(adapted_encoder<C>(1000, typename C::options{}, static_cast<std::uint64_t>(input.size())));
        in.push(boost::iostreams::array_source(input.data(), input.size()));
        // Read with a bound: a filter that never reports its end would loop forever here.
        const std::size_t bound = 2 * input.size() + 4096;
        std::string encoded;
        char buf[997];
        while (encoded.size() <= bound && (in.read(buf, sizeof buf) || in.gcount() > 0))
            encoded.append(buf, static_cast<std::size_t>(in.gcount()));
        const std::string what =
            std::string(C::fit_name) + " via filtering_istream, " + std::to_string(input.size()) + " bytes";
        if (encoded.size() > bound) {
            BOOST_ERROR(what << ": endless output (more than " << bound << " bytes)");
            continue;
        }
        check_decodes<C>(encoded, input, input.size(), what);
    }
}

// ---------------------------------------------------------------------------
// Container details
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(gzip_header_records_level_in_xfl) {
    // RFC 1952: XFL 2 = maximum compression, 4 = fastest; zlib writes 0 otherwise.
    const std::string input = kernel_like_payload(200000, 9);
    struct {
        int level;
        unsigned xfl;
    } const cases[] = {{1, 4}, {6, 0}, {9, 2}};
    for (const auto& c : cases) {
        codec::gzip::options opts;
        opts.level = c.level;
        const std::string encoded = encode_run<codec::gzip>(input, input.size(), 65536, 65536, opts);
        BOOST_REQUIRE(encoded.size() > 9);
        BOOST_TEST(static_cast<unsigned>(bytes_of(encoded)[8]) == c.xfl, "level " << c.level);
        check_decodes<codec::gzip>(encoded, input, input.size(), "gzip level " + std::to_string(c.level));
    }
    BOOST_TEST(codec::gzip::options{}.level == 6);
}

BOOST_AUTO_TEST_CASE(gzip_trailer_holds_crc32_and_size) {
    // RFC 1952 trailer: CRC-32 then ISIZE, both little-endian; checked with zlib's crc32.
    const std::string input = kernel_like_payload(123457, 5);
    const std::string encoded = encode_run<codec::gzip>(input, input.size(), 1u << 20, 1u << 20);
    BOOST_REQUIRE(encoded.size() >= 18);
    const unsigned char* t = bytes_of(encoded) + encoded.size() - 8;
    const std::uint32_t crc = static_cast<std::uint32_t>(t[0]) | static_cast<std::uint32_t>(t[1]) << 8 |
                              static_cast<std::uint32_t>(t[2]) << 16 | static_cast<std::uint32_t>(t[3]) << 24;
    const std::uint32_t isize = static_cast<std::uint32_t>(t[4]) | static_cast<std::uint32_t>(t[5]) << 8 |
                                static_cast<std::uint32_t>(t[6]) << 16 | static_cast<std::uint32_t>(t[7]) << 24;
    BOOST_TEST(crc == static_cast<std::uint32_t>(::crc32(0L, bytes_of(input), static_cast<uInt>(input.size()))));
    BOOST_TEST(isize == input.size());
}

BOOST_AUTO_TEST_CASE(gzip_invalid_level_is_a_zlib_error) {
    codec::gzip::options opts;
    opts.level = 42;
    try {
        codec::gzip::encoder enc(opts, 0);
        BOOST_ERROR("gzip level 42 was accepted");
    } catch (const fitstream::error& e) {
        BOOST_TEST((e.code().category() == fitstream::zlib_category()));
        BOOST_TEST(e.code().value() == Z_STREAM_ERROR);
        BOOST_TEST(std::string(e.what()).rfind("fitstream: gzip: ", 0) == 0, e.what());
    }
}

BOOST_AUTO_TEST_CASE(zstd_records_pledged_size_and_refuses_a_different_one) {
    const std::string input = kernel_like_payload(1000, 2);
    for (const std::uint64_t size : {std::uint64_t{0}, std::uint64_t{1}, static_cast<std::uint64_t>(input.size())}) {
        const std::string part = input.substr(0, static_cast<std::size_t>(size));
        const std::string encoded = encode_run<codec::zstd>(part, size, 100, 100);
        BOOST_TEST(ZSTD_getFrameContentSize(encoded.data(), encoded.size()) == size);
        check_decodes<codec::zstd>(encoded, part, size, "zstd pledged " + std::to_string(size));
    }
    // Fewer bytes than pledged: libzstd's error comes out as a fitstream::error in zstd's category.
    codec::zstd::encoder enc(codec::zstd::options{}, input.size() + 5);
    BOOST_CHECK_EXCEPTION(encode_run<codec::zstd>(enc, input, 100, 100), fitstream::error,
                          [](const fitstream::error& e) {
                              return e.code().category() == fitstream::zstd_category() &&
                                     std::string(e.what()).find("zstd") != std::string::npos;
                          });
}

// ---------------------------------------------------------------------------
// The Codec concept and the runtime name dispatch
// ---------------------------------------------------------------------------

namespace {

struct good_encoder {
    using char_type = char;
    struct opts {};
    good_encoder(const opts&, std::uint64_t) {}
    bool filter(const char*&, const char*, char*&, char*, bool) { return false; }
    void close() {}
};
struct good_codec {
    static constexpr std::string_view fit_name = "good";
    using options = good_encoder::opts;
    using encoder = good_encoder;
};
struct no_fit_name {
    using options = good_encoder::opts;
    using encoder = good_encoder;
};
struct fit_name_not_a_string {
    static constexpr int fit_name = 3;
    using options = good_encoder::opts;
    using encoder = good_encoder;
};
struct no_options {
    static constexpr std::string_view fit_name = "x";
    using encoder = good_encoder;
};
struct no_encoder {
    static constexpr std::string_view fit_name = "x";
    using options = good_encoder::opts;
};
struct options_without_default {
    explicit options_without_default(int) {}
};
struct encoder_for_odd_options {
    using char_type = char;
    encoder_for_odd_options(const options_without_default&, std::uint64_t) {}
    bool filter(const char*&, const char*, char*&, char*, bool) { return false; }
    void close() {}
};
struct options_not_default_constructible {
    static constexpr std::string_view fit_name = "x";
    using options = options_without_default;
    using encoder = encoder_for_odd_options;
};
struct encoder_without_close {
    using char_type = char;
    encoder_without_close(const good_encoder::opts&, std::uint64_t) {}
    bool filter(const char*&, const char*, char*&, char*, bool) { return false; }
};
struct encoder_without_filter {
    using char_type = char;
    encoder_without_filter(const good_encoder::opts&, std::uint64_t) {}
    void close() {}
};
struct encoder_with_void_filter {
    using char_type = char;
    encoder_with_void_filter(const good_encoder::opts&, std::uint64_t) {}
    void filter(const char*&, const char*, char*&, char*, bool) {}
    void close() {}
};
struct encoder_with_wide_chars {
    using char_type = wchar_t;
    encoder_with_wide_chars(const good_encoder::opts&, std::uint64_t) {}
    bool filter(const char*&, const char*, char*&, char*, bool) { return false; }
    void close() {}
};
struct encoder_without_char_type {
    encoder_without_char_type(const good_encoder::opts&, std::uint64_t) {}
    bool filter(const char*&, const char*, char*&, char*, bool) { return false; }
    void close() {}
};
struct encoder_default_only {
    using char_type = char;
    bool filter(const char*&, const char*, char*&, char*, bool) { return false; }
    void close() {}
};
template <class Encoder>
struct codec_with {
    static constexpr std::string_view fit_name = "x";
    using options = good_encoder::opts;
    using encoder = Encoder;
};

static_assert(fitstream::is_codec_v<codec::none>);
static_assert(fitstream::is_codec_v<codec::gzip>);
static_assert(fitstream::is_codec_v<codec::zstd>);
static_assert(fitstream::is_codec_v<good_codec>);
static_assert(!fitstream::is_codec_v<int>);
static_assert(!fitstream::is_codec_v<no_fit_name>);
static_assert(!fitstream::is_codec_v<fit_name_not_a_string>);
static_assert(!fitstream::is_codec_v<no_options>);
static_assert(!fitstream::is_codec_v<no_encoder>);
static_assert(!fitstream::is_codec_v<options_not_default_constructible>);
static_assert(!fitstream::is_codec_v<codec_with<encoder_without_close>>);
static_assert(!fitstream::is_codec_v<codec_with<encoder_without_filter>>);
static_assert(!fitstream::is_codec_v<codec_with<encoder_with_void_filter>>);
static_assert(!fitstream::is_codec_v<codec_with<encoder_with_wide_chars>>);
static_assert(!fitstream::is_codec_v<codec_with<encoder_without_char_type>>);
static_assert(!fitstream::is_codec_v<codec_with<encoder_default_only>>);

}  // namespace

BOOST_AUTO_TEST_CASE(codec_concept_accepts_complete_policies_only) {
    // Runtime mirror of the static_asserts above, so a regression shows as a test result too.
    BOOST_TEST(fitstream::is_codec_v<codec::none>);
    BOOST_TEST(fitstream::is_codec_v<codec::gzip>);
    BOOST_TEST(fitstream::is_codec_v<codec::zstd>);
    BOOST_TEST(fitstream::is_codec_v<good_codec>);
    BOOST_TEST(fitstream::check_codec<good_codec>());
    BOOST_TEST(!fitstream::is_codec_v<int>);
    BOOST_TEST(!fitstream::is_codec_v<no_fit_name>);
    BOOST_TEST(!fitstream::is_codec_v<fit_name_not_a_string>);
    BOOST_TEST(!fitstream::is_codec_v<no_options>);
    BOOST_TEST(!fitstream::is_codec_v<no_encoder>);
    BOOST_TEST(!fitstream::is_codec_v<options_not_default_constructible>);
    BOOST_TEST(!fitstream::is_codec_v<codec_with<encoder_without_close>>);
    BOOST_TEST(!fitstream::is_codec_v<codec_with<encoder_without_filter>>);
    BOOST_TEST(!fitstream::is_codec_v<codec_with<encoder_with_void_filter>>);
    BOOST_TEST(!fitstream::is_codec_v<codec_with<encoder_with_wide_chars>>);
    BOOST_TEST(!fitstream::is_codec_v<codec_with<encoder_without_char_type>>);
    BOOST_TEST(!fitstream::is_codec_v<codec_with<encoder_default_only>>);
}

BOOST_AUTO_TEST_CASE(fit_names_are_u_boot_compression_names) {
    BOOST_TEST(codec::none::fit_name == "none");
    BOOST_TEST(codec::gzip::fit_name == "gzip");
    BOOST_TEST(codec::zstd::fit_name == "zstd");
    // The built-in list may grow (more U-Boot compressions); these three
    // are in it, "none" first, each name once, each one dispatchable.
    const auto names = split_names(fitstream::codec_names());
    BOOST_TEST(!names.empty());
    BOOST_TEST(names.front() == "none");
    for (const char* n : {"none", "gzip", "zstd"})
        BOOST_TEST(std::count(names.begin(), names.end(), n) == 1, fitstream::codec_names() << " lacks " << n);
    for (const auto& n : names) {
        BOOST_TEST(fitstream::is_codec_name(n), n);
        std::string_view picked;
        fitstream::visit_codec(n, [&](auto tag) { picked = decltype(tag)::type::fit_name; });
        BOOST_TEST(picked == n);
    }
    BOOST_TEST(fitstream::codec_names(fitstream::codec_list<codec::none, codec::gzip, codec::zstd>{}) ==
               "none, gzip, zstd");
    BOOST_TEST(fitstream::is_codec_name("gzip"));
    BOOST_TEST(!fitstream::is_codec_name("xz"));
    BOOST_TEST(!fitstream::is_codec_name("GZIP"));
}

BOOST_AUTO_TEST_CASE_TEMPLATE(visit_codec_picks_the_codec_by_name, C, all_codecs) {
    int calls = 0;
    bool right_type = false;
    fitstream::visit_codec(C::fit_name, [&](auto tag) {
        ++calls;
        right_type = std::is_same_v<typename decltype(tag)::type, C>;
    });
    BOOST_TEST(calls == 1);
    BOOST_TEST(right_type);
}

BOOST_AUTO_TEST_CASE(visit_codec_gzip_and_unknown_names) {
    std::string picked;
    fitstream::visit_codec("gzip", [&](auto tag) { picked = typeid(typename decltype(tag)::type).name(); });
    BOOST_TEST(picked == typeid(codec::gzip).name());

    // With an explicit list of the three, the message is exactly theirs.
    try {
        fitstream::visit_codec("xz", [](auto) {}, fitstream::codec_list<codec::none, codec::gzip, codec::zstd>{});
        BOOST_ERROR("visit_codec accepted 'xz'");
    } catch (const fitstream::error& e) {
        BOOST_TEST((e.code() == fitstream::errc::unsupported));
        BOOST_TEST(std::string(e.what()).find("none, gzip, zstd") != std::string::npos, e.what());
    }

    for (const char* name : {"xz", "", "GZIP", "gzip ", "lzma2"}) {
        int calls = 0;
        try {
            fitstream::visit_codec(name, [&](auto) { ++calls; });
            BOOST_ERROR("visit_codec accepted '" << name << "'");
        } catch (const fitstream::error& e) {
            BOOST_TEST(e.code() == fitstream::make_error_code(fitstream::errc::unsupported), name);
            BOOST_TEST((e.code() == fitstream::errc::unsupported));
            BOOST_TEST(e.subject() == name);
            // The message lists every valid name: all of codec_names(), which has none, gzip and zstd.
            BOOST_TEST(std::string(e.what()).find("(valid: " + fitstream::codec_names() + ")") != std::string::npos,
                       e.what());
            const auto listed = split_names(fitstream::codec_names());
            for (const char* n : {"none", "gzip", "zstd"})
                BOOST_TEST(std::count(listed.begin(), listed.end(), n) == 1, n);
            BOOST_TEST(std::string(e.what()).rfind("fitstream: ", 0) == 0, e.what());
        }
        BOOST_TEST(calls == 0);
    }
}
