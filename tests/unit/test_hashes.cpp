// SPDX-License-Identifier: MIT
// Hash policies (<fitstream/hash/concept.hpp>, <fitstream/hash/builtin.hpp>): every digest
// is checked against an independent computation (OpenSSL's one-shot
// EVP_Digest, zlib's crc32 packed big-endian as U-Boot compares it, and the
// coreutils / gzip command-line tools), for empty input, split updates at
// every boundary, and a few MiB.
#define BOOST_TEST_MODULE fitstream hashes
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <openssl/evp.h>
#include <zlib.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

using fitstream_test::kernel_like_payload;
namespace hash = fitstream::hash;

using all_hashes = std::tuple<hash::crc32, hash::md5, hash::sha1, hash::sha256, hash::sha384, hash::sha512>;

// ---------------------------------------------------------------------------
// Independent references
// ---------------------------------------------------------------------------

template <class H>
struct reference;

template <>
struct reference<hash::crc32> {
    static constexpr const char* tool = nullptr;
    static std::vector<std::uint8_t> digest(const std::string& data) {
        const uLong crc = ::crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
        // U-Boot compares CRC-32 values as a big-endian u32.
        return {static_cast<std::uint8_t>(crc >> 24), static_cast<std::uint8_t>(crc >> 16),
                static_cast<std::uint8_t>(crc >> 8), static_cast<std::uint8_t>(crc)};
    }
};

template <const EVP_MD* (*Md)()>
struct evp_reference {
    static std::vector<std::uint8_t> digest(const std::string& data) {
        std::vector<std::uint8_t> out(EVP_MAX_MD_SIZE);
        unsigned int n = 0;
        BOOST_REQUIRE(EVP_Digest(data.data(), data.size(), out.data(), &n, Md(), nullptr) == 1);
        out.resize(n);
        return out;
    }
};

template <>
struct reference<hash::md5> : evp_reference<EVP_md5> {
    static constexpr const char* tool = "md5sum";
    static const EVP_MD* md() { return EVP_md5(); }
};
template <>
struct reference<hash::sha1> : evp_reference<EVP_sha1> {
    static constexpr const char* tool = "sha1sum";
    static const EVP_MD* md() { return EVP_sha1(); }
};
template <>
struct reference<hash::sha256> : evp_reference<EVP_sha256> {
    static constexpr const char* tool = "sha256sum";
    static const EVP_MD* md() { return EVP_sha256(); }
};
template <>
struct reference<hash::sha384> : evp_reference<EVP_sha384> {
    static constexpr const char* tool = "sha384sum";
    static const EVP_MD* md() { return EVP_sha384(); }
};
template <>
struct reference<hash::sha512> : evp_reference<EVP_sha512> {
    static constexpr const char* tool = "sha512sum";
    static const EVP_MD* md() { return EVP_sha512(); }
};

template <class H>
std::vector<std::uint8_t> as_vector(const std::array<std::uint8_t, H::digest_size>& a) {
    return {a.begin(), a.end()};
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string s;
    for (const auto b : bytes) {
        s += digits[b >> 4];
        s += digits[b & 15];
    }
    return s;
}

template <class H>
std::vector<std::uint8_t> one_shot(const std::string& data) {
    H h;
    h.update(data.data(), data.size());
    return as_vector<H>(h.final());
}

/// Deterministic small test inputs that are not all alike.
std::string small_input(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 131 + 7) ^ (i >> 3));
    return s;
}

}  // namespace

// ---------------------------------------------------------------------------
// Names and sizes U-Boot uses
// ---------------------------------------------------------------------------

static_assert(hash::crc32::digest_size == 4);
static_assert(hash::md5::digest_size == 16);
static_assert(hash::sha1::digest_size == 20);
static_assert(hash::sha256::digest_size == 32);
static_assert(hash::sha384::digest_size == 48);
static_assert(hash::sha512::digest_size == 64);

BOOST_AUTO_TEST_CASE(fit_names_and_digest_sizes_match_u_boot) {
    // U-Boot's algo names (boot/image-fit.c, common/hash.c) and digest lengths.
    BOOST_TEST(hash::crc32::fit_name == "crc32");
    BOOST_TEST(hash::md5::fit_name == "md5");
    BOOST_TEST(hash::sha1::fit_name == "sha1");
    BOOST_TEST(hash::sha256::fit_name == "sha256");
    BOOST_TEST(hash::sha384::fit_name == "sha384");
    BOOST_TEST(hash::sha512::fit_name == "sha512");
    BOOST_TEST(hash::crc32::digest_size == 4u);
    BOOST_TEST(hash::md5::digest_size == 16u);
    BOOST_TEST(hash::sha1::digest_size == 20u);
    BOOST_TEST(hash::sha256::digest_size == 32u);
    BOOST_TEST(hash::sha384::digest_size == 48u);
    BOOST_TEST(hash::sha512::digest_size == 64u);
    BOOST_TEST(fitstream::hash_names() == "crc16-ccitt, crc32, md5, sha1, sha256, sha384, sha512");
}

BOOST_AUTO_TEST_CASE_TEMPLATE(digest_size_matches_reference_length, H, all_hashes) {
    static_assert(std::tuple_size_v<decltype(std::declval<H&>().final())> == H::digest_size);
    BOOST_TEST(reference<H>::digest(std::string()).size() == H::digest_size);
    if constexpr (!std::is_same_v<H, hash::crc32>)
        BOOST_TEST(static_cast<std::size_t>(EVP_MD_size(reference<H>::md())) == H::digest_size);
}

// ---------------------------------------------------------------------------
// Digests against the references
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE_TEMPLATE(empty_input, H, all_hashes) {
    const std::string empty;
    {
        H h;  // no update at all
        BOOST_TEST(as_vector<H>(h.final()) == reference<H>::digest(empty), boost::test_tools::per_element());
    }
    {
        H h;  // zero-length updates
        const char byte = 'x';
        h.update(&byte, 0);
        h.update(empty.data(), 0);
        BOOST_TEST(as_vector<H>(h.final()) == reference<H>::digest(empty), boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(short_and_large_inputs_in_one_update, H, all_hashes) {
    for (const std::string& data :
         {std::string("a"), std::string("abc"), small_input(63), small_input(64), small_input(65), small_input(1000),
          kernel_like_payload(3u * 1024 * 1024 + 3, 11)}) {
        BOOST_TEST(one_shot<H>(data) == reference<H>::digest(data), boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(split_updates_at_every_boundary, H, all_hashes) {
    // 200 bytes crosses the 64- and 128-byte block sizes of every algorithm.
    const std::string data = small_input(200);
    const auto want = reference<H>::digest(data);
    int bad_two = 0, bad_three = 0;
    for (std::size_t i = 0; i <= data.size(); ++i) {
        H h;
        h.update(data.data(), i);
        h.update(data.data() + i, data.size() - i);
        if (as_vector<H>(h.final()) != want) ++bad_two;
        // And a three-way split with a zero-length update in the middle.
        const std::size_t j = i + (data.size() - i) / 2;
        H g;
        g.update(data.data(), i);
        g.update(data.data() + i, 0);
        g.update(data.data() + i, j - i);
        g.update(data.data() + j, data.size() - j);
        if (as_vector<H>(g.final()) != want) ++bad_three;
    }
    BOOST_TEST(bad_two == 0, "two-way splits with a wrong digest: " << bad_two);
    BOOST_TEST(bad_three == 0, "three-way splits with a wrong digest: " << bad_three);

    H bytewise;
    for (const char c : data) bytewise.update(&c, 1);
    BOOST_TEST(as_vector<H>(bytewise.final()) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(uneven_chunks_of_a_large_input, H, all_hashes) {
    const std::string data = kernel_like_payload(2u * 1024 * 1024 + 5, 12);
    H h;
    std::size_t done = 0;
    for (std::size_t n = 1; done < data.size(); n = n * 7 + 3) {
        const std::size_t k = std::min(n, data.size() - done);
        h.update(data.data() + done, k);
        done += k;
    }
    BOOST_TEST(as_vector<H>(h.final()) == reference<H>::digest(data), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(instances_are_independent, H, all_hashes) {
    const std::string a = small_input(150), b = kernel_like_payload(150, 3);
    H ha, hb;
    for (std::size_t i = 0; i < 150; i += 50) {
        ha.update(a.data() + i, 50);
        hb.update(b.data() + i, 50);
    }
    BOOST_TEST(as_vector<H>(ha.final()) == reference<H>::digest(a), boost::test_tools::per_element());
    BOOST_TEST(as_vector<H>(hb.final()) == reference<H>::digest(b), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE_TEMPLATE(agrees_with_command_line_tools, H, all_hashes) {
    // A second, separate implementation: coreutils' *sum tools, and for
    // CRC-32 the trailer gzip(1) writes (RFC 1952: CRC-32, little-endian).
    const std::string data = kernel_like_payload(100003, 13);
    const auto ours = one_shot<H>(data);
    if constexpr (std::is_same_v<H, hash::crc32>) {
        const auto r = fitstream_test::run({"gzip", "-c", "-n"}, data);
        BOOST_REQUIRE_EQUAL(r.exit_code, 0);
        BOOST_REQUIRE(r.out.size() >= 18);
        const auto* t = reinterpret_cast<const unsigned char*>(r.out.data() + r.out.size() - 8);
        const std::vector<std::uint8_t> from_gzip = {t[3], t[2], t[1], t[0]};  // to big-endian
        BOOST_TEST(ours == from_gzip, boost::test_tools::per_element());
    } else {
        const auto r = fitstream_test::run({reference<H>::tool}, data);
        BOOST_REQUIRE_EQUAL(r.exit_code, 0);
        BOOST_TEST(r.out.substr(0, 2 * H::digest_size) == hex(ours));
    }
}

BOOST_AUTO_TEST_CASE(crc16_ccitt_is_u_boots_crc16) {
    // U-Boot's "crc16-ccitt" is CRC-16/XMODEM (poly 0x1021, init 0): the CRC
    // catalogue's check value for "123456789" is 0x31c3, stored big-endian.
    // mkimage (u-boot-tools 2023.01) fills the same value: see
    // tests/system/test_its_conformance.cpp.
    const std::string data = "123456789";
    hash::crc16_ccitt h;
    h.update(data.data(), 4);
    h.update(data.data() + 4, data.size() - 4);
    const auto got = h.final();
    BOOST_TEST(got[0] == 0x31);
    BOOST_TEST(got[1] == 0xc3);
    BOOST_TEST(hash::crc16_ccitt::fit_name == "crc16-ccitt");
}

BOOST_AUTO_TEST_CASE(crc32_value_is_big_endian) {
    // "123456789" is the CRC catalogue's check string; compute its CRC with
    // zlib here and check the byte order only.
    const std::string data = "123456789";
    hash::crc32 h;
    h.update(data.data(), data.size());
    const auto got = h.final();
    const uLong crc = ::crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
    BOOST_TEST(got[0] == static_cast<std::uint8_t>(crc >> 24));
    BOOST_TEST(got[1] == static_cast<std::uint8_t>(crc >> 16));
    BOOST_TEST(got[2] == static_cast<std::uint8_t>(crc >> 8));
    BOOST_TEST(got[3] == static_cast<std::uint8_t>(crc));
    // And it is not the little-endian packing (the check value is not a palindrome).
    BOOST_TEST(got[0] != got[3]);
}

// ---------------------------------------------------------------------------
// The Hash concept and the runtime name dispatch
// ---------------------------------------------------------------------------

namespace {

struct good_hash {
    static constexpr std::string_view fit_name = "good";
    static constexpr std::size_t digest_size = 2;
    void update(const void*, std::size_t) {}
    std::array<std::uint8_t, 2> final() { return {}; }
};
struct no_name {
    static constexpr std::size_t digest_size = 2;
    void update(const void*, std::size_t) {}
    std::array<std::uint8_t, 2> final() { return {}; }
};
struct no_size {
    static constexpr std::string_view fit_name = "x";
    void update(const void*, std::size_t) {}
    std::array<std::uint8_t, 2> final() { return {}; }
};
struct no_update {
    static constexpr std::string_view fit_name = "x";
    static constexpr std::size_t digest_size = 2;
    std::array<std::uint8_t, 2> final() { return {}; }
};
struct no_final {
    static constexpr std::string_view fit_name = "x";
    static constexpr std::size_t digest_size = 2;
    void update(const void*, std::size_t) {}
};
struct final_of_wrong_size {
    static constexpr std::string_view fit_name = "x";
    static constexpr std::size_t digest_size = 2;
    void update(const void*, std::size_t) {}
    std::array<std::uint8_t, 3> final() { return {}; }
};
struct final_as_vector {
    static constexpr std::string_view fit_name = "x";
    static constexpr std::size_t digest_size = 2;
    void update(const void*, std::size_t) {}
    std::vector<std::uint8_t> final() { return {}; }
};
struct not_default_constructible {
    explicit not_default_constructible(int) {}
    static constexpr std::string_view fit_name = "x";
    static constexpr std::size_t digest_size = 2;
    void update(const void*, std::size_t) {}
    std::array<std::uint8_t, 2> final() { return {}; }
};

static_assert(fitstream::is_hash_v<good_hash>);
static_assert(!fitstream::is_hash_v<int>);
static_assert(!fitstream::is_hash_v<no_name>);
static_assert(!fitstream::is_hash_v<no_size>);
static_assert(!fitstream::is_hash_v<no_update>);
static_assert(!fitstream::is_hash_v<no_final>);
static_assert(!fitstream::is_hash_v<final_of_wrong_size>);
static_assert(!fitstream::is_hash_v<final_as_vector>);
static_assert(!fitstream::is_hash_v<not_default_constructible>);

}  // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(builtin_hashes_model_the_concept, H, all_hashes) {
    static_assert(fitstream::is_hash_v<H>);
    BOOST_TEST(fitstream::is_hash_v<H>);
    BOOST_TEST(fitstream::check_hash<H>());
}

BOOST_AUTO_TEST_CASE(hash_concept_rejects_incomplete_policies) {
    BOOST_TEST(fitstream::is_hash_v<good_hash>);
    BOOST_TEST(!fitstream::is_hash_v<int>);
    BOOST_TEST(!fitstream::is_hash_v<no_name>);
    BOOST_TEST(!fitstream::is_hash_v<no_size>);
    BOOST_TEST(!fitstream::is_hash_v<no_update>);
    BOOST_TEST(!fitstream::is_hash_v<no_final>);
    BOOST_TEST(!fitstream::is_hash_v<final_of_wrong_size>);
    BOOST_TEST(!fitstream::is_hash_v<final_as_vector>);
    BOOST_TEST(!fitstream::is_hash_v<not_default_constructible>);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(visit_hash_picks_the_hash_by_name, H, all_hashes) {
    int calls = 0;
    bool right_type = false;
    fitstream::visit_hash(H::fit_name, [&](auto tag) {
        ++calls;
        right_type = std::is_same_v<typename decltype(tag)::type, H>;
    });
    BOOST_TEST(calls == 1);
    BOOST_TEST(right_type);
}

BOOST_AUTO_TEST_CASE(visit_hash_unknown_names_throw) {
    for (const char* name : {"sha3-256", "", "SHA256", "crc16", "sha256,rsa2048"}) {
        int calls = 0;
        try {
            fitstream::visit_hash(name, [&](auto) { ++calls; });
            BOOST_ERROR("visit_hash accepted '" << name << "'");
        } catch (const fitstream::error& e) {
            BOOST_TEST((e.code() == fitstream::errc::unsupported), name);
            BOOST_TEST(e.subject() == name);
            BOOST_TEST(std::string(e.what()).find("crc16-ccitt, crc32, md5, sha1, sha256, sha384, sha512") != std::string::npos,
                       e.what());
        }
        BOOST_TEST(calls == 0);
    }
}
