// SPDX-License-Identifier: MIT
#pragma once

// Hashes one image's stored bytes, in order, on a thread of its own, while
// the calling thread writes them: sha256, sha1 and md5 are sequential, so
// this moves them off the writing thread rather than splitting them.
//
// The calling thread begin()s an image with its hashers, feed()s buffers in
// order (shared: it writes the same bytes meanwhile) and finish()es it,
// which waits for the queue to drain and writes the digests. At most
// `depth` buffers wait, so the hashing thread holds at most depth + 1
// buffers; feed() blocks beyond that.

#include <fitstream/detail/hash/binding.hpp>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

class ordered_hasher {
public:
    using buffer = std::shared_ptr<const std::vector<char>>;

    explicit ordered_hasher(std::size_t depth = 2) : depth_(depth < 1 ? 1 : depth) {}
    ordered_hasher(const ordered_hasher&) = delete;
    ordered_hasher& operator=(const ordered_hasher&) = delete;
    ~ordered_hasher() {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        work_cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

    // Starts an image (the previous one finish()ed). Starts the thread on
    // first use. @throws std::system_error when it cannot start
    void begin(std::vector<std::unique_ptr<hasher_interface>> hashers) {
        if (!thread_.joinable()) thread_ = std::thread([this] { main(); });
        std::lock_guard<std::mutex> lock(mutex_);
        hashers_ = std::move(hashers);
        error_ = nullptr;
    }

    // Queues the next bytes; waits while `depth` buffers are queued.
    void feed(buffer bytes) {
        if (!bytes || bytes->empty()) return;
        std::unique_lock<std::mutex> lock(mutex_);
        done_cv_.wait(lock, [&] { return queue_.size() < depth_; });
        queue_.push_back(std::move(bytes));
        work_cv_.notify_one();
    }

    // Waits for every queued buffer, then writes each digest in turn to
    // `out`, advancing by its size. @throws what a hasher threw
    template <class DigestSizes>
    void finish(std::uint8_t* out, const DigestSizes& sizes) {
        std::unique_lock<std::mutex> lock(mutex_);
        done_cv_.wait(lock, [&] { return queue_.empty() && !busy_; });
        auto hashers = std::move(hashers_);
        hashers_.clear();
        if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
        lock.unlock();
        std::size_t at = 0;
        for (std::size_t k = 0; k < hashers.size(); ++k) {
            hashers[k]->final(out + at);
            at += sizes[k];
        }
    }

    // Time the hashing thread spent hashing, in nanoseconds (for benches).
    std::uint64_t busy_ns() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return busy_ns_;
    }

private:
    void main() {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            work_cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
            if (stop_) return;
            buffer bytes = std::move(queue_.front());
            queue_.pop_front();
            busy_ = true;
            const bool failed = error_ != nullptr;
            lock.unlock();
            const auto start = std::chrono::steady_clock::now();
            std::exception_ptr error;
            if (!failed) {
                try {
                    for (auto& h : hashers_) h->update(bytes->data(), bytes->size());
                } catch (...) {
                    error = std::current_exception();
                }
            }
            const auto spent = std::chrono::steady_clock::now() - start;
            bytes.reset();
            lock.lock();
            busy_ns_ += static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(spent).count());
            if (error && !error_) error_ = error;
            busy_ = false;
            done_cv_.notify_all();
        }
    }

    const std::size_t depth_;
    mutable std::mutex mutex_;
    std::condition_variable work_cv_;  // the thread: a buffer or stop
    std::condition_variable done_cv_;  // the caller: room in the queue, or drained
    std::deque<buffer> queue_;
    // Touched by the thread only while it is busy_; by the caller only
    // while it is not (begin() and finish() run with the queue drained).
    std::vector<std::unique_ptr<hasher_interface>> hashers_;
    std::exception_ptr error_;
    bool busy_ = false;
    bool stop_ = false;
    std::uint64_t busy_ns_ = 0;
    std::thread thread_;
};

}  // namespace detail
}  // namespace fitstream
