// SPDX-License-Identifier: MIT
//
// `fitpack -f ITS -o FIT` and `fitpack mkimage ... -f ITS FIT` on image tree
// sources that must fail (tests/data/its/errors/*.its, each saying why).
// Every failure, in both spellings:
//
//  - exit 1, one line on stderr "fitpack: error: ..." naming what to fix
//    (the file and line of a syntax error, also in an /include/d file; the
//    node; the missing file; the codec the bytes really are), nothing on
//    stdout;
//  - nothing written: the output's folder is as it was (no FIT, no
//    temporary file), an existing output unchanged.
//
// The build-time checks mkimage does not make: payload bytes that do not
// match the declared compression (plain bytes declared gzip, an xz stream
// declared lzma, raw zlib declared gzip; --allow-compression-mismatch
// builds them anyway), '@' in a node name, a configuration naming a missing
// image, a default naming no configuration, load/entry cells against
// #address-cells. Then the FIT's 32-bit limits: a 6 GiB sparse payload is
// refused embedded and under -E, while 4 KiB taken from past 4 GiB of it
// (/incbin/ offset 0x140000000) packs. And `fitpack mkimage` refuses
// mkimage's non-FIT modes with exit 2, naming the mode.

#define BOOST_TEST_MODULE fitpack -f errors
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include "support.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <ostream>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace bdata = boost::unit_test::data;
using namespace fitstream_test;

namespace {

const fs::path errors_data = data_dir / "its" / "errors";

std::string lower(std::string text) {
    for (auto& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
}

/// A copy of tests/data/its/errors with the payloads the sources name:
/// Image (plain), Image.xz (an xz stream), Image.zlib (raw zlib).
struct sources {
    temp_dir dir;
    fs::path its;
    std::string plain;

    sources() {
        its = dir / "errors";
        fs::copy(errors_data, its, fs::copy_options::recursive);
        plain = kernel_like_payload(40001, 5);
        write_file(its / "Image", plain);
        write_file(its / "Image.xz", tool({"xz", "-c"}, plain));
        write_file(its / "Image.zlib",
                   tool({"python3", "-c",
                         "import sys, zlib; sys.stdout.buffer.write(zlib.compress(sys.stdin.buffer.read(), 9))"},
                        plain));
    }
};

const sources& src() {
    static const sources instance;
    return instance;
}

/// fitpack's two spellings of an .its build.
enum class spelling { its_mode, mkimage_mode };

const char* spelling_name(spelling s) { return s == spelling::its_mode ? "fitpack -f" : "fitpack mkimage"; }

/// The command line: `-f ITS -o FIT EXTRA` or `mkimage EXTRA -f ITS FIT`.
std::vector<std::string> its_args(spelling s, const fs::path& its, const fs::path& fit,
                                  const std::vector<std::string>& extra) {
    if (s == spelling::its_mode) return std::vector<std::string>{"-f", its.string(), "-o", fit.string()} + extra;
    return std::vector<std::string>{"mkimage"} + extra + std::vector<std::string>{"-f", its.string(), fit.string()};
}

/// `r` is a failure with exit code `code`, one "fitpack: error: " line
/// holding every one of `parts` (case aside), nothing on stdout.
void expect_error(const run_result& r, const std::vector<std::string>& argv, int code,
                  const std::vector<std::string>& parts) {
    const std::string what = describe(fitpack_argv(argv), r);
    BOOST_TEST(r.exit_code == code, what);
    const auto lines = lines_of(r.err);
    if (code == 1) {
        BOOST_TEST(lines.size() == 1u, what);
        BOOST_TEST(r.err.rfind("fitpack: error: ", 0) == 0u, what);
    } else {
        BOOST_TEST(!lines.empty(), what);
    }
    for (const auto& part : parts) BOOST_TEST(has(lower(r.err), lower(part)), "no '" << part << "' in: " << what);
    BOOST_TEST(r.out.empty(), what);
}

/// One source that must fail, the words its message must hold, and the
/// options to add (both spellings know them).
struct refusal {
    std::string its;
    std::vector<std::string> parts;
    std::vector<std::string> extra{};
};

std::ostream& operator<<(std::ostream& os, const refusal& r) { return os << r.its << " " << join(r.extra); }

const std::vector<refusal> refusals{
    // dtc's message, with the source's name and line (not a rewritten copy's).
    {"syntax-error", {"syntax-error.its:7"}},
    {"syntax-in-include", {"broken.dtsi:4"}},
    {"missing-incbin", {"does-not-exist.bin", "/images/kernel"}},
    {"missing-incbin", {"does-not-exist.bin", "/images/kernel"}, {"-E"}},
    {"at-sign", {"kernel@1"}},
    {"missing-image", {"conf-1", "kernel-2"}},
    {"bad-default", {"default", "conf-9"}},
    {"load-cells", {"/images/kernel", "load"}},
    {"entry-cells", {"/images/kernel", "entry"}},
    {"mismatch-plain-gzip", {"/images/kernel", "gzip"}},
    {"mismatch-xz-lzma", {"/images/kernel", "xz"}},
    {"mismatch-xz-lzma", {"/images/kernel", "xz"}, {"-E", "-B", "0x1000"}},
    {"mismatch-zlib-gzip", {"/images/kernel", "zlib"}},
};

}  // namespace

BOOST_DATA_TEST_CASE(refused_and_nothing_written, bdata::make(refusals), c) {
    const fs::path its = src().its / (c.its + ".its");
    for (const auto s : {spelling::its_mode, spelling::mkimage_mode}) {
        BOOST_TEST_CONTEXT(spelling_name(s)) {
            temp_dir out;
            const auto argv = its_args(s, its, out / "image.fit", c.extra);
            expect_error(fitpack(argv), argv, 1, c.parts);
            const auto left = directory_names(out.path());
            BOOST_TEST(left.empty(), "left behind: " << join({left.begin(), left.end()}));
        }
    }
}

BOOST_AUTO_TEST_CASE(an_existing_output_is_left_as_it_was) {
    for (const std::string name : {"syntax-error", "mismatch-xz-lzma", "missing-image"}) {
        BOOST_TEST_CONTEXT(name) {
            temp_dir out;
            const fs::path fit = out / "image.fit";
            const std::string old = "an earlier FIT" + std::string(3000, 'x');
            write_file(fit, old);
            const auto argv = its_args(spelling::its_mode, src().its / (name + ".its"), fit, {});
            const auto r = fitpack(argv);
            BOOST_TEST(r.exit_code == 1, describe(fitpack_argv(argv), r));
            BOOST_TEST(read_file(fit) == old);
            BOOST_TEST((directory_names(out.path()) == std::set<std::string>{"image.fit"}));
        }
    }
}

BOOST_AUTO_TEST_CASE(allow_compression_mismatch_builds_anyway) {
    for (const std::string name : {"mismatch-plain-gzip", "mismatch-xz-lzma", "mismatch-zlib-gzip"}) {
        BOOST_TEST_CONTEXT(name) {
            temp_dir out;
            const fs::path fit = out / "image.fit";
            const auto argv = its_args(spelling::its_mode, src().its / (name + ".its"), fit,
                                       {"--allow-compression-mismatch"});
            const auto r = fitpack(argv);
            BOOST_TEST_REQUIRE(r.exit_code == 0, describe(fitpack_argv(argv), r));
            // Stored as they are: fitpack does not "fix" them.
            run_ok({"dumpimage", "-T", "flat_dt", "-p", "0", "-o", (out / "kernel").string(), fit.string()});
            const std::string payload = name == "mismatch-plain-gzip" ? "Image"
                                        : name == "mismatch-xz-lzma"  ? "Image.xz"
                                                                      : "Image.zlib";
            check_same(read_file(out / "kernel"), read_file(src().its / payload), "the stored kernel");
        }
    }
}

// ---------------------------------------------------------------------------
// A 6 GiB payload: the FIT's 32-bit limits.
// ---------------------------------------------------------------------------

namespace {

/// A 6 GiB sparse big.bin beside the sources, with a 4 KiB pattern at 5 GiB;
/// empty when the filesystem refuses such a file.
struct big_payload {
    temp_dir dir;
    fs::path its_dir;
    std::string pattern = random_bytes(4096, 0x5eed);
    bool ok = false;
    std::string why;

    big_payload() {
        its_dir = dir / "errors";
        fs::copy(errors_data, its_dir, fs::copy_options::recursive);
        const fs::path big = its_dir / "big.bin";
        const auto t = run({"truncate", "-s", "6G", big.string()});
        if (t.exit_code != 0) {
            why = "truncate -s 6G: " + t.err;
            return;
        }
        write_file(dir / "pattern", pattern);
        const auto d = run({"dd", "if=" + (dir / "pattern").string(), "of=" + big.string(), "bs=4096",
                            "seek=" + std::to_string(0x140000000ull / 4096), "conv=notrunc", "status=none"});
        if (d.exit_code != 0) {
            why = "dd: " + d.err;
            return;
        }
        ok = fs::file_size(big) == 6ull << 30;
        if (!ok) why = "big.bin is not 6 GiB";
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(six_gib_payload_refused) {
    big_payload big;
    if (!big.ok) {
        BOOST_TEST_MESSAGE("skipped: this filesystem will not hold a 6 GiB sparse file (" << big.why << ")");
        return;
    }
    static const std::regex size_limit(
        R"(limit|too (large|big)|exceed|does not fit|4 ?gib|32-bit|32 bits|4294967295|0xffffffff)", std::regex::icase);
    for (const auto s : {spelling::its_mode, spelling::mkimage_mode}) {
        for (const auto& extra : {std::vector<std::string>{}, std::vector<std::string>{"-E"}}) {
            BOOST_TEST_CONTEXT(spelling_name(s) << " " << join(extra)) {
                temp_dir out;
                const auto argv = its_args(s, big.its_dir / "big.its", out / "image.fit", extra);
                fitpack_run how;
                how.wrapper = {"timeout", "300"};
                const auto r = fitpack(argv, how);
                expect_error(r, argv, 1, {});
                BOOST_TEST(std::regex_search(r.err, size_limit), "no word about the size limit: " << r.err);
                BOOST_TEST(directory_names(out.path()).empty());
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(incbin_offset_past_4_gib) {
    big_payload big;
    if (!big.ok) {
        BOOST_TEST_MESSAGE("skipped: this filesystem will not hold a 6 GiB sparse file (" << big.why << ")");
        return;
    }
    for (const auto s : {spelling::its_mode, spelling::mkimage_mode}) {
        for (const auto& extra : {std::vector<std::string>{"-E"}, std::vector<std::string>{}}) {
            BOOST_TEST_CONTEXT(spelling_name(s) << " " << join(extra)) {
                temp_dir out;
                const fs::path fit = out / "image.fit";
                const auto argv = its_args(s, big.its_dir / "big-offset.its", fit, extra);
                const auto r = fitpack(argv);
                BOOST_TEST_REQUIRE(r.exit_code == 0, describe(fitpack_argv(argv), r));
                BOOST_TEST(fs::file_size(fit) < 64u * 1024u);
                run_ok({"dumpimage", "-T", "flat_dt", "-p", "0", "-o", (out / "kernel").string(), fit.string()});
                check_same(read_file(out / "kernel"), big.pattern, "the 4 KiB at 0x140000000");
            }
        }
    }
}

// ---------------------------------------------------------------------------
// fitpack mkimage: only mkimage's FIT half.
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(mkimage_list_mode_refused) {
    temp_dir out;
    write_file(out / "some.img", random_bytes(1000, 1));
    const std::vector<std::string> argv{"mkimage", "-l", (out / "some.img").string()};
    expect_error(fitpack(argv), argv, 2, {"-l"});
    BOOST_TEST((directory_names(out.path()) == std::set<std::string>{"some.img"}));
}

BOOST_AUTO_TEST_CASE(mkimage_legacy_image_refused) {
    temp_dir out;
    write_file(out / "Image", random_bytes(1000, 2));
    const std::vector<std::string> argv{"mkimage", "-A", "arm64", "-O", "linux", "-T", "kernel", "-C", "none",
                                        "-a", "0x40400000", "-e", "0x40400000", "-n", "legacy",
                                        "-d", (out / "Image").string(), (out / "uImage").string()};
    const auto r = fitpack(argv);
    BOOST_TEST(r.exit_code == 2, describe(fitpack_argv(argv), r));
    // Names the mode: a legacy image (-d without -f), of type kernel.
    const std::string err = lower(r.err);
    BOOST_TEST((has(err, "legacy") || has(err, "-d") || has(err, "-t kernel")), r.err);
    BOOST_TEST((directory_names(out.path()) == std::set<std::string>{"Image"}));
}

BOOST_AUTO_TEST_CASE(mkimage_f_auto_builds) {
    // The tree is compared with mkimage's in tests/system/test_its_conformance.cpp.
    temp_dir out;
    write_file(out / "Image", random_bytes(1000, 3));
    const std::vector<std::string> argv{"mkimage", "-f", "auto", "-A", "arm64", "-O", "linux", "-T", "kernel", "-C",
                                        "none", "-a", "0x40400000", "-e", "0x40400000", "-n", "auto",
                                        "-d", (out / "Image").string(), (out / "image.fit").string()};
    const auto r = fitpack(argv);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(fitpack_argv(argv), r));
    const fs::path fit = out / "image.fit";
    run_ok({"dumpimage", "-T", "flat_dt", "-p", "0", "-o", (out / "kernel").string(), fit.string()});
    BOOST_TEST(read_file(out / "kernel") == read_file(out / "Image"));
    BOOST_TEST((directory_names(out.path()) == std::set<std::string>{"Image", "image.fit", "kernel"}));
}

BOOST_AUTO_TEST_CASE(modes_not_yet_supported_are_named) {
    // -F (re-signing) and -N engines other than pkcs11 (test_pkcs11 has
    // that one): a usage error naming the option, and nothing written.
    temp_dir out;
    const fs::path its = src().its / "at-sign.its";
    for (const auto& extra : std::vector<std::vector<std::string>>{{"-F"}, {"-N", "tpm"}}) {
        const auto argv = std::vector<std::string>{"mkimage"} + extra + std::vector<std::string>{
                              "-f", its.string(), (out / "image.fit").string()};
        expect_error(fitpack(argv), argv, 2, {extra.front()});
    }
    BOOST_TEST(directory_names(out.path()).empty());
}

BOOST_AUTO_TEST_CASE(help_and_clustered_flags) {
    const auto help = fitpack({"-f", "--help"});
    BOOST_TEST(help.exit_code == 0);
    BOOST_TEST(has(help.out, "-f FILE|auto"), help.out);
    BOOST_TEST(has(help.out, "--compress-images"), help.out);
    // make_fit.py's help points at the .its mode.
    BOOST_TEST(has(fitpack({"--help"}).out, "fitpack -f IMAGE.its"));
    // mkimage's getopt clusters: -Ef is -E then -f, under both spellings.
    temp_dir out;
    write_file(out / "Image", random_bytes(1000, 4));
    write_file(out / "image.its", "/dts-v1/;\n/ { description = \"c\"; images { kernel { description = \"k\"; "
                                  "data = /incbin/(\"Image\"); type = \"kernel\"; arch = \"arm64\"; os = "
                                  "\"linux\"; compression = \"none\"; }; }; configurations { default = \"c\"; "
                                  "c { kernel = \"kernel\"; }; }; };\n");
    for (const auto& argv : std::vector<std::vector<std::string>>{
             {"-Ef", (out / "image.its").string(), "-o", (out / "a.fit").string()},
             {"mkimage", "-Ef", (out / "image.its").string(), (out / "b.fit").string()}}) {
        const auto r = fitpack(argv);
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(fitpack_argv(argv), r));
        const fs::path fit = argv.back();
        // External data: a data-offset, no data.
        BOOST_TEST(tool({"fdtget", fit.string(), "/images/kernel", "data-offset"}) == "0\n");
    }
    // --output names the output under both spellings (mkimage's -o is the algorithm).
    const std::vector<std::string> long_output{"mkimage", "-f", (out / "image.its").string(), "--output",
                                               (out / "c.fit").string()};
    const auto r = fitpack(long_output);
    BOOST_TEST(r.exit_code == 0, describe(fitpack_argv(long_output), r));
    BOOST_TEST(fs::exists(out / "c.fit"));
}

// ---------------------------------------------------------------------------
// The output may be no file the build reads, and what U-Boot's own build
// passes is taken.
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(output_may_not_be_an_include_or_a_key) {
    temp_dir dir;
    write_file(dir / "Image", random_bytes(1000, 5));
    write_file(dir / "common.dtsi", "/ { description = \"c\"; };\n");
    write_file(dir / "image.its",
               "/dts-v1/;\n/include/ \"common.dtsi\"\n/ { images { kernel { description = \"k\"; data = "
               "/incbin/(\"Image\"); type = \"kernel\"; compression = \"none\"; hash-1 { algo = \"sha256\"; }; }; };"
               " configurations { default = \"c\"; c { kernel = \"kernel\"; signature-1 { algo = "
               "\"sha256,rsa2048\"; key-name-hint = \"dev\"; }; }; }; };\n");
    fs::create_directories(dir / "keys");
    run_ok({"openssl", "genrsa", "-out", (dir / "keys" / "dev.key").string(), "2048"});
    const std::string dtsi = read_file(dir / "common.dtsi"), key = read_file(dir / "keys" / "dev.key");
    for (const auto& target : {dir / "common.dtsi", dir / "keys" / "dev.key", dir / "Image"}) {
        const std::vector<std::string> argv{"-f", (dir / "image.its").string(), "-k", (dir / "keys").string(),
                                            "-o", target.string()};
        expect_error(fitpack(argv), argv, 1, {"would overwrite an input"});
    }
    BOOST_TEST(read_file(dir / "common.dtsi") == dtsi);
    BOOST_TEST(read_file(dir / "keys" / "dev.key") == key);
}

BOOST_AUTO_TEST_CASE(what_u_boots_own_build_passes) {
    temp_dir dir;
    write_file(dir / "Image", random_bytes(1000, 6));
    // U-Boot's Makefile: mkimage ... -p $(CONFIG_FIT_EXTERNAL_OFFSET), 0 by
    // default, meaning no position; and -f auto ... -d /dev/null.
    const std::vector<std::string> p0{"mkimage", "-E", "-p", "0x0", "-f", "auto", "-A", "ARM", "-O", "U-Boot",
                                      "-T", "firmware", "-C", "NONE", "-d", (dir / "Image").string(),
                                      (dir / "a.fit").string()};
    const auto r = fitpack(p0);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(fitpack_argv(p0), r));
    BOOST_TEST(tool({"fdtget", (dir / "a.fit").string(), "/images/firmware-1", "data-offset"}) == "0\n");
    // The names are case-blind, as in mkimage, and written in lower case.
    BOOST_TEST(tool({"fdtget", (dir / "a.fit").string(), "/images/firmware-1", "arch"}) == "arm\n");
    const std::vector<std::string> null{"mkimage", "-f", "auto", "-A", "arm", "-O", "u-boot", "-T", "firmware",
                                        "-C", "none", "-d", "/dev/null", (dir / "b.fit").string()};
    const auto n = fitpack(null);
    BOOST_REQUIRE_MESSAGE(n.exit_code == 0, describe(fitpack_argv(null), n));
    BOOST_TEST(tool({"fdtget", "-t", "x", (dir / "b.fit").string(), "/images/firmware-1/hash-1", "value"}) == "0\n");
    // A -f auto error names -f auto, not a temporary file.
    const std::vector<std::string> bad{"mkimage", "-f", "auto", "-A", "arm", "-O", "linux", "-T", "kernel",
                                       "-C", "gzip", "-d", (dir / "Image").string(), (dir / "c.fit").string()};
    expect_error(fitpack(bad), bad, 1, {"-f auto: /images/kernel-1", "gzip"});
}

BOOST_AUTO_TEST_CASE(dtc_options_that_change_the_tree_reach_dtc) {
    // -D "-@": dtc adds __symbols__ for the labels, as under mkimage.
    temp_dir dir;
    write_file(dir / "Image", random_bytes(1000, 7));
    write_file(dir / "image.its", "/dts-v1/;\n/ { description = \"d\"; images { k: kernel { description = \"k\"; "
                                  "data = /incbin/(\"Image\"); type = \"kernel\"; compression = \"none\"; }; }; };\n");
    const std::vector<std::string> argv{"mkimage", "-D", "-I dts -O dtb -p 500 -@", "-f",
                                        (dir / "image.its").string(), (dir / "a.fit").string()};
    const auto r = fitpack(argv);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(fitpack_argv(argv), r));
    BOOST_TEST(tool({"fdtget", (dir / "a.fit").string(), "/__symbols__", "k"}) == "/images/kernel\n");
}
