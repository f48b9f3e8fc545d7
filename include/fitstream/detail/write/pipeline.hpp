// SPDX-License-Identifier: MIT
#pragma once

// The writer's parallel pipeline: worker threads compress and hash payloads
// while the calling thread stores the results in tree order.
//
// Jobs. An image whose codec has `segments` becomes one job per segment
// (the codec fixes the segment size, never the thread count, so the bytes
// are the same for any -j); the calling thread writes the container's
// header, folds each segment's summary with add() and writes its bytes, in
// segment order, then the trailer, hashing the stored bytes as they pass
// (they must be hashed in order). Any other image is one job that streams
// it through a fresh encoder (or, for `none`, straight from the file into
// the buffer that is hashed and written) and hashes what it stores in the
// worker, so the calling thread only writes.
//
// Order and look-ahead. Jobs are taken in tree order, so the job the
// calling thread waits for (the head) has always been started before any
// later one. Later jobs run ahead while the memory they hold stays within
// the budget: a job is started only when the input it will read and the
// output it is expected to produce fit, and a whole-image job that has
// filled its share waits for the calling thread to drain it. The head is
// exempt (it may always start and always keep two chunks in flight): the
// calling thread is consuming exactly its output, so it always progresses
// and the pipeline cannot deadlock, whatever the budget.
//
// Errors. A failed job records its exception and no later job starts. The
// calling thread meets the failure when it reaches that job in tree order,
// so the first failure in tree order is the one reported; the pipeline
// then stops, wakes and joins every worker, and rethrows.
//
// threads == 1 runs every job on the calling thread, one image after the
// other, with no look-ahead: the sequential writer, and the reference the
// parallel runs must match byte for byte.

#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/io/file.hpp>
#include <fitstream/error.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/tree.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fitstream {
namespace detail {

/// Images at least this large pass the thread count to their encoder (zstd
/// runs workers of its own); smaller ones gain nothing from it and would
/// each start a thread pool.
inline constexpr std::uint64_t encoder_threads_threshold = 8u << 20;

/// What one queued job costs besides its data (the slot, its vectors, the
/// allocator's overhead), counted against the budget.
inline constexpr std::size_t slot_cost = 512;

/// What the calling thread does with the pipeline's results, in tree order.
struct pipeline_consumer {
    virtual ~pipeline_consumer() = default;
    /// Image `index` starts; its stored bytes follow.
    virtual void begin_image(std::size_t index) = 0;
    /// The next stored bytes of the current image; `input_done` input bytes
    /// of it have been consumed to produce them (for progress).
    virtual void stored(const char* data, std::size_t size, std::uint64_t input_done) = 0;
    /// Image `index` is complete: every digest, concatenated in the order
    /// of image::hashes(), and the input size.
    virtual void end_image(std::size_t index, const std::uint8_t* digests, std::uint64_t input_size) = 0;
};

// A buffer of stored bytes on its way to the calling thread. `storage` is
// null when `data` points into a memory source (nothing copied).
struct pipeline_chunk {
    std::unique_ptr<char[]> storage;
    std::size_t capacity = 0;
    const char* data = nullptr;
    std::size_t size = 0;
    std::size_t charged = 0;  // bytes counted against the budget
    std::uint64_t input_done = 0;
};

// Thrown inside a worker when the pipeline stops under it; never escapes.
struct pipeline_cancelled {};

// What the segment jobs of one image share.
struct pipeline_image_state {
    std::unique_ptr<segmenter_interface> segmenter;
    std::size_t segment_size = 0;
    std::size_t dictionary_size = 0;
    std::uint64_t segments = 1;
    std::once_flag opened;
    unique_fd fd;
};

// One job: a whole image, or one segment of an image.
struct pipeline_slot {
    std::size_t image = 0;
    std::shared_ptr<pipeline_image_state> state;  // segment jobs only
    std::uint64_t segment = 0;
    bool first = true;
    bool last = true;
    std::uint64_t begin = 0;  // segment jobs: input range
    std::uint64_t size = 0;
    std::size_t reserved = 0;  // budget held while the job runs
    bool begun = false;        // the calling thread has started this image
    // Whole-image jobs:
    // (A vector and an index, not a deque: a deque allocates on
    // construction, and thousands of small images may be queued.)
    std::vector<pipeline_chunk> chunks;
    std::size_t next_chunk = 0;   // the first not yet written
    std::size_t outstanding = 0;  // chunks acquired and not yet written
    std::vector<std::uint8_t> digests;
    // Segment jobs:
    segment_output segment_out;
    std::size_t charged = 0;  // budget held until the calling thread has written it
    bool done = false;
    std::exception_ptr error;
};

// Where a job puts what it produces.
struct pipeline_output {
    virtual ~pipeline_output() = default;
    // A buffer of `capacity` bytes, once the budget allows it.
    virtual pipeline_chunk acquire(pipeline_slot& slot, std::size_t capacity) = 0;
    // `chunk.data`/`size` are set: hand it on, in order.
    virtual void deliver(pipeline_slot& slot, pipeline_chunk chunk) = 0;
    // An acquired chunk that stays unused.
    virtual void discard(pipeline_slot& slot, pipeline_chunk chunk) = 0;
    // A chunk that may wait a while holding little: keep only its bytes.
    virtual void shrink(pipeline_slot&, pipeline_chunk&) {}
};

inline error input_changed_while_read(const std::string& name, std::uint64_t expected, std::uint64_t got,
                                      bool more) {
    return error(errc::input_changed, name,
                 "changed size while being read (" + std::to_string(expected) + " bytes expected, " +
                     std::to_string(got) + (more ? "+" : "") + " read)");
}

class pipeline {
public:
    /// @param images the tree's images; `sizes` their planned sizes
    /// @param threads worker threads (1: everything on the calling thread)
    /// @param budget bytes of input and stored data held in flight
    pipeline(const std::vector<image>& images, const std::vector<std::uint64_t>& sizes, unsigned threads,
             std::size_t budget, std::size_t chunk_size)
        : images_(images), sizes_(sizes), threads_(std::max(1u, threads)),
          budget_(std::max(budget, chunk_size)), chunk_size_(chunk_size) {}

    pipeline(const pipeline&) = delete;
    pipeline& operator=(const pipeline&) = delete;
    ~pipeline() { stop(); }

    /// Runs every job, feeding `consumer` on the calling thread in tree
    /// order. Rethrows the first failure in tree order after every worker
    /// has been joined.
    void run(pipeline_consumer& consumer) {
        consumer_ = &consumer;
        if (threads_ == 1) return run_inline();
        try {
            start_workers();
            run_ordered();
        } catch (...) {
            stop();
            throw;
        }
        stop();
    }

    /// The most bytes ever held in flight (for tests of the budget).
    std::size_t peak_in_flight() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return peak_in_flight_;
    }

private:
    // ---- dispatch (under mutex_, or on the calling thread when inline) ----

    bool all_described() const { return next_image_ >= images_.size(); }

    // Describes the next job in tree order into a fresh slot.
    std::unique_ptr<pipeline_slot> describe_next() {
        auto slot = std::make_unique<pipeline_slot>();
        const std::size_t i = next_image_;
        const image& img = images_[i];
        const std::uint64_t size = sizes_[i];
        slot->image = i;
        if (next_segment_ == 0) {
            current_.reset();
            if (img.codec().segmented()) {
                try {
                    auto state = std::make_shared<pipeline_image_state>();
                    state->segmenter = img.codec().make_segmenter(size);
                    state->segment_size = state->segmenter->segment_size();
                    state->dictionary_size = state->segmenter->dictionary_size();
                    if (state->segment_size == 0)
                        throw error(errc::invalid_argument, "/images/" + img.name,
                                    "codec " + std::string(img.compression()) + " has a segment size of 0");
                    state->segments = size == 0 ? 1 : (size - 1) / state->segment_size + 1;
                    current_ = std::move(state);
                } catch (...) {
                    slot->error = std::current_exception();
                    slot->done = true;
                    ++next_image_;
                    return slot;
                }
            }
        }
        if (current_) {
            slot->state = current_;
            slot->segment = next_segment_;
            slot->first = next_segment_ == 0;
            slot->last = next_segment_ + 1 == current_->segments;
            slot->begin = next_segment_ * current_->segment_size;
            slot->size = std::min<std::uint64_t>(current_->segment_size, size - slot->begin);
            // Input read (files only) plus the output, expected no larger.
            const std::uint64_t dict = std::min<std::uint64_t>(current_->dictionary_size, slot->begin);
            slot->reserved = static_cast<std::size_t>((img.data.is_file() ? dict + slot->size : 0) + slot->size);
            if (slot->last) {
                ++next_image_;
                next_segment_ = 0;
                current_.reset();
            } else {
                ++next_segment_;
            }
        } else {
            // The input buffer a compressing job reads a file into.
            if (img.data.is_file() && img.compression() != "none")
                slot->reserved = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, size + 1));
            ++next_image_;
        }
        return slot;
    }

    // ---- workers ----

    void start_workers() {
        bool segmented = false;
        for (const auto& img : images_) segmented = segmented || img.codec().segmented();
        const std::size_t jobs_bound = segmented ? threads_ : std::min<std::size_t>(threads_, images_.size());
        workers_.reserve(jobs_bound);
        for (std::size_t i = 0; i < jobs_bound; ++i) workers_.emplace_back([this] { worker_main(); });
    }

    void stop() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        work_cv_.notify_all();
        space_cv_.notify_all();
        ready_cv_.notify_all();
        for (auto& t : workers_)
            if (t.joinable()) t.join();
        workers_.clear();
    }

    // The next job this worker may run, or null when there is none.
    pipeline_slot* take() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            if (stop_ || failed_) return nullptr;
            if (!pending_) {
                if (all_described()) return nullptr;
                pending_ = describe_next();
            }
            const bool head = slots_.empty();
            if (pending_->done) {
                // It failed before it could start: the calling thread
                // reports it when it gets there; nothing after it starts.
                failed_ = true;
                slots_.push_back(std::move(pending_));
                ready_cv_.notify_all();
                return nullptr;
            }
            // Nothing in flight: any job may start, however large.
            if (head || in_flight_ == 0 || in_flight_ + pending_->reserved + slot_cost <= budget_) {
                // The slot itself counts until it is written: thousands of
                // tiny images must not hide their bookkeeping.
                pending_->charged = slot_cost;
                charge(pending_->reserved + slot_cost);
                pipeline_slot* slot = pending_.get();
                slots_.push_back(std::move(pending_));
                work_cv_.notify_one();  // another worker may take the next one
                return slot;
            }
            work_cv_.wait(lock);
        }
    }

    void charge(std::size_t bytes) {
        in_flight_ += bytes;
        peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
    }
    void release(std::size_t bytes) {
        in_flight_ -= std::min(in_flight_, bytes);
        work_cv_.notify_all();
        space_cv_.notify_all();
    }

    void worker_main() {
        queued_output out(*this);
        std::unique_ptr<char[]> input;
        std::size_t input_capacity = 0;
        for (;;) {
            pipeline_slot* slot = nullptr;
            try {
                slot = take();
            } catch (...) {
                // Describing the next job failed (out of memory): it comes
                // after every slot already taken, so the calling thread
                // writes those and then reports this.
                std::lock_guard<std::mutex> lock(mutex_);
                if (!fatal_) fatal_ = std::current_exception();
                failed_ = true;
                ready_cv_.notify_all();
                work_cv_.notify_all();
                return;
            }
            if (!slot) break;
            try {
                execute(*slot, out, input, input_capacity);
            } catch (const pipeline_cancelled&) {
                return;
            } catch (...) {
                std::lock_guard<std::mutex> lock(mutex_);
                slot->error = std::current_exception();
                failed_ = true;
            }
            std::lock_guard<std::mutex> lock(mutex_);
            slot->done = true;
            if (slot->state) {
                slot->charged += slot->segment_out.bytes.size();
                charge(slot->segment_out.bytes.size());
            }
            release(slot->reserved);
            slot->reserved = 0;
            ready_cv_.notify_all();
        }
    }

    // Budgeted chunks, queued for the calling thread.
    class queued_output final : public pipeline_output {
    public:
        explicit queued_output(pipeline& p) : p_(p) {}
        pipeline_chunk acquire(pipeline_slot& slot, std::size_t capacity) override {
            {
                std::unique_lock<std::mutex> lock(p_.mutex_);
                p_.space_cv_.wait(lock, [&] {
                    if (p_.stop_) return true;
                    const bool head = !p_.slots_.empty() && p_.slots_.front().get() == &slot;
                    return (head && slot.outstanding < 2) || p_.in_flight_ + capacity <= p_.budget_;
                });
                if (p_.stop_) throw pipeline_cancelled{};
                p_.charge(capacity);
                ++slot.outstanding;
            }
            pipeline_chunk chunk;
            chunk.storage.reset(new char[capacity]);
            chunk.capacity = capacity;
            chunk.charged = capacity;
            return chunk;
        }
        void deliver(pipeline_slot& slot, pipeline_chunk chunk) override {
            std::lock_guard<std::mutex> lock(p_.mutex_);
            if (chunk.storage == nullptr) ++slot.outstanding;  // a view: counted, never charged
            slot.chunks.push_back(std::move(chunk));
            p_.ready_cv_.notify_all();
        }
        void discard(pipeline_slot& slot, pipeline_chunk chunk) override {
            std::lock_guard<std::mutex> lock(p_.mutex_);
            --slot.outstanding;
            p_.release(chunk.charged);
        }
        void shrink(pipeline_slot&, pipeline_chunk& chunk) override {
            // A small image's output (a compressed DTB) waits behind a
            // large one: a copy of its bytes costs far less than holding
            // the whole buffer.
            if (chunk.size >= chunk.capacity / 2) return;
            std::unique_ptr<char[]> exact(new char[std::max<std::size_t>(chunk.size, 1)]);
            std::memcpy(exact.get(), chunk.data, chunk.size);
            const std::size_t freed = chunk.capacity - chunk.size;
            chunk.storage = std::move(exact);
            chunk.data = chunk.storage.get();
            chunk.capacity = chunk.size;
            chunk.charged -= freed;
            std::lock_guard<std::mutex> lock(p_.mutex_);
            p_.release(freed);
        }

    private:
        pipeline& p_;
    };

    // ---- the calling thread ----

    void run_ordered() {
        for (;;) {
            std::unique_lock<std::mutex> lock(mutex_);
            ready_cv_.wait(lock, [&] {
                return !slots_.empty() || (all_described() && !pending_) || stop_ || fatal_;
            });
            if (slots_.empty()) {
                if (fatal_) std::rethrow_exception(fatal_);
                return;  // everything written
            }
            pipeline_slot& slot = *slots_.front();
            if (!slot.state || slot.done) {
                // Whole-image job (or one that failed before it started):
                // write its chunks as they come.
                lock.unlock();
                if (!slot.state && !slot.begun) begin_whole(slot);
                lock.lock();
                for (;;) {
                    ready_cv_.wait(lock, [&] { return slot.next_chunk < slot.chunks.size() || slot.done; });
                    if (slot.next_chunk == slot.chunks.size()) break;
                    pipeline_chunk chunk = std::move(slot.chunks[slot.next_chunk++]);
                    lock.unlock();
                    consumer_->stored(chunk.data, chunk.size, chunk.input_done);
                    lock.lock();
                    --slot.outstanding;
                    release(chunk.charged);
                    // Written chunks go, so a long image at a small chunk
                    // size does not pile up moved-from entries.
                    if (slot.next_chunk == slot.chunks.size()) {
                        slot.chunks.clear();
                        slot.next_chunk = 0;
                    }
                }
                lock.unlock();
                if (slot.state)
                    segment_done(slot);
                else
                    whole_done(slot);
                lock.lock();
                release(slot.charged);
                slots_.pop_front();  // the next job becomes the head
                space_cv_.notify_all();
                work_cv_.notify_all();
                continue;
            }
            ready_cv_.wait(lock, [&] { return slot.done; });
        }
    }

    void run_inline() {
        direct_output out(*this);
        std::unique_ptr<char[]> input;
        std::size_t input_capacity = 0;
        while (!all_described()) {
            const auto slot = describe_next();
            if (!slot->state && !slot->done) begin_whole(*slot);
            if (!slot->done) execute(*slot, out, input, input_capacity);
            if (slot->state)
                segment_done(*slot);
            else
                whole_done(*slot);
        }
    }

    // Inline: each chunk is written as soon as it is full; one buffer.
    class direct_output final : public pipeline_output {
    public:
        explicit direct_output(pipeline& p) : p_(p) {}
        pipeline_chunk acquire(pipeline_slot&, std::size_t capacity) override {
            pipeline_chunk chunk;
            if (spare_ && spare_capacity_ >= capacity) {
                chunk.storage = std::move(spare_);
                chunk.capacity = spare_capacity_;
            } else {
                chunk.storage.reset(new char[capacity]);
                chunk.capacity = capacity;
            }
            return chunk;
        }
        void deliver(pipeline_slot&, pipeline_chunk chunk) override {
            p_.consumer_->stored(chunk.data, chunk.size, chunk.input_done);
            recycle(std::move(chunk));
        }
        void discard(pipeline_slot&, pipeline_chunk chunk) override { recycle(std::move(chunk)); }

    private:
        void recycle(pipeline_chunk chunk) {
            if (chunk.storage && chunk.capacity >= spare_capacity_) {
                spare_ = std::move(chunk.storage);
                spare_capacity_ = chunk.capacity;
            }
        }
        pipeline& p_;
        std::unique_ptr<char[]> spare_;
        std::size_t spare_capacity_ = 0;
    };

    void begin_whole(pipeline_slot& slot) {
        slot.begun = true;
        consumer_->begin_image(slot.image);
    }

    void whole_done(pipeline_slot& slot) {
        if (slot.error) std::rethrow_exception(slot.error);
        consumer_->end_image(slot.image, slot.digests.data(), sizes_[slot.image]);
    }

    // Stored bytes of a segmented image: hashed here, in order.
    void emit_segmented(const char* data, std::size_t size, std::uint64_t input_done) {
        if (size == 0) return;
        for (auto& h : segment_hashers_) h->update(data, size);
        consumer_->stored(data, size, input_done);
    }

    void segment_done(pipeline_slot& slot) {
        if (slot.error) std::rethrow_exception(slot.error);
        const image& img = images_[slot.image];
        segmenter_interface& segmenter = *slot.state->segmenter;
        std::vector<char> frame;
        if (slot.first) {
            consumer_->begin_image(slot.image);
            segment_hashers_.clear();
            for (const auto& h : img.hashes()) segment_hashers_.push_back(h.make());
            segmenter.header(frame);
            emit_segmented(frame.data(), frame.size(), 0);
        }
        segmenter.add(slot.segment_out);
        emit_segmented(slot.segment_out.bytes.data(), slot.segment_out.bytes.size(), slot.begin + slot.size);
        slot.segment_out = {};
        if (!slot.last) return;
        frame.clear();
        segmenter.trailer(frame);
        emit_segmented(frame.data(), frame.size(), sizes_[slot.image]);
        std::vector<std::uint8_t> digests = digest_space(img);
        std::size_t at = 0;
        for (std::size_t k = 0; k < segment_hashers_.size(); ++k) {
            segment_hashers_[k]->final(digests.data() + at);
            at += img.hashes()[k].digest_size;
        }
        segment_hashers_.clear();
        consumer_->end_image(slot.image, digests.data(), sizes_[slot.image]);
    }

    static std::vector<std::uint8_t> digest_space(const image& img) {
        std::size_t total = 0;
        for (const auto& h : img.hashes()) total += h.digest_size;
        return std::vector<std::uint8_t>(total);
    }

    // ---- the jobs (on a worker, or inline) ----

    void execute(pipeline_slot& slot, pipeline_output& out, std::unique_ptr<char[]>& input,
                 std::size_t& input_capacity) {
        if (slot.state)
            execute_segment(slot, input, input_capacity);
        else
            execute_whole(slot, out, input, input_capacity);
    }

    static char* ensure(std::unique_ptr<char[]>& buffer, std::size_t& capacity, std::size_t size) {
        // Never zero-filled: every byte used is read into first.
        if (capacity < size || !buffer) {
            buffer.reset(new char[std::max<std::size_t>(size, 1)]);
            capacity = std::max<std::size_t>(size, 1);
        }
        return buffer.get();
    }

    void execute_segment(pipeline_slot& slot, std::unique_ptr<char[]>& input, std::size_t& input_capacity) {
        const image& img = images_[slot.image];
        pipeline_image_state& state = *slot.state;
        const auto dict = static_cast<std::size_t>(std::min<std::uint64_t>(state.dictionary_size, slot.begin));
        const auto size = static_cast<std::size_t>(slot.size);
        const char* base;
        if (!img.data.is_file()) {
            base = img.data.data() ? img.data.data() + (slot.begin - dict) : nullptr;
        } else {
            std::call_once(state.opened, [&] {
                state.fd = open_for_reading(img.data.name());
                const std::uint64_t now = file_size(state.fd.get(), img.data.name());
                if (now != sizes_[slot.image])
                    throw error(errc::input_changed, img.data.name(),
                                "changed size before it was read (" + std::to_string(sizes_[slot.image]) +
                                    " bytes when planned, " + std::to_string(now) + " now)");
                (void)::posix_fadvise(state.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
            });
            // The last segment reads one byte more, to see a file that grew.
            const std::size_t want = dict + size + (slot.last ? 1 : 0);
            char* buffer = ensure(input, input_capacity, want);
            const std::uint64_t from = slot.begin - dict;
            std::size_t got = 0;
            while (got < want) {
                const ssize_t n = ::pread(state.fd.get(), buffer + got, want - got, static_cast<off_t>(from + got));
                if (n < 0) {
                    if (errno == EINTR) continue;
                    throw_os_error(errno, img.data.name(), "cannot read");
                }
                if (n == 0) break;
                got += static_cast<std::size_t>(n);
            }
            if (got != dict + size)
                throw input_changed_while_read(img.data.name(), sizes_[slot.image], from + got, got > dict + size);
            base = buffer;
        }
        const char* in = base ? base + dict : nullptr;
        state.segmenter->encode(slot.segment, base, dict, in, size, slot.last, slot.segment_out);
    }

    void execute_whole(pipeline_slot& slot, pipeline_output& out, std::unique_ptr<char[]>& input,
                       std::size_t& input_capacity) {
        const image& img = images_[slot.image];
        const std::uint64_t planned = sizes_[slot.image];
        source_reader reader(img.data);
        reader.expect_size(planned);
        std::vector<std::unique_ptr<hasher_interface>> hashers;
        hashers.reserve(img.hashes().size());
        for (const auto& h : img.hashes()) hashers.push_back(h.make());
        std::uint64_t consumed = 0;
        const auto put = [&](pipeline_chunk&& chunk) {
            for (auto& h : hashers) h->update(chunk.data, chunk.size);
            chunk.input_done = consumed;
            out.deliver(slot, std::move(chunk));
        };

        if (img.compression() == "none") {
            if (reader.in_memory()) {
                // Views into the caller's memory: hashed and written as they are.
                while (consumed < planned) {
                    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, planned - consumed));
                    pipeline_chunk view;
                    view.data = reader.memory() + consumed;
                    view.size = n;
                    consumed += n;
                    put(std::move(view));
                }
            } else {
                // Read straight into the buffer that is hashed and written.
                // Each read asks for one byte more than should remain, so
                // the last one also sees a file that grew.
                for (;;) {
                    const auto capacity =
                        static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, planned - consumed + 1));
                    pipeline_chunk chunk = out.acquire(slot, capacity);
                    const std::size_t n = reader.read(chunk.storage.get(), capacity);
                    if (n == 0) {
                        out.discard(slot, std::move(chunk));
                        break;
                    }
                    chunk.data = chunk.storage.get();
                    chunk.size = n;
                    consumed += n;
                    put(std::move(chunk));
                    if (n < capacity) break;
                }
            }
        } else {
            const unsigned threads = planned >= encoder_threads_threshold ? threads_ : 1;
            const auto encoder = img.codec().make_encoder(planned, threads);
            // Small images get a small buffer; incompressible data that
            // comes out larger simply continues in the next one.
            const auto out_capacity = static_cast<std::size_t>(
                std::min<std::uint64_t>(chunk_size_, std::max<std::uint64_t>(4096, planned + planned / 8 + 1024)));
            pipeline_chunk chunk = out.acquire(slot, out_capacity);
            char* o = chunk.storage.get();
            char* o_end = o + out_capacity;
            const auto feed = [&](const char* data, std::size_t size, bool last) {
                const char* in = data;
                const char* const in_end = data + size;
                for (;;) {
                    const bool more = encoder->filter(in, in_end, o, o_end, last);
                    if (o == o_end) {
                        chunk.data = chunk.storage.get();
                        chunk.size = out_capacity;
                        put(std::move(chunk));
                        chunk = out.acquire(slot, out_capacity);
                        o = chunk.storage.get();
                        o_end = o + out_capacity;
                    }
                    if (!more || (!last && in == in_end)) return;
                }
            };
            if (reader.in_memory()) {
                const char* memory = reader.memory();
                do {
                    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, planned - consumed));
                    const bool last = consumed + n == planned;
                    consumed += n;
                    feed(n ? memory + (consumed - n) : o, n, last);
                } while (consumed < planned);
            } else {
                const auto capacity = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, planned + 1));
                char* buffer = ensure(input, input_capacity, capacity);
                for (;;) {
                    const std::size_t n = reader.read(buffer, capacity);
                    // A short read means the end: the reader has checked the size.
                    const bool last = n < capacity;
                    consumed += n;
                    feed(buffer, n, last);
                    if (last) break;
                }
            }
            if (o != chunk.storage.get()) {
                chunk.data = chunk.storage.get();
                chunk.size = static_cast<std::size_t>(o - chunk.storage.get());
                out.shrink(slot, chunk);
                put(std::move(chunk));
            } else {
                out.discard(slot, std::move(chunk));
            }
        }
        slot.digests = digest_space(img);
        std::size_t at = 0;
        for (std::size_t k = 0; k < hashers.size(); ++k) {
            hashers[k]->final(slot.digests.data() + at);
            at += img.hashes()[k].digest_size;
        }
    }

    const std::vector<image>& images_;
    const std::vector<std::uint64_t>& sizes_;
    const unsigned threads_;
    const std::size_t budget_;
    const std::size_t chunk_size_;
    pipeline_consumer* consumer_ = nullptr;

    // Dispatch cursor (under mutex_ once workers run).
    std::size_t next_image_ = 0;
    std::uint64_t next_segment_ = 0;
    std::shared_ptr<pipeline_image_state> current_;
    std::unique_ptr<pipeline_slot> pending_;

    mutable std::mutex mutex_;
    std::condition_variable work_cv_;   // workers: a job may be taken
    std::condition_variable space_cv_;  // producers: budget freed or head moved
    std::condition_variable ready_cv_;  // calling thread: output or a finished job
    std::deque<std::unique_ptr<pipeline_slot>> slots_;  // taken, not yet written; front is the head
    std::size_t in_flight_ = 0;
    std::size_t peak_in_flight_ = 0;
    bool stop_ = false;
    bool failed_ = false;
    std::exception_ptr fatal_;  // a worker could not take a job (not tied to a slot)
    std::vector<std::thread> workers_;

    // Calling thread only: the hashes of the segmented image being written.
    std::vector<std::unique_ptr<hasher_interface>> segment_hashers_;
};

}  // namespace detail
}  // namespace fitstream
