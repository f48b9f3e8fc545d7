// SPDX-License-Identifier: MIT
#pragma once

// What the codecs are made of, below the public Codec concept:
//  - run_filter(): the one loop that drives a SymmetricFilter over a buffer;
//  - output_queue, magic_check, stall_detector: pieces the library adapters
//    in detail/lib/ share;
//  - engine_filter<Engine>: the one encoder/decoder shape. Every codec's
//    encoder and decoder is an engine from detail/lib/ (a class with
//    step(), which is SymmetricFilter::filter(), and reset(), which is
//    close()) seen through this template;
//  - segments_in_series<Codec>: the engine of a codec whose `segments` make
//    its whole container, run one segment after the other on the caller's
//    thread, so the plain encoder and the writer's parallel path give the
//    same bytes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

// Runs a SymmetricFilter (an encoder or a decoder) over [data, data + size)
// in one call sequence, with `emit` receiving each produced block; `last`
// says no more input follows. Stops early when the filter reports the end
// of its stream (a decoder that met its end leaves the rest of the input).
// Returns the number of input bytes consumed.
template <class Filter, class Emit>
std::size_t run_filter(Filter& filter, const char* data, std::size_t size, bool last, char* scratch,
                       std::size_t scratch_size, Emit&& emit) {
    const char* in = data;
    const char* const in_end = data + size;
    for (;;) {
        char* out = scratch;
        const bool more = filter.filter(in, in_end, out, scratch + scratch_size, last);
        if (out != scratch) emit(scratch, static_cast<std::size_t>(out - scratch));
        if (!more || (!last && in == in_end)) return static_cast<std::size_t>(in - data);
    }
}

// Bytes a codec has produced but not yet handed out, for libraries that
// need more room than the caller's output window (LZ4F_compressUpdate wants
// a worst-case bound) and for containers assembled by hand (lzop). The
// storage is never zero-filled: a library writes into reserve()d space and
// commit() says how much of it is valid.
class output_queue {
public:
    bool empty() const noexcept { return begin_ == end_; }
    std::size_t size() const noexcept { return end_ - begin_; }

    // Room for `n` more bytes at the end; valid until the next call.
    unsigned char* reserve(std::size_t n) {
        if (capacity_ - end_ < n) {
            const std::size_t used = end_ - begin_;
            if (capacity_ - used < n || begin_ == 0) {
                const std::size_t want = std::max(used + n, capacity_ * 2);
                std::unique_ptr<unsigned char[]> bigger(new unsigned char[want]);
                if (used) std::memcpy(bigger.get(), data_.get() + begin_, used);
                data_ = std::move(bigger);
                capacity_ = want;
            } else {
                std::memmove(data_.get(), data_.get() + begin_, used);
            }
            begin_ = 0;
            end_ = used;
        }
        return data_.get() + end_;
    }
    void commit(std::size_t n) noexcept { end_ += n; }
    void append(const void* bytes, std::size_t n) {
        if (n == 0) return;
        std::memcpy(reserve(n), bytes, n);
        commit(n);
    }
    // Moves as much as fits into [out, out_end).
    void drain(char*& out, char* out_end) noexcept {
        const std::size_t n = std::min(size(), static_cast<std::size_t>(out_end - out));
        if (n == 0) return;
        std::memcpy(out, data_.get() + begin_, n);
        out += n;
        begin_ += n;
        if (begin_ == end_) begin_ = end_ = 0;
    }
    void clear() noexcept { begin_ = end_ = 0; }

private:
    std::unique_ptr<unsigned char[]> data_;
    std::size_t capacity_ = 0;
    std::size_t begin_ = 0;
    std::size_t end_ = 0;
};

// Records the first bytes a library consumed and checks them against a
// container's magic number: some libraries also accept other containers
// (skippable frames), which U-Boot does not.
class magic_check {
public:
    magic_check(const unsigned char* magic, std::size_t size) noexcept : magic_(magic), size_(size) {}
    // `consumed` bytes starting at `p` were just taken from the input.
    // Returns false as soon as they disagree with the magic number.
    bool feed(const char* p, std::size_t consumed) noexcept {
        while (seen_ < size_ && consumed > 0) {
            if (static_cast<unsigned char>(*p) != magic_[seen_]) return false;
            ++seen_;
            ++p;
            --consumed;
        }
        return true;
    }
    void reset() noexcept { seen_ = 0; }

private:
    const unsigned char* magic_;
    std::size_t size_;
    std::size_t seen_ = 0;
};

// Decides when a library decoder that reports no explicit error is stuck on
// truncated input: no input left, flush set, room for output, and two calls
// in a row moved nothing (one may have been an internal state change).
class stall_detector {
public:
    // Returns true when the stream must be truncated.
    bool stalled(bool progress, bool flush, bool input_left, bool output_room) noexcept {
        if (progress || !flush || input_left || !output_room) {
            idle_ = 0;
            return false;
        }
        return ++idle_ >= 2;
    }
    void reset() noexcept { idle_ = 0; }

private:
    int idle_ = 0;
};

// A codec's encoder or decoder: Engine::step() is filter() and
// Engine::reset() is close(). zlib's, libbz2's and liblzma's streams are
// pointed at from their own internal state, so an engine around one cannot
// move (its copy constructor is deleted and it has no move): it lives on
// the heap and the filter stays movable. Other engines are held in place.
template <class Engine>
class engine_filter {
public:
    using char_type = char;

    engine_filter() : engine_(make()) {}
    // Constructs the engine from the arguments; explicit only for one, as
    // a hand-written filter's (options, source_size) constructor was not.
    template <class Arg, class = std::enable_if_t<std::is_constructible_v<Engine, Arg&&>>>
    explicit engine_filter(Arg&& arg) : engine_(make(std::forward<Arg>(arg))) {}
    template <class Arg1, class Arg2, class... Args,
              class = std::enable_if_t<std::is_constructible_v<Engine, Arg1&&, Arg2&&, Args&&...>>>
    engine_filter(Arg1&& arg1, Arg2&& arg2, Args&&... args)
        : engine_(make(std::forward<Arg1>(arg1), std::forward<Arg2>(arg2), std::forward<Args>(args)...)) {}

    bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
        return engine().step(in, in_end, out, out_end, flush);
    }
    void close() { engine().reset(); }

private:
    static constexpr bool pinned = !std::is_move_constructible_v<Engine>;
    using holder = std::conditional_t<pinned, std::unique_ptr<Engine>, Engine>;

    template <class... Args>
    static holder make(Args&&... args) {
        if constexpr (pinned)
            return std::make_unique<Engine>(std::forward<Args>(args)...);
        else
            return Engine(std::forward<Args>(args)...);
    }
    Engine& engine() noexcept {
        if constexpr (pinned)
            return *engine_;
        else
            return engine_;
    }

    holder engine_;
};

// The engine of codec `none`: copies.
struct copy_engine {
    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) noexcept {
        const std::ptrdiff_t n = std::min(in_end - in, out_end - out);
        if (n > 0) {
            std::memcpy(out, in, static_cast<std::size_t>(n));
            in += n;
            out += n;
        }
        return !flush || in != in_end;
    }
    void reset() noexcept {}
};

// The plain encoder of a codec with `segments` (see the Codec concept):
// header, then each segment_size() bytes of input encoded as the writer
// would encode them in parallel, then trailer. A full segment is encoded
// only once more input shows it is not the last one, because `last` may
// change its bytes (gzip's final block). Holds one segment of input and its
// output.
template <class Codec>
class segments_in_series {
public:
    using options = typename Codec::options;
    using segments = typename Codec::segments;

    segments_in_series(const options& opts, std::uint64_t source_size)
        : segments_(opts, source_size), options_(opts), source_size_(source_size) {
        start();
    }

    bool step(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
        queue_.drain(out, out_end);
        const std::size_t segment_size = segments_.segment_size();
        while (queue_.empty() && in != in_end) {
            if (block_.size() == segment_size) encode(false);
            const std::size_t n = std::min(static_cast<std::size_t>(in_end - in), segment_size - block_.size());
            block_.insert(block_.end(), in, in + n);
            in += n;
            queue_.drain(out, out_end);
        }
        if (flush && in == in_end && !ended_ && queue_.empty()) {
            encode(true);
            packed_.clear();
            segments_.trailer(packed_);
            queue_.append(packed_.data(), packed_.size());
            ended_ = true;
            queue_.drain(out, out_end);
        }
        return !flush || !ended_ || !queue_.empty();
    }

    void reset() {
        segments_ = segments(options_, source_size_);
        block_.clear();
        dictionary_.clear();
        queue_.clear();
        index_ = 0;
        ended_ = false;
        start();
    }

private:
    void start() {
        packed_.clear();
        segments_.header(packed_);
        queue_.append(packed_.data(), packed_.size());
    }

    void encode(bool last) {
        packed_.clear();
        segments_.add(segments_.encode(index_++, dictionary_.data(), dictionary_.size(), block_.data(),
                                       block_.size(), last, packed_));
        queue_.append(packed_.data(), packed_.size());
        // The input bytes right before the next segment, as the writer
        // passes them.
        if (const std::size_t keep = segments_.dictionary_size(); keep > 0) {
            dictionary_.insert(dictionary_.end(), block_.begin(), block_.end());
            if (dictionary_.size() > keep)
                dictionary_.erase(dictionary_.begin(), dictionary_.end() - static_cast<std::ptrdiff_t>(keep));
        }
        block_.clear();
    }

    segments segments_;
    options options_;
    std::uint64_t source_size_;
    std::uint64_t index_ = 0;
    std::vector<char> block_;       // input of the segment being gathered
    std::vector<char> dictionary_;  // input right before it
    std::vector<char> packed_;      // encoded bytes on their way to the queue
    output_queue queue_;
    bool ended_ = false;
};

}  // namespace detail
}  // namespace fitstream
