// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Every built-in hash, and the one place a runtime algo name ("sha256")
/// maps onto the compile-time hash policies.

#include <fitstream/error.hpp>
#include <fitstream/hash/concept.hpp>
#include <fitstream/hash/crc32.hpp>
#include <fitstream/hash/sha.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace fitstream {

/// A compile-time list of hashes.
template <class... Hashes>
struct hash_list {
    static_assert((check_hash<Hashes>() && ...));
};

/// The hashes fitstream ships.
using builtin_hashes = hash_list<hash::crc32, hash::md5, hash::sha1, hash::sha256, hash::sha384, hash::sha512>;

/// "crc32, md5, sha1, ...": the names a list accepts.
template <class... Hashes>
std::string hash_names(hash_list<Hashes...>) {
    std::string names;
    ((names += (names.empty() ? "" : ", "), names += Hashes::fit_name), ...);
    return names;
}

/// Calls `visitor(hash_tag<H>{})` for the hash `H` whose FIT name is `name`.
/// @throws fitstream::error (errc::unsupported) naming the valid names.
template <class Visitor, class... Hashes>
void visit_hash(std::string_view name, Visitor&& visitor, hash_list<Hashes...> list) {
    const bool found = ((name == Hashes::fit_name ? (visitor(hash_tag<Hashes>{}), true) : false) || ...);
    if (!found)
        throw error(errc::unsupported, std::string(name), "unknown hash algorithm (valid: " + hash_names(list) + ")");
}

/// hash_names() over the built-in hashs.
inline std::string hash_names() { return hash_names(builtin_hashes{}); }

/// visit_hash() over the built-in hashs.
template <class Visitor>
void visit_hash(std::string_view name, Visitor&& visitor) {
    visit_hash(name, std::forward<Visitor>(visitor), builtin_hashes{});
}

}  // namespace fitstream
