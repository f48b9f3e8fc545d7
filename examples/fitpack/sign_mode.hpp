// SPDX-License-Identifier: MIT
#pragma once

// fitpack sign: re-sign a FIT that exists (fitstream/sign/resign.hpp), as
// mkimage -F -k KEYDIR [-K DTB] [-r] does, or in two steps offline
// (fitstream/sign/two_step.hpp):
//   fitpack sign FIT [-o OUT] --key-dir DIR | --key FILE [--key-name NAME ...] [--add-hashes ALGO]
//   fitpack sign --prepare FIT -o OUT --request REQ [--key-name NAME --sign-algo ALGO ...]
//   fitpack sign --complete FIT --signatures RESPONSE [-o OUT] (--key-dtb DTB | --public-key PEM)
// Every signature node already in the FIT is filled (its key-name-hint
// finds KEYDIR/<hint>.key, .pem for ECDSA, as mkimage); --key-name adds one
// to every configuration (and image, --image-signatures), replacing one of
// the same name. Without -o the FIT is replaced in place, through a
// temporary file renamed over it; an input is never written.

#include "exit_status.hpp"
#include "outputs.hpp"
#include "signing_options.hpp"

#include <fitstream/fitstream.hpp>
#include <fitstream/sign/resign.hpp>
#include <fitstream/sign/two_step.hpp>

#include <CLI/CLI.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fitpack {

inline bool is_sign_verb(const std::vector<std::string>& args) {
    if (args.empty() || args.front() != "sign") return false;
    struct stat st {};
    return ::stat("sign", &st) != 0;
}

namespace sign_verb {

// The sink for the result: OUT, or the FIT itself (temporary file renamed
// over it) when no -o is given.
inline std::unique_ptr<fitstream::sink> open_result(const std::string& fit, const std::string& output,
                                                    const std::vector<std::string>& inputs) {
    if (output.empty() || output == fit) {
        fitstream::detail::refuse_clashing_files({{"FIT", fit}}, [&](const auto& visit) {
            for (const auto& f : inputs) visit(f);
        });
        return std::make_unique<fitstream::file_sink>(fit);
    }
    std::vector<std::string> all(inputs);
    all.push_back(fit);
    return open_output(output, all);
}

inline void write_text(const std::string& path, const std::string& text, const std::vector<std::string>& inputs,
                       std::unique_ptr<fitstream::sink>& staged) {
    staged = open_output(path, inputs, false);
    staged->write_at(0, text.data(), text.size());
}

inline int complete(CLI::App& app, std::vector<std::string>& rest) {
    std::string fit, output, response, key_dtb, public_key_path;
    bool complete_flag = false;
    app.add_flag("--complete", complete_flag, "Insert the signatures of a response into a prepared FIT");
    app.add_option("FIT", fit, "The prepared FIT")->required();
    app.add_option("-o,--output", output, "Write here (default: replace FIT)");
    app.add_option("--signatures", response, "The response file (NODE VALUE-HEX a line)")->required();
    auto* dtb = app.add_option("--key-dtb", key_dtb, "Check each value with the keys of this U-Boot control DTB");
    app.add_option("--public-key", public_key_path, "Check each value with this PEM public key")->excludes(dtb);
    app.parse(rest);
    if (key_dtb.empty() && public_key_path.empty())
        throw usage_error("--complete needs --key-dtb DTB or --public-key PEM to check the signatures with");
    const auto responses = fitstream::load_response(response);
    std::shared_ptr<const fitstream::public_key> single;
    std::optional<fitstream::key_dtb> keys;
    if (!public_key_path.empty())
        single = std::make_shared<const fitstream::public_key>(fitstream::public_key::load(public_key_path));
    else
        keys.emplace(key_dtb);
    const auto out = open_result(fit, output, {response, key_dtb, public_key_path});
    const auto size = fitstream::complete_fit(fit, *out, responses, [&](const fitstream::signing_request& about) {
        if (single) return single;
        for (const auto& k : keys->keys())
            if (k.name == about.key_name_hint) return k.key;
        return std::shared_ptr<const fitstream::public_key>();
    });
    out->commit(size);
    return exit_ok;
}

}  // namespace sign_verb

/// Runs `fitpack sign ...`; `args` starts with "sign".
inline int run_sign_mode(CLI::App& app, const std::vector<std::string>& args) {
    app.name("fitpack sign");
    app.description("Re-sign a FIT (as mkimage -F), or sign it in two steps (--prepare, --complete)");
    std::vector<std::string> rest(args.rbegin(), args.rend() - 1);  // CLI11 wants them last-first
    if (std::find(args.begin(), args.end(), "--complete") != args.end()) return sign_verb::complete(app, rest);

    std::string fit, output, request, add_hashes;
    bool prepare = false;
    signing_arguments s;
    app.add_option("FIT", fit, "The FIT to sign (made by fitpack, mkimage or make_fit.py)")->required();
    app.add_option("-o,--output", output, "Write here (default: replace FIT)");
    app.add_option("--add-hashes", add_hashes, "Add a hash node of this algo (sha256, ...) to every image lacking one");
    app.add_flag("--prepare", prepare, "Two-step signing: write the FIT with zero values and a request file");
    app.add_option("--request", request, "With --prepare: the request file to write (a digest per signature)");
    add_signing_options(app, s);
    app.parse(rest);

    if (prepare && (output.empty() || request.empty())) throw usage_error("--prepare needs -o OUT and --request FILE");
    if (!prepare && !request.empty()) throw usage_error("--request needs --prepare");
    if (prepare && (s.signing() || !s.key_dtb.empty()))
        throw usage_error("--prepare signs nothing: it takes no key and no --key-dtb");
    if (!prepare && !s.signing()) throw usage_error("fitpack sign needs --key-dir DIR, --key FILE or --sign-command CMD");
    if (!s.required_mode.empty() && s.key_dtb.empty()) throw usage_error("--required-mode needs --key-dtb");
    if (s.sign_timeout > 0 && s.sign_command.empty()) throw usage_error("--sign-timeout needs --sign-command CMD");
    check_pin_file_has_token(s);

    // The keys of the command line (signing_options.hpp groups them): a key
    // with --key-name adds a signature to every configuration (and image,
    // with --image-signatures); the first key file or key directory also
    // signs the signature nodes already in the FIT, found by their
    // key-name-hint, as mkimage -F -k DIR (or -G FILE) does.
    const std::vector<key_arguments> keys = s.signing() ? group_keys(s) : std::vector<key_arguments>{};
    for (const auto& k : keys)
        if (!k.required.empty() && s.key_dtb.empty()) throw usage_error("--required needs --key-dtb");
    const key_arguments* fill = nullptr;
    for (const auto& k : keys)
        if (!fill && k.source_option != "--sign-command") fill = &k;

    auto deferred = std::make_shared<fitstream::deferred_signer>();
    std::map<std::string, std::shared_ptr<const fitstream::signing_key>> loaded;
    std::vector<std::string> key_files;
    const auto load = [&](const std::string& path) {
        auto& k = loaded[path];
        if (!k) {
            if (fitstream::is_token_uri(path)) {
                fitstream::token_options options;
                options.pin_file = s.pin_file;
                k = fitstream::signing_key::load_token(path, options);
            } else {
                k = fitstream::signing_key::load(path);
                key_files.push_back(path);
            }
        }
        return k;
    };
    // The key for a node's hint: --key, else DIR/<hint>.key (.pem for ECDSA, as mkimage).
    const auto key_path = [&](const std::string& hint, const std::string& algo, const std::string& subject) {
        if (!fill) throw fitstream::error(fitstream::errc::invalid_argument, subject,
                                          "no key for this signature node: give --key-dir DIR or --key FILE");
        if (!hint.empty()) fitstream::check_key_name_hint(hint, subject);
        if (fitstream::is_token_uri(fill->source))
            return fill->source_option == "--key" ? fill->source : fitstream::mkimage_token_uri(fill->source, hint);
        fitstream::signature_spec spec;
        (fill->source_option == "--key" ? spec.key_file : spec.key_dir) = fill->source;
        spec.key_name_hint = hint;
        spec.algo = algo;
        return fitstream::signature_key_path(spec, subject);
    };

    fitstream::resign_options o;
    o.add_hashes = add_hashes;
    if (!add_hashes.empty()) fitstream::visit_hash(add_hashes, [](auto) {});  // an unknown algo fails now
    if (!s.signer_name.empty()) o.signer_name = s.signer_name;
    o.signer_version = s.signer_version;
    o.comment = s.comment;
    o.key_for = [&](const fitstream::signing_request& about) -> std::shared_ptr<const fitstream::signer> {
        if (prepare) return deferred;
        return load(key_path(about.key_name_hint, about.algo.name, about.node));
    };
    std::optional<fitstream::key_dtb> dtb;
    if (!s.key_dtb.empty()) dtb.emplace(s.key_dtb);
    signing_plan plan;  // collects the public-key files read
    std::map<std::string, std::string> required_of;  // key name -> --required
    bool adds = false;
    if (prepare) {
        // Two steps: the signature to add is described by the per-key
        // options alone (no key: only digests leave this machine).
        const auto& names = s.key_name;
        if (!names.empty()) {
            if (names.size() > 1) throw usage_error("--prepare adds one signature: give one --key-name");
            fitstream::check_key_name_hint(names.front(), "--key-name");
            fitstream::signature_spec spec;
            spec.key_name_hint = names.front();
            spec.padding = !s.padding.empty() && s.padding.front() == "pss" ? fitstream::signature_padding::pss
                                                                            : fitstream::signature_padding::pkcs1_5;
            spec.algo = s.algo.empty() ? "sha256,rsa2048" : s.algo.front();
            for (const auto& p : s.sign_images)
                if (!p.empty()) spec.sign_images.push_back(p);
            spec.key_signer = deferred;
            deferred->check_for(fitstream::parse_signature_algorithm(spec.algo), spec.padding);
            o.configuration_signatures.push_back(spec);
            if (s.image_signatures) {
                spec.sign_images.clear();
                o.image_signatures.push_back(spec);
            }
            adds = true;
        }
    } else {
        for (const auto& k : keys) {
            if (k.key_name.empty() && k.source_option != "--sign-command") continue;  // fills the FIT's own nodes
            auto [spec, key] = make_key(k, s, dtb ? &*dtb : nullptr, plan);
            spec.key_signer = key;
            if (!spec.key_file.empty()) {
                key_files.push_back(spec.key_file);
                // A node of the FIT naming the same key signs with this one, not a second read.
                if (auto file_key = std::dynamic_pointer_cast<const fitstream::signing_key>(key))
                    loaded.emplace(spec.key_file, std::move(file_key));
            }
            required_of[spec.key_name_hint] = k.required;
            o.configuration_signatures.push_back(spec);
            if (s.image_signatures) {
                spec.sign_images.clear();
                o.image_signatures.push_back(spec);
            }
            adds = true;
        }
    }
    if (!adds && (!s.algo.empty() || !s.padding.empty() || !s.sign_images.empty() || s.image_signatures))
        throw usage_error("--sign-algo, --padding, --sign-images and --image-signatures describe a signature to add: "
                          "give its --key-name");

    std::vector<std::string> inputs{s.key_dtb, request, s.pin_file};
    inputs.insert(inputs.end(), s.key_file.begin(), s.key_file.end());
    inputs.insert(inputs.end(), plan.inputs.begin(), plan.inputs.end());
    const auto out = sign_verb::open_result(fit, output, inputs);
    const auto result = fitstream::resign_fit(fit, *out, o);

    // The key DTB (as mkimage -K): staged before the FIT is committed,
    // renamed into place after it.
    std::unique_ptr<fitstream::file_sink> dtb_out;
    if (dtb) {
        // --required applies to the key it follows; with one key, to that key.
        const std::string required_for_all = keys.size() == 1 ? keys.front().required : std::string();
        std::vector<std::string> done;
        for (const auto& sig : result.signatures) {
            if (std::find(done.begin(), done.end(), sig.key_name_hint) != done.end()) continue;
            done.push_back(sig.key_name_hint);
            const auto it = required_of.find(sig.key_name_hint);
            const fitstream::key_dtb_entry entry{sig.key, sig.key_name_hint, sig.algo.name,
                                                 it != required_of.end() ? it->second : required_for_all};
            dtb->check(entry);
            dtb->add(entry);
        }
        if (!s.required_mode.empty()) dtb->set_required_mode(s.required_mode);
        dtb_out = dtb->stage();
    }
    std::unique_ptr<fitstream::sink> request_out;
    std::string text;
    if (prepare) {
        text = fitstream::request_text(deferred->requests());
        sign_verb::write_text(request, text, {fit, output}, request_out);
    }
    // The keys that filled the FIT's own nodes were found while signing: no
    // output may be one of them, nor any other file read. Nothing is
    // committed yet, so a refusal leaves every file as it was.
    fitstream::detail::refuse_clashing_files(
        {{"output", output == fit ? std::string() : output}, {"--key-dtb", s.key_dtb}, {"--request", request}},
        [&](const auto& visit) {
            // Files only read (the key DTB and the request are written).
            for (const auto& f : key_files) visit(f);
            for (const auto& f : s.key_file) visit(f);
            for (const auto& f : plan.inputs) visit(f);
            visit(s.pin_file);
            if (!output.empty() && output != fit) visit(fit);
        });
    out->commit(result.size);
    if (request_out) request_out->commit(text.size());
    if (dtb_out) dtb_out->commit(fdt_totalsize(dtb->blob()));
    return exit_ok;
}

}  // namespace fitpack
