// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The Codec concept: what a compression policy must provide.
///
/// A codec is a small struct, chosen at compile time, per image:
///
/// @code
/// struct my_codec {
///     // The FIT `compression` value; must be a name U-Boot decodes.
///     static constexpr std::string_view fit_name = "gzip";
///     // Tuning knobs; default-constructible, defaults are sensible.
///     struct options { int level = 6; };
///     // A Boost.Iostreams *SymmetricFilter* that compresses, so
///     // boost::iostreams::symmetric_filter<my_codec::encoder> adapts it.
///     class encoder {
///     public:
///         using char_type = char;
///         // source_size: the exact input size, or fitstream::unknown_size.
///         encoder(const options&, std::uint64_t source_size);
///         // Optional: an encoder that can run threads of its own (zstd's
///         // workers) also takes how many it may use; its output must not
///         // depend on that number.
///         encoder(const options&, std::uint64_t source_size, unsigned threads);
///         // Consumes [in, in_end), produces into [out, out_end) and advances
///         // both. With flush == false, returns true. With flush == true
///         // (no more input will come), returns true while output remains
///         // to be produced and false once the stream is complete.
///         bool filter(const char*& in, const char* in_end,
///                     char*& out, char* out_end, bool flush);
///         // Returns the encoder to its initial state.
///         void close();
///     };
///     // Optional: the memory one encoder holds for a source of `source_size`
///     // bytes (unknown_size allowed) compressed with `threads` threads of
///     // its own; the writer counts it against write_options::memory_budget.
///     // Without it an encoder counts as 0 bytes (a few KiB of state).
///     static std::size_t encoder_memory(const options&, std::uint64_t source_size, unsigned threads);
///     // Optional, with the three-argument constructor: how many threads the
///     // encoder can keep busy for this source, at most `most` (at least 1).
///     // The writer gives it that many of its own -j, no more.
///     static unsigned encoder_threads(const options&, std::uint64_t source_size, unsigned most);
///     // Optional for writing; a reader needs it. The inverse SymmetricFilter:
///     class decoder {
///     public:
///         using char_type = char;
///         decoder();
///         // Consumes compressed bytes from [in, in_end), produces the
///         // original bytes into [out, out_end) and advances both. Returns
///         // false once the end of the compressed stream has been read and
///         // all of its output delivered (whatever `flush` says); input past
///         // that end is left unconsumed. Returns true otherwise.
///         // Throws fitstream::error (the codec library's category, subject
///         // = fit_name) on corrupt input, and on truncated input: flush ==
///         // true, no input left and the stream not complete.
///         bool filter(const char*& in, const char* in_end,
///                     char*& out, char* out_end, bool flush);
///         // Returns the decoder to its initial state.
///         void close();
///     };
/// };
/// @endcode
///
/// A codec whose container allows it may also split the work so one large
/// payload compresses on all cores. This part is optional; the writer uses
/// it, when present, for every image of that codec:
///
/// @code
///     class segments {
///     public:
///         using summary = ...;  // copyable: what finish() needs of one segment
///         // source_size: the exact input size (never unknown_size).
///         segments(const options&, std::uint64_t source_size);
///         // Input bytes per segment (the last may be shorter, never empty
///         // unless the input is). Fixed by options and source_size alone,
///         // never by the thread count: output is the same for any -j.
///         std::size_t segment_size() const;
///         // Input bytes right before a segment that encode() may use as a
///         // dictionary (0 for none; gzip: 32 KiB).
///         std::size_t dictionary_size() const;
///         // Thread-safe (const, no shared mutable state): compresses one
///         // segment. [dict, dict + dict_size) are the input bytes right
///         // before `in` (fewer at the start). Appends the stored bytes to
///         // `out` (cleared by the caller) and returns what finish() needs.
///         summary encode(std::uint64_t index, const char* dict, std::size_t dict_size,
///                        const char* in, std::size_t size, bool last, std::vector<char>& out) const;
///         // The container's first bytes, before segment 0's.
///         void header(std::vector<char>& out) const;
///         // Folds one segment's summary; called in segment order.
///         void add(const summary&);
///         // The container's last bytes, after the last segment's.
///         void trailer(std::vector<char>& out) const;
///     };
/// @endcode
///
/// The stored bytes are header + every segment's bytes in order + trailer.
///
/// The bytes the encoder produces must be exactly the container U-Boot's
/// decoder for `fit_name` expects (image_decomp() in U-Boot's boot/image.c
/// and the decoders it calls: lib/gunzip.c wants a gzip member, not zlib;
/// lib/lzma/LzmaTools.c LZMA_Alone, not xz; lib/lz4_wrapper.c an LZ4 frame,
/// not the legacy format; lib/lzo/lzo1x_decompress.c an lzop file; ...). A decoder reads one
/// such container (one gzip member, one zstd or LZ4 frame, ...) and never
/// allocates more than a fixed bound, whatever the container's header says.
///
/// `static_assert(fitstream::is_codec_v<C>, ...)` is the one place the
/// concept is checked; `fitstream::check_codec<C>()` wraps it, and
/// `fitstream::check_decodable_codec<C>()` adds the decoder.

#include <boost/mp11/utility.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>
#include <utility>

namespace fitstream {

/// Passed as an encoder's `source_size` when the input size is not known.
inline constexpr std::uint64_t unknown_size = std::numeric_limits<std::uint64_t>::max();

namespace detail {

template <class, class = void>
struct has_fit_name : std::false_type {};
template <class C>
struct has_fit_name<C, std::enable_if_t<std::is_convertible_v<decltype(C::fit_name), std::string_view>>>
    : std::true_type {};

template <class, class = void>
struct is_symmetric_encoder : std::false_type {};
template <class E>
struct is_symmetric_encoder<
    E, std::enable_if_t<std::is_same_v<typename E::char_type, char> &&
                        std::is_same_v<decltype(std::declval<E&>().filter(
                                           std::declval<const char*&>(), std::declval<const char*>(),
                                           std::declval<char*&>(), std::declval<char*>(), true)),
                                       bool> &&
                        std::is_void_v<decltype(std::declval<E&>().close())>>> : std::true_type {};

template <class, class = void>
struct is_symmetric_decoder : std::false_type {};
template <class D>
struct is_symmetric_decoder<D, std::enable_if_t<std::is_default_constructible_v<D>>> : is_symmetric_encoder<D> {};

template <class, class = void>
struct is_codec_impl : std::false_type {};
template <class C>
struct is_codec_impl<C, std::void_t<typename C::options, typename C::encoder>>
    : std::bool_constant<has_fit_name<C>::value &&
                         std::is_default_constructible_v<typename C::options> &&
                         std::is_constructible_v<typename C::encoder, const typename C::options&,
                                                 std::uint64_t> &&
                         is_symmetric_encoder<typename C::encoder>::value> {};

template <class, class = void>
struct has_segments_impl : std::false_type {};
template <class C>
struct has_segments_impl<C, std::void_t<typename C::segments, typename C::segments::summary>>
    : std::bool_constant<std::is_constructible_v<typename C::segments, const typename C::options&, std::uint64_t>> {};

template <class, class = void>
struct has_decoder_impl : std::false_type {};
template <class C>
struct has_decoder_impl<C, std::void_t<typename C::decoder>>
    : std::bool_constant<is_symmetric_decoder<typename C::decoder>::value> {};

template <class, class = void>
struct has_encoder_memory : std::false_type {};
template <class C>
struct has_encoder_memory<C, std::enable_if_t<std::is_convertible_v<
                                 decltype(C::encoder_memory(std::declval<const typename C::options&>(),
                                                            std::uint64_t{}, 1u)),
                                 std::size_t>>> : std::true_type {};

template <class, class = void>
struct has_encoder_threads : std::false_type {};
template <class C>
struct has_encoder_threads<C, std::enable_if_t<std::is_convertible_v<
                                  decltype(C::encoder_threads(std::declval<const typename C::options&>(),
                                                              std::uint64_t{}, 1u)),
                                  unsigned>>> : std::true_type {};

}  // namespace detail

/// What one encoder of codec `C` holds for a source of `source_size` bytes
/// compressed with `threads` threads of its own: `C::encoder_memory` when
/// the codec says, else 0.
template <class C>
std::size_t encoder_memory(const typename C::options& options, std::uint64_t source_size, unsigned threads) {
    if constexpr (detail::has_encoder_memory<C>::value)
        return C::encoder_memory(options, source_size, threads);
    else
        return (void)options, (void)source_size, (void)threads, std::size_t{0};
}

/// How many threads an encoder of codec `C` can keep busy on a source of
/// `source_size` bytes, at most `most`: `C::encoder_threads` when the codec
/// says and its encoder takes a thread count, else 1.
template <class C>
unsigned encoder_threads(const typename C::options& options, std::uint64_t source_size, unsigned most) {
    if constexpr (detail::has_encoder_threads<C>::value &&
                  std::is_constructible_v<typename C::encoder, const typename C::options&, std::uint64_t, unsigned>) {
        const unsigned n = C::encoder_threads(options, source_size, most);
        return n < 1 ? 1 : (n > most && most > 0 ? most : n);
    } else {
        return (void)options, (void)source_size, (void)most, 1u;
    }
}

/// True when `C` models the Codec concept described in this file.
template <class C>
inline constexpr bool is_codec_v = detail::is_codec_impl<C>::value;

/// True when `C` is a codec that also has a default-constructible
/// SymmetricFilter `decoder` (what a reader needs).
template <class C>
inline constexpr bool is_decodable_codec_v = is_codec_v<C> && detail::has_decoder_impl<C>::value;

/// True when codec `C` can split one payload into segments compressed in
/// parallel (the optional `segments` part described in this file).
template <class C>
inline constexpr bool has_segments_v = is_codec_v<C> && detail::has_segments_impl<C>::value;

/// Checks `C` against the Codec concept with one readable message.
/// @returns true (so it can sit in a `static_assert`); a `C` that is not a
///          codec does not compile, it never fails at run time.
template <class C>
constexpr bool check_codec() {
    static_assert(is_codec_v<C>,
                  "fitstream: C is not a codec: it needs `static constexpr std::string_view fit_name`, "
                  "a default-constructible `options`, and an `encoder` constructible from "
                  "(const options&, std::uint64_t) with Boost.Iostreams SymmetricFilter members "
                  "`char_type`, `bool filter(const char*&, const char*, char*&, char*, bool)` and "
                  "`void close()` (see <fitstream/codec/concept.hpp>)");
    return true;
}

/// Checks `C` against the Codec concept and requires its `decoder`.
/// @returns true; a `C` without a usable decoder does not compile.
template <class C>
constexpr bool check_decodable_codec() {
    static_assert(check_codec<C>());
    static_assert(detail::has_decoder_impl<C>::value,
                  "fitstream: codec C has no usable decoder: it needs a default-constructible `decoder` with "
                  "Boost.Iostreams SymmetricFilter members `char_type`, "
                  "`bool filter(const char*&, const char*, char*&, char*, bool)` and `void close()` "
                  "(see <fitstream/codec/concept.hpp>)");
    return true;
}

/// Names a codec type as a value, for the runtime-name dispatch in
/// <fitstream/codec/builtin.hpp>: `visit_codec("gzip", [](auto tag) { using C =
/// typename decltype(tag)::type; ... })`. Boost.Mp11's mp_identity.
template <class C>
using codec_tag = boost::mp11::mp_identity<C>;

}  // namespace fitstream
