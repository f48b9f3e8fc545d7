// SPDX-License-Identifier: MIT
#pragma once

// fitpack's signing options (verified boot), kept apart from main.cpp:
//   --key-dir DIR | --key FILE.pem   sign (as mkimage -k DIR / -G FILE)
//   --key 'pkcs11:token=T;object=O'  sign with a key in a PKCS#11 token
//   --pin-file FILE                  the token's PIN (else $FITPACK_PKCS11_PIN)
//   --key-name NAME                  key-name-hint (default: the key file's base name)
//   --sign-algo CHECKSUM,CRYPTO      default: sha256 with the key's own crypto
//   --padding pkcs-1.5|pss           RSA padding
//   --sign-images LIST               configuration properties to cover
//   --image-signatures               a signature in every image node too
//   --key-dtb U-BOOT.dtb             write the public key into it (as mkimage -K)
//   --required [conf|image]          mark that key required (as mkimage -r)
//   --signer-name, --signer-version, --comment
// Everything is checked (key readable, suits the algo, matches a key of
// the same name already in the DTB) before the FIT is written; the new DTB
// is written to a temporary file before the FIT too, and renamed into place
// only after the FIT was, so a failure of either leaves both unchanged.

#include "exit_status.hpp"
#include "validators.hpp"

#include <fitstream/hash/builtin.hpp>
#include <fitstream/sign/key_dtb.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/tree.hpp>

#include <CLI/CLI.hpp>

#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fitpack {

/// --pin-file, shared by packing and image tree source modes: a PKCS#11
/// token's PIN is read from FILE (first line), else from the environment
/// variable FITPACK_PKCS11_PIN; never from the command line.
inline CLI::Option* add_pin_option(CLI::App& app, std::string& pin_file, const char* group) {
    return app
        .add_option("--pin-file", pin_file,
                    "A PKCS#11 token's PIN: the first line of FILE (default: $FITPACK_PKCS11_PIN; never on the "
                    "command line)")
        ->group(group);
}

/// A token's URI as --key or --key-dir gives it: --key 'pkcs11:...', or
/// --key-dir 'pkcs11:token=T' with --key-name O (mkimage -N pkcs11's rule);
/// empty for key files.
inline std::string token_key_uri(const std::string& key_dir, const std::string& key_file, const std::string& key_name) {
    if (fitstream::is_token_uri(key_file)) return key_file;
    if (fitstream::is_token_uri(key_dir)) return fitstream::mkimage_token_uri(key_dir, key_name);
    return {};
}

struct signing_arguments {
    std::string key_dir;
    std::string key_file;
    std::string key_name;
    std::string algo;
    std::string padding;
    std::vector<std::string> sign_images;
    bool image_signatures = false;
    std::string key_dtb;
    std::string required;
    std::string signer_name;
    std::string signer_version;
    std::string comment;
    std::string pin_file;  // --pin-file: a PKCS#11 token's PIN

    bool signing() const { return !key_dir.empty() || !key_file.empty(); }
};

inline void add_signing_options(CLI::App& app, signing_arguments& s) {
    const char* group = "Signing (U-Boot verified boot)";
    auto* key_dir = app.add_option("--key-dir", s.key_dir,
                                   "Sign with KEYDIR/<key-name>.key (.pem for ECDSA; without --sign-algo, .key "
                                   "else .pem), as mkimage -k")
                        ->group(group);
    app.add_option("--key", s.key_file,
                   "Sign with this PEM private key (RSA or EC), or the key a pkcs11: URI names in a PKCS#11 token "
                   "('pkcs11:token=T;object=O')")
        ->excludes(key_dir)
        ->group(group);
    app.add_option("--key-name", s.key_name,
                   "key-name-hint: names the key in U-Boot's DTB (default: the --key file's base name)")
        ->group(group);
    app.add_option("--sign-algo", s.algo,
                   "Signature algo CHECKSUM,CRYPTO: " + fitstream::signature_algorithm_names() +
                       "; default: sha256 with the key's type and size")
        ->group(group);
    app.add_option("--padding", s.padding, "RSA padding: pkcs-1.5 (default) or pss")
        ->check(CLI::IsMember({"pkcs-1.5", "pss"}))
        ->group(group);
    add_list_option(app, "--sign-images", s.sign_images,
                    "Configuration properties the signature covers, comma-separated (default: kernel, fdt, "
                    "ramdisk, loadables, each when present)")
        ->group(group);
    app.add_flag("--image-signatures", s.image_signatures,
                 "Sign every image node too (over its stored bytes; checked by keys required for images)")
        ->group(group);
    auto* key_dtb = app.add_option("--key-dtb", s.key_dtb,
                                   "Add the public key to this U-Boot control DTB (/signature/key-<name>), as "
                                   "mkimage -K")
                        ->group(group);
    app.add_option("--required", s.required,
                   "With --key-dtb: mark the key required for 'conf' (configurations) or 'image' (as mkimage -r)")
        ->check(CLI::IsMember({"conf", "image"}))
        ->needs(key_dtb)
        ->group(group);
    app.add_option("--signer-name", s.signer_name, "signer-name property (default: fitstream)")->group(group);
    app.add_option("--signer-version", s.signer_version, "signer-version property (default: fitstream's version)")
        ->group(group);
    app.add_option("--comment", s.comment, "comment property of each signature node")->group(group);
    add_pin_option(app, s.pin_file, group);
}

/// What apply_signing() prepared: the DTB update to make once the FIT is written.
struct signing_plan {
    std::optional<fitstream::key_dtb> dtb;
    fitstream::key_dtb_entry entry;
    std::unique_ptr<fitstream::file_sink> dtb_out;  // by stage_signing(), committed by finish_signing()
};

inline std::string key_base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    const auto dot = name.rfind('.');
    if (dot != std::string::npos && dot > 0) name.erase(dot);
    return name;
}

/// Adds the signature specs to `fit` and checks everything that could
/// fail (the key, its algo, the DTB) before a byte is written.
/// Throws usage_error for a command line that does not make sense.
inline signing_plan apply_signing(const signing_arguments& s, fitstream::tree& fit) {
    signing_plan plan;
    if (!s.signing()) {
        for (const auto* opt : {&s.key_name, &s.algo, &s.padding, &s.key_dtb, &s.required, &s.signer_name,
                                &s.signer_version, &s.comment, &s.pin_file})
            if (!opt->empty()) throw usage_error("signing options need --key-dir DIR or --key FILE");
        if (!s.sign_images.empty()) throw usage_error("signing options need --key-dir DIR or --key FILE");
        if (s.image_signatures) throw usage_error("--image-signatures needs --key-dir DIR or --key FILE");
        return plan;
    }
    fitstream::signature_spec spec;
    spec.key_dir = s.key_dir;
    spec.key_file = s.key_file;
    spec.key_name_hint = !s.key_name.empty() ? s.key_name : s.key_file.empty() ? "" : key_base_name(s.key_file);
    // A token key: the key name defaults to the URI's object.
    const bool token = fitstream::is_token_uri(s.key_file) || fitstream::is_token_uri(s.key_dir);
    if (token && s.key_name.empty() && !s.key_file.empty()) spec.key_name_hint = fitstream::parse_token_uri(s.key_file).object;
    if (token && spec.key_name_hint.empty() && !s.key_file.empty())
        throw usage_error("--key " + fitstream::parse_token_uri(s.key_file).path +
                          ": no object= in the URI to name the key: give --key-name");
    if (!token && !s.pin_file.empty()) throw usage_error("--pin-file needs a key in a token (--key 'pkcs11:...')");
    if (spec.key_name_hint.empty()) throw usage_error("--key-dir needs --key-name (the key is <DIR>/<NAME>.key)");
    // U-Boot finds the key as /signature/key-NAME: NAME must be a node-name part.
    fitstream::check_key_name_hint(spec.key_name_hint,
                                   s.key_name.empty() ? "--key (its base name; give --key-name)" : "--key-name");
    spec.padding = s.padding == "pss" ? fitstream::signature_padding::pss : fitstream::signature_padding::pkcs1_5;
    if (s.required == "image" && !s.image_signatures)
        throw usage_error("--required image needs --image-signatures (else U-Boot refuses every image)");
    for (const auto& property : s.sign_images)
        if (!property.empty()) spec.sign_images.push_back(property);
    if (!s.signer_name.empty()) spec.signer_name = s.signer_name;
    spec.signer_version = s.signer_version;
    spec.comment = s.comment;

    // The key now: its type gives the default algo, and a bad key fails
    // before anything is written. Errors name the file, never the key.
    spec.algo = s.algo.empty() ? "sha256,rsa2048" : s.algo;  // for signature_key_path's .pem rule
    std::string key_path = token ? std::string() : fitstream::signature_key_path(spec, "--key-dir");
    if (!token && !s.key_dir.empty()) {
        // Without --sign-algo the type is the key's own: NAME.key (mkimage's
        // RSA name), else NAME.pem (its ECDSA name).
        const std::string base = s.key_dir + "/" + spec.key_name_hint;
        if (s.algo.empty() && !std::ifstream(base + ".key").good() && std::ifstream(base + ".pem").good())
            key_path = base + ".pem";
        // The writer loads the same file, whatever the algo turns out to be.
        spec.key_file = key_path;
        spec.key_dir.clear();
    }
    std::shared_ptr<const fitstream::signing_key> key;
    if (token) {
        // Opened once (one login), then handed to the writer as the signer.
        fitstream::token_options options;
        options.pin_file = s.pin_file;
        key = fitstream::signing_key::load_token(token_key_uri(s.key_dir, s.key_file, spec.key_name_hint), options);
        spec.key_signer = key;
        spec.key_file.clear();
        spec.key_dir.clear();
    } else {
        key = fitstream::signing_key::load(key_path);
    }
    if (s.algo.empty()) spec.algo = "sha256," + (key->is_rsa() ? "rsa" + std::to_string(key->bits())
                                                                : key->curve() == "secp384r1" ? "ecdsa384" : "ecdsa256");
    const auto algo = fitstream::parse_signature_algorithm(spec.algo);
    key->check_for(algo, spec.padding);

    for (auto& conf : fit.configurations) conf.signatures.push_back(spec);
    if (s.image_signatures) {
        auto image_spec = spec;
        image_spec.sign_images.clear();
        for (auto& img : fit.images) {
            // An image signature signs its hash of the same algorithm: add one if missing.
            bool has = false;
            for (const auto& h : img.hashes()) has = has || h.fit_name == algo.checksum;
            if (!has) fitstream::visit_hash(algo.checksum, [&](auto tag) { img.add_hash<typename decltype(tag)::type>(); });
            img.signatures.push_back(image_spec);
        }
    }
    if (!s.key_dtb.empty()) {
        plan.entry = {key, spec.key_name_hint, spec.algo, s.required};
        plan.dtb.emplace(s.key_dtb);
        plan.dtb->check(plan.entry);
    }
    return plan;
}

/// Adds the public key to the DTB and writes it to a temporary file beside
/// it, before the FIT is written: a DTB that cannot be written (read-only
/// directory, full disk) then fails with neither file changed.
inline void stage_signing(signing_plan& plan) {
    if (!plan.dtb) return;
    plan.dtb->add(plan.entry);
    plan.dtb_out = plan.dtb->stage();
}

/// Renames the staged DTB into place, once the FIT has been committed.
inline void finish_signing(signing_plan& plan) {
    if (plan.dtb_out) plan.dtb_out->commit(fdt_totalsize(plan.dtb->blob()));
}

}  // namespace fitpack
