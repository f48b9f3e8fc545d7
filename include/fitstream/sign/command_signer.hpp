// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// A signer that runs an external command once per signature: a signing
/// service's client, an HSM tool, `openssl pkeyutl` on another user's key.
/// fitpack's `--sign-command CMD` (examples/fitpack/sign-with-openssl.sh is
/// the documented example).
///
/// The command runs as `/bin/sh -c CMD`, in a process group of its own,
/// with these variables added to fitpack's environment (nothing of the FIT
/// is put on its command line):
///
/// | variable                  | value, e.g.                                 |
/// |---------------------------|---------------------------------------------|
/// | FITSTREAM_SIGN_ALGO       | `sha256,rsa2048` (the node's `algo`)        |
/// | FITSTREAM_SIGN_CHECKSUM   | `sha256` (sha1, sha256, sha384, sha512)     |
/// | FITSTREAM_SIGN_CRYPTO     | `rsa2048` (rsa3072, rsa4096, ecdsa256, ecdsa384) |
/// | FITSTREAM_SIGN_PADDING    | `pkcs-1.5` or `pss` (RSA; `pkcs-1.5` for ECDSA) |
/// | FITSTREAM_SIGN_KEY_NAME   | the key-name-hint, e.g. `release`           |
/// | FITSTREAM_SIGN_NODE       | `/configurations/conf-1/signature-1`        |
/// | FITSTREAM_SIGN_INPUT      | `digest` or `message`: what is on stdin     |
/// | FITSTREAM_SIGN_SIZE       | bytes of a raw signature (256; ECDSA r‖s 64) |
///
/// Standard input holds the digest (FITSTREAM_SIGN_CHECKSUM of the signed
/// bytes) or, with sign_command_input::message, the signed bytes themselves
/// (configuration signatures only: an image signature's bytes are the image,
/// which the writer streams and does not keep). Standard output must be the
/// raw signature: RSA exactly FITSTREAM_SIGN_SIZE bytes (PSS with the
/// longest salt, as U-Boot checks); ECDSA either r‖s (FITSTREAM_SIGN_SIZE
/// bytes) or a DER ECDSA-Sig-Value, as `openssl pkeyutl` prints. Standard
/// error is left to the terminal.
///
/// Every value is checked against the public key before it is returned, so
/// a wrong key, a wrong padding or a broken service fails the build with one
/// line naming the command (its first word: arguments may hold secrets) and
/// the reason: a non-zero exit, a signal, no output, output of the wrong
/// size, the timeout, or a signature that does not verify.
///
/// @code
/// fitstream::command_signer_options o;
/// o.command = "examples/fitpack/sign-with-openssl.sh";
/// o.key = std::make_shared<const fitstream::public_key>(fitstream::public_key::load("release.pub.pem"));
/// spec.key_signer = std::make_shared<fitstream::command_signer>(o);
/// @endcode

#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/detail/sign/run_command.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sign/algorithm.hpp>
#include <fitstream/sign/public_key.hpp>
#include <fitstream/sign/signer.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {

/// What a signing command reads on standard input.
enum class sign_command_input {
    digest,   ///< the digest of the signed bytes (every signature)
    message,  ///< the signed bytes (configuration signatures only)
};

/// How to run a signing command.
struct command_signer_options {
    /// The command line, run by /bin/sh -c.
    std::string command;
    sign_command_input input = sign_command_input::digest;
    /// The public key its signatures must verify with (required).
    std::shared_ptr<const public_key> key;
    /// How long one signature may take before the command is killed.
    std::chrono::milliseconds timeout = std::chrono::minutes(5);
};

/// Signs by running a command (see the file comment).
class command_signer : public signer {
public:
    /// @throws fitstream::error (errc::invalid_argument) when the command is
    ///         empty or no public key is given.
    explicit command_signer(command_signer_options options) : options_(std::move(options)) {
        const auto start = options_.command.find_first_not_of(" \t\n");
        if (start == std::string::npos) throw error(errc::invalid_argument, "--sign-command", "the command is empty");
        const auto end = options_.command.find_first_of(" \t\n", start);
        name_ = "sign command '" + options_.command.substr(start, end == std::string::npos ? end : end - start) + "'";
        if (!options_.key)
            throw error(errc::invalid_argument, name_, "needs the public key its signatures verify with");
        if (options_.timeout.count() <= 0) throw error(errc::invalid_argument, name_, "the timeout must be positive");
    }

    /// "sign command 'FIRST-WORD'": the arguments are not shown.
    const std::string& name() const override { return name_; }

    /// Checks that the public key is of `algo`'s type and size.
    /// @throws fitstream::error (errc::invalid_argument) naming the command.
    void check_for(const signature_algorithm& algo, signature_padding padding) const override {
        const auto& key = *options_.key;
        bool fits = algo.rsa == key.is_rsa() && key.bits() == algo.key_bits;
        if (fits && !algo.rsa) {
            char curve[80] = {};
            std::size_t len = 0;
            fits = EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve, &len) == 1 &&
                   algo.curve == curve;
        }
        if (!fits)
            throw error(errc::invalid_argument, name_,
                        "public key " + key.name() + " is " + describe(key) + ", but " + algo.name + " needs " +
                            (algo.rsa ? "RSA-" + std::to_string(algo.key_bits) : "EC " + algo.curve));
        if (!algo.rsa && padding == signature_padding::pss)
            throw error(errc::invalid_argument, algo.name, "PSS padding applies to RSA only");
    }

    std::shared_ptr<const public_key> public_half() const override { return options_.key; }
    bool wants_message() const override { return options_.input == sign_command_input::message; }
    bool concurrent() const override { return true; }

    /// Runs the command for `request` and checks its answer.
    /// @returns the value in U-Boot's encoding (RSA raw, ECDSA r‖s).
    /// @throws fitstream::error naming the command: the command cannot be
    ///         started (OS error); message input for an image signature,
    ///         a non-zero exit, a signal, the timeout, no output, output of
    ///         the wrong size or a signature that does not verify with the
    ///         public key (errc::invalid_input / errc::invalid_argument).
    std::vector<std::uint8_t> sign(const signing_request& request) const override {
        const bool message = options_.input == sign_command_input::message;
        if (message && request.message.empty())
            throw error(errc::invalid_argument, name_,
                        request.node + ": message input signs configurations only (an image signature signs the "
                                       "image data, which is streamed, not kept): use digest input");
        const char* padding = request.padding == signature_padding::pss ? "pss" : "pkcs-1.5";
        const std::vector<std::string> env{
            "FITSTREAM_SIGN_ALGO=" + request.algo.name,
            "FITSTREAM_SIGN_CHECKSUM=" + request.algo.checksum,
            "FITSTREAM_SIGN_CRYPTO=" + request.algo.crypto,
            std::string("FITSTREAM_SIGN_PADDING=") + padding,
            "FITSTREAM_SIGN_KEY_NAME=" + request.key_name_hint,
            "FITSTREAM_SIGN_NODE=" + request.node,
            std::string("FITSTREAM_SIGN_INPUT=") + (message ? "message" : "digest"),
            "FITSTREAM_SIGN_SIZE=" + std::to_string(request.algo.signature_size),
        };
        // A DER ECDSA signature is at most 9 bytes longer than r‖s.
        const std::size_t max_output = request.algo.signature_size + 16;
        const auto r = detail::run_command(options_.command, env, message ? request.message : request.digest,
                                           options_.timeout, max_output, name_);
        const auto fail = [&](const std::string& why) {
            return error(errc::invalid_input, name_, request.node + ": " + why);
        };
        using ending = detail::command_result::ending;
        switch (r.how) {
            case ending::timed_out:
                throw fail("timed out after " + seconds(options_.timeout) + " (killed; --sign-timeout)");
            case ending::too_much_output:
                throw fail("printed more than " + std::to_string(max_output) + " bytes: not a " + request.algo.name +
                           " signature");
            case ending::signalled:
                throw fail("killed by " + detail::signal_name(r.code));
            case ending::exited:
                if (r.code != 0)
                    throw fail("exited with status " + std::to_string(r.code) +
                               (r.code == 127 ? " (the shell found no such command)"
                                : r.code == 126 ? " (the shell could not run it: not executable?)"
                                                : ""));
                break;
        }
        if (r.out.empty()) throw fail("printed no signature");

        // The candidates: raw (RSA; ECDSA r‖s), or ECDSA DER.
        std::vector<std::vector<std::uint8_t>> candidates;
        if (r.out.size() == request.algo.signature_size) candidates.push_back(r.out);
        if (!request.algo.rsa) {
            auto der = from_der(r.out, request.algo.signature_size);
            if (!der.empty()) candidates.push_back(std::move(der));
        }
        if (candidates.empty())
            throw fail("printed " + std::to_string(r.out.size()) + " bytes, but a " + request.algo.name +
                       " signature is " + std::to_string(request.algo.signature_size) + " bytes" +
                       (request.algo.rsa ? "" : " (r and s raw) or a DER ECDSA signature"));
        for (const auto& value : candidates)
            if (options_.key->verify_digest(request.algo, request.padding, request.digest, value.data(), value.size()))
                return value;
        throw fail("the signature does not verify with the public key " + options_.key->name() +
                   (request.padding == signature_padding::pss ? " (PSS: U-Boot checks the longest salt; openssl "
                                                               "pkeyutl -pkeyopt rsa_pss_saltlen:max)"
                                                             : ""));
    }

private:
    static std::string describe(const public_key& key) {
        if (key.is_rsa()) return "RSA-" + std::to_string(key.bits());
        char curve[80] = {};
        std::size_t len = 0;
        EVP_PKEY_get_utf8_string_param(key.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve, sizeof curve, &len);
        return std::string("EC ") + curve;
    }

    static std::string seconds(std::chrono::milliseconds t) {
        const auto ms = t.count();
        return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
    }

    // r‖s of a DER ECDSA-Sig-Value that is exactly `bytes`, or empty.
    static std::vector<std::uint8_t> from_der(const std::vector<std::uint8_t>& bytes, std::size_t size) {
        ERR_clear_error();
        const unsigned char* p = bytes.data();
        detail::ecdsa_sig_ptr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(bytes.size())));
        if (!sig || p != bytes.data() + bytes.size()) {
            ERR_clear_error();
            return {};
        }
        const BIGNUM *r = nullptr, *s = nullptr;
        ECDSA_SIG_get0(sig.get(), &r, &s);
        if (BN_num_bytes(r) > static_cast<int>(size / 2) || BN_num_bytes(s) > static_cast<int>(size / 2)) return {};
        std::vector<std::uint8_t> out(size);
        BN_bn2binpad(r, out.data(), static_cast<int>(size / 2));
        BN_bn2binpad(s, out.data() + size / 2, static_cast<int>(size / 2));
        return out;
    }

    command_signer_options options_;
    std::string name_;
};

}  // namespace fitstream
