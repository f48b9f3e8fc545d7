// SPDX-License-Identifier: MIT
#pragma once

// A codec policy behind a virtual call, so that one tree can mix codecs per
// image: an image holds a codec_binding, the writer's jobs make encoders
// and segmenters from it.

#include <fitstream/codec/concept.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>
#include <vector>

namespace fitstream {
namespace detail {

/// An encoder behind a virtual call, so one tree can mix codecs per image.
struct encoder_interface {
    virtual ~encoder_interface() = default;
    virtual bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) = 0;
};

template <class Codec>
class encoder_model final : public encoder_interface {
    using encoder = typename Codec::encoder;

    static encoder make(const typename Codec::options& options, std::uint64_t source_size, unsigned threads) {
        // An encoder that can use threads of its own (zstd's workers) says
        // so by taking a third argument; the others ignore the thread count.
        if constexpr (std::is_constructible_v<encoder, const typename Codec::options&, std::uint64_t, unsigned>)
            return encoder(options, source_size, threads);
        else
            return (void)threads, encoder(options, source_size);
    }

public:
    encoder_model(const typename Codec::options& options, std::uint64_t source_size, unsigned threads = 1)
        : encoder_(make(options, source_size, threads)) {}
    bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) override {
        return encoder_.filter(in, in_end, out, out_end, flush);
    }

private:
    typename Codec::encoder encoder_;
};

/// What one compressed segment produced (see the `segments` part of the
/// Codec concept): the stored bytes and the codec's summary, type-erased.
struct segment_output {
    std::vector<char> bytes;
    std::shared_ptr<const void> summary;
};

/// A codec's `segments` behind a virtual call. encode() is thread-safe.
struct segmenter_interface {
    virtual ~segmenter_interface() = default;
    virtual std::size_t segment_size() const = 0;
    virtual std::size_t dictionary_size() const = 0;
    virtual void encode(std::uint64_t index, const char* dict, std::size_t dict_size, const char* in,
                        std::size_t size, bool last, segment_output& out) const = 0;
    virtual void header(std::vector<char>& out) const = 0;
    virtual void add(const segment_output& segment) = 0;
    virtual void trailer(std::vector<char>& out) const = 0;
};

template <class Codec>
class segmenter_model final : public segmenter_interface {
    using segments = typename Codec::segments;
    using summary = typename segments::summary;

public:
    segmenter_model(const typename Codec::options& options, std::uint64_t source_size)
        : segments_(options, source_size) {}
    std::size_t segment_size() const override { return segments_.segment_size(); }
    std::size_t dictionary_size() const override { return segments_.dictionary_size(); }
    void encode(std::uint64_t index, const char* dict, std::size_t dict_size, const char* in, std::size_t size,
                bool last, segment_output& out) const override {
        out.bytes.clear();
        out.summary = std::make_shared<const summary>(segments_.encode(index, dict, dict_size, in, size, last, out.bytes));
    }
    void header(std::vector<char>& out) const override { segments_.header(out); }
    void add(const segment_output& segment) override {
        segments_.add(*static_cast<const summary*>(segment.summary.get()));
    }
    void trailer(std::vector<char>& out) const override { segments_.trailer(out); }

private:
    segments segments_;
};

/// A codec with its options, behind a virtual call: makes encoders and,
/// for codecs that have `segments`, segmenters. Immutable, so images share
/// one (see image::compress_with).
struct codec_interface {
    virtual ~codec_interface() = default;
    virtual std::unique_ptr<encoder_interface> make_encoder(std::uint64_t source_size, unsigned threads) const = 0;
    /// What one encoder holds (see fitstream::encoder_memory).
    virtual std::size_t encoder_memory(std::uint64_t source_size, unsigned threads) const = 0;
    /// Threads an encoder can keep busy, 1..most (see fitstream::encoder_threads).
    virtual unsigned encoder_threads(std::uint64_t source_size, unsigned most) const = 0;
    virtual bool has_segments() const noexcept = 0;
    /// Null for a codec without `segments`.
    virtual std::unique_ptr<segmenter_interface> make_segmenter(std::uint64_t source_size) const = 0;
};

template <class Codec>
class codec_model final : public codec_interface {
public:
    explicit codec_model(const typename Codec::options& options) : options_(options) {}
    std::unique_ptr<encoder_interface> make_encoder(std::uint64_t source_size, unsigned threads) const override {
        return std::make_unique<encoder_model<Codec>>(options_, source_size, threads);
    }
    std::size_t encoder_memory(std::uint64_t source_size, unsigned threads) const override {
        return fitstream::encoder_memory<Codec>(options_, source_size, threads);
    }
    unsigned encoder_threads(std::uint64_t source_size, unsigned most) const override {
        return fitstream::encoder_threads<Codec>(options_, source_size, most);
    }
    bool has_segments() const noexcept override { return has_segments_v<Codec>; }
    std::unique_ptr<segmenter_interface> make_segmenter(std::uint64_t source_size) const override {
        if constexpr (has_segments_v<Codec>)
            return std::make_unique<segmenter_model<Codec>>(options_, source_size);
        else
            return (void)source_size, nullptr;
    }

private:
    typename Codec::options options_;
};

/// An image's codec: its FIT name and a shared codec_interface. (A pointer,
/// not a pair of std::function: a tree may hold 100,000 images.)
struct codec_binding {
    std::string_view fit_name;
    std::shared_ptr<const codec_interface> codec;

    /// A fresh encoder; `threads`: how many threads it may use of its own (1: none).
    std::unique_ptr<encoder_interface> make_encoder(std::uint64_t source_size, unsigned threads) const {
        return codec->make_encoder(source_size, threads);
    }
    /// Bytes one encoder holds for `source_size` with `threads` threads.
    std::size_t encoder_memory(std::uint64_t source_size, unsigned threads) const {
        return codec->encoder_memory(source_size, threads);
    }
    /// Threads (1..most) an encoder can keep busy on `source_size` bytes.
    unsigned encoder_threads(std::uint64_t source_size, unsigned most) const {
        return codec->encoder_threads(source_size, most);
    }
    /// True when the codec has `segments` (make_segmenter() gives one).
    bool segmented() const noexcept { return codec->has_segments(); }
    std::unique_ptr<segmenter_interface> make_segmenter(std::uint64_t source_size) const {
        return codec->make_segmenter(source_size);
    }
};

}  // namespace detail
}  // namespace fitstream
