// SPDX-License-Identifier: MIT
// fitstream::key_dtb: public keys written into a control DTB as `mkimage -K`
// writes them and read back, with keys made by `openssl genpkey` at test
// time. The RSA constants are checked against OpenSSL's own arithmetic; the
// refusals leave the DTB as it was.

#define BOOST_TEST_MODULE key_dtb
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <libfdt.h>
#include <openssl/bn.h>

#include "support.hpp"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace fitstream_test;

namespace {

struct keys {
    temp_dir dir;
    fs::path rsa = dir / "dev.key";
    fs::path other_rsa = dir / "other.key";
    fs::path ec = dir / "ec.pem";

    keys() {
        gen(rsa, {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"});
        gen(other_rsa, {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"});
        gen(ec, {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1"});
    }
    static void gen(const fs::path& out, std::vector<std::string> args) {
        args.insert(args.begin(), {"openssl", "genpkey", "-quiet"});
        args.insert(args.end(), {"-out", out.string()});
        const auto r = run(args);
        if (r.exit_code != 0) throw std::runtime_error(describe(args, r));
    }
};

// Keys are slow to make: one set for every test case.
const keys& in() {
    static const keys k;
    return k;
}

// An empty devicetree, as a control DTB before any key is added.
fs::path empty_dtb(const fs::path& path) {
    std::vector<std::uint64_t> blob(64);
    if (fdt_create_empty_tree(blob.data(), static_cast<int>(blob.size() * 8)) != 0)
        throw std::runtime_error("fdt_create_empty_tree");
    fdt_pack(blob.data());
    write_file(path, std::string(reinterpret_cast<const char*>(blob.data()), fdt_totalsize(blob.data())));
    return path;
}

// A property of the DTB at `path`, as bytes ("" when absent).
std::string prop(const fs::path& path, const char* node, const char* name) {
    const std::string bytes = read_file(path);
    std::vector<std::uint64_t> blob((bytes.size() + 7) / 8);
    std::memcpy(blob.data(), bytes.data(), bytes.size());
    const int offset = fdt_path_offset(blob.data(), node);
    if (offset < 0) return {};
    int len = 0;
    const auto* p = static_cast<const char*>(fdt_getprop(blob.data(), offset, name, &len));
    return p ? std::string(p, static_cast<std::size_t>(len)) : std::string();
}

std::uint32_t be32(const std::string& bytes) {
    BOOST_TEST_REQUIRE(bytes.size() == 4u);
    return fdt32_ld(reinterpret_cast<const fdt32_t*>(bytes.data()));
}

fitstream::key_dtb_entry entry(const fs::path& key, const std::string& name, const std::string& algo,
                               const std::string& required = "conf") {
    return {fitstream::signing_key::load(key.string()), name, algo, required};
}

// Runs `f`, which must throw a fitstream::error of `code` whose reason
// contains `text`.
template <class F>
void refused(F&& f, fitstream::errc code, const std::string& text) {
    try {
        f();
        BOOST_ERROR("not refused: " + text);
    } catch (const fitstream::error& e) {
        BOOST_TEST((e.code() == code), e.what());
        BOOST_TEST(e.reason().find(text) != std::string::npos, e.what());
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_rsa_key_round_trips_with_u_boots_constants) {
    temp_dir out;
    const fs::path path = empty_dtb(out / "u-boot.dtb");
    fitstream::key_dtb dtb(path.string());
    const auto key = fitstream::signing_key::load(in().rsa.string());
    dtb.add({key, "dev", "sha256,rsa2048", "conf"});
    dtb.save();

    const char* node = "/signature/key-dev";
    BOOST_TEST(prop(path, node, "key-name-hint") == std::string("dev", 4));
    BOOST_TEST(prop(path, node, "algo") == std::string("sha256,rsa2048", 15));
    BOOST_TEST(prop(path, node, "required") == std::string("conf", 5));
    BOOST_TEST(be32(prop(path, node, "rsa,num-bits")) == 2048u);
    const std::string modulus = prop(path, node, "rsa,modulus");
    const std::string r_squared = prop(path, node, "rsa,r-squared");
    const std::string exponent = prop(path, node, "rsa,exponent");
    BOOST_TEST_REQUIRE(modulus.size() == 256u);
    BOOST_TEST(r_squared.size() == 256u);
    BOOST_TEST(exponent == std::string("\0\0\0\0\0\1\0\1", 8));  // 65537 in 64 bits

    // n0-inverse = -1/n mod 2^32: times the modulus's low word it gives -1.
    const std::uint32_t low = fdt32_ld(reinterpret_cast<const fdt32_t*>(modulus.data() + modulus.size() - 4));
    BOOST_TEST(static_cast<std::uint32_t>(be32(prop(path, node, "rsa,n0-inverse")) * low) == 0xffffffffu);
    // r-squared = (2^2048)^2 mod n.
    const std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> n(
        BN_bin2bn(reinterpret_cast<const unsigned char*>(modulus.data()), 256, nullptr), BN_free);
    const std::unique_ptr<BIGNUM, void (*)(BIGNUM*)> r(BN_new(), BN_free);
    const std::unique_ptr<BN_CTX, void (*)(BN_CTX*)> ctx(BN_CTX_new(), BN_CTX_free);
    BOOST_TEST_REQUIRE((n && r && ctx));
    BOOST_TEST_REQUIRE(BN_set_word(r.get(), 1) == 1);
    BOOST_TEST_REQUIRE(BN_lshift(r.get(), r.get(), 2 * 2048) == 1);
    BOOST_TEST_REQUIRE(BN_mod(r.get(), r.get(), n.get(), ctx.get()) == 1);
    std::string want(256, '\0');
    BOOST_TEST_REQUIRE(BN_bn2binpad(r.get(), reinterpret_cast<unsigned char*>(want.data()), 256) == 256);
    BOOST_TEST((r_squared == want));

    // Read back: the same public key, under its hint.
    const fitstream::key_dtb again(path.string());
    const auto found = again.keys();
    BOOST_TEST_REQUIRE(found.size() == 1u);
    BOOST_TEST(found[0].node == "/signature/key-dev");
    BOOST_TEST(found[0].name == "dev");
    BOOST_TEST(found[0].algo == "sha256,rsa2048");
    BOOST_TEST(found[0].required == "conf");
    BOOST_TEST(found[0].key->is_rsa());
    BOOST_TEST(found[0].key->bits() == 2048u);
    BOOST_TEST(found[0].key->same_as(*key->public_half()));
    BOOST_TEST(again.required_mode() == "all");
}

BOOST_AUTO_TEST_CASE(an_ecdsa_key_round_trips) {
    temp_dir out;
    const fs::path path = empty_dtb(out / "u-boot.dtb");
    const auto key = fitstream::signing_key::load(in().ec.string());
    fitstream::add_keys_to_dtb(path.string(), {{key, "ec", "sha256,ecdsa256", "image"}});

    const char* node = "/signature/key-ec";
    BOOST_TEST(prop(path, node, "ecdsa,curve") == std::string("prime256v1", 11));
    BOOST_TEST(prop(path, node, "ecdsa,x-point").size() == 32u);
    BOOST_TEST(prop(path, node, "ecdsa,y-point").size() == 32u);
    BOOST_TEST(prop(path, node, "rsa,modulus").empty());
    const auto found = fitstream::key_dtb(path.string()).keys();
    BOOST_TEST_REQUIRE(found.size() == 1u);
    BOOST_TEST(found[0].required == "image");
    BOOST_TEST(!found[0].key->is_rsa());
    BOOST_TEST(found[0].key->same_as(*key->public_half()));
}

BOOST_AUTO_TEST_CASE(adding_the_same_key_again_changes_nothing_but_a_different_one_is_refused) {
    temp_dir out;
    const fs::path path = empty_dtb(out / "u-boot.dtb");
    fitstream::add_keys_to_dtb(path.string(), {entry(in().rsa, "dev", "sha256,rsa2048")});
    const std::string once = read_file(path);
    fitstream::add_keys_to_dtb(path.string(), {entry(in().rsa, "dev", "sha256,rsa2048")});
    BOOST_TEST((read_file(path) == once));
    refused([&] { fitstream::add_keys_to_dtb(path.string(), {entry(in().other_rsa, "dev", "sha256,rsa2048")}); },
            fitstream::errc::invalid_argument, "/signature/key-dev holds a different public key than");
    BOOST_TEST((read_file(path) == once));
}

BOOST_AUTO_TEST_CASE(entries_are_checked_before_any_is_added) {
    temp_dir out;
    const fs::path path = empty_dtb(out / "u-boot.dtb");
    const std::string before = read_file(path);
    const fitstream::key_dtb dtb(path.string());
    const auto check = [&](const fitstream::key_dtb_entry& e) { return [&dtb, e] { dtb.check(e); }; };
    refused(check(entry(in().rsa, "a/b", "sha256,rsa2048")), fitstream::errc::invalid_argument,
            "key name 'a/b' is not a devicetree node name part");
    refused(check(entry(in().rsa, "", "sha256,rsa2048")), fitstream::errc::invalid_argument,
            "is not a devicetree node name part");
    refused(check(entry(in().rsa, "dev", "sha256,rsa4096")), fitstream::errc::invalid_argument,
            "key is RSA-2048, but sha256,rsa4096 needs RSA-4096");
    refused(check(entry(in().ec, "dev", "sha256,rsa2048")), fitstream::errc::invalid_argument,
            "key is EC prime256v1, but sha256,rsa2048 needs RSA-2048");
    refused(check(entry(in().rsa, "dev", "md5,rsa2048")), fitstream::errc::unsupported,
            "unknown signature algorithm");
    refused(check(entry(in().rsa, "dev", "sha256,rsa2048", "boot")), fitstream::errc::invalid_argument,
            "required must be conf or image");
    refused(check({nullptr, "dev", "sha256,rsa2048", "conf"}), fitstream::errc::invalid_argument, "no key given");
    // add_keys_to_dtb: the good first entry is not written either.
    refused([&] {
        fitstream::add_keys_to_dtb(path.string(), {entry(in().rsa, "dev", "sha256,rsa2048"),
                                                   entry(in().rsa, "x@1", "sha256,rsa2048")});
    }, fitstream::errc::invalid_argument, "is not a devicetree node name part");
    BOOST_TEST((read_file(path) == before));
}

BOOST_AUTO_TEST_CASE(a_key_node_u_boot_cannot_use_is_refused_when_read) {
    temp_dir out;
    const fs::path path = empty_dtb(out / "u-boot.dtb");
    fitstream::add_keys_to_dtb(path.string(), {entry(in().rsa, "dev", "sha256,rsa2048")});
    const std::string good = read_file(path);
    // Rewrites one property of the key node in place (same length).
    const auto broken = [&](const char* name, const std::string& value) {
        std::vector<std::uint64_t> blob((good.size() + 7) / 8);
        std::memcpy(blob.data(), good.data(), good.size());
        const int node = fdt_path_offset(blob.data(), "/signature/key-dev");
        BOOST_TEST_REQUIRE(node >= 0);
        BOOST_TEST_REQUIRE(fdt_setprop_inplace(blob.data(), node, name, value.data(), static_cast<int>(value.size())) == 0);
        const fs::path copy = out / (std::string(name) + ".dtb");
        write_file(copy, std::string(reinterpret_cast<const char*>(blob.data()), good.size()));
        return copy;
    };
    const auto keys_of = [](const fs::path& p) { return [p] { (void)fitstream::key_dtb(p.string()).keys(); }; };
    refused(keys_of(broken("rsa,n0-inverse", std::string("\0\0\0\1", 4))), fitstream::errc::invalid_input,
            "rsa,n0-inverse is missing or wrong for rsa,modulus, so U-Boot fails every signature with this key");
    refused(keys_of(broken("rsa,num-bits", std::string("\0\0\x04\0", 4))), fitstream::errc::invalid_input,
            "rsa,num-bits (1024) does not match the 256-byte rsa,modulus of 2048 bits");
    refused(keys_of(broken("rsa,r-squared", std::string(256, '\x01'))), fitstream::errc::invalid_input,
            "rsa,r-squared is missing or wrong for rsa,modulus");
}

BOOST_AUTO_TEST_CASE(required_mode_reads_as_written) {
    temp_dir out;
    const fs::path path = empty_dtb(out / "u-boot.dtb");
    fitstream::add_keys_to_dtb(path.string(), {entry(in().rsa, "dev", "sha256,rsa2048")});
    std::string bytes = read_file(path);
    std::vector<std::uint64_t> blob((bytes.size() + 64 + 7) / 8);
    std::memcpy(blob.data(), bytes.data(), bytes.size());
    BOOST_TEST_REQUIRE(fdt_open_into(blob.data(), blob.data(), static_cast<int>(blob.size() * 8)) == 0);
    const int node = fdt_path_offset(blob.data(), "/signature");
    BOOST_TEST_REQUIRE(fdt_setprop_string(blob.data(), node, "required-mode", "any") == 0);
    BOOST_TEST_REQUIRE(fdt_pack(blob.data()) == 0);
    write_file(path, std::string(reinterpret_cast<const char*>(blob.data()), fdt_totalsize(blob.data())));
    BOOST_TEST(fitstream::key_dtb(path.string()).required_mode() == "any");
}

BOOST_AUTO_TEST_CASE(a_file_that_is_not_a_dtb_is_refused) {
    temp_dir out;
    try {
        fitstream::key_dtb((out / "missing.dtb").string());
        BOOST_ERROR("not refused");
    } catch (const fitstream::error& e) {
        BOOST_TEST((e.code() == std::errc::no_such_file_or_directory), e.what());
        BOOST_TEST(e.reason().rfind("cannot read DTB", 0) == 0u, e.what());
    }
    write_file(out / "empty.dtb", "");
    refused([&] { fitstream::key_dtb((out / "empty.dtb").string()); }, fitstream::errc::invalid_input,
            "not a valid DTB (empty file)");
    write_file(out / "text.dtb", "not a devicetree at all, just some text");
    try {
        fitstream::key_dtb((out / "text.dtb").string());
        BOOST_ERROR("not refused");
    } catch (const fitstream::error& e) {
        BOOST_TEST((e.code().category() == fitstream::libfdt_category()), e.what());
        BOOST_TEST(e.reason().rfind("not a valid DTB: ", 0) == 0u, e.what());
    }
}
