// SPDX-License-Identifier: MIT
// Deduplication (detail/kbuild/dedup.hpp): files are bucketed by a content
// key (size and CRC-32) and merged only when their bytes compare equal, so
// two different files with the same key stay two images.
#define BOOST_TEST_MODULE fitstream dedup
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using fitstream_test::temp_dir;
using fitstream_test::write_file;

std::uint32_t crc_of(const std::string& bytes) { return fitstream::detail::deflate_crc32(0, bytes.data(), bytes.size()); }

// Rewrites the 4 bytes at `at` so that `bytes` gets the CRC-32 `target`.
// CRC-32 is affine over GF(2): for messages of one length, crc(x ^ d) =
// crc(x) ^ L(d) with L linear, and L is one-to-one on any 32-bit window (a
// CRC-32 detects every burst of 32 bits or fewer), so the window's 32 bits
// are found by Gaussian elimination.
void force_crc(std::string& bytes, std::size_t at, std::uint32_t target) {
    const std::string zeros(bytes.size(), '\0');
    const std::uint32_t zero_crc = crc_of(zeros);
    const auto linear = [&](std::size_t bit) {  // L of one bit in the window
        std::string e = zeros;
        e[at + bit / 8] = static_cast<char>(1u << (bit % 8));
        return crc_of(e) ^ zero_crc;
    };
    // Rows: (L(e_bit), bit mask of the window bits that make it).
    std::array<std::uint32_t, 32> image{};
    std::array<std::uint32_t, 32> made_of{};
    for (std::size_t bit = 0; bit < 32; ++bit) {
        image[bit] = linear(bit);
        made_of[bit] = 1u << bit;
    }
    // Reduce to one row per leading bit.
    std::array<int, 32> row_for{};
    row_for.fill(-1);
    for (std::size_t r = 0; r < 32; ++r) {
        for (int b = 31; b >= 0; --b) {
            if (!(image[r] >> b & 1u)) continue;
            if (row_for[b] < 0) {
                row_for[b] = static_cast<int>(r);
                break;
            }
            image[r] ^= image[row_for[b]];
            made_of[r] ^= made_of[row_for[b]];
        }
    }
    for (int b = 0; b < 32; ++b)
        if (row_for[b] < 0) throw std::runtime_error("the window is not one-to-one");
    std::uint32_t want = crc_of(bytes) ^ target;  // L(d) must be this
    std::uint32_t flip = 0;
    for (int b = 31; b >= 0; --b) {
        if (!(want >> b & 1u)) continue;
        want ^= image[row_for[b]];
        flip ^= made_of[row_for[b]];
    }
    for (std::size_t k = 0; k < 4; ++k) bytes[at + k] = static_cast<char>(bytes[at + k] ^ (flip >> (8 * k)));
}

/// Two valid devicetrees of one size and one CRC-32 whose bytes differ.
struct colliding_dtbs {
    temp_dir dir;
    std::string a = (dir / "board-a.dtb").string();
    std::string b = (dir / "board-b.dtb").string();
    colliding_dtbs() {
        write_file(dir / "board.dts",
                   "/dts-v1/;\n/ {\n\tmodel = \"Acme Board A\";\n\tcompatible = \"acme,board\";\n"
                   "\tpad = [de ad be ef];\n};\n");
        fitstream_test::compile_dts(dir / "board.dts", a);
        const std::string first = fitstream_test::read_file(a);
        std::string second = first;
        second[second.find("Board A") + 6] = 'B';
        force_crc(second, second.find("\xde\xad\xbe\xef"), crc_of(first));
        write_file(b, second);
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_file_is_keyed_as_its_bytes_are) {
    temp_dir dir;
    std::string big(3 * (1u << 20) + 17, '\0');  // more than one 1 MiB read
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 2654435761u >> 24);
    for (const std::string& bytes : {std::string(), std::string("x"), big}) {
        write_file(dir / "f", bytes);
        BOOST_TEST(fitstream::detail::content_key_of_file((dir / "f").string()) ==
                   fitstream::detail::content_key_of(bytes.data(), bytes.size()));
    }
    // The size is part of the key: equal CRCs of different sizes differ.
    BOOST_TEST(fitstream::detail::make_content_key(1, 7) != fitstream::detail::make_content_key(2, 7));
}

BOOST_AUTO_TEST_CASE(the_same_key_with_other_bytes_is_not_a_duplicate) {
    colliding_dtbs in;
    const std::string a = fitstream_test::read_file(in.a), b = fitstream_test::read_file(in.b);
    BOOST_TEST_REQUIRE(a != b);
    BOOST_TEST_REQUIRE(fitstream::detail::content_key_of(a.data(), a.size()) ==
                       fitstream::detail::content_key_of(b.data(), b.size()));
    BOOST_TEST(fitstream::detail::content_key_of_file(in.a) == fitstream::detail::content_key_of_file(in.b));

    fitstream::detail::fdt_dedup table;
    const auto key = fitstream::detail::content_key_of(a.data(), a.size());
    table.add(key, 0);
    const auto stored = [&](std::size_t) -> const std::string& { return in.a; };
    BOOST_TEST(table.find(key, in.b, stored) == fitstream::detail::fdt_dedup::npos);
    BOOST_TEST(table.find(key, in.a, stored) == 0u);

    // Through make_kernel_fit, with and without read-ahead threads: two
    // images, each its own file.
    for (const unsigned threads : {1u, 2u}) {
        fitstream::kernel_fit_options options;
        options.name = "Linux";
        options.arch = "arm64";
        options.threads = threads;
        fitstream::kernel_fit_report report;
        const auto fit = fitstream::make_kernel_fit(options, "", "", {in.a, in.b}, {}, &report);
        BOOST_TEST(fit.images.size() == 2u);
        BOOST_TEST(fit.images[0].data.name() == in.a);
        BOOST_TEST(fit.images[1].data.name() == in.b);
        BOOST_TEST(report.images_deduplicated == 0u);
    }
}

BOOST_AUTO_TEST_CASE(loadables_with_the_same_key_and_other_bytes_stay_apart) {
    colliding_dtbs in;
    fitstream::detail::loadable_dedup table;
    const auto key = fitstream::detail::content_key_of_file(in.a);
    table.add(key, "firmware", in.a, "loadable-1");
    BOOST_TEST(table.find(key, in.b, "firmware").empty());
    BOOST_TEST(table.find(key, in.a, "firmware") == "loadable-1");
    BOOST_TEST(table.find(key, in.a, "other kind").empty());
}
