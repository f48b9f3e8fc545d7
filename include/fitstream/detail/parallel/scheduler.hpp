// SPDX-License-Identifier: MIT
#pragma once

// Ordered jobs on worker threads under a memory budget. Knows nothing of
// images or codecs: a job is the caller's type, described in order by the
// caller, run on a worker, and consumed on the calling thread in the order
// it was described.
//
// The simplest use, N independent jobs on T threads with their results
// consumed in order and at most W of them ahead of the consumer (each job
// costs 1 against a budget of W):
//
//     struct read_job { std::size_t index = 0; std::vector<char> bytes; };
//     std::size_t next = 0;
//     scheduler<read_job> s(T, W, 1);
//     s.run([&](read_job& job, std::size_t& reserved) {      // under the lock, in order
//               if (next == paths.size()) return false;
//               job.index = next++;
//               reserved = 0;
//               return true;
//           },
//           [&] {                                             // once per worker thread
//               return [&](read_job& job, scheduler<read_job>::worker&) { job.bytes = read(paths[job.index]); };
//           },
//           [&](read_job& job, scheduler<read_job>::results& r) {  // calling thread, in order
//               r.wait();  // rethrows the job's exception, if it threw
//               use(job.index, job.bytes);
//           });
//
// Workers are started before anything is consumed: a caller that can do
// without them (the read-ahead) catches std::system_error from run() and
// does the work itself; nothing has been consumed then.
//
// A job may also stream items (Item) to the consumer while it runs: the
// worker acquire()s budget for each, deliver()s it, and the consumer takes
// them with results::next() as they come.
//
// Order and look-ahead. Jobs are taken in order, so the job the calling
// thread waits for (the head) has always been started before any later
// one. A job starts only when what it reserves and `job_cost` fit the
// budget, or when nothing is in flight. The head is exempt (it may always
// start and always keep two items in flight): the calling thread is
// consuming exactly its output, so it always progresses and the scheduler
// cannot deadlock, whatever the budget.
//
// Threads. At most `cores` jobs run at once, whatever the number of
// workers: a worker past that waits for a running job to finish. A job
// that can keep more than one thread busy (an encoder with threads of its
// own) says so in `threads_wanted`; it is given what is free when it
// starts, at least one and at most that, in `threads`, and counts as that
// many running jobs until it is done. (Jobs without those members count
// as one.) So the threads computing never outnumber the cores, with any
// -j. A job blocked for budget keeps its share: it was taken in order, so
// the head, which always progresses, was taken before it.
//
// Errors. A job that throws records its exception and no later job starts;
// the consumer meets it (results::next() or wait() rethrows it) when it
// reaches that job, so the first failure in order is the one reported. A
// failure to describe or take the next job (out of memory) comes after
// every job already taken, and is reported once they are consumed. run()
// then stops, wakes and joins every worker, and rethrows.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

// Thrown inside a worker blocked in acquire() when the scheduler stops
// under it; the scheduler catches it.
struct scheduler_stopped {};

// The Item of jobs that stream nothing.
struct no_item {};

// Whether a job type says how many threads it can keep busy.
template <class, class = void>
struct has_thread_share : std::false_type {};
template <class J>
struct has_thread_share<J, std::void_t<decltype(std::declval<J&>().threads_wanted = 1u),
                                       decltype(std::declval<J&>().threads = 1u)>> : std::true_type {};

template <class Job, class Item = no_item>
class scheduler {
    struct slot;

public:
    // @param threads worker threads to start (at least 1)
    // @param budget what jobs may hold in flight, in the caller's units
    // @param job_cost what each taken job holds until consumed, besides
    //        what it reserves (its bookkeeping)
    // @param cores the most threads computing at once (see Threads above;
    //        0: as many as `threads`)
    scheduler(unsigned threads, std::size_t budget, std::size_t job_cost = 0, unsigned cores = 0)
        : threads_(std::max(1u, threads)), budget_(budget), job_cost_(job_cost),
          cores_(cores == 0 ? threads_ : cores) {}

    scheduler(const scheduler&) = delete;
    scheduler& operator=(const scheduler&) = delete;
    ~scheduler() { stop(); }

    // What a job running on a worker uses to stream items and hold budget.
    class worker {
    public:
        // Waits until `bytes` more fit the budget (the head: until it has
        // fewer than two items in flight), then charges them for one item.
        // @throws scheduler_stopped when the scheduler stops meanwhile
        void acquire(std::size_t bytes) {
            std::unique_lock<std::mutex> lock(s_.mutex_);
            s_.space_cv_.wait(lock, [&] {
                if (s_.stop_) return true;
                const bool head = !s_.slots_.empty() && s_.slots_.front().get() == slot_;
                return (head && slot_->outstanding < 2) || s_.in_flight_ + bytes <= s_.budget_;
            });
            if (s_.stop_) throw scheduler_stopped{};
            s_.charge(bytes);
            ++slot_->outstanding;
        }
        // Hands on an item acquire()d for; `charged` is released once the
        // consumer has taken it.
        void deliver(Item item, std::size_t charged) {
            std::lock_guard<std::mutex> lock(s_.mutex_);
            slot_->items.push_back({std::move(item), charged});
            s_.ready_cv_.notify_all();
        }
        // Hands on an item that holds no budget (counted, never charged).
        void pass(Item item) {
            std::lock_guard<std::mutex> lock(s_.mutex_);
            ++slot_->outstanding;
            slot_->items.push_back({std::move(item), 0});
            s_.ready_cv_.notify_all();
        }
        // An acquire()d item that stays unused.
        void discard(std::size_t charged) {
            std::lock_guard<std::mutex> lock(s_.mutex_);
            --slot_->outstanding;
            s_.release(charged);
        }
        // Returns part of what an item acquire()d early.
        void release(std::size_t bytes) {
            std::lock_guard<std::mutex> lock(s_.mutex_);
            s_.release(bytes);
        }
        // Charges `bytes` the job's result keeps until the consumer is done
        // with the job.
        void hold(std::size_t bytes) {
            std::lock_guard<std::mutex> lock(s_.mutex_);
            slot_->charged += bytes;
            s_.charge(bytes);
        }

    private:
        friend class scheduler;
        explicit worker(scheduler& s) : s_(s) {}
        scheduler& s_;
        slot* slot_ = nullptr;
    };

    // What the consumer uses to take the head job's items and its end.
    class results {
    public:
        // Takes the next item, waiting for it; returns false once the job
        // is done and every item taken. The item taken before is released.
        // @throws the job's exception, when it is done and failed
        bool next(Item& out) {
            std::unique_lock<std::mutex> lock(s_.mutex_);
            release_taken();
            s_.ready_cv_.wait(lock, [&] { return slot_.next_item < slot_.items.size() || slot_.done; });
            if (slot_.next_item == slot_.items.size()) {
                // Taken items go, so a long job streaming small items does
                // not pile up moved-from entries.
                slot_.items.clear();
                slot_.next_item = 0;
                if (slot_.error) std::rethrow_exception(slot_.error);
                return false;
            }
            auto& queued = slot_.items[slot_.next_item++];
            out = std::move(queued.item);
            taken_ = queued.charged;
            has_taken_ = true;
            if (slot_.next_item == slot_.items.size()) {
                slot_.items.clear();
                slot_.next_item = 0;
            }
            return true;
        }
        // Waits until the job is done, dropping items not taken.
        // @throws the job's exception, when it failed
        void wait() {
            Item ignored;
            while (next(ignored)) {
            }
        }

    private:
        friend class scheduler;
        results(scheduler& s, slot& sl) : s_(s), slot_(sl) {}
        // Under the lock.
        void release_taken() {
            if (!has_taken_) return;
            has_taken_ = false;
            --slot_.outstanding;
            s_.release(taken_);
        }
        scheduler& s_;
        slot& slot_;
        std::size_t taken_ = 0;
        bool has_taken_ = false;
    };

    // Runs every job: `describe(Job&, std::size_t& reserved)` (under the
    // lock, in order; false: no more jobs) fills the next one and what it
    // reserves while it runs; `make_runner()` is called once per worker
    // thread and returns what runs a job there, `(Job&, worker&)`, so a
    // worker can keep buffers between jobs; `consume(Job&, results&)` runs
    // on the calling thread, in order. Rethrows the first failure in order
    // after every worker has been joined.
    template <class Describe, class MakeRunner, class Consume>
    void run(Describe&& describe, MakeRunner&& make_runner, Consume&& consume) {
        try {
            workers_.reserve(threads_);
            for (unsigned i = 0; i < threads_; ++i)
                workers_.emplace_back([this, &describe, &make_runner] { worker_main(describe, make_runner); });
            consume_in_order(consume);
        } catch (...) {
            stop();
            throw;
        }
        stop();
    }

    // The most ever held in flight.
    std::size_t peak_in_flight() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return peak_in_flight_;
    }

    // The most threads ever given to running jobs at once (at most `cores`).
    unsigned peak_running() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return peak_running_;
    }

private:
    struct queued_item {
        Item item;
        std::size_t charged = 0;
    };
    struct slot {
        Job job;
        std::size_t reserved = 0;  // held while the job runs
        std::size_t charged = 0;   // held until the consumer is done with it
        // (A vector and an index, not a deque: a deque allocates on
        // construction, and thousands of small jobs may be queued.)
        std::vector<queued_item> items;
        std::size_t next_item = 0;    // the first not yet taken
        std::size_t outstanding = 0;  // items acquired and not yet taken
        unsigned threads = 0;         // its share of the cores while it runs
        bool done = false;
        std::exception_ptr error;
    };

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

    void charge(std::size_t bytes) {
        in_flight_ += bytes;
        peak_in_flight_ = std::max(peak_in_flight_, in_flight_);
    }
    void release(std::size_t bytes) {
        in_flight_ -= std::min(in_flight_, bytes);
        work_cv_.notify_all();
        space_cv_.notify_all();
    }

    // The next job this worker may run, or null when there is none.
    template <class Describe>
    slot* take(Describe& describe) {
        std::unique_lock<std::mutex> lock(mutex_);
        for (;;) {
            if (stop_ || failed_) return nullptr;
            if (!pending_) {
                if (exhausted_) return nullptr;
                auto next = std::make_unique<slot>();
                if (!describe(next->job, next->reserved)) {
                    exhausted_ = true;
                    ready_cv_.notify_all();
                    return nullptr;
                }
                pending_ = std::move(next);
            }
            const bool head = slots_.empty();
            // Nothing in flight: any job may start, however large.
            if (running_ < cores_ &&
                (head || in_flight_ == 0 || in_flight_ + pending_->reserved + job_cost_ <= budget_)) {
                // The job itself counts until it is consumed: thousands of
                // tiny jobs must not hide their bookkeeping.
                pending_->charged = job_cost_;
                charge(pending_->reserved + job_cost_);
                unsigned share = 1;
                if constexpr (has_thread_share<Job>::value) {
                    share = std::max(1u, std::min(pending_->job.threads_wanted, cores_ - running_));
                    pending_->job.threads = share;
                }
                pending_->threads = share;
                running_ += share;
                peak_running_ = std::max(peak_running_, running_);
                slot* s = pending_.get();
                slots_.push_back(std::move(pending_));
                work_cv_.notify_one();  // another worker may take the next one
                return s;
            }
            work_cv_.wait(lock);
        }
    }

    template <class Describe, class MakeRunner>
    void worker_main(Describe& describe, MakeRunner& make_runner) {
        worker handle(*this);
        try {
            auto runner = make_runner();
            for (;;) {
                slot* s = nullptr;
                try {
                    s = take(describe);
                } catch (...) {
                    // Describing or queueing the next job failed (out of
                    // memory): it comes after every job already taken, so
                    // the consumer gets those and then this.
                    fail(std::current_exception());
                    return;
                }
                if (!s) return;
                handle.slot_ = s;
                try {
                    runner(s->job, handle);
                } catch (const scheduler_stopped&) {
                    return;
                } catch (...) {
                    std::lock_guard<std::mutex> lock(mutex_);
                    s->error = std::current_exception();
                    failed_ = true;
                }
                std::lock_guard<std::mutex> lock(mutex_);
                s->done = true;
                running_ -= std::min(running_, s->threads);
                s->threads = 0;
                release(s->reserved);
                s->reserved = 0;
                ready_cv_.notify_all();
            }
        } catch (...) {
            // make_runner() failed: no job was taken by this worker.
            fail(std::current_exception());
        }
    }

    void fail(std::exception_ptr e) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!fatal_) fatal_ = std::move(e);
        failed_ = true;
        ready_cv_.notify_all();
        work_cv_.notify_all();
    }

    template <class Consume>
    void consume_in_order(Consume& consume) {
        for (;;) {
            std::unique_lock<std::mutex> lock(mutex_);
            ready_cv_.wait(lock, [&] { return !slots_.empty() || (exhausted_ && !pending_) || stop_ || fatal_; });
            if (slots_.empty()) {
                if (fatal_) std::rethrow_exception(fatal_);
                return;  // everything consumed
            }
            slot& head = *slots_.front();
            lock.unlock();
            {
                results r(*this, head);
                consume(head.job, r);
                r.wait();  // whatever the consumer left
                lock.lock();
                r.release_taken();
            }
            release(head.charged);
            slots_.pop_front();  // the next job becomes the head
            space_cv_.notify_all();
            work_cv_.notify_all();
        }
    }

    const unsigned threads_;
    const std::size_t budget_;
    const std::size_t job_cost_;
    const unsigned cores_;

    mutable std::mutex mutex_;
    std::condition_variable work_cv_;   // workers: a job may be taken
    std::condition_variable space_cv_;  // producers: budget freed or head moved
    std::condition_variable ready_cv_;  // calling thread: an item or a finished job
    std::deque<std::unique_ptr<slot>> slots_;  // taken, not yet consumed; front is the head
    std::unique_ptr<slot> pending_;            // described, waiting for budget
    std::size_t in_flight_ = 0;
    std::size_t peak_in_flight_ = 0;
    unsigned running_ = 0;  // threads given to jobs taken and not done
    unsigned peak_running_ = 0;
    bool exhausted_ = false;  // describe() said there are no more jobs
    bool stop_ = false;
    bool failed_ = false;
    std::exception_ptr fatal_;  // a worker could not take a job (not tied to a job)
    std::vector<std::thread> workers_;
};

}  // namespace detail
}  // namespace fitstream
