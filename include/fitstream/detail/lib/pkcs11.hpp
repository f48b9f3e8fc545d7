// SPDX-License-Identifier: MIT
#pragma once

// Keys held in a PKCS#11 token, reached through OpenSSL's pkcs11 engine
// (libp11's; Debian 12: libengine-pkcs11-openssl). This is the only file
// that uses OpenSSL's ENGINE API, which OpenSSL 3 deprecates: its
// deprecation warnings are silenced here and nowhere else.
//
// Its whole interface is open_token_key(): a token URI, a module and a PIN
// in; an EVP_PKEY that signs inside the token, and a handle keeping the
// token session open, out. A provider (pkcs11-provider, OSSL_STORE with
// "pkcs11:" URIs) can replace this file without anything else changing:
// signing goes through EVP_PKEY_sign either way.

#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/error.hpp>

// OpenSSL built without engines (no-engine), or a distribution that ships
// <openssl/engine.h> apart (Fedora 41: openssl-devel-engine): token keys
// then fail, saying so, and everything else builds as before.
#if !defined(OPENSSL_NO_ENGINE) && defined(__has_include)
#if __has_include(<openssl/engine.h>)
#define FITSTREAM_PKCS11_ENGINE 1
#endif
#endif

#ifdef FITSTREAM_PKCS11_ENGINE
#include <openssl/engine.h>
#include <openssl/ui.h>
#endif

#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

namespace fitstream {
namespace detail {

/// What open_token_key() opens.
struct token_key_request {
    std::string uri;      // "pkcs11:token=...;object=..." (path attributes only, no pin-value)
    std::string module;   // the PKCS#11 module; empty: the engine's default (p11-kit's proxy on Debian)
    std::string pin;      // empty: no login
    std::string subject;  // what messages name (the URI, never a PIN)
    std::string without_pin;  // said when the key cannot be opened and `pin` is empty
};

/// A key in a token. `session` keeps the engine (so the module and its
/// logged-in session) alive; declared first, it is released after `key`.
struct token_key_handle {
    std::shared_ptr<void> session;
    evp_pkey_ptr key;
};

#ifndef FITSTREAM_PKCS11_ENGINE

inline token_key_handle open_token_key(const token_key_request& request) {
    throw error(errc::unsupported, request.subject,
                "this fitstream was built without OpenSSL's ENGINE API, which token keys need");
}

#else

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

struct pkcs11_engine_state {
    std::mutex mutex;
    std::weak_ptr<ENGINE> engine;
    std::string module;
};

inline pkcs11_engine_state& pkcs11_state() {
    static pkcs11_engine_state state;
    return state;
}

// The text of OpenSSL's first queued error (libp11 queues its own: "PIN
// incorrect", "object not found"...), the queue emptied; empty when none.
inline std::string take_openssl_reason() {
    const unsigned long code = ERR_peek_error();
    ERR_clear_error();
    if (code == 0) return {};
    const char* reason = ERR_reason_error_string(code);
    if (reason) return reason;
    char text[256] = {};
    ERR_error_string_n(code, text, sizeof text);
    return text;
}

// The pkcs11 engine, initialised with `module`: one per process (libp11's
// engine holds one module and one PIN), shared by every key open at once.
inline std::shared_ptr<ENGINE> pkcs11_engine(const std::string& module, const std::string& subject) {
    auto& state = pkcs11_state();
    if (auto e = state.engine.lock()) {
        if (module != state.module)
            throw error(errc::unsupported, subject,
                        "another PKCS#11 module (" + (state.module.empty() ? "the default" : state.module) +
                            ") is in use: one module per run");
        return e;
    }
    // libp11 prints dlopen's complaint on standard error itself: a module
    // that is not there is said here, in one line.
    if (!module.empty() && ::access(module.c_str(), R_OK) != 0)
        throw error(std::error_code(errno, std::generic_category()), subject, "cannot read PKCS#11 module " + module);
    ERR_clear_error();
    ENGINE* raw = ENGINE_by_id("pkcs11");
    if (!raw) {
        ERR_clear_error();
        throw error(errc::unsupported, subject,
                    "OpenSSL's pkcs11 engine cannot be loaded (Debian: install libengine-pkcs11-openssl)");
    }
    // libp11 prints some failures on standard error itself; fitstream's
    // message says it in one line.
    (void)ENGINE_ctrl_cmd_string(raw, "QUIET", nullptr, 1);
    if (!module.empty() && ENGINE_ctrl_cmd_string(raw, "MODULE_PATH", module.c_str(), 0) != 1) {
        ENGINE_free(raw);
        ERR_clear_error();
        throw error(errc::unsupported, subject, "the pkcs11 engine does not take a module path");
    }
    if (ENGINE_init(raw) != 1) {
        const std::string why = take_openssl_reason();
        ENGINE_free(raw);
        throw error(errc::invalid_input, subject,
                    "cannot load the PKCS#11 module " + (module.empty() ? std::string("(the engine's default)") : module) +
                        (why.empty() ? std::string() : ": " + why));
    }
    std::shared_ptr<ENGINE> e(raw, [](ENGINE* p) {
        ENGINE_finish(p);
        ENGINE_free(p);
    });
    state.engine = e;
    state.module = module;
    return e;
}

// A UI that never prompts: without a PIN, logging in fails instead of
// waiting on a terminal.
inline UI_METHOD* no_prompt_ui() {
    static UI_METHOD* method = [] {
        UI_METHOD* m = UI_create_method("fitstream: no PIN prompt");
        if (m) UI_method_set_reader(m, [](UI*, UI_STRING*) { return 0; });
        return m;
    }();
    return method;
}

/// Opens the private key `request.uri` names, logging in with its PIN.
/// @throws fitstream::error naming request.subject: errc::unsupported when
///         the engine is not installed; errc::invalid_input when the module
///         cannot be loaded, or the key cannot be opened (the token or
///         object is missing, the PIN is wrong or missing: the engine's
///         reason is given when it has one).
inline token_key_handle open_token_key(const token_key_request& request) {
    auto& state = pkcs11_state();
    const std::lock_guard<std::mutex> lock(state.mutex);
    token_key_handle out;
    auto engine = pkcs11_engine(request.module, request.subject);
    ERR_clear_error();
    if (!request.pin.empty() && ENGINE_ctrl_cmd_string(engine.get(), "PIN", request.pin.c_str(), 0) != 1) {
        ERR_clear_error();
        throw error(errc::unsupported, request.subject, "the pkcs11 engine does not take a PIN");
    }
    EVP_PKEY* key = ENGINE_load_private_key(engine.get(), request.uri.c_str(), no_prompt_ui(), nullptr);
    if (!key) {
        std::string why = take_openssl_reason();
        // libp11 says "object not found" for a token that is not there too.
        if (why == "object not found") why = "no such token or object in any slot";
        // libp11 says only "processing error" when it cannot log in without a PIN.
        if (request.pin.empty() && !request.without_pin.empty())
            why = why.empty() || why == "processing error" ? request.without_pin : why + "; " + request.without_pin;
        throw error(errc::invalid_input, request.subject,
                    "cannot open the private key in the token" + (why.empty() ? std::string() : ": " + why));
    }
    ERR_clear_error();
    out.session = std::move(engine);
    out.key.reset(key);
    return out;
}

#pragma GCC diagnostic pop

#endif  // FITSTREAM_PKCS11_ENGINE

}  // namespace detail
}  // namespace fitstream
