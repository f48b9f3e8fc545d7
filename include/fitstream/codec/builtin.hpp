// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Every built-in codec, and the one place a runtime compression name
/// ("gzip") maps onto the compile-time codec policies.
///
/// Including this header pulls in every codec and so needs every codec
/// library (CMake target fitstream::fitstream). A program that wants fewer
/// includes only <fitstream/codec/NAME.hpp> for the codecs it uses, links
/// fitstream::core plus fitstream::NAME for each, and may name its own
/// `codec_list<...>` for the runtime dispatch below.
///
/// @code
/// fitstream::visit_codec(name, [&](auto tag) {
///     using codec = typename decltype(tag)::type;
///     image.compress_with<codec>();
/// });
/// @endcode

#include <fitstream/codec/concept.hpp>
#include <fitstream/codec/bzip2.hpp>
#include <fitstream/codec/gzip.hpp>
#include <fitstream/codec/lz4.hpp>
#include <fitstream/codec/lzma.hpp>
#include <fitstream/codec/lzo.hpp>
#include <fitstream/codec/none.hpp>
#include <fitstream/codec/zstd.hpp>
#include <fitstream/error.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace fitstream {

/// A compile-time list of codecs.
template <class... Codecs>
struct codec_list {
    static_assert((check_codec<Codecs>() && ...));
};

/// The codecs fitstream ships, in the order `codec_names()` lists them: every
/// compression U-Boot decodes, and each with a decoder.
using builtin_codecs =
    codec_list<codec::none, codec::gzip, codec::bzip2, codec::lzma, codec::lzo, codec::lz4, codec::zstd>;

/// "none, gzip, bzip2, lzma, lzo, lz4, zstd": the names a list accepts, for
/// messages and --help.
template <class... Codecs>
std::string codec_names(codec_list<Codecs...>) {
    std::string names;
    ((names += (names.empty() ? "" : ", "), names += Codecs::fit_name), ...);
    return names;
}

/// True when `name` is the FIT name of a codec in the list.
template <class... Codecs>
bool is_codec_name(std::string_view name, codec_list<Codecs...>) {
    return ((name == Codecs::fit_name) || ...);
}

/// Calls `visitor(codec_tag<C>{})` for the codec `C` whose FIT name is `name`.
/// @throws fitstream::error (errc::unsupported) naming the valid names when
///         no codec in the list has that name.
template <class Visitor, class... Codecs>
void visit_codec(std::string_view name, Visitor&& visitor, codec_list<Codecs...> list) {
    const bool found = ((name == Codecs::fit_name ? (visitor(codec_tag<Codecs>{}), true) : false) || ...);
    if (!found)
        throw error(errc::unsupported, std::string(name),
                    "unknown compression (valid: " + codec_names(list) + ")");
}

/// codec_names() over the built-in codecs.
inline std::string codec_names() { return codec_names(builtin_codecs{}); }

/// visit_codec() over the built-in codecs.
template <class Visitor>
void visit_codec(std::string_view name, Visitor&& visitor) {
    visit_codec(name, std::forward<Visitor>(visitor), builtin_codecs{});
}

/// is_codec_name() over the built-in codecs.
inline bool is_codec_name(std::string_view name) { return is_codec_name(name, builtin_codecs{}); }

}  // namespace fitstream
