// SPDX-License-Identifier: MIT
//
// fitpack's command line, run as a program: response files, --files-from,
// what is skipped and what is refused, exit codes and messages, and that a
// failed run leaves no output behind and does not touch an existing one.
// The FITs are read back with fdtget and dumpimage.
//
// Exit codes: 0 success, 1 error ("fitpack: error: <subject>: <reason>"),
// 2 usage error.

#define BOOST_TEST_MODULE fitpack command line
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include "support.hpp"
#include "tools.hpp"

#include <sys/stat.h>

// The libraries fitpack --version names, asked for their versions here too.
#include <bzlib.h>
#include <libdeflate.h>
#include <lz4.h>
#include <lzma.h>
#include <lzo/lzoconf.h>
#include <openssl/crypto.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace bdata = boost::unit_test::data;
using namespace fitstream_test;

namespace {

/// Boards from tests/data/boards, compiled once.
struct inputs {
    temp_dir dir;
    fs::path kernel, ramdisk;
    fs::path sbc, imx, tablet, hdk, nomodel, nocompat;  // .dtb
    fs::path overlay;                                   // .dtbo

    inputs() {
        kernel = dir / "Image";
        ramdisk = dir / "initrd";
        write_file(kernel, fitstream_test::kernel_like_payload(200 * 1024 + 2, 5));
        write_file(ramdisk, fitstream_test::kernel_like_payload(4096, 6));
        const fs::path boards = fitstream_test::data_dir / "boards";
        const auto compile = [&](const std::string& stem, const std::string& ext) {
            const std::string src = stem + (ext == ".dtbo" ? ".dtso" : ".dts");
            return fitstream_test::compile_dts(boards / src, dir / (stem + ext));
        };
        sbc = compile("acme-rk3399-sbc", ".dtb");
        imx = compile("globex-imx8mp-som-devkit", ".dtb");
        tablet = compile("initech-a64-tablet", ".dtb");
        hdk = compile("umbrella-sm8250-hdk", ".dtb");
        nomodel = compile("nomodel-evb", ".dtb");
        nocompat = compile("nocompat-board", ".dtb");
        overlay = compile("acme-rk3399-sbc-spi-flash", ".dtbo");
    }
};

const inputs& in() {
    static const inputs instance;
    return instance;
}

/// The required options, writing to `out`.
std::vector<std::string> base_args(const std::string& out, const std::string& codec = "gzip") {
    return {"-o", out, "-A", "arm64", "-O", "linux", "-n", "Linux 6.12", "-c", codec, "-k", in().kernel.string()};
}

/// "MAJOR.MINOR.PATCH" from include/fitstream/version.hpp, the one place
/// the version is stated (read as CMake reads it).
std::string library_version() {
    const std::string header = read_file(fs::path(FITSTREAM_TEST_SOURCE_DIR) / "include/fitstream/version.hpp");
    std::string version;
    for (const std::string part : {"MAJOR", "MINOR", "PATCH"}) {
        std::smatch m;
        const std::regex re("#[ \t]*define[ \t]+FITSTREAM_VERSION_" + part + "[ \t]+([0-9]+)");
        BOOST_REQUIRE_MESSAGE(std::regex_search(header, m, re), "no FITSTREAM_VERSION_" << part);
        version += (version.empty() ? "" : ".") + m[1].str();
    }
    return version;
}

/// Every codec fitpack must offer; it may offer more.
const std::vector<std::string> required_codecs{"none", "gzip", "zstd"};

const std::string out_placeholder = "{OUT}";

/// Runs fitpack with `args` ("{OUT}" standing for the output file) twice:
/// once where the output does not exist, once over an existing file. Each
/// run must exit with `code`, print "fitpack: error: " and every string in
/// `mentions` on stderr and nothing on stdout, leave no new output, keep the
/// existing file byte for byte, and leave nothing else (no temporary file)
/// in the output directory.
void check_fails_cleanly(const std::vector<std::string>& args, int code, const std::vector<std::string>& mentions,
                         const std::string& input = {}, const std::vector<std::string>& env = {epoch_env}) {
    temp_dir out;
    const fs::path fresh = out / "new.fit";
    const fs::path existing = out / "old.fit";
    const std::string old_bytes = std::string("an earlier FIT\0\xd0\x0d\xfe\xed", 18) + std::string(5000, 'x');
    write_file(existing, old_bytes);
    for (const fs::path& target : {fresh, existing}) {
        std::vector<std::string> actual = args;
        std::replace(actual.begin(), actual.end(), out_placeholder, target.string());
        const run_result r = fitpack(actual, {env, {}, input});
        BOOST_TEST_CONTEXT(join(actual) << "\nstderr: " << r.err) {
            BOOST_TEST(r.exit_code == code);
            BOOST_TEST(r.err.rfind("fitpack: error: ", 0) == 0u);
            for (const auto& m : mentions) BOOST_TEST(has(r.err, m), "stderr does not mention '" << m << "'");
            BOOST_TEST(r.out.empty());
            BOOST_TEST(!fs::exists(fresh), "a failed run left " << fresh);
            BOOST_TEST((read_file(existing) == old_bytes), "a failed run changed the existing output");
            const auto left = directory_names(out.path());
            BOOST_TEST(left == std::set<std::string>{"old.fit"},
                       "left in the output directory: " << join({left.begin(), left.end()}));
        }
    }
}

}  // namespace

// ---------------------------------------------------------------------------
// Response files
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(response_files_are_one_argument_per_line_as_argparse_reads_them) {
    // make_fit.py's argparse (fromfile_prefix_chars='@'): each line is one
    // argument, verbatim. Spaces, quotes and backslashes are part of it.
    temp_dir t;
    fs::create_directories(t / "dir with space");
    const fs::path one = t / "dir with space/board one.dtb";
    const fs::path odd = t / "it's \"quoted\" \\ too.dtb";
    fs::copy_file(in().imx, one);
    fs::copy_file(in().tablet, odd);
    fs::copy_file(in().hdk, t / " leading space.dtb");
    const fs::path inner = t / "inner.rsp";
    const fs::path middle = t / "middle.rsp";
    const fs::path outer = t / "outer.rsp";
    // Inner: CR LF, a lone CR (Python's universal newlines), and a last
    // line without an end.
    write_file(inner, one.string() + "\r\n" + odd.string() + "\r" + (t / " leading space.dtb").string());
    // Middle: an option and its value on lines of their own, one written
    // --opt=value with a space in the value, then the inner file.
    write_file(middle, "--name=Linux 6.12 \"rc1\"\n-c\nzstd\n@" + inner.string() + "\n");
    // Outer: a DTB, an empty line (an empty argument: as a DTB it is skipped,
    // as make_fit.py skips every name not ending in .dtb), the middle file.
    write_file(outer, in().sbc.string() + "\n\n@" + middle.string() + "\n");

    const fs::path fit = t / "out.fit";
    fitpack_ok({"-o", fit.string(), "-A", "arm64", "-O", "linux", "-k", in().kernel.string(), "@" + outer.string()});
    BOOST_TEST(fdtget(fit, "/", "description") == "Linux 6.12 \"rc1\" with devicetree set");
    BOOST_TEST(fdtget(fit, "/images/kernel", "compression") == "zstd");
    BOOST_TEST(fdt_subnodes(fit, "/configurations") ==
               (std::vector<std::string>{"conf-1", "conf-2", "conf-3", "conf-4"}));
    BOOST_TEST(fdtget(fit, "/images/fdt-1", "description") == "acme-rk3399-sbc.dtb");
    BOOST_TEST(fdtget(fit, "/images/fdt-2", "description") == "board one.dtb");
    BOOST_TEST(fdtget(fit, "/images/fdt-3", "description") == odd.filename().string());
    BOOST_TEST(fdtget(fit, "/images/fdt-4", "description") == " leading space.dtb");
    BOOST_TEST(fdtget(fit, "/configurations/conf-2", "description") == "Globex i.MX8MP SoM on DevKit carrier");
}

BOOST_AUTO_TEST_CASE(quotes_in_a_response_file_are_part_of_the_name) {
    // What GNU-style splitting would have unescaped is a file name of its
    // own under argparse's rule: "board\ one.dtb" is not "board one.dtb".
    temp_dir t;
    fs::copy_file(in().imx, t / "board one.dtb");
    const fs::path rsp = t / "escaped.rsp";
    const std::string escaped = (t / "board\\ one.dtb").string();
    write_file(rsp, escaped + "\n");
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + rsp.string()}, 1,
                        {"fitpack: error: " + escaped + ": cannot open: No such file or directory"});
    // Two paths on one line are one name.
    write_file(rsp, in().sbc.string() + " " + in().imx.string() + "\n");
    const fs::path fit = t / "out.fit";
    const run_result r = fitpack(base_args(fit.string()) + std::vector<std::string>{"@" + rsp.string()});
    BOOST_TEST(r.exit_code == 1, r.err);
    BOOST_TEST(has(r.err, in().sbc.string() + " " + in().imx.string() + ": cannot open"), r.err);
}

BOOST_AUTO_TEST_CASE(response_file_options_are_read_in_place) {
    temp_dir t;
    write_file(t / "opts.rsp", "-c\nzstd\n--name\nFromFile\n-r\n" + in().ramdisk.string() + "\n");
    const fs::path a = t / "a.fit";
    fitpack_ok({"-o", a.string(), "-A", "arm64", "-O", "linux", "@" + (t / "opts.rsp").string(), "-k",
                in().kernel.string(), in().sbc.string()});
    BOOST_TEST(fdtget(a, "/images/kernel", "compression") == "zstd");
    BOOST_TEST(fdtget(a, "/images/kernel", "description") == "FromFile");
    BOOST_TEST(fdtget(a, "/configurations/conf-1", "ramdisk") == "ramdisk");
}

BOOST_AUTO_TEST_CASE(a_repeated_option_takes_the_last_value_as_argparse_does) {
    // make_fit.py's argparse lets a later option override an earlier one, so
    // Kbuild's FIT_EXTRA_ARGS or a response file can override a default.
    temp_dir t;
    write_file(t / "opts.rsp", "-c\nzstd\n--name\nFromFile\n");
    const fs::path a = t / "a.fit", b = t / "b.fit";
    fitpack_ok(base_args(a.string()) + std::vector<std::string>{"@" + (t / "opts.rsp").string()});
    BOOST_TEST(fdtget(a, "/images/kernel", "compression") == "zstd");
    BOOST_TEST(fdtget(a, "/images/kernel", "description") == "FromFile");
    fitpack_ok({"-o", b.string(), "-A", "arm64", "-O", "linux", "@" + (t / "opts.rsp").string(), "-c", "none", "-n",
                "Later", "-k", in().kernel.string()});
    BOOST_TEST(fdtget(b, "/images/kernel", "compression") == "none");
    BOOST_TEST(fdtget(b, "/images/kernel", "description") == "Later");
}

BOOST_AUTO_TEST_CASE(response_file_read_twice_is_not_recursion) {
    temp_dir t;
    const fs::path list = t / "dtbs.rsp";
    write_file(list, in().sbc.string() + "\n");
    write_file(t / "both.rsp", "@" + list.string() + "\n@" + list.string() + "\n");
    const fs::path fit = t / "out.fit";
    fitpack_ok(base_args(fit.string()) + std::vector<std::string>{"@" + (t / "both.rsp").string()});
    BOOST_TEST(fdt_subnodes(fit, "/configurations") == (std::vector<std::string>{"conf-1", "conf-2"}));
}

BOOST_AUTO_TEST_CASE(missing_response_file_is_an_error) {
    temp_dir t;
    const std::string missing = (t / "no-such-dtbs-list").string();
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{in().sbc.string(), "@" + missing}, 1,
                        {missing + ": "});
    // Nested too: the message names the missing file.
    write_file(t / "outer.rsp", "@" + missing + "\n");
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + (t / "outer.rsp").string()}, 1,
                        {missing + ": "});
}

BOOST_AUTO_TEST_CASE(recursive_response_files_are_an_error) {
    temp_dir t;
    const fs::path self = t / "self.rsp", a = t / "a.rsp", b = t / "b.rsp";
    write_file(self, in().sbc.string() + "\n@" + self.string() + "\n");
    write_file(a, "@" + b.string() + "\n");
    // b names a by another spelling of the same path.
    write_file(b, in().sbc.string() + "\n@" + (t / "." / "a.rsp").string() + "\n");
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + self.string()}, 1,
                        {self.string(), "includes itself"});
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + a.string()}, 1,
                        {"a.rsp", "includes itself"});
    // Through a symbolic link.
    const fs::path c = t / "c.rsp";
    fs::create_symlink(c, t / "link.rsp");
    write_file(c, "@" + (t / "link.rsp").string() + "\n");
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + c.string()}, 1,
                        {"includes itself"});
}

BOOST_AUTO_TEST_CASE(response_files_nested_64_deep_are_fine_65_are_not) {
    temp_dir t;
    const auto chain = [&](int depth) {
        for (int i = 0; i < depth; ++i) {
            const std::string next = i + 1 < depth ? "@" + (t / ("level-" + std::to_string(i + 1))).string() : "";
            write_file(t / ("level-" + std::to_string(i)), (i == depth / 2 ? in().sbc.string() + "\n" : "") + next + "\n");
        }
    };
    chain(64);
    const fs::path fit = t / "out.fit";
    fitpack_ok(base_args(fit.string()) + std::vector<std::string>{"@" + (t / "level-0").string()});
    BOOST_TEST(fdt_subnodes(fit, "/configurations") == std::vector<std::string>{"conf-1"});
    chain(65);
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + (t / "level-0").string()}, 1,
                        {"fitpack: error: " + (t / "level-64").string() +
                         ": response files nested more than 64 deep (fitpack's limit)\n"});
}

BOOST_AUTO_TEST_CASE(a_response_file_must_be_a_regular_file) {
    // As for DTB inputs: a directory, a FIFO (no hang without a writer) or a
    // device is refused before anything is read.
    temp_dir t;
    fs::create_directories(t / "dir.rsp");
    const fs::path fifo = t / "fifo.rsp";
    BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + (t / "dir.rsp").string()}, 1,
                        {"fitpack: error: " + (t / "dir.rsp").string() + ": Is a directory\n"});
    for (const std::string& path : {fifo.string(), std::string("/dev/zero")})
        check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + path}, 1,
                            {"fitpack: error: " + path + ": not a regular file"});
}

BOOST_AUTO_TEST_CASE(response_file_limits) {
    temp_dir t;
    // One argument past the kernel's limit for one argument (128 KiB).
    const fs::path long_line = t / "long.rsp";
    write_file(long_line, in().sbc.string() + "\n" + std::string(128 * 1024 + 1, 'x') + "\n");
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + long_line.string()}, 1,
                        {"fitpack: error: " + long_line.string() +
                         ": line 2 is longer than 131072 bytes, the most one argument may hold\n"});
    // 128 KiB exactly is an argument (here a DTB name too long to open).
    write_file(long_line, std::string(128 * 1024 - 4, 'x') + ".dtb\n");
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + long_line.string()}, 1,
                        {"fitpack: error: ", "File name too long"});
    // More than 64 MiB of response files in all: refused by size, unread.
    const fs::path huge = t / "huge.rsp";
    write_file(huge, "");
    fs::resize_file(huge, (64u << 20) + 1);
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + huge.string()}, 1,
                        {"fitpack: error: " + huge.string() +
                         ": response files hold more than 67108864 bytes in all (fitpack's limit)\n"});
    // More than 10,000 response files read: a file naming another 10,001 times.
    const fs::path empty = t / "empty.rsp", many = t / "many.rsp";
    write_file(empty, "");
    std::string lines;
    for (int i = 0; i < 10000; ++i) lines += "@" + empty.string() + "\n";
    write_file(many, lines);
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + many.string()}, 1,
                        {"fitpack: error: " + empty.string() +
                         ": more than 10000 response files read in all (fitpack's limit)\n"});
    // More than 1,000,000 arguments.
    const fs::path args = t / "args.rsp";
    write_file(args, std::string(1000000, '\n'));
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"@" + args.string()}, 1,
                        {"fitpack: error: " + args.string() +
                         ": response files give more than 1000000 arguments (fitpack's limit)\n"});
}

// ---------------------------------------------------------------------------
// --files-from
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(files_from_file_and_stdin) {
    temp_dir t;
    // One path a line: spaces are part of the name, CRLF and blank lines are fine.
    fs::copy_file(in().imx, t / "with space.dtb");
    const fs::path list = t / "list.txt";
    write_file(list, in().tablet.string() + "\r\n\n" + (t / "with space.dtb").string() + "\n");

    const fs::path a = t / "a.fit";
    fitpack_ok(base_args(a.string()) + std::vector<std::string>{in().sbc.string(), "--files-from", list.string()});
    BOOST_TEST(fdt_subnodes(a, "/configurations") == (std::vector<std::string>{"conf-1", "conf-2", "conf-3"}));
    BOOST_TEST(fdtget(a, "/images/fdt-1", "description") == "acme-rk3399-sbc.dtb");
    BOOST_TEST(fdtget(a, "/images/fdt-2", "description") == "initech-a64-tablet.dtb");
    BOOST_TEST(fdtget(a, "/images/fdt-3", "description") == "with space.dtb");

    const fs::path b = t / "b.fit";
    fitpack_ok(base_args(b.string()) + std::vector<std::string>{"--files-from", "-"},
               {{epoch_env}, {}, in().hdk.string() + "\n" + in().nomodel.string() + "\n"});
    BOOST_TEST(fdt_subnodes(b, "/configurations") == (std::vector<std::string>{"conf-1", "conf-2"}));
    BOOST_TEST(fdtget(b, "/images/fdt-1", "description") == "umbrella-sm8250-hdk.dtb");
    BOOST_TEST(fdtget(b, "/images/fdt-2", "description") == "nomodel-evb.dtb");

    // A list naming a .dtbo: skipped like a positional one.
    const fs::path c = t / "c.fit";
    fitpack_ok(base_args(c.string()) + std::vector<std::string>{"--files-from", "-"},
               {{epoch_env}, {}, in().overlay.string() + "\n" + in().sbc.string() + "\n"});
    BOOST_TEST(fdt_subnodes(c, "/configurations") == (std::vector<std::string>{"conf-1"}));
}

BOOST_AUTO_TEST_CASE(missing_files_from_list_is_an_error) {
    temp_dir t;
    const std::string missing = (t / "no-list").string();
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"--files-from", missing}, 1,
                        {missing + ": "});
    // A list naming a missing DTB.
    const std::string missing_dtb = (t / "gone.dtb").string();
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"--files-from", "-"}, 1,
                        {missing_dtb + ": "}, missing_dtb + "\n");
}

// ---------------------------------------------------------------------------
// What is skipped, what is refused
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(dtbo_is_skipped_and_named_with_verbose) {
    temp_dir t;
    const fs::path fit = t / "out.fit";
    const auto args = base_args(fit.string()) + std::vector<std::string>{in().sbc.string(), in().overlay.string(),
                                                                        in().imx.string()};
    const run_result quiet = fitpack_ok(args);
    BOOST_TEST(!has(quiet.err, in().overlay.filename().string()), quiet.err);
    BOOST_TEST(fdt_subnodes(fit, "/images") == (std::vector<std::string>{"kernel", "fdt-1", "fdt-2"}));
    BOOST_TEST(fdt_subnodes(fit, "/configurations") == (std::vector<std::string>{"conf-1", "conf-2"}));
    BOOST_TEST(fdtget(fit, "/images/fdt-2", "description") == "globex-imx8mp-som-devkit.dtb");

    const run_result loud = fitpack_ok(args + std::vector<std::string>{"-v"});
    BOOST_TEST(has(loud.err, "skipping " + in().overlay.string()), loud.err);
    // -v also reports each image stored and the totals.
    for (const std::string name : {"kernel:", "fdt-1:", "fdt-2:", "FIT size"}) BOOST_TEST(has(loud.err, name), name);
    BOOST_TEST(fdt_subnodes(fit, "/configurations") == (std::vector<std::string>{"conf-1", "conf-2"}));
}

namespace {

struct bad_dtb {
    std::string name;
    std::string bytes;
};
std::ostream& operator<<(std::ostream& os, const bad_dtb& b) { return os << b.name; }

std::vector<bad_dtb> bad_dtbs() {
    std::string random(3000, '\0');
    std::uint32_t x = 12345;
    for (auto& c : random) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    // "@truncated" and "@bad-structure" are made from a real DTB in the test.
    return {{"random", random}, {"empty", ""}, {"short", "\xd0\x0d\xfe\xed"}, {"truncated", "@truncated"},
            {"bad-structure", "@bad-structure"}, {"text", "/dts-v1/;\n/ { };\n"}};
}

}  // namespace

BOOST_DATA_TEST_CASE(an_invalid_dtb_is_an_error_naming_it, bdata::make(bad_dtbs()), bad) {
    temp_dir t;
    std::string bytes = bad.bytes;
    const std::string good = read_file(in().sbc);
    if (bytes == "@truncated") bytes = good.substr(0, good.size() / 2);
    if (bytes == "@bad-structure") {
        // The header is intact but the structure block is overwritten.
        bytes = good;
        for (std::size_t i = 0x40; i < 0x60 && i < bytes.size(); ++i) bytes[i] = '\xff';
    }
    const fs::path dtb = t / (bad.name + ".dtb");
    write_file(dtb, bytes);
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{in().sbc.string(), dtb.string()}, 1,
                        {dtb.string() + ": "});
}

BOOST_AUTO_TEST_CASE(a_directory_named_dtb_is_an_error) {
    temp_dir t;
    fs::create_directories(t / "board.dtb");
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{(t / "board.dtb").string()}, 1,
                        {(t / "board.dtb").string() + ": "});
}

BOOST_AUTO_TEST_CASE(missing_kernel_or_ramdisk_is_an_error) {
    temp_dir t;
    const std::string kernel = (t / "no-Image").string();
    check_fails_cleanly({"-o", out_placeholder, "-A", "arm64", "-O", "linux", "-n", "L", "-k", kernel,
                         in().sbc.string()},
                        1, {kernel + ": "});
    const std::string ramdisk = (t / "no-initrd").string();
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"-r", ramdisk, in().sbc.string()}, 1,
                        {ramdisk + ": "});
    check_fails_cleanly({"-o", out_placeholder, "-A", "arm64", "-O", "linux", "-n", "L", "-k", t.path().string()}, 1,
                        {t.path().string() + ": "});
}

BOOST_AUTO_TEST_CASE(unknown_codec_is_an_error_listing_the_codecs) {
    // "xz" is no FIT compression name (U-Boot's is "lzma", for LZMA_Alone).
    for (const std::string codec : {"xz", "GZIP", "zlib", ""}) {
        BOOST_TEST_CONTEXT("-c '" << codec << "'") {
            const auto args = std::vector<std::string>{"-o", out_placeholder, "-A", "arm64", "-O", "linux", "-n", "L",
                                                       "-c", codec, "-k", in().kernel.string(), in().sbc.string()};
            check_fails_cleanly(args, 1, required_codecs);
            const run_result r = fitpack(args);
            // The list reads "none, gzip, zstd" (possibly with more codecs).
            BOOST_TEST(std::regex_search(r.err, std::regex("none, gzip, .*zstd")), r.err);
            if (!codec.empty()) BOOST_TEST(has(r.err, codec), r.err);
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_hash_is_an_error_naming_it) {
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"--hash", "sha3-256"}, 1,
                        {"sha3-256", "hash", "sha256"});
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"--hash", "sha256,crc16"}, 1,
                        {"crc16", "hash"});
}

BOOST_DATA_TEST_CASE(a_missing_required_option_is_a_usage_error,
                     bdata::make(std::vector<std::string>{"-A", "-O", "-n", "-o", "-k"}), option) {
    const std::vector<std::pair<std::string, std::string>> all{
        {"-A", "arm64"}, {"-O", "linux"}, {"-n", "L"}, {"-o", out_placeholder}, {"-k", in().kernel.string()}};
    std::vector<std::string> args{in().sbc.string()};
    for (const auto& [opt, value] : all)
        if (opt != option) args.insert(args.end(), {opt, value});
    const std::string long_name = option == "-A"   ? "--arch"
                                  : option == "-O" ? "--os"
                                  : option == "-n" ? "--name"
                                  : option == "-o" ? "--output"
                                                   : "--kernel";
    check_fails_cleanly(args, 2, {long_name});
}

BOOST_AUTO_TEST_CASE(unknown_option_and_missing_value_are_usage_errors) {
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"--bogus"}, 2, {"--bogus"});
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{in().sbc.string(), "-c"}, 2, {});
}

BOOST_AUTO_TEST_CASE(version_and_help) {
    const run_result v = fitpack({"--version"});
    BOOST_TEST(v.exit_code == 0);
    // Line 1 is fitpack's version alone; then one line per library, each
    // with the version this test, linked against the same libraries, sees.
    const std::vector<std::string> lines = lines_of(v.out);
    BOOST_REQUIRE(!lines.empty());
    BOOST_TEST(lines[0] == "fitpack " + library_version());
    BOOST_TEST(std::regex_match(lines[0], std::regex("fitpack [0-9]+\\.[0-9]+\\.[0-9]+")), lines[0]);
    std::string bzip2 = BZ2_bzlibVersion();
    bzip2 = bzip2.substr(0, bzip2.find(','));
    for (const std::string& expected :
         {"fitstream " + library_version() + " (header-only, C++17)", std::string("zlib ") + zlibVersion(),
          std::string("libdeflate ") + LIBDEFLATE_VERSION_STRING, std::string("zstd ") + ZSTD_versionString(),
          std::string("lz4 ") + LZ4_versionString(), std::string("liblzma ") + lzma_version_string(),
          "bzip2 " + bzip2, std::string("lzo ") + lzo_version_string(),
          std::string(OpenSSL_version(OPENSSL_VERSION))})
        BOOST_TEST((std::find(lines.begin(), lines.end(), expected) != lines.end()), "no line '" << expected << "' in:\n"
                                                                                           << v.out);
    // libfdt has no version API: fitpack reads it off the loaded libfdt-X.Y.Z.so.
    BOOST_TEST(std::regex_search(v.out, std::regex("\nlibfdt [0-9]+\\.[0-9]+\\.[0-9]+\n")), v.out);
    BOOST_TEST(std::regex_search(v.out, std::regex("\nBoost [0-9.]+, CLI11 [0-9.]+, nlohmann/json [0-9.]+ \\(headers\\)\n")),
               v.out);

    const run_result h = fitpack({"--help"});
    BOOST_TEST(h.exit_code == 0);
    for (const std::string option : {"--external", "--arch", "--compress", "--files-from", "--hash", "--align",
                                     "--position", "--default", "--timestamp", "--load", "--entry", "@FILE",
                                     "none", "gzip", "zstd", "sha256", "crc32"})
        BOOST_TEST(has(h.out, option), "--help does not mention " << option);
    BOOST_TEST(fitpack({"-h"}).out == h.out);
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(missing_output_directory_is_an_error_naming_it) {
    temp_dir t;
    const fs::path target = t / "no-such-dir" / "image.fit";
    const run_result r = fitpack(base_args(target.string()) + std::vector<std::string>{in().sbc.string()});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(has(r.err, (t / "no-such-dir").string()), r.err);
    BOOST_TEST(r.err.rfind("fitpack: error: ", 0) == 0u, r.err);
    BOOST_TEST(!fs::exists(t / "no-such-dir"));
    BOOST_TEST(directory_names(t.path()).empty());
}

BOOST_AUTO_TEST_CASE(output_that_is_a_directory_is_an_error) {
    temp_dir t;
    fs::create_directories(t / "image.fit");
    write_file(t / "image.fit/keep", "keep");
    const run_result r = fitpack(base_args((t / "image.fit").string()) + std::vector<std::string>{in().sbc.string()});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(has(r.err, (t / "image.fit").string()), r.err);
    BOOST_TEST(read_file(t / "image.fit/keep") == "keep");
    BOOST_TEST(directory_names(t.path()) == std::set<std::string>{"image.fit"});
}

BOOST_AUTO_TEST_CASE(stdout_pipe_gives_the_same_bytes_as_a_file) {
    temp_dir t;
    for (const auto& layout : std::vector<std::vector<std::string>>{{}, {"-E"}, {"-B", "0x200"}}) {
        BOOST_TEST_CONTEXT("layout '" << join(layout) << "'") {
            const fs::path file = t / "file.fit";
            const auto rest = layout + std::vector<std::string>{"-r", in().ramdisk.string(), in().sbc.string(),
                                                                in().imx.string()};
            fitpack_ok(base_args(file.string()) + rest);
            const run_result piped = fitpack_ok(base_args("-") + rest);
            BOOST_TEST(piped.out.size() == fs::file_size(file));
            BOOST_TEST((piped.out == read_file(file)), "-o - differs from -o FILE");
            BOOST_TEST(piped.err.empty(), piped.err);
        }
    }
    BOOST_TEST(directory_names(t.path()) == std::set<std::string>{"file.fit"});
}

BOOST_AUTO_TEST_CASE(stdout_failure_writes_nothing) {
    temp_dir t;
    const run_result r =
        fitpack(base_args("-") + std::vector<std::string>{"-r", (t / "missing-initrd").string(), in().sbc.string()});
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.out.empty(), r.out.size() << " bytes written to stdout");
    BOOST_TEST(has(r.err, (t / "missing-initrd").string()), r.err);
}

BOOST_AUTO_TEST_CASE(stdout_terminal_is_refused) {
    // script(1) (util-linux, in Debian's essential bsdutils) gives fitpack a
    // terminal as standard output.
    temp_dir t;
    std::string command = "'" + fitstream_test::fitpack_path + "'";
    for (const auto& a : base_args("-") + std::vector<std::string>{in().sbc.string()}) command += " '" + a + "'";
    const run_result r = run({"script", "-q", "-e", "-c", command, "/dev/null"});
    BOOST_TEST(r.exit_code == 1, r.out << r.err);
    BOOST_TEST(has(r.out + r.err, "terminal"), r.out << r.err);
    BOOST_TEST(!has(r.out, "\xd0\x0d\xfe\xed"));
}

// ---------------------------------------------------------------------------
// Kernel addresses
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(load_makes_a_loadable_kernel) {
    temp_dir t;
    const fs::path a = t / "a.fit";
    fitpack_ok(base_args(a.string()) + std::vector<std::string>{"--load", "0x40400000", in().sbc.string()});
    BOOST_TEST(fdtget(a, "/images/kernel", "type") == "kernel");
    BOOST_TEST(fdtget(a, "/images/kernel", "load", "x") == "40400000");
    BOOST_TEST(fdtget(a, "/images/kernel", "entry", "x") == "40400000");
    BOOST_TEST(has(tool({"dumpimage", "-l", a.string()}), "Load Address: 0x40400000"));

    const fs::path b = t / "b.fit";
    fitpack_ok(base_args(b.string()) +
               std::vector<std::string>{"--load", "1077936128", "--entry", "0x40400800", in().sbc.string()});
    BOOST_TEST(fdtget(b, "/images/kernel", "type") == "kernel");
    BOOST_TEST(fdtget(b, "/images/kernel", "load", "x") == "40400000");
    BOOST_TEST(fdtget(b, "/images/kernel", "entry", "x") == "40400800");

    const fs::path c = t / "c.fit";
    fitpack_ok(base_args(c.string()) + std::vector<std::string>{in().sbc.string()});
    BOOST_TEST(fdtget(c, "/images/kernel", "type") == "kernel_noload");
    BOOST_TEST(fdtget(c, "/images/kernel", "load", "x") == "0");
    BOOST_TEST(fdtget(c, "/images/kernel", "entry", "x") == "0");
}

BOOST_AUTO_TEST_CASE(entry_without_load_is_an_error) {
    temp_dir t;
    const fs::path out = t / "x.fit";
    const run_result r = fitpack(base_args(out.string()) + std::vector<std::string>{"--entry", "0x40400000"});
    // A usage problem; fitpack reports it as an error (1) after parsing.
    BOOST_TEST((r.exit_code == 1 || r.exit_code == 2), "exit " << r.exit_code);
    BOOST_TEST(has(r.err, "--entry"), r.err);
    BOOST_TEST(has(r.err, "--load"), r.err);
    BOOST_TEST(!fs::exists(out));
}

BOOST_AUTO_TEST_CASE(bad_addresses_are_errors) {
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"--load", "0x4040zz00"}, 1,
                        {"--load", "0x4040zz00"});
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"--load", "-1"}, 1, {"--load"});
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"--load", "0x40000000", "--entry", "x"},
                        1, {"--entry"});
    // One address cell: a 64-bit address cannot be written, and is not wrapped.
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"--load", "0x100000000"}, 1,
                        {"kernel"});
}

// ---------------------------------------------------------------------------
// What the DTBs say
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(dtb_without_compatible_warns_and_its_configuration_has_none) {
    temp_dir t;
    const fs::path fit = t / "out.fit";
    const run_result r =
        fitpack_ok(base_args(fit.string()) + std::vector<std::string>{in().sbc.string(), in().nocompat.string()});
    BOOST_TEST(has(r.err, "warning"), r.err);
    BOOST_TEST(lines_of(r.err).size() == 1u, r.err);
    BOOST_TEST(fdtget(fit, "/configurations/conf-2", "compatible") == absent);
    BOOST_TEST(fdtget(fit, "/configurations/conf-2", "description") == "Board Without Compatible");
    BOOST_TEST(fdtget(fit, "/configurations/conf-1", "compatible") == "acme,rk3399-sbc rockchip,rk3399");
    // The warning names the DTB file, so a build log says which one to fix.
    BOOST_TEST(has(r.err, in().nocompat.filename().string()), "the warning does not name the file: " << r.err);
}

BOOST_AUTO_TEST_CASE(dtb_without_model_is_described_by_its_file_name) {
    temp_dir t;
    const fs::path fit = t / "out.fit";
    fitpack_ok(base_args(fit.string()) + std::vector<std::string>{in().nomodel.string(), in().tablet.string()});
    BOOST_TEST(fdtget(fit, "/configurations/conf-1", "description") == "nomodel-evb.dtb");
    BOOST_TEST(fdtget(fit, "/configurations/conf-1", "compatible") == "hooli,nucleus-evb hooli,nucleus");
    BOOST_TEST(fdtget(fit, "/configurations/conf-2", "description") == "Initech A64 Tablet (2 GiB)");
}

BOOST_AUTO_TEST_CASE(same_dtb_twice_is_stored_once_with_two_configurations) {
    temp_dir t;
    const fs::path fit = t / "out.fit";
    fitpack_ok(base_args(fit.string()) +
               std::vector<std::string>{in().sbc.string(), in().imx.string(), in().sbc.string()});
    BOOST_TEST(fdt_subnodes(fit, "/images") == (std::vector<std::string>{"kernel", "fdt-1", "fdt-2"}));
    BOOST_TEST(fdt_subnodes(fit, "/configurations") == (std::vector<std::string>{"conf-1", "conf-2", "conf-3"}));
    BOOST_TEST(fdtget(fit, "/configurations/conf-1", "fdt") == "fdt-1");
    BOOST_TEST(fdtget(fit, "/configurations/conf-2", "fdt") == "fdt-2");
    BOOST_TEST(fdtget(fit, "/configurations/conf-3", "fdt") == "fdt-1");
    BOOST_TEST(fdtget(fit, "/configurations/conf-3", "description") == "Acme RK3399 SBC");
}

// ---------------------------------------------------------------------------
// Layout and configuration options
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(align_and_position_imply_external) {
    temp_dir t;
    const fs::path a = t / "a.fit", p = t / "p.fit";
    fitpack_ok(base_args(a.string()) + std::vector<std::string>{"-B", "0x1000", in().sbc.string()});
    BOOST_TEST(fdtget(a, "/images/kernel", "data") == absent);
    BOOST_TEST(fdtget(a, "/images/kernel", "data-offset", "u") == "0");
    BOOST_TEST(fdtget(a, "/images/fdt-1", "data-offset", "x").size() > 0u);
    BOOST_TEST(std::stoul(fdtget(a, "/images/fdt-1", "data-offset", "u")) % 0x1000 == 0u);

    fitpack_ok(base_args(p.string()) + std::vector<std::string>{"--position", "0x10000", in().sbc.string()});
    BOOST_TEST(fdtget(p, "/images/kernel", "data") == absent);
    BOOST_TEST(fdtget(p, "/images/kernel", "data-offset") == absent);
    BOOST_TEST(fdtget(p, "/images/kernel", "data-position", "x") == "10000");
}

BOOST_AUTO_TEST_CASE(bad_layout_options_are_errors) {
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"-B", "3"}, 1, {"align", "3"});
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"-B", "0x1800"}, 1, {"align"});
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"-B", "lots"}, 1, {"--align", "lots"});
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"-p", "16", in().sbc.string()}, 1,
                        {"position", "inside"});
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"-p", "0x10002"}, 1,
                        {"position", "multiple of 4"});
    check_fails_cleanly(base_args(out_placeholder) + std::vector<std::string>{"-p", "0x100000000"}, 1, {"position"});
}

BOOST_AUTO_TEST_CASE(unknown_default_configuration_is_an_error) {
    check_fails_cleanly(base_args(out_placeholder) +
                            std::vector<std::string>{"--default", "conf-3", in().sbc.string(), in().imx.string()},
                        1, {"conf-3"});
}

BOOST_AUTO_TEST_CASE(hash_none_writes_no_hash_nodes) {
    temp_dir t;
    const fs::path fit = t / "out.fit";
    fitpack_ok(base_args(fit.string()) +
               std::vector<std::string>{"--hash", "none", "-r", in().ramdisk.string(), in().sbc.string()});
    for (const std::string node : {"/images/kernel", "/images/ramdisk", "/images/fdt-1"})
        BOOST_TEST(fdt_subnodes(fit, node).empty(), node);
    const fs::path two = t / "two.fit";
    fitpack_ok(base_args(two.string()) + std::vector<std::string>{"--hash", "crc32,sha512", in().sbc.string()});
    BOOST_TEST(fdt_subnodes(two, "/images/fdt-1") == (std::vector<std::string>{"hash-1", "hash-2"}));
    BOOST_TEST(fdtget(two, "/images/fdt-1/hash-2", "algo") == "sha512");
}
