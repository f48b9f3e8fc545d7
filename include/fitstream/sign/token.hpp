// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Keys held in a PKCS#11 token (an HSM, a smart card, SoftHSM): how they
/// are named (RFC 7512 `pkcs11:` URIs, and mkimage's `-N pkcs11 -k`
/// spelling), where the PIN comes from, and which PKCS#11 module is used.
/// signing_key::load_token() (<fitstream/sign/key.hpp>) opens such a key;
/// the private key never leaves the token, only signatures and the public
/// key do.
///
/// @code
/// fitstream::token_options opts;
/// opts.pin_file = "/run/secrets/hsm-pin";   // else $FITPACK_PKCS11_PIN
/// auto key = fitstream::signing_key::load_token("pkcs11:token=release;object=fit-2024", opts);
/// @endcode
///
/// A PIN is never accepted inside a URI (`pin-value`: it would show in
/// process lists, shell history and build logs), and never appears in a
/// message: errors name the URI without it.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/error.hpp>

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {

/// Where a token key's PIN and PKCS#11 module come from.
struct token_options {
    /// A file whose first line is the PIN (a trailing CR/LF is dropped).
    /// Takes precedence over the URI's `pin-source` and over `pin_env`.
    std::string pin_file;
    /// The environment variable holding the PIN, used when neither
    /// `pin_file` nor the URI's `pin-source` gives one. Empty: none.
    std::string pin_env = "FITPACK_PKCS11_PIN";
    /// The PKCS#11 module (a .so path). Empty: the URI's `module-path`,
    /// else $FITPACK_PKCS11_MODULE, else the engine's default (on Debian
    /// p11-kit's proxy, which loads every module registered with p11-kit,
    /// SoftHSM2 and OpenSC included).
    std::string module;
};

/// The options signing_key::load() uses for a `pkcs11:` URI (set them once,
/// before any key is loaded; fitpack sets pin_file from --pin-file).
inline token_options& default_token_options() {
    static token_options options;
    return options;
}

/// True when `name` is a PKCS#11 URI ("pkcs11:...", RFC 7512), not a file.
inline bool is_token_uri(const std::string& name) { return name.compare(0, 7, "pkcs11:") == 0; }

/// A `pkcs11:` URI taken apart.
struct token_uri {
    /// The path attributes as given ("pkcs11:token=a;object=b"): what the
    /// engine opens and messages name. No query, so no PIN and no module.
    std::string path;
    std::string token;   ///< `token`, percent-decoded (empty when absent)
    std::string object;  ///< `object`, percent-decoded (empty when absent)
    std::string module_path;  ///< query `module-path`, decoded
    std::string pin_source;   ///< query `pin-source` (a file, or file:PATH), decoded
};

namespace detail {

inline std::string percent_decode(const std::string& text, const std::string& subject) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out.push_back(text[i]);
            continue;
        }
        const auto hex = [&](char c) -> int {
            return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        };
        if (i + 2 >= text.size() || hex(text[i + 1]) < 0 || hex(text[i + 2]) < 0)
            throw error(errc::invalid_argument, subject, "bad percent-encoding in the PKCS#11 URI");
        out.push_back(static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2])));
        i += 2;
    }
    return out;
}

inline std::vector<std::string> split_on(const std::string& text, char separator) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto at = text.find(separator, start);
        out.push_back(text.substr(start, at == std::string::npos ? std::string::npos : at - start));
        if (at == std::string::npos) return out;
        start = at + 1;
    }
}

}  // namespace detail

/// Parses a `pkcs11:` URI (RFC 7512).
/// @throws fitstream::error (errc::invalid_argument), naming the URI
///         without its query: it is not a pkcs11: URI; it holds a PIN
///         (`pin-value`, refused wherever it is, and never repeated in the
///         message); bad percent-encoding; a query attribute other than
///         module-path and pin-source (module-name is not supported).
inline token_uri parse_token_uri(const std::string& uri) {
    const auto query_at = uri.find('?');
    token_uri out;
    out.path = uri.substr(0, query_at);
    // What messages name: the path without any attribute that holds a PIN.
    std::string shown = "pkcs11:";
    const auto attributes = detail::split_on(out.path.size() > 7 ? out.path.substr(7) : std::string(), ';');
    bool pin_in_path = false;
    for (const auto& a : attributes) {
        const auto eq = a.find('=');
        std::string key = a.substr(0, eq);
        for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (key.find("pin") != std::string::npos) {
            pin_in_path = true;
            continue;
        }
        if (shown.size() > 7) shown += ';';
        shown += a;
    }
    if (!is_token_uri(uri)) throw error(errc::invalid_argument, "PKCS#11 URI", "does not start with pkcs11:");
    if (pin_in_path)
        throw error(errc::invalid_argument, shown,
                    "a PIN in the URI is refused (it would show in process lists and logs): give it in a PIN file "
                    "or the environment");
    for (const auto& a : attributes) {
        if (a.empty()) continue;
        const auto eq = a.find('=');
        if (eq == std::string::npos) throw error(errc::invalid_argument, shown, "URI attribute '" + a + "' has no value");
        const std::string key = a.substr(0, eq);
        if (key == "token") out.token = detail::percent_decode(a.substr(eq + 1), shown);
        else if (key == "object") out.object = detail::percent_decode(a.substr(eq + 1), shown);
    }
    if (query_at != std::string::npos) {
        for (const auto& q : detail::split_on(uri.substr(query_at + 1), '&')) {
            if (q.empty()) continue;
            const auto eq = q.find('=');
            std::string key = q.substr(0, eq);
            for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            if (key.find("pin-value") != std::string::npos || key.find("pin%2dvalue") != std::string::npos)
                throw error(errc::invalid_argument, shown,
                            "a PIN in the URI (pin-value) is refused (it would show in process lists and logs): give "
                            "it in a PIN file or the environment");
            const std::string value = eq == std::string::npos ? std::string() : detail::percent_decode(q.substr(eq + 1), shown);
            if (key == "module-path") out.module_path = value;
            else if (key == "pin-source") out.pin_source = value;
            else
                throw error(errc::invalid_argument, shown,
                            "URI query attribute '" + key + "' is not supported (module-path and pin-source are)");
        }
    }
    out.path = shown;
    return out;
}

/// The URI mkimage's `-N pkcs11 -k KEYDIR` opens for a signature whose
/// key-name-hint is `name` (lib/rsa/rsa-sign.c rsa_engine_get_priv_key):
/// "pkcs11:KEYDIR" when KEYDIR names an object itself ("object=" in it),
/// else "pkcs11:KEYDIR;object=NAME". KEYDIR may carry the "pkcs11:" prefix
/// or not (mkimage adds it; an empty KEYDIR gives "pkcs11:object=NAME").
inline std::string mkimage_token_uri(const std::string& keydir, const std::string& name) {
    std::string base = keydir;
    if (!is_token_uri(base)) base = "pkcs11:" + base;
    const std::string path = base.substr(0, base.find('?'));
    const std::string query = base.find('?') == std::string::npos ? std::string() : base.substr(base.find('?'));
    if (path.find("object=") != std::string::npos) return base;
    return path + (path.size() > 7 ? ";" : "") + "object=" + name + query;
}

namespace detail {

// Wipes a string's bytes before it is freed: a PIN should not linger in
// freed heap memory.
class secret_string {
public:
    secret_string() = default;
    explicit secret_string(std::string value) : value_(std::move(value)) {}
    secret_string(const secret_string&) = delete;
    secret_string& operator=(const secret_string&) = delete;
    ~secret_string() {
        volatile char* p = value_.data();
        for (std::size_t i = 0; i < value_.size(); ++i) p[i] = 0;
    }
    const std::string& get() const noexcept { return value_; }

private:
    std::string value_;
};

// The PIN for `uri`, as token_options says; empty when none is given.
// Errors name the PIN file or the variable, never the PIN.
inline std::string token_pin(const token_uri& uri, const token_options& options) {
    std::string file = options.pin_file;
    if (file.empty() && !uri.pin_source.empty())
        file = uri.pin_source.compare(0, 5, "file:") == 0 ? uri.pin_source.substr(5) : uri.pin_source;
    std::string pin;
    if (!file.empty()) {
        pin = read_file_bounded(file, 4096, "PIN file", stream_inputs::accepted, /*sensitive=*/true);
        const auto end = pin.find_first_of("\r\n");
        if (end != std::string::npos) {
            for (std::size_t i = end; i < pin.size(); ++i) pin[i] = 0;
            pin.resize(end);
        }
        if (pin.empty()) throw error(errc::invalid_input, file, "PIN file is empty");
        return pin;
    }
    if (!options.pin_env.empty())
        if (const char* env = std::getenv(options.pin_env.c_str())) pin = env;
    return pin;
}

// The module for `uri`, as token_options says; empty: the engine's default.
inline std::string token_module(const token_uri& uri, const token_options& options) {
    if (!options.module.empty()) return options.module;
    if (!uri.module_path.empty()) return uri.module_path;
    if (const char* env = std::getenv("FITPACK_PKCS11_MODULE"))
        if (*env) return env;
    return {};
}

}  // namespace detail
}  // namespace fitstream
