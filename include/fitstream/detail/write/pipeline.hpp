// SPDX-License-Identifier: MIT
#pragma once

// The writer's pipeline: the image jobs (detail/write/image_jobs.hpp) run
// on the scheduler's workers (detail/parallel/scheduler.hpp) while the
// calling thread stores their results in tree order.
//
// The calling thread writes a whole-image job's chunks as they come. For a
// segmented image it writes the container's header, folds each segment's
// summary with add() and writes its bytes, in segment order, then the
// trailer. The stored bytes must be hashed in order: with workers, an
// image of hash_thread_segments or more is hashed by a thread of its own
// (detail/parallel/ordered_hasher.hpp) while the calling thread writes the
// same buffers, so the writing thread only writes; smaller images, and
// every image with one thread, are hashed by the calling thread.
//
// Threads: the scheduler runs at most as many jobs at once as there are
// cores (and -j), and a job whose encoder runs threads of its own (zstd's
// workers) counts as that many: -j N never computes on more than N
// threads, nor on more threads than cores. The encoder's memory counts
// against the budget while the job runs (lzma's match finder, zstd's
// contexts); at least one job always runs, whatever the budget.
//
// Two output strategies: with workers, a job's chunks are queued under the
// memory budget, and a whole-image job that has filled its share waits for
// the calling thread to drain it; with threads == 1 every job runs on the
// calling thread, one image after the other, with no look-ahead, and each
// chunk is written as soon as it is full. That is the sequential writer,
// and the reference the parallel runs must match byte for byte.

#include <fitstream/detail/parallel/cores.hpp>
#include <fitstream/detail/parallel/ordered_hasher.hpp>
#include <fitstream/detail/parallel/scheduler.hpp>
#include <fitstream/detail/write/image_jobs.hpp>
#include <fitstream/detail/write/image_list.hpp>
#include <fitstream/tree.hpp>
#include <fitstream/write_options.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace fitstream {
namespace detail {

// What the calling thread does with the pipeline's results, in tree order.
struct pipeline_consumer {
    virtual ~pipeline_consumer() = default;
    // Image `index` starts; its stored bytes follow.
    virtual void begin_image(std::size_t index) = 0;
    // The next stored bytes of the current image; `input_done` input bytes
    // of it have been consumed to produce them (for progress).
    virtual void stored(const char* data, std::size_t size, std::uint64_t input_done) = 0;
    // Image `index` is complete: every digest, concatenated in the order
    // of image::hashes(), and the input size.
    virtual void end_image(std::size_t index, const std::uint8_t* digests, std::uint64_t input_size) = 0;
};

class pipeline {
public:
    // @param images the tree's images; `sizes` their planned sizes
    // @param threads worker threads (1: everything on the calling thread)
    // @param budget bytes of input and stored data held in flight, and of
    //        the encoders' memory
    // @param cores the most threads computing at once (0: the cores this
    //        process may run on); never more than `threads`
    pipeline(const image_list& images, const std::vector<std::uint64_t>& sizes, unsigned threads,
             std::size_t budget, std::size_t chunk_size, unsigned cores = 0)
        : images_(images), sizes_(sizes), threads_(std::max(1u, threads)),
          budget_(std::max(budget == 0 ? default_memory_budget : budget, chunk_size)),
          count_codec_state_(budget != 0), chunk_size_(chunk_size),
          cores_(std::min(threads_, cores == 0 ? available_cores() : cores)) {}

    // Benches only: hash segmented images on the writing thread, as before
    // the hashing thread existed.
    void hash_on_writer(bool on) { hash_on_writer_ = on; }

    // Runs every job, feeding `consumer` on the calling thread in tree
    // order. Rethrows the first failure in tree order after every worker
    // has been joined.
    void run(pipeline_consumer& consumer) {
        consumer_ = &consumer;
        if (threads_ == 1) return run_inline();
        run_parallel();
    }

    // The most bytes ever held in flight (for tests of the budget); 0 with
    // one thread.
    std::size_t peak_in_flight() const { return peak_in_flight_; }

    // The most threads computing at once (for tests of -j); 1 with one
    // thread.
    unsigned peak_running() const { return peak_running_; }

    // Where the time went (for benches), in nanoseconds: the calling
    // thread's work on results (writing, and hashing when it does it, not
    // its waits), and the hashing thread's.
    struct stage_times {
        std::uint64_t writer_ns = 0;
        std::uint64_t hasher_ns = 0;
    };
    stage_times times() const { return times_; }

private:
    using image_scheduler = scheduler<image_job, image_chunk>;

    // With workers: budgeted chunks, queued for the calling thread.
    class queued_output final : public chunk_output {
    public:
        explicit queued_output(image_scheduler::worker& w) : w_(w) {}
        image_chunk acquire(std::size_t capacity) override {
            w_.acquire(capacity);
            image_chunk chunk;
            chunk.storage.reset(new char[capacity]);
            chunk.capacity = capacity;
            chunk.charged = capacity;
            return chunk;
        }
        void deliver(image_chunk chunk) override {
            if (chunk.storage == nullptr) return w_.pass(std::move(chunk));  // a view: counted, never charged
            const std::size_t charged = chunk.charged;
            w_.deliver(std::move(chunk), charged);
        }
        void discard(image_chunk chunk) override { w_.discard(chunk.charged); }
        void shrink(image_chunk& chunk) override {
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
            w_.release(freed);
        }

    private:
        image_scheduler::worker& w_;
    };

    // Inline: each chunk is written as soon as it is full; one buffer.
    class direct_output final : public chunk_output {
    public:
        explicit direct_output(pipeline_consumer& consumer) : consumer_(consumer) {}
        image_chunk acquire(std::size_t capacity) override {
            image_chunk chunk;
            if (spare_ && spare_capacity_ >= capacity) {
                chunk.storage = std::move(spare_);
                chunk.capacity = spare_capacity_;
            } else {
                chunk.storage.reset(new char[capacity]);
                chunk.capacity = capacity;
            }
            return chunk;
        }
        void deliver(image_chunk chunk) override {
            consumer_.stored(chunk.data, chunk.size, chunk.input_done);
            recycle(std::move(chunk));
        }
        void discard(image_chunk chunk) override { recycle(std::move(chunk)); }

    private:
        void recycle(image_chunk chunk) {
            if (chunk.storage && chunk.capacity >= spare_capacity_) {
                spare_ = std::move(chunk.storage);
                spare_capacity_ = chunk.capacity;
            }
        }
        pipeline_consumer& consumer_;
        std::unique_ptr<char[]> spare_;
        std::size_t spare_capacity_ = 0;
    };

    unsigned worker_count() const {
        // No more than can compute at once; whole images are one job
        // each: no more workers than images.
        return images_.any_segmented() ? cores_ : static_cast<unsigned>(std::min<std::size_t>(cores_, images_.size()));
    }

    // Adds the time since `start` to the calling thread's work.
    void writer_time(std::chrono::steady_clock::time_point start) {
        times_.writer_ns += static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
    }

    void run_parallel() {
        image_job_list jobs(images_, sizes_, chunk_size_, cores_, count_codec_state_);
        image_scheduler work(worker_count(), budget_, image_job_cost, cores_);
        if (!hash_on_writer_) hasher_ = std::make_unique<ordered_hasher>();
        work.run([&](image_job& job, std::size_t& reserved) { return jobs.next(job, reserved); },
                     [&] {
                         return [&, runner = image_job_runner(sizes_, threads_, chunk_size_)](
                                    image_job& job, image_scheduler::worker& w) mutable {
                             queued_output out(w);
                             runner.run(job, out);
                             // A segment's output waits for the calling thread.
                             if (job.state) w.hold(job.segment_out.bytes.size());
                         };
                     },
                     [&](image_job& job, image_scheduler::results& results) {
                         if (job.state) {
                             results.wait();
                             const auto start = std::chrono::steady_clock::now();
                             segment_done(job);
                             writer_time(start);
                             return;
                         }
                         consumer_->begin_image(job.image);
                         image_chunk chunk;
                         while (results.next(chunk)) {
                             const auto start = std::chrono::steady_clock::now();
                             consumer_->stored(chunk.data, chunk.size, chunk.input_done);
                             writer_time(start);
                         }
                         whole_done(job);
                     });
        peak_in_flight_ = work.peak_in_flight();
        peak_running_ = work.peak_running();
        if (hasher_) times_.hasher_ns = hasher_->busy_ns();
        hasher_.reset();
    }

    void run_inline() {
        image_job_list jobs(images_, sizes_, chunk_size_);
        image_job_runner runner(sizes_, threads_, chunk_size_);
        direct_output out(*consumer_);
        image_job job;
        std::size_t reserved = 0;
        while (jobs.next(job, reserved)) {
            if (!job.state) consumer_->begin_image(job.image);
            runner.run(job, out);
            if (job.state)
                segment_done(job);
            else
                whole_done(job);
            job = {};
        }
    }

    void whole_done(image_job& job) { consumer_->end_image(job.image, job.digests.data(), sizes_[job.image]); }

    // Stored bytes of a segmented image, in order: handed to the hashing
    // thread (shared, not copied) and written meanwhile, or hashed here.
    void emit_segmented(std::vector<char>&& bytes, std::uint64_t input_done) {
        if (bytes.empty()) return;
        if (hash_on_thread_) {
            auto shared = std::make_shared<const std::vector<char>>(std::move(bytes));
            hasher_->feed(shared);
            consumer_->stored(shared->data(), shared->size(), input_done);
            return;
        }
        for (auto& h : segment_hashers_) h->update(bytes.data(), bytes.size());
        consumer_->stored(bytes.data(), bytes.size(), input_done);
    }

    void segment_done(image_job& job) {
        const image& img = *job.img;
        segmenter_interface& segmenter = *job.state->segmenter;
        if (job.first) {
            consumer_->begin_image(job.image);
            std::vector<std::unique_ptr<hasher_interface>> hashers;
            for (const auto& h : img.hashes()) hashers.push_back(h.make());
            // Only a large image is worth the handoff: a small one (a DTB:
            // one segment) is hashed here in microseconds, where waiting for
            // the hashing thread at each image's end cost a 1,500-DTB lz4
            // run a third of its time.
            hash_on_thread_ = hasher_ && job.state->segments >= hash_thread_segments;
            if (hash_on_thread_)
                hasher_->begin(std::move(hashers));
            else
                segment_hashers_ = std::move(hashers);
            std::vector<char> frame;
            segmenter.header(frame);
            emit_segmented(std::move(frame), 0);
        }
        segmenter.add(job.segment_out);
        emit_segmented(std::move(job.segment_out.bytes), job.begin + job.size);
        job.segment_out = {};
        if (!job.last) return;
        std::vector<char> frame;
        segmenter.trailer(frame);
        emit_segmented(std::move(frame), sizes_[job.image]);
        std::vector<std::uint8_t> digests = digest_space(img);
        std::vector<std::size_t> digest_sizes;
        for (const auto& h : img.hashes()) digest_sizes.push_back(h.digest_size);
        if (hash_on_thread_) {
            hasher_->finish(digests.data(), digest_sizes);
        } else {
            std::size_t at = 0;
            for (std::size_t k = 0; k < segment_hashers_.size(); ++k) {
                segment_hashers_[k]->final(digests.data() + at);
                at += digest_sizes[k];
            }
            segment_hashers_.clear();
        }
        consumer_->end_image(job.image, digests.data(), sizes_[job.image]);
    }

    const image_list& images_;
    const std::vector<std::uint64_t>& sizes_;
    const unsigned threads_;
    const std::size_t budget_;
    const bool count_codec_state_;  // a budget was given: encoders' memory counts against it
    const std::size_t chunk_size_;
    const unsigned cores_;
    pipeline_consumer* consumer_ = nullptr;
    std::size_t peak_in_flight_ = 0;
    unsigned peak_running_ = 1;
    bool hash_on_writer_ = false;
    // Images of at least this many segments are hashed on the hashing thread.
    static constexpr std::uint64_t hash_thread_segments = 4;
    bool hash_on_thread_ = false;  // the segmented image being written
    stage_times times_;

    // With workers: hashes segmented images in order, beside the writing.
    std::unique_ptr<ordered_hasher> hasher_;
    // Otherwise, calling thread only: the hashes of the segmented image
    // being written.
    std::vector<std::unique_ptr<hasher_interface>> segment_hashers_;
};

}  // namespace detail
}  // namespace fitstream
