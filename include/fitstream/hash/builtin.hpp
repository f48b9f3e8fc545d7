// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Every built-in hash, and the one place a runtime algo name ("sha256")
/// maps onto the compile-time hash policies.

#include <fitstream/detail/policy_list.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/concept.hpp>
#include <fitstream/hash/crc16.hpp>
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
using builtin_hashes = hash_list<hash::crc16_ccitt, hash::crc32, hash::md5, hash::sha1, hash::sha256, hash::sha384, hash::sha512>;

/// @returns the FIT names of the list's hashes in list order, joined by ", "
///          ("crc32, md5, sha1, sha256, sha384, sha512" for builtin_hashes).
template <class... Hashes>
std::string hash_names(hash_list<Hashes...>) {
    return detail::policy_names<hash_list<Hashes...>>();
}

/// Calls `visitor(hash_tag<H>{})` for the hash `H` of the list whose FIT name
/// is `name`, and returns after it.
/// @throws fitstream::error (errc::unsupported, subject `name`, "unknown hash
///         algorithm (valid: <hash_names(list)>)") when no hash in the list
///         has that name; whatever the visitor throws.
template <class Visitor, class... Hashes>
void visit_hash(std::string_view name, Visitor&& visitor, hash_list<Hashes...>) {
    detail::visit_policy<hash_list<Hashes...>>(name, visitor, "unknown hash algorithm");
}

/// hash_names() over the built-in hashes.
inline std::string hash_names() { return hash_names(builtin_hashes{}); }

/// visit_hash() over the built-in hashes.
template <class Visitor>
void visit_hash(std::string_view name, Visitor&& visitor) {
    visit_hash(name, std::forward<Visitor>(visitor), builtin_hashes{});
}

}  // namespace fitstream
