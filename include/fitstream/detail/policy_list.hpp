// SPDX-License-Identifier: MIT
#pragma once

// The one runtime name -> compile-time policy dispatch, shared by the codec
// lists (<fitstream/codec/builtin.hpp>) and the hash lists
// (<fitstream/hash/builtin.hpp>). A list is any template of policies
// (codec_list<...>, hash_list<...>); each policy has a `fit_name`. Policies
// are visited as boost::mp11::mp_identity<P>, never constructed: a hash
// policy, for one, would start a digest.

#include <fitstream/error.hpp>

#include <boost/mp11/algorithm.hpp>
#include <boost/mp11/list.hpp>
#include <boost/mp11/utility.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace fitstream {
namespace detail {

// mp_identity<P> for every policy P of List, in order.
template <class List>
using policy_tags =
    boost::mp11::mp_transform<boost::mp11::mp_identity, boost::mp11::mp_rename<List, boost::mp11::mp_list>>;

// "a, b, c": every policy's fit_name, in list order.
template <class List>
std::string policy_names() {
    std::string names;
    boost::mp11::mp_for_each<policy_tags<List>>([&](auto tag) {
        if (!names.empty()) names += ", ";
        names += decltype(tag)::type::fit_name;
    });
    return names;
}

// True when `name` is the fit_name of a policy in List (case matters).
template <class List>
bool is_policy_name(std::string_view name) {
    bool found = false;
    boost::mp11::mp_for_each<policy_tags<List>>(
        [&](auto tag) { found = found || name == decltype(tag)::type::fit_name; });
    return found;
}

// Calls visitor(mp_identity<P>{}) for the first policy P of List whose
// fit_name is `name`; otherwise throws error(errc::unsupported, name,
// "<unknown> (valid: <policy_names>)").
template <class List, class Visitor>
void visit_policy(std::string_view name, Visitor&& visitor, const char* unknown) {
    bool found = false;
    boost::mp11::mp_for_each<policy_tags<List>>([&](auto tag) {
        if (found || name != decltype(tag)::type::fit_name) return;
        found = true;
        visitor(tag);
    });
    if (!found)
        throw error(errc::unsupported, std::string(name),
                    std::string(unknown) + " (valid: " + policy_names<List>() + ")");
}

}  // namespace detail
}  // namespace fitstream
