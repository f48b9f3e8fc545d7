// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Signing in two steps, offline: only digests travel to the signing
/// machine, never the FIT.
///
/// 1. prepare: re-sign the FIT (<fitstream/sign/resign.hpp>) with a
///    deferred_signer. The FIT is written complete, each signature `value`
///    zeros of the right size, and the deferred_signer holds one request per
///    signature: write them with request_text().
/// 2. the signing machine signs each digest and answers with a response
///    file (response_text() / parse_response()).
/// 3. complete: complete_fit() puts the values in, after checking each one
///    against the public key over the digest it recomputes from the FIT.
///
/// Both files are text, one signature a line, fields separated by one
/// space, lines starting with '#' ignored:
///
///     # fitstream signing request 1
///     # node algo padding key-name-hint digest
///     /configurations/conf-1/signature-1 sha256,rsa2048 pkcs-1.5 dev 9f86d0...
///
///     # fitstream signing response 1
///     /configurations/conf-1/signature-1 5c3a...(the value, hex)
///
/// `digest` is algo's checksum of the signed bytes (what `openssl pkeyutl
/// -sign -pkeyopt digest:sha256` signs); an empty key-name-hint is "-". A
/// value is in U-Boot's encoding: RSA the raw signature, ECDSA r then s.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/sign/fit_skeleton.hpp>
#include <fitstream/detail/sign/regions.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/sign/public_key.hpp>
#include <fitstream/sign/resign.hpp>
#include <fitstream/sign/signer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fitstream {

/// A signer whose values are made later (two-step signing): sign() records
/// the request and gives zeros of the value's size; public_half() is null,
/// so nothing checks those zeros.
class deferred_signer : public signer {
public:
    const std::string& name() const override { return name_; }
    void check_for(const signature_algorithm& algo, signature_padding padding) const override {
        if (!algo.rsa && padding == signature_padding::pss)
            throw error(errc::invalid_argument, algo.name, "PSS padding applies to RSA only");
    }
    std::shared_ptr<const public_key> public_half() const override { return nullptr; }
    std::vector<std::uint8_t> sign(const signing_request& request) const override {
        const std::lock_guard<std::mutex> lock(mutex_);
        requests_.push_back(request);
        requests_.back().message.clear();  // only the digest travels
        return std::vector<std::uint8_t>(request.algo.signature_size, 0);
    }
    bool concurrent() const override { return false; }
    /// The requests recorded, in signing order.
    std::vector<signing_request> requests() const {
        const std::lock_guard<std::mutex> lock(mutex_);
        return requests_;
    }

private:
    std::string name_ = "two-step signing request";
    mutable std::mutex mutex_;
    mutable std::vector<signing_request> requests_;
};

/// One answered signature.
struct signature_response {
    std::string node;
    std::vector<std::uint8_t> value;
};

namespace detail {

inline bool two_step_unhex(const std::string& hex, std::vector<std::uint8_t>& out) {
    if (hex.size() % 2) return false;
    out.clear();
    const auto nibble = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    };
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
    }
    return true;
}

inline std::vector<std::string> split_fields(const std::string& line) {
    std::vector<std::string> out;
    std::istringstream in(line);
    for (std::string f; in >> f;) out.push_back(f);
    return out;
}

// The most a response or request file may hold: a line per signature.
inline constexpr std::uint64_t max_two_step_file = 64u << 20;

}  // namespace detail

/// The request file for `requests` (see the file comment).
inline std::string request_text(const std::vector<signing_request>& requests) {
    std::string out = "# fitstream signing request 1\n# node algo padding key-name-hint digest\n";
    for (const auto& r : requests)
        out += r.node + ' ' + r.algo.name + ' ' + (r.padding == signature_padding::pss ? "pss" : "pkcs-1.5") + ' ' +
               (r.key_name_hint.empty() ? std::string("-") : r.key_name_hint) + ' ' + detail::hex(r.digest.data(), r.digest.size()) + '\n';
    return out;
}

/// The response file for `responses` (see the file comment).
inline std::string response_text(const std::vector<signature_response>& responses) {
    std::string out = "# fitstream signing response 1\n";
    for (const auto& r : responses) out += r.node + ' ' + detail::hex(r.value.data(), r.value.size()) + '\n';
    return out;
}

/// Parses a response file's text; `subject` (its path) names it in errors.
/// @throws fitstream::error (errc::invalid_input) naming `subject` and the
///         line: a line that is not "NODE HEX", a node answered twice.
inline std::vector<signature_response> parse_response(const std::string& text, const std::string& subject) {
    std::vector<signature_response> out;
    std::set<std::string> seen;
    std::istringstream in(text);
    int number = 0;
    for (std::string line; std::getline(in, line);) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        const auto fields = detail::split_fields(line);
        const std::string where = subject + ":" + std::to_string(number);
        signature_response r;
        if (fields.size() != 2 || fields[0].empty() || fields[0][0] != '/' || !detail::two_step_unhex(fields[1], r.value) ||
            r.value.empty())
            throw error(errc::invalid_input, where, "not a response line (NODE VALUE-HEX)");
        r.node = fields[0];
        if (!seen.insert(r.node).second) throw error(errc::invalid_input, where, "node " + r.node + " answered twice");
        out.push_back(std::move(r));
    }
    if (out.empty()) throw error(errc::invalid_input, subject, "no signature in the response");
    return out;
}

/// Reads and parses the response file at `path` (at most 64 MiB).
inline std::vector<signature_response> load_response(const std::string& path) {
    return parse_response(detail::read_file_bounded(path, detail::max_two_step_file, "signatures",
                                                    detail::stream_inputs::accepted),
                          path);
}

/// Who checks a completed signature: the public key for the node, algo and
/// key-name-hint in `about`; null fails the node.
using public_key_lookup = std::function<std::shared_ptr<const public_key>(const signing_request& about)>;

/// Puts the values of `responses` into the prepared FIT at `input`, written
/// to `out` (not committed: out.commit(return value)). Each value is checked
/// first against `keys` over the digest recomputed from the FIT (the
/// configuration's `hashed-nodes` and `hashed-strings`, or the image's
/// data), so a tampered response, a wrong key or a FIT changed since
/// prepare fails here, not at boot.
/// @returns the size to commit `out` with.
/// @throws fitstream::error naming the node: errc::invalid_input for a
///         node the FIT lacks or that is no signature, a value of the wrong
///         size, a prepared signature left unanswered; errc::bad_image for a
///         value that does not verify; errc::invalid_argument when `keys`
///         has no key for it.
inline std::uint64_t complete_fit(const std::string& input, sink& out, const std::vector<signature_response>& responses,
                                  const public_key_lookup& keys) {
    using namespace detail;
    fit_skeleton sk = load_skeleton(input);
    char* fdt = sk.blob.data();
    std::set<std::string> answered;
    for (const auto& r : responses) {
        const int node = fdt_path_offset(fdt, r.node.c_str());
        const auto parts = [&] {
            std::vector<std::string> p;
            std::string cur;
            for (const char c : r.node.substr(1)) {
                if (c == '/') {
                    p.push_back(cur);
                    cur.clear();
                } else {
                    cur += c;
                }
            }
            p.push_back(cur);
            return p;
        }();
        if (node < 0 || parts.size() != 3 || (parts[0] != "images" && parts[0] != "configurations") ||
            !rs_starts_with(parts[2], "signature"))
            throw error(errc::invalid_input, r.node, "no such signature node in " + input);
        signing_request about = describe_signature(fdt, node, r.node);
        int len = 0;
        if (!fdt_getprop(fdt, node, "value", &len) || static_cast<std::size_t>(len) != about.algo.signature_size)
            throw error(errc::invalid_input, r.node, "not a prepared signature (no value of the algo's size)");
        if (r.value.size() != about.algo.signature_size)
            throw error(errc::invalid_input, r.node,
                        "value of " + std::to_string(r.value.size()) + " bytes; " + about.algo.name + " needs " +
                            std::to_string(about.algo.signature_size));
        if (parts[0] == "configurations") {
            int nodes_len = 0;
            const char* list = static_cast<const char*>(fdt_getprop(fdt, node, "hashed-nodes", &nodes_len));
            const auto* strings = static_cast<const fdt32_t*>(fdt_getprop(fdt, node, "hashed-strings", &len));
            if (!list || !strings || len != 8) throw error(errc::bad_image, r.node, "no hashed-nodes or hashed-strings");
            std::vector<std::string> nodes;
            for (int i = 0; i < nodes_len;) {
                const std::string n(list + i, strnlen(list + i, static_cast<std::size_t>(nodes_len - i)));
                nodes.push_back(n);
                i += static_cast<int>(n.size()) + 1;
            }
            const std::uint32_t covered = fdt32_to_cpu(strings[1]);
            if (covered > fdt_size_dt_strings(fdt)) throw error(errc::bad_image, r.node, "hashed-strings past the strings block");
            auto regions = find_signed_regions(fdt, nodes, r.node);
            regions.push_back({fdt_off_dt_strings(fdt), covered});
            about.digest = digest_regions(about.algo.checksum, fdt, regions);
        } else {
            const int image = fdt_parent_offset(fdt, node);
            const auto data = sk.image_data(image, parts[1]);
            if (!data) throw error(errc::bad_image, r.node, "image has no data");
            about.digest = digest_payload(sk, *data, {about.algo.checksum}).front();
        }
        const auto key = keys ? keys(about) : nullptr;
        if (!key)
            throw error(errc::invalid_argument, r.node,
                        "no public key for key-name-hint '" + about.key_name_hint + "' to check the value with");
        if (!key->verify_digest(about.algo, about.padding, about.digest, r.value.data(), r.value.size()))
            throw error(errc::bad_image, r.node, "the value does not verify with " + key->name());
        sk.check(fdt_setprop_inplace(fdt, node, "value", r.value.data(), static_cast<int>(r.value.size())), r.node,
                 "value");
        answered.insert(r.node);
    }
    // Every signature still zeros was prepared and must be answered.
    for (const char* parent_path : {"/images", "/configurations"}) {
        const int parent = fdt_path_offset(fdt, parent_path);
        if (parent < 0) continue;
        for (const auto& child : rs_subnodes(fdt, parent)) {
            const std::string child_path = std::string(parent_path) + "/" + child;
            const int c = fdt_path_offset(fdt, child_path.c_str());
            for (const auto& sub : rs_subnodes(fdt, c)) {
                if (!rs_starts_with(sub, "signature")) continue;
                const std::string sig = child_path + "/" + sub;
                int len = 0;
                const auto* v = static_cast<const std::uint8_t*>(
                    fdt_getprop(fdt, fdt_path_offset(fdt, sig.c_str()), "value", &len));
                const bool zeros = v && len > 0 && std::all_of(v, v + len, [](std::uint8_t b) { return b == 0; });
                if (zeros && !answered.count(sig))
                    throw error(errc::invalid_input, sig, "prepared signature has no value in the response");
            }
        }
    }
    return write_skeleton(sk, out);
}

}  // namespace fitstream
