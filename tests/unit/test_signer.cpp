// SPDX-License-Identifier: MIT
// The signing stage through the library's signer interface
// (<fitstream/sign/signer.hpp>): a caller's own signer in
// signature_spec::key_signer, signatures made on several threads with the
// same bytes as on one, one digest per configuration however many keys sign
// it, a signer that is not concurrent() never entered twice at once, and a
// signer that fails or lies stopping the write with one message naming it
// and no file left. Keys are made with OpenSSL's command line; every FIT
// written is checked with fitstream's verifier and U-Boot's fit_check_sign.
#define BOOST_TEST_MODULE fitstream signer
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"
#include "uboot_sandbox.hpp"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using fitstream_test::has;
using fitstream_test::read_file;
using fitstream_test::temp_dir;
using fitstream_test::write_file;

struct keys_fixture {
    temp_dir dir;
    fs::path rsa = dir.path() / "dev.key";
    fs::path other = dir.path() / "other.key";
    fs::path ec = dir.path() / "ec.pem";
    keys_fixture() {
        fitstream_test::run_ok({"openssl", "genrsa", "-out", rsa.string(), "2048"});
        fitstream_test::run_ok({"openssl", "genrsa", "-out", other.string(), "2048"});
        fitstream_test::run_ok({"openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout", "-out", ec.string()});
    }
};

const keys_fixture& keys() {
    static const keys_fixture k;
    return k;
}

/// A signer wrapping a PEM key that counts its calls, the digests it was
/// given and how many run at once; `corrupt` flips a byte of every value.
class counting_signer final : public fitstream::signer {
public:
    counting_signer(const fs::path& key, bool concurrent, bool corrupt = false)
        : key_(fitstream::signing_key::load(key.string())), concurrent_(concurrent), corrupt_(corrupt),
          name_("counting:" + key.filename().string()) {}

    const std::string& name() const override { return name_; }
    void check_for(const fitstream::signature_algorithm& a, fitstream::signature_padding p) const override {
        key_->check_for(a, p);
    }
    std::shared_ptr<const fitstream::public_key> public_half() const override { return key_->public_half(); }
    std::vector<std::uint8_t> sign(const fitstream::signing_request& r) const override {
        const int now = ++running_;
        int seen = most_at_once_.load();
        while (now > seen && !most_at_once_.compare_exchange_weak(seen, now)) {
        }
        // Long enough that two threads would overlap if they could.
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        auto value = key_->sign(r);
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            ++calls_;
            digests_[r.node] = r.digest;
        }
        --running_;
        if (corrupt_) value[value.size() / 2] ^= 0x40;
        return value;
    }
    bool concurrent() const override { return concurrent_; }

    int calls() const { return calls_; }
    int most_at_once() const { return most_at_once_; }
    std::map<std::string, std::vector<std::uint8_t>> digests() const {
        const std::lock_guard<std::mutex> lock(mutex_);
        return digests_;
    }

private:
    std::shared_ptr<const fitstream::signing_key> key_;
    bool concurrent_;
    bool corrupt_;
    std::string name_;
    mutable std::mutex mutex_;
    mutable int calls_ = 0;
    mutable std::atomic<int> running_{0};
    mutable std::atomic<int> most_at_once_{0};
    mutable std::map<std::string, std::vector<std::uint8_t>> digests_;
};

std::vector<char> as_vector(const std::string& s) { return std::vector<char>(s.begin(), s.end()); }

/// A kernel and `boards` DTBs (compiled from a tiny source at test time).
fitstream::tree sample_tree(const fs::path& dir, int boards) {
    fitstream::fit_builder b("Linux");
    b.arch("arm64").os("linux").timestamp(1700000000).hash_every_image<fitstream::hash::sha256>();
    b.add_kernel<fitstream::codec::none>(fitstream::source::memory(as_vector(fitstream_test::random_bytes(50000, 3)), "Image"));
    for (int i = 0; i < boards; ++i) {
        const fs::path dts = dir / ("b" + std::to_string(i) + ".dts");
        write_file(dts, "/dts-v1/;\n/ { model = \"Board " + std::to_string(i) + "\"; compatible = \"v,b" +
                            std::to_string(i) + "\"; };\n");
        const fs::path dtb = fitstream_test::compile_dts(dts, dir / ("b" + std::to_string(i) + ".dtb"));
        b.add_fdt<fitstream::codec::none>(fitstream::source::file(dtb.string()));
    }
    return b.build();
}

fitstream::signature_spec spec_for(std::shared_ptr<const fitstream::signer> s, const std::string& algo,
                                   const std::string& hint) {
    fitstream::signature_spec spec;
    spec.algo = algo;
    spec.key_name_hint = hint;
    spec.key_signer = std::move(s);
    return spec;
}

fs::path key_dtb_for(const fs::path& dir, const std::vector<fitstream::key_dtb_entry>& entries) {
    const fs::path dtb = dir / "u-boot.dtb";
    write_file(dir / "u-boot.dts", "/dts-v1/;\n/ { model = \"U-Boot\"; };\n");
    fitstream_test::compile_dts(dir / "u-boot.dts", dtb);
    fitstream::key_dtb k(dtb.string());
    for (const auto& e : entries) k.add(e);
    k.save();
    return dtb;
}

}  // namespace

BOOST_AUTO_TEST_CASE(many_threads_sign_the_same_bytes_as_one) {
    temp_dir dir;
    auto fit = sample_tree(dir.path(), 24);
    for (auto& conf : fit.configurations)
        conf.signatures.push_back(spec_for(fitstream::signing_key::load(keys().rsa.string()), "sha256,rsa2048", "dev"));
    std::string bytes[3];
    const unsigned threads[3] = {1, 2, 7};
    for (int i = 0; i < 3; ++i) {
        fitstream::write_options o;
        o.threads = threads[i];
        const fs::path out = dir.path() / ("j" + std::to_string(threads[i]) + ".fit");
        fitstream::write_fit(fit, out.string(), o);
        bytes[i] = read_file(out);
    }
    // PKCS#1 v1.5 is deterministic: any difference is the writer's.
    BOOST_TEST((bytes[0] == bytes[1]));
    BOOST_TEST((bytes[0] == bytes[2]));

    const fs::path dtb = key_dtb_for(dir.path(), {{fitstream::signing_key::load(keys().rsa.string()), "dev",
                                                  "sha256,rsa2048", "conf"}});
    const fitstream::reader reader((dir.path() / "j7.fit").string());
    const auto result = fitstream::verify_signatures(reader, fitstream::key_dtb(dtb.string()));
    for (const auto& p : result.problems) BOOST_ERROR(p.subject << ": " << p.message);
    BOOST_TEST(result.verified.size() == 24u);
}

BOOST_AUTO_TEST_CASE(a_signer_that_is_not_concurrent_signs_one_at_a_time) {
    temp_dir dir;
    auto fit = sample_tree(dir.path(), 12);
    const auto serial = std::make_shared<counting_signer>(keys().rsa, /*concurrent=*/false);
    const auto parallel = std::make_shared<counting_signer>(keys().other, /*concurrent=*/true);
    for (auto& conf : fit.configurations) {
        conf.signatures.push_back(spec_for(serial, "sha256,rsa2048", "dev"));
        conf.signatures.push_back(spec_for(parallel, "sha256,rsa2048", "other"));
    }
    fitstream::write_options o;
    o.threads = 4;
    fitstream::write_fit(fit, (dir.path() / "two.fit").string(), o);
    BOOST_TEST(serial->calls() == 12);
    BOOST_TEST(parallel->calls() == 12);
    BOOST_TEST(serial->most_at_once() == 1);
    // The concurrent one did overlap (4 threads, 12 signatures of 2 ms each).
    BOOST_TEST(parallel->most_at_once() >= 2);

    // Both keys signed the same digest for each configuration: one digest, two signatures.
    const auto a = serial->digests();
    const auto b = parallel->digests();
    for (const auto& conf : fit.configurations) {
        const std::string base = "/configurations/" + conf.name + "/signature-";
        BOOST_REQUIRE(a.count(base + "1") == 1u);
        BOOST_REQUIRE(b.count(base + "2") == 1u);
        BOOST_TEST((a.at(base + "1") == b.at(base + "2")), conf.name);
    }

    const fs::path dtb = key_dtb_for(dir.path(), {{fitstream::signing_key::load(keys().rsa.string()), "dev",
                                                  "sha256,rsa2048", "conf"},
                                                 {fitstream::signing_key::load(keys().other.string()), "other",
                                                  "sha256,rsa2048", ""}});
    const fitstream::reader reader((dir.path() / "two.fit").string());
    const auto result = fitstream::verify_signatures(reader, fitstream::key_dtb(dtb.string()));
    for (const auto& p : result.problems) BOOST_ERROR(p.subject << ": " << p.message);
    // The required key (dev) verified in every configuration.
    int by_dev = 0;
    for (const auto& line : result.verified) by_dev += has(line, "signature-1") && has(line, ":dev");
    BOOST_TEST(by_dev == 12, fitstream_test::join(result.verified, "\n"));
    // U-Boot's own checker agrees (the required key, dev).
    if (const auto uboot = fitstream_test::uboot_2026_dir()) {
        const auto check = fitstream_test::run({(*uboot / "fit_check_sign").string(), "-f",
                                                (dir.path() / "two.fit").string(), "-k", dtb.string()});
        BOOST_TEST(check.exit_code == 0, check.out + check.err);
    } else {
        BOOST_TEST_MESSAGE("fit_check_sign not checked: ../shared/uboot-2026.10 is absent");
    }
}

BOOST_AUTO_TEST_CASE(a_signature_that_does_not_verify_stops_the_write_naming_the_signer) {
    temp_dir dir;
    auto fit = sample_tree(dir.path(), 6);
    const auto liar = std::make_shared<counting_signer>(keys().rsa, true, /*corrupt=*/true);
    for (auto& conf : fit.configurations) conf.signatures.push_back(spec_for(liar, "sha256,rsa2048", "dev"));
    const fs::path out = dir.path() / "never.fit";
    fitstream::write_options o;
    o.threads = 3;
    try {
        fitstream::write_fit(fit, out.string(), o);
        BOOST_ERROR("a corrupt signature was written");
    } catch (const fitstream::error& e) {
        const std::string what = e.what();
        BOOST_TEST(has(what, "counting:dev.key"), what);
        BOOST_TEST(has(what, "does not verify"), what);
        // Signatures are taken in order: the first configuration's is the one reported.
        BOOST_TEST(has(what, "/configurations/conf-1/signature-1"), what);
    }
    BOOST_TEST(!fs::exists(out));
    BOOST_TEST(fitstream_test::directory_names(dir.path()).count("never.fit") == 0u);
}

BOOST_AUTO_TEST_CASE(a_signer_of_the_wrong_type_is_refused_before_any_work) {
    temp_dir dir;
    auto fit = sample_tree(dir.path(), 2);
    const auto ec = std::make_shared<counting_signer>(keys().ec, true);
    fit.configurations[0].signatures.push_back(spec_for(ec, "sha256,rsa2048", "dev"));
    const fs::path out = dir.path() / "never.fit";
    try {
        fitstream::write_fit(fit, out.string());
        BOOST_ERROR("an EC signer was accepted for rsa2048");
    } catch (const fitstream::error& e) {
        BOOST_TEST(has(e.what(), "needs RSA-2048"), e.what());
    }
    BOOST_TEST(ec->calls() == 0);
    BOOST_TEST(!fs::exists(out));
}
