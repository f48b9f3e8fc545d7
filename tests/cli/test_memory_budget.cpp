// SPDX-License-Identifier: MIT
// fitpack --memory-budget SIZE (pack mode and -f mode): sizes with K, M or G
// (binary) are taken, anything else is a usage error on one line naming the
// option, and the output is the same bytes for every budget and -j (lzma,
// whose encoder alone passes a small budget, included).
#define BOOST_TEST_MODULE fitpack memory budget
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using fitstream_test::read_file;
using fitstream_test::run;
using fitstream_test::temp_dir;
using fitstream_test::write_file;

std::vector<std::string> pack(const temp_dir& dir, const std::string& out, const std::string& codec) {
    return {fitstream_test::fitpack_path, "-o", (dir / out).string(), "-A", "arm64", "-O", "linux", "-n", "L",
            "--timestamp", "1700000000", "-c", codec, "-k", (dir / "Image").string(), (dir / "a.dtb").string(), (dir / "b.dtb").string()};
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

struct inputs {
    inputs() {
        write_file(dir / "Image", fitstream_test::kernel_like_payload(300000, 5));
        // Two small DTBs (fitpack checks them).
        write_file(dir / "a.dtb", dtb("a"));
        write_file(dir / "b.dtb", dtb("b"));
    }
    static std::string dtb(const std::string& model) {
        fitstream::detail::fdt_builder fdt;
        fdt.begin_node("");
        fdt.property_string("model", "Board " + model);
        fdt.property_strings("compatible", {"vendor,board-" + model});
        fdt.end_node();
        const auto blob = std::move(fdt).finish();
        return std::string(blob.begin(), blob.end());
    }
    temp_dir dir;
};

}  // namespace

BOOST_AUTO_TEST_CASE(bad_sizes_are_one_line_usage_errors) {
    inputs in;
    for (const std::string bad : {"0", "-1", "lots", "", "12X", "1.5M", "M", "99999999999999999999", "16777216T"}) {
        BOOST_TEST_CONTEXT("--memory-budget '" << bad << "'") {
            const auto r = run(pack(in.dir, "x.fit", "gzip") + std::vector<std::string>{"--memory-budget", bad});
            BOOST_TEST(r.exit_code == 2, r.err);
            const auto first = r.err.substr(0, r.err.find('\n'));
            BOOST_TEST(first.find("--memory-budget") != std::string::npos, r.err);
            BOOST_TEST(first.find("'" + bad + "'") != std::string::npos, r.err);
            BOOST_TEST(!fs::exists(in.dir / "x.fit"));
            const auto f = run({fitstream_test::fitpack_path, "-f", (in.dir / "none.its").string(), "--memory-budget",
                                bad, (in.dir / "y.fit").string()});
            BOOST_TEST(f.exit_code == 2, f.err);
            BOOST_TEST(f.err.find("--memory-budget") != std::string::npos, f.err);
        }
    }
    const auto help = run({fitstream_test::fitpack_path, "--help"});
    BOOST_TEST(help.out.find("--memory-budget") != std::string::npos);
    const auto its_help = run({fitstream_test::fitpack_path, "-f", "--help"});
    BOOST_TEST(its_help.out.find("--memory-budget") != std::string::npos, its_help.out);
}

BOOST_AUTO_TEST_CASE(every_budget_and_thread_count_gives_the_same_bytes) {
    inputs in;
    for (const std::string codec : {"lzma", "zstd", "gzip"}) {
        BOOST_TEST_CONTEXT(codec) {
            const auto ref = run(pack(in.dir, "ref.fit", codec) + std::vector<std::string>{"-j", "1"});
            BOOST_TEST_REQUIRE(ref.exit_code == 0, ref.err);
            const std::string reference = read_file(in.dir / "ref.fit");
            for (const std::string budget : {"1", "64K", "16m", "64MiB", "4294967296"}) {
                for (const std::string jobs : {"2", "8"}) {
                    BOOST_TEST_CONTEXT("--memory-budget " << budget << " -j " << jobs) {
                        const auto r = run(pack(in.dir, "x.fit", codec) +
                                           std::vector<std::string>{"--memory-budget", budget, "-j", jobs});
                        BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
                        BOOST_TEST(r.err.empty(), r.err);
                        BOOST_TEST((read_file(in.dir / "x.fit") == reference));
                    }
                }
            }
        }
    }
}
