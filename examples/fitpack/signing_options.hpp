// SPDX-License-Identifier: MIT
#pragma once

// fitpack's signing options (verified boot), kept apart from main.cpp.
// Each key starts a group; the per-key options after it belong to it:
//   --key-dir DIR | --key FILE.pem   sign with a key file (as mkimage -k DIR / -G FILE)
//   --key 'pkcs11:token=T;object=O'  sign with a key in a PKCS#11 token (also --key-dir 'pkcs11:token=T')
//   --sign-command CMD               sign by running CMD (command_signer.hpp)
//     --key-name NAME                key-name-hint (default: the key file's base name)
//     --sign-algo CHECKSUM,CRYPTO    default: sha256 with the key's own crypto
//     --padding pkcs-1.5|pss         RSA padding
//     --required [conf|image]        mark that key required in --key-dtb (as mkimage -r)
//     --public-key PEM               the command's public key (else the --key-dtb key of that name)
//     --sign-command-input digest|message
// With one key the per-key options may come anywhere (every command line of
// earlier releases works unchanged); with several, each key's options follow
// it, and each configuration gets signature-1, signature-2, ... in order.
// Options for all keys:
//   --sign-images LIST               configuration properties to cover
//   --image-signatures               a signature in every image node too
//   --key-dtb U-BOOT.dtb             write the public keys into it (as mkimage -K)
//   --required-mode any|all          /signature required-mode in --key-dtb
//   --sign-timeout SECONDS           bound on each --sign-command run
//   --pin-file FILE                  a token's PIN (else $FITPACK_PKCS11_PIN)
//   --signer-name, --signer-version, --comment
// Everything is checked (key readable, suits the algo, matches a key of
// the same name already in the DTB) before the FIT is written; the new DTB
// is written to a temporary file before the FIT too, and renamed into place
// only after the FIT was, so a failure of either leaves both unchanged.

#include "exit_status.hpp"
#include "validators.hpp"

#include <fitstream/hash/builtin.hpp>
#include <fitstream/sign/command_signer.hpp>
#include <fitstream/sign/key_dtb.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/sign/token.hpp>
#include <fitstream/tree.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
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

/// One key's options, as grouped by group_keys().
struct key_arguments {
    std::string source_option;  ///< "--key-dir", "--key" or "--sign-command"
    std::string source;         ///< its value
    std::string key_name;
    std::string algo;
    std::string padding;
    std::string required;
    std::string public_key;
    std::string input;  ///< --sign-command-input
};

struct signing_arguments {
    // Each occurrence of these starts a key.
    std::vector<std::string> key_dir;
    std::vector<std::string> key_file;
    std::vector<std::string> sign_command;
    // Per key, each occurrence in command-line order.
    std::vector<std::string> key_name;
    std::vector<std::string> algo;
    std::vector<std::string> padding;
    std::vector<std::string> required;
    std::vector<std::string> public_key;
    std::vector<std::string> input;
    // For all keys.
    std::vector<std::string> sign_images;
    bool image_signatures = false;
    std::string key_dtb;
    std::string required_mode;
    double sign_timeout = 0;  // 0: not given (command_signer's default)
    std::string signer_name;
    std::string signer_version;
    std::string comment;
    std::string pin_file;  // --pin-file: a PKCS#11 token's PIN, for every token key
    const CLI::App* app = nullptr;  // for the order the options came in

    bool signing() const { return !key_dir.empty() || !key_file.empty() || !sign_command.empty(); }
};

/// The per-key option names, and where each one's values are.
inline std::vector<std::pair<const char*, const std::vector<std::string>*>> per_key_options(
    const signing_arguments& s) {
    return {{"--key-name", &s.key_name},   {"--sign-algo", &s.algo},    {"--padding", &s.padding},
            {"--required", &s.required},   {"--public-key", &s.public_key}, {"--sign-command-input", &s.input}};
}

/// The keys of the command line, each with its options (see the file
/// comment). Throws usage_error for an option that belongs to no key or is
/// given twice for one.
inline std::vector<key_arguments> group_keys(const signing_arguments& s) {
    std::vector<key_arguments> keys;
    std::vector<std::pair<std::string, std::string>> before;  // per-key options before the first key
    std::map<std::string, std::size_t> seen;
    const auto field = [](key_arguments& k, const std::string& option) -> std::string& {
        if (option == "--key-name") return k.key_name;
        if (option == "--sign-algo") return k.algo;
        if (option == "--padding") return k.padding;
        if (option == "--required") return k.required;
        if (option == "--public-key") return k.public_key;
        return k.input;
    };
    const auto set = [&](key_arguments& k, const std::string& option, const std::string& value) {
        auto& f = field(k, option);
        if (!f.empty()) throw usage_error(option + " given twice for the key " + k.source_option + " " + k.source);
        f = value;
    };
    const std::vector<std::pair<const char*, const std::vector<std::string>*>> sources{
        {"--key-dir", &s.key_dir}, {"--key", &s.key_file}, {"--sign-command", &s.sign_command}};
    const auto per_key = per_key_options(s);
    if (!s.app) throw std::logic_error("group_keys: add_signing_options() was not called");
    for (const CLI::Option* opt : s.app->parse_order()) {
        const std::string name = opt->get_name();
        const std::size_t index = seen[name]++;
        bool done = false;
        for (const auto& [source, values] : sources)
            if (name == source && index < values->size()) {
                key_arguments k;
                k.source_option = source;
                k.source = (*values)[index];
                keys.push_back(std::move(k));
                done = true;
            }
        if (done) continue;
        for (const auto& [option, values] : per_key)
            if (name == option && index < values->size()) {
                if (keys.empty())
                    before.emplace_back(option, (*values)[index]);
                else
                    set(keys.back(), option, (*values)[index]);
            }
    }
    if (!before.empty()) {
        if (keys.size() != 1)
            throw usage_error(before.front().first + " comes before the first key: with several keys, give each "
                              "key's options after its --key, --key-dir or --sign-command");
        for (const auto& [option, value] : before) set(keys.front(), option, value);
    }
    return keys;
}

inline void add_signing_options(CLI::App& app, signing_arguments& s) {
    s.app = &app;
    const char* group = "Signing (U-Boot verified boot)";
    const auto many = CLI::MultiOptionPolicy::TakeAll;
    app.add_option("--key-dir", s.key_dir,
                   "Sign with KEYDIR/<key-name>.key (.pem for ECDSA; without --sign-algo, .key else .pem), as "
                   "mkimage -k; repeat for more keys (signature-1, -2, ...)")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(many)
        ->group(group);
    app.add_option("--key", s.key_file,
                   "Sign with this PEM private key (RSA or EC), or the key a pkcs11: URI names in a PKCS#11 token "
                   "('pkcs11:token=T;object=O'); repeat for more keys")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(many)
        ->group(group);
    app.add_option("--sign-command", s.sign_command,
                   "Sign by running CMD (/bin/sh -c) per signature: digest or message on stdin, FITSTREAM_SIGN_* "
                   "in its environment, the raw signature on stdout; needs --key-name and --public-key or "
                   "--key-dtb holding that key")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(many)
        ->group(group);
    app.add_option("--key-name", s.key_name,
                   "key-name-hint: names the key in U-Boot's DTB (default: the --key file's base name); with "
                   "several keys, each key's options follow it")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(many)
        ->group(group);
    app.add_option("--sign-algo", s.algo,
                   "Signature algo CHECKSUM,CRYPTO: " + fitstream::signature_algorithm_names() +
                       "; default: sha256 with the key's type and size")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(many)
        ->group(group);
    app.add_option("--padding", s.padding, "RSA padding: pkcs-1.5 (default) or pss")
        ->check(CLI::IsMember({"pkcs-1.5", "pss"}))
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(many)
        ->group(group);
    app.add_option("--public-key", s.public_key,
                   "With --sign-command: the PEM public key its signatures must verify with (default: the "
                   "--key-dtb key of the same name)")
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(many)
        ->group(group);
    app.add_option("--sign-command-input", s.input,
                   "With --sign-command: what it reads on stdin, the digest (default) or the signed message "
                   "(configuration signatures only)")
        ->check(CLI::IsMember({"digest", "message"}))
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(many)
        ->group(group);
    app.add_option("--sign-timeout", s.sign_timeout,
                   "With --sign-command: seconds one signature may take before the command is killed (default 300)")
        ->check(CLI::Range(0.001, 86400.0))
        ->group(group);
    add_list_option(app, "--sign-images", s.sign_images,
                    "Configuration properties the signature covers, comma-separated (default: kernel, fdt, "
                    "ramdisk, loadables, each when present)")
        ->group(group);
    app.add_flag("--image-signatures", s.image_signatures,
                 "Sign every image node too (over its stored bytes; checked by keys required for images)")
        ->group(group);
    auto* key_dtb = app.add_option("--key-dtb", s.key_dtb,
                                   "Add the public keys to this U-Boot control DTB (/signature/key-<name>), as "
                                   "mkimage -K")
                        ->group(group);
    app.add_option("--required", s.required,
                   "With --key-dtb: mark the key required for 'conf' (configurations) or 'image' (as mkimage -r)")
        ->check(CLI::IsMember({"conf", "image"}))
        ->expected(1)
        ->allow_extra_args(false)
        ->multi_option_policy(many)
        ->needs(key_dtb)
        ->group(group);
    app.add_option("--required-mode", s.required_mode,
                   "With --key-dtb: /signature required-mode, all (every required key must verify) or any (one "
                   "suffices: an old and a new key during rotation)")
        ->check(CLI::IsMember({"any", "all"}))
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
    std::vector<fitstream::key_dtb_entry> entries;
    std::string required_mode;
    std::vector<std::string> inputs;  // files read (public keys): no output may be one
    std::unique_ptr<fitstream::file_sink> dtb_out;  // by stage_signing(), committed by finish_signing()
};

inline std::string key_base_name(const std::string& path) {
    const auto slash = path.rfind('/');
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    const auto dot = name.rfind('.');
    if (dot != std::string::npos && dot > 0) name.erase(dot);
    return name;
}

/// "sha256,<the key's crypto>": the default algo for a key.
inline std::string default_algo(bool rsa, unsigned bits) {
    return "sha256," + (rsa ? "rsa" + std::to_string(bits) : bits == 384 ? "ecdsa384" : "ecdsa256");
}

/// One key of the command line made into a signature spec and its signer;
/// `dtb` (may be null) holds the public key of a --sign-command without
/// --public-key. Errors name the file or command, never key material.
inline std::pair<fitstream::signature_spec, std::shared_ptr<const fitstream::signer>> make_key(
    const key_arguments& k, const signing_arguments& s, const fitstream::key_dtb* dtb, signing_plan& plan) {
    fitstream::signature_spec spec;
    const bool command = k.source_option == "--sign-command";
    if (!command && !k.public_key.empty())
        throw usage_error("--public-key belongs to a --sign-command (a key file has its own public key)");
    if (!command && !k.input.empty()) throw usage_error("--sign-command-input belongs to a --sign-command");
    // A key in a token: --key 'pkcs11:...', or --key-dir 'pkcs11:token=T' with --key-name.
    const bool token = !command && fitstream::is_token_uri(k.source);
    spec.key_name_hint = !k.key_name.empty()                 ? k.key_name
                         : token && k.source_option == "--key" ? fitstream::parse_token_uri(k.source).object
                         : k.source_option == "--key"        ? key_base_name(k.source)
                                                             : "";
    if (token && spec.key_name_hint.empty() && k.source_option == "--key")
        throw usage_error("--key " + fitstream::parse_token_uri(k.source).path +
                          ": no object= in the URI to name the key: give --key-name");
    if (spec.key_name_hint.empty())
        throw usage_error(k.source_option + " needs --key-name" +
                          (command ? " (the key-name-hint, and the key's name in --key-dtb)"
                           : token ? " (the key is the token's object NAME)"
                                   : " (the key is <DIR>/<NAME>.key)"));
    // U-Boot finds the key as /signature/key-NAME: NAME must be a node-name part.
    fitstream::check_key_name_hint(spec.key_name_hint,
                                   !k.key_name.empty() ? "--key-name"
                                   : token             ? "--key (the URI's object=; give --key-name)"
                                                       : "--key (its base name; give --key-name)");
    spec.padding = k.padding == "pss" ? fitstream::signature_padding::pss : fitstream::signature_padding::pkcs1_5;
    for (const auto& property : s.sign_images)
        if (!property.empty()) spec.sign_images.push_back(property);
    if (!s.signer_name.empty()) spec.signer_name = s.signer_name;
    spec.signer_version = s.signer_version;
    spec.comment = s.comment;

    std::shared_ptr<const fitstream::signer> key;
    if (command) {
        // The public key the command's signatures must verify with.
        std::shared_ptr<const fitstream::public_key> pub;
        if (!k.public_key.empty()) {
            pub = std::make_shared<const fitstream::public_key>(fitstream::public_key::load(k.public_key));
            plan.inputs.push_back(k.public_key);
        } else if (dtb) {
            for (auto& present : dtb->keys())
                if (present.name == spec.key_name_hint) pub = present.key;
            if (!pub)
                throw fitstream::error(fitstream::errc::invalid_argument, dtb->path(),
                                       "no /signature/key-" + spec.key_name_hint +
                                           " to check the sign command's signatures with: give --public-key PEM");
        } else {
            throw usage_error("--sign-command needs --public-key PEM, or --key-dtb holding key-" +
                              spec.key_name_hint + ": its signatures are checked before the FIT is written");
        }
        fitstream::command_signer_options o;
        o.command = k.source;
        o.key = pub;
        o.input = k.input == "message" ? fitstream::sign_command_input::message : fitstream::sign_command_input::digest;
        if (s.sign_timeout > 0)
            o.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(s.sign_timeout * 1000 + 0.5));
        if (o.input == fitstream::sign_command_input::message && s.image_signatures)
            throw usage_error("--sign-command-input message signs configurations only: --image-signatures needs "
                              "digest input (an image's signed bytes are its data, which fitpack streams)");
        auto signer = std::make_shared<const fitstream::command_signer>(o);
        spec.algo = !k.algo.empty() ? k.algo : default_algo(pub->is_rsa(), pub->bits());
        spec.key_signer = signer;
        key = signer;
    } else if (token) {
        // Opened once (one login), then handed to the writer as the signer.
        // Errors name the URI without its query, never the PIN.
        fitstream::token_options options;
        options.pin_file = s.pin_file;
        const auto token_key = fitstream::signing_key::load_token(
            k.source_option == "--key" ? k.source : fitstream::mkimage_token_uri(k.source, spec.key_name_hint),
            options);
        if (k.algo.empty())
            spec.algo = default_algo(token_key->is_rsa(), token_key->is_rsa() ? token_key->bits()
                                                          : token_key->curve() == "secp384r1" ? 384 : 256);
        else
            spec.algo = k.algo;
        spec.key_signer = token_key;
        key = token_key;
    } else {
        // The key now: its type gives the default algo, and a bad key fails
        // before anything is written.
        spec.key_dir = k.source_option == "--key-dir" ? k.source : "";
        spec.key_file = k.source_option == "--key" ? k.source : "";
        spec.algo = k.algo.empty() ? "sha256,rsa2048" : k.algo;  // for signature_key_path's .pem rule
        std::string key_path = fitstream::signature_key_path(spec, "--key-dir");
        if (!spec.key_dir.empty()) {
            // Without --sign-algo the type is the key's own: NAME.key (mkimage's
            // RSA name), else NAME.pem (its ECDSA name).
            const std::string base = spec.key_dir + "/" + spec.key_name_hint;
            if (k.algo.empty() && !std::ifstream(base + ".key").good() && std::ifstream(base + ".pem").good())
                key_path = base + ".pem";
            // The writer loads the same file, whatever the algo turns out to be.
            spec.key_file = key_path;
            spec.key_dir.clear();
        }
        const auto file_key = fitstream::signing_key::load(key_path);
        if (k.algo.empty())
            spec.algo = default_algo(file_key->is_rsa(), file_key->is_rsa() ? file_key->bits()
                                                         : file_key->curve() == "secp384r1" ? 384 : 256);
        // The writer signs with this very key (read once): the key DTB gets
        // its public half, so the two cannot differ. key_file stays set for
        // the check that no output overwrites it.
        spec.key_signer = file_key;
        key = file_key;
    }
    key->check_for(fitstream::parse_signature_algorithm(spec.algo), spec.padding);
    return {spec, key};
}

/// Throws usage_error for --pin-file without a key in a token.
inline void check_pin_file_has_token(const signing_arguments& s) {
    bool any_token = false;
    for (const auto* sources : {&s.key_file, &s.key_dir})
        for (const auto& source : *sources) any_token = any_token || fitstream::is_token_uri(source);
    if (!any_token && !s.pin_file.empty()) throw usage_error("--pin-file needs a key in a token (--key 'pkcs11:...')");
}

/// Refuses signing options given without a key (--key-dir, --key or
/// --sign-command): they would do nothing.
/// Throws usage_error naming the first.
inline void refuse_signing_options_without_key(const signing_arguments& s) {
    for (const auto& [option, values] : per_key_options(s))
        if (!values->empty())
            throw usage_error(std::string(option) + " needs a key: --key-dir DIR, --key FILE or --sign-command CMD");
    for (const auto* opt : {&s.key_dtb, &s.required_mode, &s.signer_name, &s.signer_version, &s.comment})
        if (!opt->empty()) throw usage_error("signing options need --key-dir DIR or --key FILE");
    if (!s.sign_images.empty()) throw usage_error("signing options need --key-dir DIR or --key FILE");
    if (s.image_signatures) throw usage_error("--image-signatures needs --key-dir DIR or --key FILE");
    if (s.sign_timeout > 0) throw usage_error("--sign-timeout needs --sign-command CMD");
    if (!s.pin_file.empty()) throw usage_error("--pin-file needs a key in a token (--key 'pkcs11:...')");
}

/// Adds the signature specs to `fit` and checks everything that could
/// fail (the keys, their algos, the DTB) before a byte is written.
/// Throws usage_error for a command line that does not make sense.
inline signing_plan apply_signing(const signing_arguments& s, fitstream::tree& fit) {
    signing_plan plan;
    if (!s.signing()) {
        refuse_signing_options_without_key(s);
        return plan;
    }
    check_pin_file_has_token(s);
    if (s.sign_timeout > 0 && s.sign_command.empty()) throw usage_error("--sign-timeout needs --sign-command CMD");
    const auto keys = group_keys(s);
    if (!s.key_dtb.empty()) plan.dtb.emplace(s.key_dtb);
    std::vector<fitstream::signature_spec> specs;
    for (const auto& k : keys) {
        auto [spec, key] = make_key(k, s, plan.dtb ? &*plan.dtb : nullptr, plan);
        for (const auto& other : specs)
            if (other.key_name_hint == spec.key_name_hint)
                throw usage_error("two keys named '" + spec.key_name_hint +
                                  "': each key needs its own --key-name (U-Boot finds it as /signature/key-NAME)");
        if (k.required == "image" && !s.image_signatures)
            throw usage_error("--required image needs --image-signatures (else U-Boot refuses every image)");
        if (plan.dtb) plan.entries.push_back({key, spec.key_name_hint, spec.algo, k.required});
        specs.push_back(std::move(spec));
    }

    for (auto& conf : fit.configurations)
        for (const auto& spec : specs) conf.signatures.push_back(spec);
    if (s.image_signatures) {
        for (auto& img : fit.images) {
            for (const auto& spec : specs) {
                auto image_spec = spec;
                image_spec.sign_images.clear();
                // An image signature signs its hash of the same algorithm: add one if missing.
                const auto checksum = fitstream::parse_signature_algorithm(spec.algo).checksum;
                bool has = false;
                for (const auto& h : img.hashes()) has = has || h.fit_name == checksum;
                if (!has) fitstream::visit_hash(checksum, [&](auto tag) { img.add_hash<typename decltype(tag)::type>(); });
                img.signatures.push_back(image_spec);
            }
        }
    }
    if (plan.dtb) {
        for (const auto& entry : plan.entries) plan.dtb->check(entry);
        plan.required_mode = s.required_mode;
    }
    return plan;
}

/// Adds the public key to the DTB and writes it to a temporary file beside
/// it, before the FIT is written: a DTB that cannot be written (read-only
/// directory, full disk) then fails with neither file changed.
inline void stage_signing(signing_plan& plan) {
    if (!plan.dtb) return;
    for (const auto& entry : plan.entries) plan.dtb->add(entry);
    if (!plan.required_mode.empty()) plan.dtb->set_required_mode(plan.required_mode);
    plan.dtb_out = plan.dtb->stage();
}

/// Renames the staged DTB into place, once the FIT has been committed.
inline void finish_signing(signing_plan& plan) {
    if (plan.dtb_out) plan.dtb_out->commit(fdt_totalsize(plan.dtb->blob()));
}

}  // namespace fitpack
