// SPDX-License-Identifier: MIT
#pragma once

// The writer's pipeline: the image jobs (detail/write/image_jobs.hpp) run
// on the scheduler's workers (detail/parallel/scheduler.hpp) while the
// calling thread stores their results in tree order.
//
// The calling thread writes a whole-image job's chunks as they come. For a
// segmented image it writes the container's header, folds each segment's
// summary with add() and writes its bytes, in segment order, then the
// trailer, hashing the stored bytes as they pass (they must be hashed in
// order).
//
// Two output strategies: with workers, a job's chunks are queued under the
// memory budget, and a whole-image job that has filled its share waits for
// the calling thread to drain it; with threads == 1 every job runs on the
// calling thread, one image after the other, with no look-ahead, and each
// chunk is written as soon as it is full. That is the sequential writer,
// and the reference the parallel runs must match byte for byte.

#include <fitstream/detail/parallel/scheduler.hpp>
#include <fitstream/detail/write/image_jobs.hpp>
#include <fitstream/detail/write/image_list.hpp>
#include <fitstream/tree.hpp>

#include <algorithm>
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
    // @param budget bytes of input and stored data held in flight
    pipeline(const image_list& images, const std::vector<std::uint64_t>& sizes, unsigned threads,
             std::size_t budget, std::size_t chunk_size)
        : images_(images), sizes_(sizes), threads_(std::max(1u, threads)),
          budget_(std::max(budget, chunk_size)), chunk_size_(chunk_size) {}

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
        // Whole images are one job each: no more workers than images.
        return images_.any_segmented() ? threads_ : static_cast<unsigned>(std::min<std::size_t>(threads_, images_.size()));
    }

    void run_parallel() {
        image_job_list jobs(images_, sizes_, chunk_size_);
        image_scheduler work(worker_count(), budget_, image_job_cost);
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
                             segment_done(job);
                             return;
                         }
                         consumer_->begin_image(job.image);
                         image_chunk chunk;
                         while (results.next(chunk)) consumer_->stored(chunk.data, chunk.size, chunk.input_done);
                         whole_done(job);
                     });
        peak_in_flight_ = work.peak_in_flight();
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

    // Stored bytes of a segmented image: hashed here, in order.
    void emit_segmented(const char* data, std::size_t size, std::uint64_t input_done) {
        if (size == 0) return;
        for (auto& h : segment_hashers_) h->update(data, size);
        consumer_->stored(data, size, input_done);
    }

    void segment_done(image_job& job) {
        const image& img = *job.img;
        segmenter_interface& segmenter = *job.state->segmenter;
        std::vector<char> frame;
        if (job.first) {
            consumer_->begin_image(job.image);
            segment_hashers_.clear();
            for (const auto& h : img.hashes()) segment_hashers_.push_back(h.make());
            segmenter.header(frame);
            emit_segmented(frame.data(), frame.size(), 0);
        }
        segmenter.add(job.segment_out);
        emit_segmented(job.segment_out.bytes.data(), job.segment_out.bytes.size(), job.begin + job.size);
        job.segment_out = {};
        if (!job.last) return;
        frame.clear();
        segmenter.trailer(frame);
        emit_segmented(frame.data(), frame.size(), sizes_[job.image]);
        std::vector<std::uint8_t> digests = digest_space(img);
        std::size_t at = 0;
        for (std::size_t k = 0; k < segment_hashers_.size(); ++k) {
            segment_hashers_[k]->final(digests.data() + at);
            at += img.hashes()[k].digest_size;
        }
        segment_hashers_.clear();
        consumer_->end_image(job.image, digests.data(), sizes_[job.image]);
    }

    const image_list& images_;
    const std::vector<std::uint64_t>& sizes_;
    const unsigned threads_;
    const std::size_t budget_;
    const std::size_t chunk_size_;
    pipeline_consumer* consumer_ = nullptr;
    std::size_t peak_in_flight_ = 0;

    // Calling thread only: the hashes of the segmented image being written.
    std::vector<std::unique_ptr<hasher_interface>> segment_hashers_;
};

}  // namespace detail
}  // namespace fitstream
