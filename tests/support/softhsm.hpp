// SPDX-License-Identifier: MIT
#pragma once

// A SoftHSM2 token for one test run: its own SOFTHSM2_CONF and token
// directory in a temporary directory (the user's tokens are never touched),
// initialised with softhsm2-util, keys generated inside it with pkcs11-tool
// (OpenSC), reached by fitpack through OpenSSL's pkcs11 engine.
//
//   fitstream_test::softhsm_token hsm("fitstream", "PIN");
//   hsm.generate("release", "rsa:2048");            // the private key stays in the token
//   fitpack(... "--key", hsm.uri("release") ...,  {hsm.env() + pin variable});
//
// softhsm_available() is the Boost.Test precondition: false, saying what is
// missing (Debian: softhsm2, opensc, libengine-pkcs11-openssl), when any of
// them is absent.

#include "support.hpp"

#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace fitstream_test {

/// Debian's SoftHSM2 PKCS#11 module.
inline const std::string softhsm_module = "/usr/lib/softhsm/libsofthsm2.so";

/// What is missing to run token tests ("" when nothing is).
inline std::string softhsm_missing() {
    std::string missing;
    const auto need = [&](bool ok, const std::string& what) {
        if (!ok) missing += (missing.empty() ? "" : ", ") + what;
    };
    const auto on_path = [](const std::string& program) {
        return run({"sh", "-c", "command -v " + program + " >/dev/null"}).exit_code == 0;
    };
    need(on_path("softhsm2-util") && fs::exists(softhsm_module), "SoftHSM2 (Debian: softhsm2)");
    need(on_path("pkcs11-tool"), "pkcs11-tool (Debian: opensc)");
    // The engine as fitpack loads it: ENGINE_by_id("pkcs11").
    need(on_path("openssl") && run({"openssl", "engine", "-t", "pkcs11"}).exit_code == 0,
         "OpenSSL's pkcs11 engine (Debian: libengine-pkcs11-openssl)");
    return missing;
}

/// Boost.Test precondition: the token tests are skipped, saying why, when
/// SoftHSM2, pkcs11-tool or the pkcs11 engine is absent.
inline boost::test_tools::assertion_result softhsm_available(boost::unit_test::test_unit_id) {
    static const std::string missing = softhsm_missing();
    boost::test_tools::assertion_result r(missing.empty());
    r.message() << "skipped: not installed: " << missing;
    return r;
}

/// One initialised SoftHSM2 token in a temporary directory.
class softhsm_token {
public:
    softhsm_token(std::string label, std::string pin) : label_(std::move(label)), pin_(std::move(pin)) {
        fs::create_directories(dir_ / "tokens");
        write_file(conf(), "directories.tokendir = " + (dir_ / "tokens").string() +
                               "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n");
        run_ok({"softhsm2-util", "--init-token", "--free", "--label", label_, "--pin", pin_, "--so-pin", "0000" + pin_},
               {}, env());
    }

    /// The token's configuration file (SOFTHSM2_CONF).
    fs::path conf() const { return dir_ / "softhsm2.conf"; }
    const std::string& label() const { return label_; }
    const std::string& pin() const { return pin_; }

    /// The environment every program reaching the token runs with: this
    /// token's SOFTHSM2_CONF, and SoftHSM2 as fitpack's module.
    std::vector<std::string> env() const {
        return {"SOFTHSM2_CONF=" + conf().string(), "FITPACK_PKCS11_MODULE=" + softhsm_module};
    }

    /// Generates a key pair inside the token: `type` as pkcs11-tool takes
    /// it ("rsa:2048", "rsa:4096", "EC:prime256v1"), object label `object`.
    void generate(const std::string& object, const std::string& type) {
        char id[8];
        std::snprintf(id, sizeof id, "%02x", ++keys_);
        run_ok({"pkcs11-tool", "--module", softhsm_module, "--token-label", label_, "--login", "--pin", pin_,
                "--keypairgen", "--key-type", type, "--label", object, "--id", id},
               {}, env());
    }

    /// The RFC 7512 URI of `object` in this token.
    std::string uri(const std::string& object) const { return "pkcs11:token=" + label_ + ";object=" + object; }

private:
    temp_dir dir_holder_;
    fs::path dir_ = dir_holder_.path();
    std::string label_;
    std::string pin_;
    int keys_ = 0;
};

}  // namespace fitstream_test
