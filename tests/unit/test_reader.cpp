// SPDX-License-Identifier: MIT
// fitstream::reader and fitpack's read modes (list, verify, extract): FITs
// made by fitpack read back whole for every codec and layout, and every
// kind of damage the verifier must catch is reported as a problem with a
// non-zero exit from `fitpack verify`.

#define BOOST_TEST_MODULE reader
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <libfdt.h>

#include "hostile_fit.hpp"
#include "read_back.hpp"
#include "support.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

using namespace fitstream_test;

namespace {

struct fixture {
    temp_dir dir;
    fs::path kernel = dir / "Image";
    fs::path dtb_a = dir / "a.dtb";
    fs::path dtb_b = dir / "b.dtb";
    std::string kernel_bytes = kernel_like_payload(600 * 1024, 3);

    fixture() {
        write_file(kernel, kernel_bytes);
        compile_dts(data_dir / "unit" / "board.dts", dtb_a);
        compile_dts(data_dir / "unit" / "board-no-model.dts", dtb_b);
    }

    fs::path pack(const std::string& name, const std::vector<std::string>& extra) const {
        const fs::path out = dir / name;
        std::vector<std::string> args{"-o",     out.string(), "--arch", "arm64", "--os", "linux",
                                      "--name", "Test",       "-k",     kernel.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(dtb_a.string());
        args.push_back(dtb_b.string());
        fitpack_ok(args);
        return out;
    }
};

/// Applies `edit` to the FDT at the start of `path` (in place: the
/// structure keeps its size, so external data stays where it was).
template <class Edit>
void edit_structure(const fs::path& path, Edit&& edit) {
    std::string bytes = read_file(path);
    std::vector<std::uint64_t> aligned((bytes.size() + 7) / 8);
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    void* fdt = aligned.data();
    edit(fdt);
    std::memcpy(bytes.data(), aligned.data(), bytes.size());
    write_file(path, bytes);
}

int node(const void* fdt, const char* path) {
    const int n = fdt_path_offset(fdt, path);
    BOOST_TEST_REQUIRE(n >= 0, path);
    return n;
}

bool has_problem(const std::vector<fitstream::problem>& problems, const std::string& subject,
                 const std::string& words) {
    return std::any_of(problems.begin(), problems.end(), [&](const fitstream::problem& p) {
        return p.level == fitstream::problem::severity::error && p.subject == subject &&
               p.message.find(words) != std::string::npos;
    });
}

/// `fitpack verify` must exit 1 and name `words` on standard error.
void expect_verify_fails(const fs::path& fit, const std::string& words) {
    const auto r = run({fitpack_path, "verify", fit.string()});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find(words) != std::string::npos, "stderr: " << r.err);
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(round_trip, fixture)

BOOST_AUTO_TEST_CASE(every_codec_and_layout_reads_back_whole) {
    const std::vector<std::vector<std::string>> layouts{{}, {"-E"}, {"-E", "-B", "0x1000"}, {"-p", "0x4000"}};
    for (const std::string codec : {"none", "gzip", "bzip2", "lzma", "lzo", "lz4", "zstd"}) {
        for (std::size_t l = 0; l < layouts.size(); ++l) {
            BOOST_TEST_CONTEXT("codec " << codec << ", layout " << l) {
                auto extra = layouts[l];
                extra.insert(extra.end(), {"-c", codec, "--hash", "crc32,sha256"});
                const auto path = pack("x.fit", extra);
                const fitstream::reader fit(path.string());
                BOOST_TEST(fit.verify().empty());
                BOOST_TEST(fit.images().size() == 3u);
                BOOST_TEST(fit.configurations().size() == 2u);
                BOOST_TEST(fit.default_configuration() == "conf-1");
                BOOST_TEST(fit.timestamp().value_or(0) == 1700000000u);
                BOOST_TEST(decoded(fit, "kernel") == kernel_bytes);
                BOOST_TEST(decoded(fit, "fdt-1") == read_file(dtb_a));
                BOOST_TEST(decoded(fit, "fdt-2") == read_file(dtb_b));
                const auto* k = fit.find_image("kernel");
                BOOST_TEST(k->compression == codec);
                BOOST_TEST(k->hashes.size() == 2u);
                if (l == 2) {
                    for (const auto& img : fit.images()) BOOST_TEST(img.offset % 0x1000 == 0u);
                }
                const auto expected = l == 0   ? fitstream::data_location::embedded
                                      : l == 3 ? fitstream::data_location::position
                                               : fitstream::data_location::offset;
                BOOST_TEST((k->location == expected));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(fitpack_list_extract_and_verify) {
    const auto path = pack("l.fit", {"-E", "-c", "gzip"});
    const auto list = run({fitpack_path, "list", path.string()});
    BOOST_TEST(list.exit_code == 0);
    for (const char* words : {"Image 0 (kernel)", "Image 2 (fdt-2)", "Configuration 1 (conf-2)", "Decoded Size: 614400",
                              "Default Configuration: 'conf-1'"})
        BOOST_TEST(list.out.find(words) != std::string::npos, words);

    const auto json = run({fitpack_path, "list", "--json", path.string()});
    BOOST_TEST(json.exit_code == 0);
    BOOST_TEST(json.out.find("\"decoded_size\": 614400") != std::string::npos);
    BOOST_TEST(json.out.find("\"location\": \"data-offset\"") != std::string::npos);

    const auto verify = run({fitpack_path, "verify", path.string()});
    BOOST_TEST(verify.exit_code == 0, verify.err);
    BOOST_TEST(verify.out.find("OK") != std::string::npos);

    const auto out = dir / "kernel.out";
    BOOST_TEST(run({fitpack_path, "extract", path.string(), "kernel", "-o", out.string()}).exit_code == 0);
    BOOST_TEST(read_file(out) == kernel_bytes);
    BOOST_TEST(run({fitpack_path, "extract", path.string(), "1", "-o", out.string()}).exit_code == 0);
    BOOST_TEST(read_file(out) == read_file(dtb_a));
    BOOST_TEST(run({fitpack_path, "extract", "--raw", path.string(), "kernel", "-o", out.string()}).exit_code == 0);
    const auto raw = read_file(out);
    BOOST_TEST_REQUIRE(raw.size() > 2u);
    BOOST_TEST((static_cast<unsigned char>(raw[0]) == 0x1f && static_cast<unsigned char>(raw[1]) == 0x8b));
    const auto missing = run({fitpack_path, "extract", path.string(), "nope", "-o", out.string()});
    BOOST_TEST(missing.exit_code == 1);
    BOOST_TEST(missing.err.find("nope") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(damage, fixture)

BOOST_AUTO_TEST_CASE(flipped_payload_byte_fails_the_hash) {
    for (const bool external : {false, true}) {
        const auto path = pack("f.fit", external ? std::vector<std::string>{"-E"} : std::vector<std::string>{});
        const auto offset = fitstream::reader(path.string()).find_image("kernel")->offset;
        std::string bytes = read_file(path);
        bytes[offset + 1000] = static_cast<char>(bytes[offset + 1000] ^ 0x40);
        write_file(path, bytes);
        BOOST_TEST(has_problem(fitstream::reader(path.string()).verify(), "/images/kernel/hash-1", "sha256 mismatch"));
        expect_verify_fails(path, "sha256 mismatch");
    }
}

BOOST_AUTO_TEST_CASE(truncated_file) {
    const auto external = pack("t.fit", {"-E"});
    std::string bytes = read_file(external);
    write_file(external, bytes.substr(0, bytes.size() - 100));
    BOOST_TEST(has_problem(fitstream::reader(external.string()).verify(), "/images/fdt-2", "outside the file"));
    expect_verify_fails(external, "outside the file");

    const auto embedded = pack("te.fit", {});
    bytes = read_file(embedded);
    write_file(embedded, bytes.substr(0, bytes.size() / 2));
    BOOST_CHECK_THROW(fitstream::reader{embedded.string()}, fitstream::error);
    expect_verify_fails(embedded, "truncated");
}

BOOST_AUTO_TEST_CASE(data_offset_past_the_end) {
    const auto path = pack("o.fit", {"-E"});
    edit_structure(path, [](void* fdt) {
        BOOST_TEST_REQUIRE(fdt_setprop_inplace_u32(fdt, node(fdt, "/images/fdt-1"), "data-offset", 0x7ffffff0) == 0);
    });
    BOOST_TEST(has_problem(fitstream::reader(path.string()).verify(), "/images/fdt-1", "outside the file"));
    expect_verify_fails(path, "outside the file");
}

BOOST_AUTO_TEST_CASE(overlapping_payloads) {
    const auto path = pack("v.fit", {"-E"});
    edit_structure(path, [](void* fdt) {
        int len = 0;
        const auto* kernel_offset = fdt_getprop(fdt, node(fdt, "/images/kernel"), "data-offset", &len);
        BOOST_TEST_REQUIRE(len == 4);
        const std::uint32_t value = fdt32_to_cpu(*static_cast<const fdt32_t*>(kernel_offset)) + 16;
        BOOST_TEST_REQUIRE(fdt_setprop_inplace_u32(fdt, node(fdt, "/images/fdt-2"), "data-offset", value) == 0);
    });
    BOOST_TEST(has_problem(fitstream::reader(path.string()).verify(), "/images/fdt-2", "overlaps"));
    expect_verify_fails(path, "overlaps");
}

BOOST_AUTO_TEST_CASE(node_name_with_at_sign) {
    // Embedded data, so growing the structure moves nothing that is counted
    // from its end.
    const auto path = pack("at.fit", {});
    std::string bytes = read_file(path);
    std::vector<std::uint64_t> grown((bytes.size() + 4096) / 8);
    BOOST_TEST_REQUIRE(fdt_open_into(bytes.data(), grown.data(), static_cast<int>(grown.size() * 8)) == 0);
    void* fdt = grown.data();
    BOOST_TEST_REQUIRE(fdt_set_name(fdt, node(fdt, "/images/kernel"), "kernel@1") == 0);
    BOOST_TEST_REQUIRE(fdt_pack(fdt) == 0);
    write_file(path, std::string(static_cast<const char*>(fdt), fdt_totalsize(fdt)));
    BOOST_TEST(has_problem(fitstream::reader(path.string()).verify(), "/images/kernel@1", "'@'"));
    expect_verify_fails(path, "CVE-2021-27138");
}

BOOST_AUTO_TEST_CASE(fdt_image_that_is_not_a_dtb) {
    fitstream::tree fit;
    fit.description = "bad fdt";
    auto& img = fit.images.emplace_back("fdt-1", "flat_dt",
                                        fitstream::source::memory(std::vector<char>(300, 'x'), "junk"));
    img.compress_with<fitstream::codec::gzip>().add_hash<fitstream::hash::sha256>();
    fitstream::configuration conf;
    conf.name = "conf-1";
    conf.fdt = {"fdt-1"};
    fit.configurations.push_back(conf);
    const auto path = dir / "nd.fit";
    fitstream::write_fit(fit, path.string());
    BOOST_TEST(has_problem(fitstream::reader(path.string()).verify(), "/images/fdt-1", "not decode to a valid DTB"));
    expect_verify_fails(path, "valid DTB");
}

BOOST_AUTO_TEST_CASE(configuration_naming_a_missing_image) {
    const auto path = pack("m.fit", {"-E"});
    edit_structure(path, [](void* fdt) {
        BOOST_TEST_REQUIRE(fdt_setprop_inplace(fdt, node(fdt, "/configurations/conf-2"), "fdt", "fdt-9", 6) == 0);
    });
    BOOST_TEST(has_problem(fitstream::reader(path.string()).verify(), "/configurations/conf-2", "'fdt-9' names no image"));
    expect_verify_fails(path, "names no image");
}

BOOST_AUTO_TEST_CASE(corrupt_compressed_stream_with_matching_hash_still_fails) {
    // A producer bug, not tampering: the hash matches the stored bytes, but
    // they are not a whole gzip stream. Decoding must catch it.
    fitstream::tree fit;
    fit.description = "cut stream";
    auto& img = fit.images.emplace_back("kernel", "kernel", fitstream::source::memory(
                                                               std::vector<char>{'\x1f', '\x8b', '\x08', '\0', 'x'}, "cut"));
    img.description = "cut";
    img.add_hash<fitstream::hash::sha256>();
    const auto path = dir / "cut.fit";
    fitstream::write_fit(fit, path.string());
    edit_structure(path, [](void* fdt) {
        BOOST_TEST_REQUIRE(fdt_setprop_inplace(fdt, node(fdt, "/images/kernel"), "compression", "gzip", 5) == 0);
    });
    const auto problems = fitstream::reader(path.string()).verify();
    BOOST_TEST(has_problem(problems, "/images/kernel", "gzip data"));
}

BOOST_AUTO_TEST_CASE(decompression_bomb_is_stopped_at_the_limit) {
    fitstream::tree fit;
    fit.description = "bomb";
    auto& img = fit.images.emplace_back("kernel", "kernel",
                                        fitstream::source::memory(std::vector<char>(8u << 20, '\0'), "zeros"));
    img.description = "zeros";
    img.compress_with<fitstream::codec::zstd>();
    const auto path = dir / "bomb.fit";
    fitstream::write_fit(fit, path.string());
    fitstream::verify_options options;
    options.max_decoded_size = 1u << 20;
    BOOST_TEST(has_problem(fitstream::reader(path.string()).verify(options), "/images/kernel", "decodes to more than"));
    BOOST_TEST(fitstream::reader(path.string()).verify().empty());
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// Issue 14: a file that changes under the reader, wrong accepts, names that
// could forge output, the decode budget for all images together.
// ---------------------------------------------------------------------------

namespace {

/// A FIT with one image `kernel` whose node gets `props` (after the usual
/// description, type, arch, os and compression) and one configuration.
template <class Props>
std::string one_image_fit(Props&& props, const std::string& external = {}) {
    fdt_writer w;
    w.str("description", "issue 14");
    w.begin("images").image("kernel");
    props(w);
    w.end().end();
    w.begin("configurations").str("default", "conf-1").begin("conf-1").str("description", "c").str("kernel", "kernel");
    w.end().end();
    return w.finish(external);
}

std::vector<fitstream::problem> verify_bytes(const std::string& fit, fitstream::verify_options options = {}) {
    return fitstream::reader(fit.data(), fit.size(), "test.fit").verify(options);
}

std::string dump(const std::vector<fitstream::problem>& problems) {
    std::string out;
    for (const auto& p : problems) out += "\n  " + p.subject.substr(0, 200) + ": " + p.message.substr(0, 200);
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(file_that_shrinks_after_it_is_opened_is_an_error_not_sigbus) {
    temp_dir t;
    const fs::path path = t / "shrinks.fit";
    const std::string payload(3u << 20, 'k');  // three 1 MiB pieces
    write_file(path, one_image_fit(
                         [&](fdt_writer& w) {
                             w.u32("data-offset", 0).u32("data-size", static_cast<std::uint32_t>(payload.size()));
                         },
                         payload));
    const fitstream::reader fit(path.string());
    const auto& img = fit.images().at(0);
    BOOST_TEST_REQUIRE(img.data_problem.empty(), img.data_problem);
    fs::resize_file(path, fit.structure_size() + (1u << 20) + 10);  // a second piece cut short
    BOOST_CHECK_EXCEPTION(fit.read_stored(img, [](const char*, std::size_t) {}), fitstream::error,
                          [&](const fitstream::error& e) {
                              BOOST_TEST(e.subject() == path.string());
                              BOOST_TEST(e.reason().find("file changed while being read") != std::string::npos,
                                         e.reason());
                              return true;
                          });
    // verify() reports it as a problem, never throws or dies.
    std::vector<fitstream::problem> problems;
    BOOST_REQUIRE_NO_THROW(problems = fit.verify());
    BOOST_TEST(has_problem(problems, "/images/kernel", "file changed while being read"), dump(problems));
}

BOOST_AUTO_TEST_CASE(a_huge_totalsize_over_a_small_blob_is_not_read_into_memory) {
    // A small FIT whose header claims a structure of 2 GiB - 16 in a sparse
    // file, its external data after that gap: only the blocks are read, and
    // data-offset still counts from the real totalsize.
    temp_dir t;
    const fs::path path = t / "sparse.fit";
    const std::string payload = "the kernel after the gap";
    std::string bytes = one_image_fit([&](fdt_writer& w) {
        w.u32("data-offset", 0).u32("data-size", static_cast<std::uint32_t>(payload.size()));
    });
    const std::uint32_t totalsize = 0x7ffffff0u;
    for (int i = 0; i < 4; ++i) bytes[4 + i] = static_cast<char>(totalsize >> (24 - 8 * i));
    write_file(path, bytes);
    {
        std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(totalsize);
        f.write(payload.data(), static_cast<std::streamsize>(payload.size()));
        BOOST_TEST_REQUIRE(f.good());
    }
    rusage before{};
    getrusage(RUSAGE_SELF, &before);
    const fitstream::reader fit(path.string());
    std::vector<fitstream::problem> problems;
    BOOST_REQUIRE_NO_THROW(problems = fit.verify());
    rusage after{};
    getrusage(RUSAGE_SELF, &after);
    BOOST_TEST(after.ru_maxrss - before.ru_maxrss < 64 * 1024, "peak RSS grew by " << after.ru_maxrss - before.ru_maxrss
                                                                                   << " KiB");
    BOOST_TEST(fit.structure_size() == totalsize);
    BOOST_TEST(fdt_totalsize(fit.blob()) < 4096u);
    BOOST_TEST(std::none_of(problems.begin(), problems.end(),
                            [](const fitstream::problem& p) { return p.level == fitstream::problem::severity::error; }),
               dump(problems));
    std::string read;
    fit.read_stored(fit.images().at(0), [&](const char* p, std::size_t n) { read.append(p, n); });
    BOOST_TEST(read == payload);
}

BOOST_AUTO_TEST_CASE(hash_node_without_or_with_an_unknown_algo_is_an_error) {
    const auto missing = verify_bytes(one_image_fit([](fdt_writer& w) {
        w.str("data", "x").begin("hash-1").raw("value", "1234").end();
    }));
    BOOST_TEST(has_problem(missing, "/images/kernel/hash-1", "no algo: U-Boot fails the image"), dump(missing));
    const auto unknown = verify_bytes(one_image_fit([](fdt_writer& w) {
        w.str("data", "x").begin("hash-1").str("algo", "md4").raw("value", "1234").end();
    }));
    BOOST_TEST(has_problem(unknown, "/images/kernel/hash-1", "hash algo 'md4' is not one U-Boot knows"), dump(unknown));
}

BOOST_AUTO_TEST_CASE(empty_compression_string_is_an_error) {
    fdt_writer w;
    w.str("description", "d").begin("images").begin("kernel").str("description", "k").str("type", "kernel");
    w.str("compression", "").str("data", "x").end().end();
    w.begin("configurations").begin("conf-1").str("kernel", "kernel").end().end();
    const auto problems = verify_bytes(w.finish());
    BOOST_TEST(has_problem(problems, "/images/kernel", "compression is an empty string"), dump(problems));
}

BOOST_AUTO_TEST_CASE(two_data_properties_or_two_images_nodes_are_errors) {
    const auto props = verify_bytes(one_image_fit([](fdt_writer& w) { w.str("data", "x").str("data", "y"); }));
    BOOST_TEST(has_problem(props, "/images/kernel", "two 'data' properties"), dump(props));

    fdt_writer w;
    w.str("description", "d");
    w.begin("images").image("kernel").str("data", "x").end().end();
    w.begin("images").image("evil").str("data", "y").end().end();
    w.begin("configurations").begin("conf-1").str("kernel", "kernel").end().end();
    const auto nodes = verify_bytes(w.finish());
    BOOST_TEST(has_problem(nodes, "/images", "a second node of this name"), dump(nodes));
}

BOOST_AUTO_TEST_CASE(slash_or_control_character_in_a_node_name_is_an_error_and_escaped) {
    fdt_writer w;
    w.str("description", "d");
    w.begin("images").image("ker\nnel: OK").str("data", "x").end().image("a/b").str("data", "y").end().end();
    w.begin("configurations").begin("conf-1").str("kernel", "a/b").end().end();
    const auto problems = verify_bytes(w.finish());
    BOOST_TEST(has_problem(problems, "/images/ker\\x0anel: OK", "control character"), dump(problems));
    BOOST_TEST(has_problem(problems, "/images/a/b", "contains '/'"), dump(problems));
    for (const auto& p : problems) {
        BOOST_TEST(p.subject.find('\n') == std::string::npos);
        BOOST_TEST(p.message.find('\n') == std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(decode_limit_applies_to_all_images_together) {
    // 8 gzip images of 1 MiB of zeros each; a 3 MiB limit stops the 4th.
    std::string gz;
    {
        temp_dir t;
        write_file(t / "z", std::string(1u << 20, '\0'));
        gz = run_ok({"gzip", "-9nc", (t / "z").string()}).out;
    }
    fdt_writer w(1u << 20);
    w.str("description", "d").begin("images");
    for (int i = 0; i < 8; ++i) w.image("k" + std::to_string(i), "gzip").raw("data", gz).end();
    w.end().begin("configurations").begin("conf-1").str("kernel", "k0").end().end();
    fitstream::verify_options options;
    options.max_decoded_size = 3u << 20;
    const auto problems = verify_bytes(w.finish(), options);
    BOOST_TEST(!has_problem(problems, "/images/k2", "decode"), dump(problems));
    BOOST_TEST(has_problem(problems, "/images/k3", "for all images together"), dump(problems));
    BOOST_TEST(has_problem(problems, "/images/k7", "not decoded"), dump(problems));
}
