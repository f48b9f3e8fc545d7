// SPDX-License-Identifier: MIT
//
// fitpack's output is a function of its inputs' contents and its options:
// with the same SOURCE_DATE_EPOCH, two runs give the same bytes whatever the
// clock, the working directory, the spelling of the input paths, the input
// files' timestamps, $TMPDIR or the output (a file or a pipe). The FIT
// timestamp comes from SOURCE_DATE_EPOCH, else --timestamp, else the clock;
// a malformed SOURCE_DATE_EPOCH is an error.

#define BOOST_TEST_MODULE fitpack reproducible output
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include "support.hpp"
#include "tools.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace bdata = boost::unit_test::data;
using namespace fitstream_test;

namespace {

/// Runs fitpack with SOURCE_DATE_EPOCH removed from the environment.
run_result fitpack_without_epoch(const std::vector<std::string>& args) {
    return fitpack(args, {{}, {}, {}, {"env", "-u", "SOURCE_DATE_EPOCH"}});
}

std::string epoch(std::uint64_t seconds) { return "SOURCE_DATE_EPOCH=" + std::to_string(seconds); }

/// Where two byte strings differ, as "size a/size b, N bytes differ from offset X to Y".
std::string difference(const std::string& a, const std::string& b) {
    std::size_t first = std::string::npos, last = 0, count = 0;
    for (std::size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
        if (a[i] == b[i]) continue;
        if (first == std::string::npos) first = i;
        last = i;
        ++count;
    }
    std::ostringstream out;
    out << "sizes " << a.size() << "/" << b.size() << ", " << count << " bytes differ";
    if (count) out << " between offsets " << first << " and " << last;
    return out.str();
}

/// The inputs: a kernel, a ramdisk and the boards, in one directory.
struct inputs {
    temp_dir dir;
    std::vector<std::string> names;  ///< the board DTBs' file names, in order
    const std::string kernel = "Image";
    const std::string ramdisk = "initrd.img";

    inputs() {
        write_file(dir / kernel, fitstream_test::kernel_like_payload((3u << 19) + 1, 21));
        write_file(dir / ramdisk, fitstream_test::kernel_like_payload(64 * 1024 + 2, 22));
        for (const auto& src : fitstream_test::board_sources()) {
            names.push_back(src.stem().string() + ".dtb");
            fitstream_test::compile_dts(src, dir / names.back());
        }
        if (names.size() < 5) throw std::runtime_error("tests/data/boards needs at least 5 .dts files");
    }

    /// Kernel, ramdisk and DTB arguments, each path as `prefix` + file name.
    std::vector<std::string> args(const std::string& prefix) const {
        std::vector<std::string> a{"-k", prefix + kernel, "-r", prefix + ramdisk};
        for (const auto& n : names) a.push_back(prefix + n);
        return a;
    }
    std::vector<std::string> args() const { return args(dir.path().string() + "/"); }
};

const inputs& in() {
    static const inputs instance;
    return instance;
}

std::vector<std::string> base_args(const std::string& out, const std::string& codec) {
    return {"-o", out, "-A", "arm64", "-O", "linux", "-n", "Linux 6.12", "-c", codec};
}

const std::vector<std::string> codecs{"none", "gzip", "zstd"};
/// The layouts, as fitpack options separated by spaces.
const std::vector<std::string> layouts{"", "-E", "-E -B 0x1000", "-p 0x10000"};

std::vector<std::string> split(const std::string& text) {
    std::vector<std::string> words;
    std::istringstream in(text);
    for (std::string w; in >> w;) words.push_back(w);
    return words;
}

}  // namespace

// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(same_epoch_gives_identical_bytes_for_every_codec_and_layout) {
    temp_dir out;
    const std::string e1 = epoch(1700000000);
    // First pass.
    std::vector<std::string> first;
    for (const auto& codec : codecs)
        for (const auto& layout : layouts) {
            const fs::path f = out / ("first-" + std::to_string(first.size()) + ".fit");
            fitpack_ok(base_args(f.string(), codec) + split(layout) + in().args(), {{e1}});
            first.push_back(read_file(f));
        }
    // Let the clock move on, and change what should not matter: the inputs'
    // modification times, $TMPDIR, the working directory, the output name.
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    for (const auto& e : fs::directory_iterator(in().dir.path()))
        fs::last_write_time(e.path(), fs::last_write_time(e.path()) - std::chrono::hours(24 * 400));
    temp_dir other_tmp;
    std::size_t i = 0;
    for (const auto& codec : codecs)
        for (const auto& layout : layouts) {
            BOOST_TEST_CONTEXT("-c " << codec << " " << layout) {
                const fs::path f = out / ("second-run-" + std::to_string(i) + ".fit");
                fitpack_ok(base_args(f.string(), codec) + split(layout) + in().args(),
                           {{e1, "TMPDIR=" + other_tmp.path().string()}, other_tmp.path()});
                const std::string second = read_file(f);
                BOOST_TEST((second == first[i]), difference(first[i], second));
                // And the same bytes streamed to a pipe.
                const run_result piped = fitpack_ok(base_args("-", codec) + split(layout) + in().args(),
                                                    {{e1, "TMPDIR=" + other_tmp.path().string()}});
                BOOST_TEST((piped.out == first[i]), "-o -: " << difference(first[i], piped.out));
            }
            ++i;
        }
    // The outputs really differ by codec and layout (the comparison is not vacuous).
    for (std::size_t a = 0; a < first.size(); ++a)
        for (std::size_t b = a + 1; b < first.size(); ++b) BOOST_TEST(first[a] != first[b], a << " vs " << b);
}

BOOST_DATA_TEST_CASE(another_epoch_changes_only_the_timestamp, bdata::make(codecs), codec) {
    temp_dir out;
    const fs::path a = out / "a.fit", b = out / "b.fit";
    fitpack_ok(base_args(a.string(), codec) + std::vector<std::string>{"-E"} + in().args(), {{epoch(1700000000)}});
    fitpack_ok(base_args(b.string(), codec) + std::vector<std::string>{"-E"} + in().args(), {{epoch(1700000001)}});
    const std::string x = read_file(a), y = read_file(b);
    BOOST_REQUIRE_EQUAL(x.size(), y.size());
    std::vector<std::size_t> diffs;
    for (std::size_t i = 0; i < x.size(); ++i)
        if (x[i] != y[i]) diffs.push_back(i);
    // 1700000000 and 1700000001 differ in the last byte of the big-endian cell.
    BOOST_TEST(diffs.size() == 1u, difference(x, y));
    BOOST_TEST(fdtget(a, "/", "timestamp", "u") == "1700000000");
    BOOST_TEST(fdtget(b, "/", "timestamp", "u") == "1700000001");
}

// ---------------------------------------------------------------------------
// Where the timestamp comes from
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(timestamp_is_source_date_epoch) {
    temp_dir out;
    for (const std::uint64_t seconds : {0ull, 1ull, 1700000000ull, 2147483648ull, 4294967295ull}) {
        BOOST_TEST_CONTEXT("SOURCE_DATE_EPOCH=" << seconds) {
            const fs::path f = out / (std::to_string(seconds) + ".fit");
            fitpack_ok(base_args(f.string(), "gzip") + in().args(), {{epoch(seconds)}});
            BOOST_TEST(fdtget(f, "/", "timestamp", "u") == std::to_string(seconds));
        }
    }
}

BOOST_AUTO_TEST_CASE(source_date_epoch_wins_over_the_timestamp_option) {
    temp_dir out;
    const fs::path f = out / "x.fit";
    fitpack_ok(base_args(f.string(), "none") + std::vector<std::string>{"--timestamp", "12345"} + in().args(),
               {{epoch(1600000000)}});
    BOOST_TEST(fdtget(f, "/", "timestamp", "u") == "1600000000");
}

BOOST_AUTO_TEST_CASE(timestamp_option_is_used_without_source_date_epoch) {
    temp_dir out;
    const fs::path a = out / "a.fit", b = out / "b.fit";
    for (const auto& f : {a, b}) {
        const run_result r = fitpack_without_epoch(base_args(f.string(), "zstd") +
                                                   std::vector<std::string>{"--timestamp", "1234567890"} + in().args());
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        BOOST_TEST(fdtget(f, "/", "timestamp", "u") == "1234567890");
        std::this_thread::sleep_for(std::chrono::milliseconds(600));
    }
    BOOST_TEST((read_file(a) == read_file(b)), difference(read_file(a), read_file(b)));
}

BOOST_AUTO_TEST_CASE(without_either_the_timestamp_is_now) {
    temp_dir out;
    const fs::path f = out / "now.fit";
    const auto before = static_cast<std::uint64_t>(std::time(nullptr));
    const run_result r = fitpack_without_epoch(base_args(f.string(), "none") + in().args());
    const auto after = static_cast<std::uint64_t>(std::time(nullptr));
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const std::uint64_t stamp = std::stoull(fdtget(f, "/", "timestamp", "u"));
    BOOST_TEST(stamp >= before);
    BOOST_TEST(stamp <= after);
}

namespace {

/// Fails with exit 1 naming `mentions`, and leaves no output.
void check_rejected(const std::vector<std::string>& args, const std::vector<std::string>& env,
                    const std::vector<std::string>& mentions, bool without_epoch = false) {
    temp_dir out;
    const fs::path f = out / "x.fit";
    const auto full = base_args(f.string(), "gzip") + args + in().args();
    const run_result r = without_epoch ? fitpack_without_epoch(full) : fitpack(full, {env});
    BOOST_TEST_CONTEXT(join(env) << " " << join(args) << "\nstderr: " << r.err) {
        BOOST_TEST(r.exit_code == 1);
        BOOST_TEST(r.err.rfind("fitpack: error: ", 0) == 0u);
        for (const auto& m : mentions) BOOST_TEST(has(r.err, m), m);
        BOOST_TEST(fs::is_empty(out.path()), "output left behind");
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(malformed_source_date_epoch_is_an_error) {
    for (const std::string value : {"garbage", "12abc", "-1", "+5", " 12", "1.5", "4294967296", "99999999999999999999",
                                    "0x10"}) {
        BOOST_TEST_CONTEXT("SOURCE_DATE_EPOCH='" << value << "'") {
            check_rejected({}, {"SOURCE_DATE_EPOCH=" + value}, {"SOURCE_DATE_EPOCH", value});
            // Even with --timestamp given: the build asked for its epoch.
            check_rejected({"--timestamp", "5"}, {"SOURCE_DATE_EPOCH=" + value}, {"SOURCE_DATE_EPOCH"});
        }
    }
}

BOOST_AUTO_TEST_CASE(malformed_timestamp_option_is_an_error) {
    for (const std::string value : {"soon", "-5", "4294967296", "1e9"}) {
        BOOST_TEST_CONTEXT("--timestamp " << value) {
            check_rejected({"--timestamp", value}, {}, {"--timestamp"}, true);
        }
    }
}

// ---------------------------------------------------------------------------
// Paths and output
// ---------------------------------------------------------------------------

BOOST_DATA_TEST_CASE(output_does_not_depend_on_how_inputs_are_named, bdata::make(codecs), codec) {
    const fs::path dir = in().dir.path();
    const std::vector<std::string> env{epoch(1700000000)};
    temp_dir out;
    fs::create_directories(out / "sub");

    // Absolute paths, run from elsewhere.
    const fs::path absolute = out / "absolute.fit";
    fitpack_ok(base_args(absolute.string(), codec) + std::vector<std::string>{"-E"} + in().args(), {env, out.path()});
    const std::string expected = read_file(absolute);

    struct variant {
        std::string name;
        fs::path cwd;
        std::string prefix;
    };
    const std::vector<variant> variants{
        {"relative, from the input directory", dir, ""},
        {"./relative", dir, "./"},
        {"relative through ..", out / "sub", fs::relative(dir, out / "sub").string() + "/"},
        {"absolute with // and /./", out.path(), dir.string() + "//./"},
    };
    for (const auto& v : variants) {
        BOOST_TEST_CONTEXT(v.name << " (prefix '" << v.prefix << "')") {
            const fs::path f = out / "variant.fit";
            fitpack_ok(base_args(f.string(), codec) + std::vector<std::string>{"-E"} + in().args(v.prefix), {env, v.cwd});
            BOOST_TEST((read_file(f) == expected), difference(expected, read_file(f)));
            fs::remove(f);
        }
    }

    // A relative output path, and copies of the inputs in another directory.
    temp_dir copy;
    for (const auto& e : fs::directory_iterator(dir)) fs::copy_file(e.path(), copy / e.path().filename().string());
    const std::string copy_prefix = fs::relative(copy.path(), out.path()).string() + "/";
    fitpack_ok(base_args("relative-out.fit", codec) + std::vector<std::string>{"-E"} + in().args(copy_prefix),
               {env, out.path()});
    const std::string relative_out = read_file(out / "relative-out.fit");
    BOOST_TEST((relative_out == expected), difference(expected, relative_out));

    // The descriptions are file names, whatever the path given.
    BOOST_TEST(fdtget(absolute, "/images/fdt-1", "description") == in().names.front());
}

BOOST_DATA_TEST_CASE(pipe_output_is_byte_identical_to_file_output, bdata::make(codecs) * bdata::make(layouts), codec,
                     layout) {
    temp_dir out;
    const fs::path f = out / "image.fit";
    const std::vector<std::string> env{epoch(1700000000)};
    fitpack_ok(base_args(f.string(), codec) + split(layout) + in().args(), {env});
    const run_result piped = fitpack_ok(base_args("-", codec) + split(layout) + in().args(), {env});
    BOOST_TEST(piped.out.size() == fs::file_size(f));
    BOOST_TEST((piped.out == read_file(f)), difference(read_file(f), piped.out));
}

BOOST_AUTO_TEST_CASE(gzip_members_carry_no_time_or_name) {
    // The gzip header's MTIME must be 0 and no FNAME written, so the stored
    // bytes depend on the data only; the OS byte is fixed.
    temp_dir out;
    const fs::path f = out / "image.fit";
    fitpack_ok(base_args(f.string(), "gzip") + in().args(), {{epoch(1700000000)}});
    std::string os_byte;
    for (std::size_t i = 0; i < 2 + in().names.size(); ++i) {
        if (i == 1) continue;  // the ramdisk is stored uncompressed
        const fs::path stored = out / ("stored-" + std::to_string(i));
        const run_result r =
            run({"dumpimage", "-T", "flat_dt", "-p", std::to_string(i), "-o", stored.string(), f.string()});
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        const std::string bytes = read_file(stored);
        BOOST_TEST_CONTEXT("image " << i) {
            BOOST_REQUIRE(bytes.size() >= 18u);
            BOOST_TEST(bytes.compare(0, 3, "\x1f\x8b\x08") == 0);
            BOOST_TEST(static_cast<int>(bytes[3]) == 0, "FLG");  // no FNAME, FCOMMENT, FEXTRA
            BOOST_TEST(bytes.compare(4, 4, std::string(4, '\0')) == 0, "MTIME");
            if (os_byte.empty()) os_byte = bytes.substr(9, 1);
            BOOST_TEST(bytes.substr(9, 1) == os_byte, "OS byte differs between images");
        }
    }
}
