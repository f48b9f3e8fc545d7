// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Every built-in codec, and the one place a runtime compression name
/// ("gzip") maps onto the compile-time codec policies.
///
/// Including this header pulls in every codec and so needs every codec
/// library (CMake target fitstream::fitstream). A program that wants fewer
/// either includes only <fitstream/codec/NAME.hpp> for the codecs it uses,
/// links fitstream::core plus fitstream::NAME for each, and may name its
/// own `codec_list<...>` for the runtime dispatch below; or it defines, before
/// including any fitstream header (best on the command line), one macro per
/// codec it leaves out:
///
///   FITSTREAM_NO_BZIP2  FITSTREAM_NO_LZMA  FITSTREAM_NO_LZO
///   FITSTREAM_NO_LZ4    FITSTREAM_NO_ZSTD
///
/// Such a codec is then not in `builtin_codecs` (so the reader, visit_codec()
/// and the Kbuild front end refuse its name as an unknown compression), its
/// header declares nothing, and neither its C header nor its library is
/// needed. `none` and `gzip` are always there (gzip needs zlib and
/// libdeflate, which fitstream::core links anyway).
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
#include <fitstream/detail/policy_list.hpp>

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
/// compression U-Boot decodes, and each with a decoder; less those left out
/// with FITSTREAM_NO_<CODEC>.
using builtin_codecs = codec_list<codec::none, codec::gzip
#ifndef FITSTREAM_NO_BZIP2
                                  , codec::bzip2
#endif
#ifndef FITSTREAM_NO_LZMA
                                  , codec::lzma
#endif
#ifndef FITSTREAM_NO_LZO
                                  , codec::lzo
#endif
#ifndef FITSTREAM_NO_LZ4
                                  , codec::lz4
#endif
#ifndef FITSTREAM_NO_ZSTD
                                  , codec::zstd
#endif
                                  >;

/// @returns the FIT names of the list's codecs in list order, joined by
///          ", " ("none, gzip, bzip2, lzma, lzo, lz4, zstd" for
///          builtin_codecs): for messages and --help. Never throws but
///          std::bad_alloc.
template <class... Codecs>
std::string codec_names(codec_list<Codecs...>) {
    return detail::policy_names<codec_list<Codecs...>>();
}

/// @returns true when `name` is the FIT name of a codec in the list (exactly:
///          "GZIP" is not "gzip").
template <class... Codecs>
bool is_codec_name(std::string_view name, codec_list<Codecs...>) {
    return detail::is_policy_name<codec_list<Codecs...>>(name);
}

/// Calls `visitor(codec_tag<C>{})` for the codec `C` of the list whose FIT
/// name is `name`, and returns after it.
/// @throws fitstream::error (errc::unsupported, subject `name`, "unknown
///         compression (valid: <codec_names(list)>)") when no codec in the
///         list has that name; whatever the visitor throws.
template <class Visitor, class... Codecs>
void visit_codec(std::string_view name, Visitor&& visitor, codec_list<Codecs...>) {
    detail::visit_policy<codec_list<Codecs...>>(name, visitor, "unknown compression");
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
