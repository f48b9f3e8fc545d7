// SPDX-License-Identifier: MIT
// What fuzzing the read side found (tests/fuzz/, bench/fuzz), and the
// classic hostile values, each kept as a test: fitstream::reader must report
// a problem from verify() or refuse the file with fitstream::error, never
// crash, hang or grow faster than its input. Inputs are built here with
// libfdt's sequential writer, or embedded as bytes when the fuzzer found
// them; this suite also runs in the ASan + UBSan build.

#define BOOST_TEST_MODULE fuzz_regressions
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <libfdt.h>

#include "hostile_fit.hpp"
#include "support.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

using namespace fitstream_test;

namespace {

std::vector<fitstream::problem> verify(const std::string& fit, fitstream::verify_options options = {}) {
    return fitstream::reader(fit.data(), fit.size(), "test.fit").verify(options);
}

bool has_problem(const std::vector<fitstream::problem>& problems, const std::string& subject,
                 const std::string& words) {
    return std::any_of(problems.begin(), problems.end(), [&](const fitstream::problem& p) {
        return p.level == fitstream::problem::severity::error && p.subject == subject &&
               p.message.find(words) != std::string::npos;
    });
}

std::string dump(const std::vector<fitstream::problem>& problems) {
    std::string out;
    for (const auto& p : problems) out += "\n  " + p.subject.substr(0, 200) + ": " + p.message.substr(0, 200);
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

std::string from_hex(const char* hex) {
    std::string out;
    for (const char* p = hex; p[0] && p[1]; p += 2) out += static_cast<char>(std::stoi(std::string(p, 2), nullptr, 16));
    return out;
}

/// A FIT with one external image `kernel` of `payload`, its data-offset
/// and data-size set by `props` (called inside the image node).
template <class Props>
std::string external_fit(const std::string& payload, Props&& props) {
    fdt_writer w;
    w.str("description", "hostile");
    w.begin("images").image("kernel");
    props(w);
    w.end().end();
    w.begin("configurations").str("default", "conf-1").begin("conf-1").str("kernel", "kernel").end().end();
    return w.finish(payload);
}

}  // namespace

// ---------------------------------------------------------------------------
// Found by fuzz_list.
// ---------------------------------------------------------------------------

// `fitpack list --json` threw nlohmann::json::type_error 316 (invalid
// UTF-8) on a FIT whose strings are not UTF-8, and printed nothing but
// "fitpack: error: [json.exception.type_error.316] ...". The fuzzer's input
// was a 1308-byte FIT; this is the same failure, minimised by hand: a
// 140-byte devicetree whose root description is the bytes c3 28.
BOOST_AUTO_TEST_CASE(list_json_with_strings_that_are_not_utf8) {
    static const char hex[] =
        "d00dfeed0000008c0000003800000080000000280000001100000010000000000000000c00000048000000000000000000000000"
        "000000000000000100000000000000030000000300000000c328000000000001696d6167657300000000000200000001636f6e66"
        "696775726174696f6e7300000000000200000002000000096465736372697074696f6e00";
    temp_dir dir;
    const auto path = dir / "utf8.fit";
    write_file(path, from_hex(hex));
    const auto r = run({fitpack_path, "list", "--json", path.string()});
    BOOST_TEST(r.exit_code == 0, "stderr: " << r.err);
    // The bad byte becomes U+FFFD; the rest of the listing is there.
    BOOST_TEST(r.out.find("\"description\": \"\xef\xbf\xbd(\"") != std::string::npos, r.out);
    BOOST_TEST(r.out.find("\"configurations\": []") != std::string::npos, r.out);
    // verify() has no quarrel with such bytes: U-Boot does not either.
    BOOST_TEST(dump(verify(from_hex(hex))).find("description") == std::string::npos);
}

// ---------------------------------------------------------------------------
// Found by fuzz_reader.
// ---------------------------------------------------------------------------

// A FIT structure of devicetree version 7 (node names are full paths before
// version 16) whose root node name has no '/': libfdt 1.6.1's
// fdt_check_full dereferences the NULL that fdt_get_name returns for it
// (SEGV in fdt_check_full). The fuzzer's input was 6245 bytes (3139 once
// minimised); this is the 72-byte core: header, empty reserve map,
// BEGIN_NODE "" END_NODE END. Versions before 16 are now refused before
// libfdt sees them, for the FIT and for every fdt image verify() decodes.
BOOST_AUTO_TEST_CASE(devicetree_version_before_16) {
    static const char hex[] =
        "d00dfeed0000004800000038000000480000002800000007000000000000000000000000000000100000000000000000000000000000"
        "000000000001000000000000000200000009";
    const std::string v7 = from_hex(hex);
    BOOST_TEST_REQUIRE(v7.size() == 72u);
    try {
        fitstream::reader r(v7.data(), v7.size(), "v7.fit");
        BOOST_FAIL("a version 7 structure was accepted");
    } catch (const fitstream::error& e) {
        BOOST_TEST(std::string(e.what()).find("version 7") != std::string::npos, e.what());
    }
    // The same blob as an fdt image's payload.
    fdt_writer w;
    w.str("description", "old fdt").begin("images").begin("fdt-1").str("description", "v7").str("type", "flat_dt");
    w.str("arch", "arm64").str("compression", "none").raw("data", v7).end().end();
    const auto fit = w.finish();
    BOOST_TEST(has_problem(verify(fit), "/images/fdt-1", "does not decode to a valid DTB"), dump(verify(fit)));
    // And through fitpack verify, which used to die with SIGSEGV.
    temp_dir dir;
    write_file(dir / "v7.fit", v7);
    const auto r = run({fitpack_path, "verify", (dir / "v7.fit").string()});
    BOOST_TEST(r.exit_code == 1, "stderr: " << r.err);
    // And as a DTB handed to the writer side (inspect_dtb used to call
    // fdt_check_full on it directly and crash the same way).
    BOOST_CHECK_THROW(fitstream::inspect_dtb(v7.data(), v7.size(), "v7.dtb"), fitstream::error);
    write_file(dir / "Image", "kernel");
    write_file(dir / "v7.dtb", v7);
    const auto pack = run({fitpack_path, "-o", (dir / "x.fit").string(), "-A", "arm64", "-O", "linux", "-n", "n", "-k",
                           (dir / "Image").string(), (dir / "v7.dtb").string()});
    BOOST_TEST(pack.exit_code == 1, "stderr: " << pack.err);
    BOOST_TEST(pack.err.find("v7.dtb") != std::string::npos, pack.err);
}

// ---------------------------------------------------------------------------
// Found by fuzz_decoders.
// ---------------------------------------------------------------------------

// A zstd frame whose header says 262144 bytes of content, then one empty
// last block. One-shot decoding (libzstd's, and U-Boot's) refuses it;
// libzstd 1.5.4's streaming decoder, fed the frame in pieces, skips the
// content size check for an empty last block and reported a complete,
// empty frame. fuzz_decoders compared one-shot and chunked decoding; its
// 13-byte input was 06 (zstd, chunking seed 0) and these 12 bytes.
BOOST_AUTO_TEST_CASE(zstd_frame_shorter_than_its_header_says) {
    const std::string frame = from_hex("28b52ffda0000004000100" "00");
    for (const std::size_t chunk : {std::size_t{1}, std::size_t{3}, frame.size()}) {
        fitstream::codec::zstd::decoder decoder;
        std::vector<char> out(1u << 20);
        const char* in = frame.data();
        BOOST_CHECK_THROW(
            for (;;) {
                const char* step_end = std::min(in + chunk, frame.data() + frame.size());
                char* o = out.data();
                if (!decoder.filter(in, step_end, o, out.data() + out.size(), step_end == frame.data() + frame.size()))
                    break;
            },
            fitstream::error);
    }
    // The reader hands a decoder 1 MiB of input at a time, so a larger frame
    // reached it in pieces: nine 128 KiB raw blocks, an empty last block, and
    // a header that says 2 MiB.
    std::string big = from_hex("28b52ffda0") + std::string("\x00\x00\x20\x00", 4);
    for (int i = 0; i < 9; ++i) big += std::string("\x00\x00\x10", 3) + std::string(128u << 10, 'z');
    big += std::string("\x01\x00\x00", 3);
    fdt_writer w;
    w.str("description", "short zstd").begin("images").image("kernel", "zstd").u32("data-offset", 0);
    w.u32("data-size", static_cast<std::uint32_t>(big.size())).end().end();
    const auto fit = w.finish(big);
    const auto problems = verify(fit);
    BOOST_TEST(has_problem(problems, "/images/kernel", "its header says 2097152"), dump(problems));
}

// ---------------------------------------------------------------------------
// Sizes and offsets at the edges of a 32-bit cell, and past the end.
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(data_size_near_4_gib) {
    for (const std::uint32_t size : {0xffffffffu, 0xfffffffcu, 0x80000000u, 0x7fffffffu}) {
        const auto fit = external_fit("payload!", [&](fdt_writer& w) { w.u32("data-offset", 0).u32("data-size", size); });
        const auto problems = verify(fit);
        BOOST_TEST(has_problem(problems, "/images/kernel", "outside the file"), size << dump(problems));
    }
}

BOOST_AUTO_TEST_CASE(data_offset_near_4_gib) {
    for (const std::uint32_t offset : {0xffffffffu, 0xfffffffcu, 0x80000000u, 0x7ffffffcu}) {
        const auto fit = external_fit("payload!", [&](fdt_writer& w) { w.u32("data-offset", offset).u32("data-size", 8); });
        const auto problems = verify(fit);
        BOOST_TEST(has_problem(problems, "/images/kernel", "outside the file"), offset << dump(problems));
    }
}

BOOST_AUTO_TEST_CASE(data_position_past_the_end) {
    for (const std::uint32_t position : {0xffffffffu, 0x80000000u, 0x10000u}) {
        const auto fit =
            external_fit("payload!", [&](fdt_writer& w) { w.u32("data-position", position).u32("data-size", 8); });
        const auto problems = verify(fit);
        BOOST_TEST(has_problem(problems, "/images/kernel", "outside the file"), position << dump(problems));
    }
    // Inside the file, but inside the structure.
    const auto fit = external_fit("payload!", [&](fdt_writer& w) { w.u32("data-position", 0).u32("data-size", 8); });
    BOOST_TEST(has_problem(verify(fit), "/images/kernel", "overlaps the FIT structure"));
}

// U-Boot reads data-offset, data-position and data-size as one cell, the
// first, whatever the property's length: <0 8> is offset 0 to U-Boot. The
// reader used to read two cells as one 64-bit value, so it checked (and
// listed, and extracted) other bytes than U-Boot loads.
BOOST_AUTO_TEST_CASE(external_properties_longer_or_shorter_than_one_cell) {
    const std::string payload = "AAAAAAAABBBBBBBB";
    auto fit = external_fit(payload, [](fdt_writer& w) { w.u64("data-offset", 8).u32("data-size", 8); });
    BOOST_TEST(has_problem(verify(fit), "/images/kernel", "data-offset is 8 bytes long, not one 32-bit cell"));
    fit = external_fit(payload, [](fdt_writer& w) { w.u32("data-offset", 0).u64("data-size", 8); });
    BOOST_TEST(has_problem(verify(fit), "/images/kernel", "data-size is 8 bytes long"));
    fit = external_fit(payload, [](fdt_writer& w) { w.raw("data-position", std::string(2, '\0')).u32("data-size", 8); });
    BOOST_TEST(has_problem(verify(fit), "/images/kernel", "data-position is 2 bytes long"));
    fit = external_fit(payload, [](fdt_writer& w) { w.u32("data-offset", 0); });
    BOOST_TEST(has_problem(verify(fit), "/images/kernel", "without data-size"));
    const fitstream::reader r(fit.data(), fit.size(), "test.fit");
    BOOST_CHECK_THROW(r.read_stored(r.images().at(0), [](const char*, std::size_t) {}), fitstream::error);
}

// U-Boot prefers data-position, then data-offset, and reads `data` only
// without either. The reader used to prefer `data`: an image carrying both
// was checked and extracted from bytes U-Boot never loads.
BOOST_AUTO_TEST_CASE(image_with_both_data_and_data_offset_is_read_as_uboot_reads_it) {
    const std::string payload = "what U-Boot loads";
    const auto fit = external_fit(payload, [&](fdt_writer& w) {
        w.str("data", "a decoy").u32("data-offset", 0).u32("data-size", static_cast<std::uint32_t>(payload.size()));
    });
    const fitstream::reader r(fit.data(), fit.size(), "test.fit");
    const auto& img = r.images().at(0);
    BOOST_TEST(static_cast<int>(img.location) == static_cast<int>(fitstream::data_location::offset));
    std::string stored;
    r.read_stored(img, [&](const char* p, std::size_t n) { stored.append(p, n); });
    BOOST_TEST(stored == payload);
    BOOST_TEST(has_problem(r.verify(), "/images/kernel", "has both data and data-offset"));
}

// A structure that claims more bytes than the file has.
BOOST_AUTO_TEST_CASE(totalsize_past_the_end_of_the_file) {
    fdt_writer w;
    w.str("description", "short").begin("images").end().begin("configurations").end();
    std::string fit = w.finish();
    for (const std::uint32_t total : {static_cast<std::uint32_t>(fit.size() + 1), 0x7fffffffu, 0xffffffffu}) {
        std::string bad = fit;
        const std::uint32_t be = cpu_to_fdt32(total);
        std::memcpy(&bad[4], &be, 4);  // fdt_header.totalsize
        BOOST_CHECK_THROW(fitstream::reader(bad.data(), bad.size(), "test.fit"), fitstream::error);
    }
    BOOST_CHECK_THROW(fitstream::reader(fit.data(), 20, "test.fit"), fitstream::error);
    BOOST_CHECK_THROW(fitstream::reader(fit.data(), 0, "test.fit"), fitstream::error);
}

// ---------------------------------------------------------------------------
// Payloads sharing bytes.
// ---------------------------------------------------------------------------

// The overlap check compared each payload with its neighbour in offset
// order only: with a long first payload, a third one inside it but past
// the second went unreported.
BOOST_AUTO_TEST_CASE(overlap_with_a_payload_that_is_not_the_neighbour) {
    fdt_writer w;
    w.str("description", "overlaps").begin("images");
    w.image("a").u32("data-offset", 0).u32("data-size", 100).end();
    w.image("b").u32("data-offset", 10).u32("data-size", 10).end();
    w.image("c").u32("data-offset", 50).u32("data-size", 10).end();
    w.end();
    const auto fit = w.finish(std::string(100, 'x'));
    const auto problems = verify(fit);
    BOOST_TEST(has_problem(problems, "/images/b", "overlaps the data of /images/a"), dump(problems));
    BOOST_TEST(has_problem(problems, "/images/c", "overlaps the data of /images/a"), dump(problems));
    BOOST_TEST(!has_problem(problems, "/images/a", "overlaps"), dump(problems));
}

// Many images naming the same bytes (here a few KiB of zstd that decode to
// 64 MiB) used to be hashed and decoded once each: 500 of them made a 60 KiB
// file cost 32 GB of decoding. An overlapping payload is now unusable, so
// each byte of the file is hashed and decoded at most once.
BOOST_AUTO_TEST_CASE(many_images_sharing_one_payload) {
    std::string bomb;
    {
        fitstream::codec::zstd::encoder encoder(fitstream::codec::zstd::options{}, 64u << 20);
        const std::vector<char> zeros(1u << 20, '\0');
        std::vector<char> out(1u << 20);
        for (int i = 0; i < 64; ++i) {
            const bool last = i == 63;
            const char* in = zeros.data();
            for (;;) {
                char* o = out.data();
                const bool more = encoder.filter(in, zeros.data() + zeros.size(), o, out.data() + out.size(), last);
                bomb.append(out.data(), o);
                if (last ? !more : in == zeros.data() + zeros.size()) break;
            }
        }
    }
    BOOST_TEST_REQUIRE(bomb.size() < 64 * 1024u);
    fdt_writer w(1u << 20);
    w.str("description", "shared").begin("images");
    for (int i = 0; i < 500; ++i)
        w.image("k" + std::to_string(i), "zstd")
            .u32("data-offset", 0)
            .u32("data-size", static_cast<std::uint32_t>(bomb.size()))
            .begin("hash-1")
            .str("algo", "sha512")
            .raw("value", std::string(64, '\0'))
            .end()
            .end();
    w.end();
    const auto fit = w.finish(bomb);
    const auto start = std::chrono::steady_clock::now();
    const auto problems = verify(fit);
    BOOST_TEST(has_problem(problems, "/images/k1", "overlaps the data of /images/k0"), dump(problems));
    BOOST_TEST(has_problem(problems, "/images/k499", "overlaps the data of /images/k0"));
    BOOST_TEST(has_problem(problems, "/images/k0/hash-1", "sha512 mismatch"));
    BOOST_TEST(seconds_since(start) < 120.0);
}

// Hash nodes were each computed over the payload: 4000 of them (300 KiB of
// structure) over a 4 MiB payload cost 16 GB of hashing. Each algorithm now
// runs once per payload.
BOOST_AUTO_TEST_CASE(many_hash_nodes_on_one_payload) {
    fdt_writer w(1u << 20);
    w.str("description", "hashes").begin("images").image("kernel").u32("data-offset", 0).u32("data-size", 4u << 20);
    for (int i = 0; i < 4000; ++i)
        w.begin("hash-" + std::to_string(i)).str("algo", i % 2 ? "sha256" : "crc32").raw("value", std::string(i % 2 ? 32 : 4, '\0')).end();
    w.end().end();
    const auto fit = w.finish(std::string(4u << 20, 'x'));
    const auto start = std::chrono::steady_clock::now();
    const auto problems = verify(fit);
    BOOST_TEST(has_problem(problems, "/images/kernel/hash-1", "sha256 mismatch"));
    BOOST_TEST(has_problem(problems, "/images/kernel/hash-0", "crc32 mismatch"));
    // One problem a node up to the limit, then one saying it stopped.
    BOOST_TEST(problems.size() == fitstream::verify_options{}.max_problems + 1);
    BOOST_TEST(problems.back().message.find("stopped checking") != std::string::npos);
    BOOST_TEST(seconds_since(start) < 120.0);
}

// ---------------------------------------------------------------------------
// Strings and references.
// ---------------------------------------------------------------------------

// libfdt's string-list functions, which U-Boot uses to resolve a
// configuration's images, refuse a list without its final NUL; the reader
// read one as if it were there.
BOOST_AUTO_TEST_CASE(strings_without_terminators) {
    fdt_writer w;
    w.raw("description", "no end");
    w.begin("images").begin("kernel").raw("description", "k").raw("type", "kernel").raw("arch", "arm64");
    w.raw("os", "linux").raw("compression", "none").str("data", "payload");
    w.begin("hash-1").raw("algo", "crc32").raw("value", std::string(4, '\0')).end();
    w.end().end();
    w.begin("configurations").raw("default", "conf-1");
    w.begin("conf-1").raw("description", "c").raw("kernel", "kernel").raw("fdt", std::string("fdt-1\0fdt-2", 11));
    w.raw("compatible", "acme,board").end().end();
    const auto fit = w.finish();
    const auto problems = verify(fit);
    for (const auto& [subject, prop] : std::vector<std::pair<std::string, std::string>>{
             {"/", "description"},
             {"/images/kernel", "type"},
             {"/images/kernel", "compression"},
             {"/images/kernel/hash-1", "algo"},
             {"/configurations", "default"},
             {"/configurations/conf-1", "fdt"},
             {"/configurations/conf-1", "compatible"}})
        BOOST_TEST(has_problem(problems, subject, prop + " is not a NUL-terminated string"), subject << " " << prop << dump(problems));
    // The values are still read up to the end of the property.
    const fitstream::reader r(fit.data(), fit.size(), "test.fit");
    BOOST_TEST(r.images().at(0).compression == "none");
    BOOST_TEST((r.configurations().at(0).fdt == std::vector<std::string>{"fdt-1", "fdt-2"}));
    // An empty property is no string either.
    fdt_writer e;
    e.str("description", "empty").begin("images").begin("kernel").str("description", "k").raw("type", "");
    e.str("compression", "none").str("data", "x").end().end();
    BOOST_TEST(has_problem(verify(e.finish()), "/images/kernel", "type is not a NUL-terminated string"));
}

// A configuration that names itself, lists one image twice, or lists 50 000
// images that do not exist: reported, without one copy of a long
// configuration name per problem.
BOOST_AUTO_TEST_CASE(configuration_fdt_list_huge_or_naming_itself) {
    const std::string long_name(100000, 'c');
    std::string huge;
    for (int i = 0; i < 50000; ++i) huge += "missing-" + std::to_string(i) + '\0';
    fdt_writer w(1u << 21);
    w.str("description", "references").begin("images").image("fdt-1").str("data", "x").end().end();
    w.begin("configurations").str("default", "conf-1");
    w.begin("conf-1").str("kernel", "conf-1").raw("fdt", std::string("fdt-1\0conf-1\0fdt-1\0", 19)).end();
    w.begin(long_name).raw("fdt", huge).end();
    w.end();
    const auto fit = w.finish();
    const auto start = std::chrono::steady_clock::now();
    const auto problems = verify(fit);
    BOOST_TEST(has_problem(problems, "/configurations/conf-1", "kernel 'conf-1' names no image"), dump(problems));
    BOOST_TEST(has_problem(problems, "/configurations/conf-1", "fdt 'conf-1' names no image"));
    BOOST_TEST(has_problem(problems, "/configurations/conf-1", "fdt lists 'fdt-1' more than once"));
    BOOST_TEST(problems.size() == fitstream::verify_options{}.max_problems + 1);
    for (const auto& p : problems) BOOST_TEST(p.subject.size() < 300u);
    BOOST_TEST(seconds_since(start) < 60.0);
}

BOOST_AUTO_TEST_CASE(two_images_or_configurations_of_one_name) {
    fdt_writer w;
    w.str("description", "twins").begin("images");
    w.image("kernel").str("data", "first").end();
    w.image("kernel").str("data", "second").end();
    w.end().begin("configurations").str("default", "conf-1");
    w.begin("conf-1").str("kernel", "kernel").end().begin("conf-1").str("kernel", "kernel").end();
    w.end();
    const auto fit = w.finish();
    const auto problems = verify(fit);
    BOOST_TEST(has_problem(problems, "/images/kernel", "a second image of this name"), dump(problems));
    BOOST_TEST(has_problem(problems, "/configurations/conf-1", "a second configuration of this name"));
    // find_image() finds the first, as U-Boot does.
    const fitstream::reader r(fit.data(), fit.size(), "test.fit");
    std::string stored;
    r.read_stored(*r.find_image("kernel"), [&](const char* p, std::size_t n) { stored.append(p, n); });
    BOOST_TEST(stored == std::string("first", 6));
}

// ---------------------------------------------------------------------------
// Deep and long.
// ---------------------------------------------------------------------------

// 100 000 nested nodes named "n@1": the walk that checks node names built
// each path from scratch (quadratic time) and reported every '@' with its
// full path (quadratic memory: about 60 GB here). It is now linear and stops
// checking below max_checked_depth, saying so.
BOOST_AUTO_TEST_CASE(deeply_nested_nodes) {
    const int depth = 100000;
    fdt_writer w(4u << 20);
    w.str("description", "deep").begin("images").image("kernel").str("data", "x").end().end();
    w.begin("configurations").end();
    for (int i = 0; i < depth; ++i) w.begin("n@1");
    for (int i = 0; i < depth; ++i) w.end();
    const auto fit = w.finish();
    const auto start = std::chrono::steady_clock::now();
    const auto problems = verify(fit);
    BOOST_TEST(has_problem(problems, "/", "nested more than 64 levels deep"), dump(problems));
    BOOST_TEST(has_problem(problems, "/n@1/n@1", "contains '@'"));
    BOOST_TEST(problems.size() <= static_cast<std::size_t>(fitstream::max_checked_depth) + 10);
    BOOST_TEST(seconds_since(start) < 60.0);
}

// A 1 MB node name with 2000 hash nodes of an unknown algorithm: each
// problem used to carry a copy of the name (2 GB).
BOOST_AUTO_TEST_CASE(long_node_name_in_many_problems) {
    const std::string name(1u << 20, 'k');
    fdt_writer w(4u << 20);
    w.str("description", "long").begin("images").image(name).str("data", "x");
    for (int i = 0; i < 2000; ++i) w.begin("hash-" + std::to_string(i)).str("algo", "md4").end();
    w.end().end();
    const auto fit = w.finish();
    const auto problems = verify(fit);
    BOOST_TEST(problems.size() > 1000u);
    for (const auto& p : problems) BOOST_TEST_REQUIRE(p.subject.size() < 300u);
    // The image itself keeps its whole name.
    BOOST_TEST(fitstream::reader(fit.data(), fit.size(), "test.fit").images().at(0).name == name);
}

// ---------------------------------------------------------------------------
// For fuzz_key_dtb (issue 14).
// ---------------------------------------------------------------------------

// A key node whose rsa,modulus is 4 MiB kept `verify --key-dtb` busy for a
// minute computing RSA constants before rsa,num-bits was looked at: sizes
// are checked first, against U-Boot's 4096-bit limit.
BOOST_AUTO_TEST_CASE(key_node_with_a_4_mib_modulus_is_refused_before_any_arithmetic) {
    for (const std::uint32_t bits : {32u << 20, 8192u, 2048u}) {
        fdt_writer w(8u << 20);
        w.begin("signature").begin("key-big").u32("rsa,num-bits", bits);
        w.raw("rsa,modulus", std::string(4u << 20, '\xff')).end().end();
        const auto dtb = w.finish();
        std::vector<std::uint64_t> aligned((dtb.size() + 7) / 8);
        std::memcpy(aligned.data(), dtb.data(), dtb.size());
        const int node = fdt_path_offset(aligned.data(), "/signature/key-big");
        BOOST_TEST_REQUIRE(node >= 0);
        const auto start = std::chrono::steady_clock::now();
        BOOST_CHECK_EXCEPTION(fitstream::public_key::from_fdt(aligned.data(), node, "k"), fitstream::error,
                              [&](const fitstream::error& e) {
                                  BOOST_TEST(e.code() == make_error_code(fitstream::errc::invalid_input));
                                  BOOST_TEST((e.reason().find("outside U-Boot's 1..4096") != std::string::npos ||
                                              e.reason().find("does not match the 4194304-byte rsa,modulus of 33554432 bits") !=
                                                  std::string::npos),
                                             e.reason());
                                  return true;
                              });
        BOOST_TEST(seconds_since(start) < 1.0);
    }
}
