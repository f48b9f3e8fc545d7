// SPDX-License-Identifier: MIT
#pragma once

// The writer's jobs: read an image, compress it and hash what is stored.
//
// An image whose codec has `segments` becomes one job per segment (the
// codec fixes the segment size, never the thread count, so the bytes are
// the same for any thread count); whoever consumes the jobs in order
// assembles the container from them (detail/write/pipeline.hpp). Any other
// image is one job that streams it through a fresh encoder (or, for `none`,
// straight from the file into the buffer that is hashed and written) and
// hashes what it stores, so the consumer only writes.
//
// A job runs on a worker or on the calling thread; where its stored bytes
// go is the chunk_output it is given.
//
// An encrypted image (image::cipher()) is always one job: its codec's
// output passes through AES-CBC (sequential by nature) before it is hashed
// and stored, as mkimage encrypts first and hashes what it stores.

#include <fitstream/codec/concept.hpp>
#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/sign/cipher_stream.hpp>
#include <fitstream/detail/write/image_list.hpp>
#include <fitstream/error.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/tree.hpp>

#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace fitstream {
namespace detail {

// What one queued job costs besides its data (the job, its vectors, the
// allocator's overhead), counted against the memory budget.
inline constexpr std::size_t image_job_cost = 512;

// A buffer of stored bytes on its way to the consumer. `storage` is null
// when `data` points into a memory source (nothing copied).
struct image_chunk {
    std::unique_ptr<char[]> storage;
    std::size_t capacity = 0;
    const char* data = nullptr;
    std::size_t size = 0;
    std::size_t charged = 0;  // bytes counted against the budget
    std::uint64_t input_done = 0;
};

// What the segment jobs of one image share.
struct segmented_image {
    std::unique_ptr<segmenter_interface> segmenter;
    std::size_t segment_size = 0;
    std::size_t dictionary_size = 0;
    std::uint64_t segments = 1;
    std::once_flag opened;
    unique_fd fd;
    // Segments not read yet: the file is closed once all are, not when the
    // last segment has been written. Thousands of small images' encoded
    // segments may wait for the writing thread, and an open file each ran
    // out of descriptors (EMFILE at ~25,000 tiny DTBs with gzip).
    std::atomic<std::uint64_t> unread{1};
};

// One job: a whole image, or one segment of an image.
struct image_job {
    std::size_t image = 0;
    std::shared_ptr<const fitstream::image> img;  // what the image list made of it, for this job
    std::shared_ptr<segmented_image> state;  // segment jobs only
    std::uint64_t segment = 0;
    bool first = true;
    bool last = true;
    std::uint64_t begin = 0;  // segment jobs: input range
    std::uint64_t size = 0;
    // Threads its encoder can keep busy (zstd's workers), and what the
    // scheduler gave it (detail/parallel/scheduler.hpp): the encoder runs
    // that many, so the threads computing never outnumber the cores.
    unsigned threads_wanted = 1;
    unsigned threads = 1;
    std::vector<std::uint8_t> digests;  // whole-image jobs: every digest, in image::hashes() order
    segment_output segment_out;         // segment jobs: the encoded segment
};

// Where a job puts the chunks it stores.
struct chunk_output {
    virtual ~chunk_output() = default;
    // A buffer of `capacity` bytes, once the budget allows it.
    virtual image_chunk acquire(std::size_t capacity) = 0;
    // `chunk.data`/`size` are set: hand it on, in order.
    virtual void deliver(image_chunk chunk) = 0;
    // An acquired chunk that stays unused.
    virtual void discard(image_chunk chunk) = 0;
    // A chunk that may wait a while holding little: keep only its bytes.
    virtual void shrink(image_chunk&) {}
};

// An encrypted image's size before encryption (its data-size-unciphered,
// big-endian) follows its digests, in the same buffer.
inline constexpr std::size_t unciphered_size_bytes = 4;

inline std::vector<std::uint8_t> digest_space(const image& img) {
    std::size_t total = 0;
    for (const auto& h : img.hashes()) total += h.digest_size;
    if (img.cipher()) total += unciphered_size_bytes;
    return std::vector<std::uint8_t>(total);
}

// Describes the jobs of a tree's images in tree order, one at a time.
class image_job_list {
public:
    // @param cores the most threads one job's encoder may be given
    // @param count_codec_state whether an encoder's memory counts against
    //        the budget (write_options::memory_budget given)
    image_job_list(const image_list& images, const std::vector<std::uint64_t>& sizes, std::size_t chunk_size,
                   unsigned cores = 1, bool count_codec_state = true)
        : images_(images), sizes_(sizes), chunk_size_(chunk_size), cores_(cores < 1 ? 1 : cores),
          count_codec_state_(count_codec_state) {}

    bool empty() const { return next_image_ >= images_.size(); }

    // Fills `job` with the next job and `reserved` with the memory it holds
    // while it runs (its buffers and its encoder's memory, for as many
    // threads as it wants); false when there is none. Throws when the image's codec
    // cannot segment it: nothing after it runs then.
    bool next(image_job& job, std::size_t& reserved) {
        if (empty()) return false;
        const std::size_t i = next_image_;
        if (next_segment_ == 0) current_image_ = images_.at(i);
        const image& img = *current_image_;
        const std::uint64_t size = sizes_[i];
        job.image = i;
        job.img = current_image_;
        reserved = 0;
        if (next_segment_ == 0) {
            current_.reset();
            if (img.codec().segmented() && !img.cipher()) {
                auto state = std::make_shared<segmented_image>();
                state->segmenter = img.codec().make_segmenter(size);
                state->segment_size = state->segmenter->segment_size();
                state->dictionary_size = state->segmenter->dictionary_size();
                if (state->segment_size == 0)
                    throw error(errc::invalid_argument, "/images/" + img.name,
                                "codec " + std::string(img.compression()) + " has a segment size of 0");
                state->segments = size == 0 ? 1 : (size - 1) / state->segment_size + 1;
                state->unread = state->segments;
                current_ = std::move(state);
            }
        }
        if (current_) {
            job.state = current_;
            job.segment = next_segment_;
            job.first = next_segment_ == 0;
            job.last = next_segment_ + 1 == current_->segments;
            job.begin = next_segment_ * current_->segment_size;
            job.size = std::min<std::uint64_t>(current_->segment_size, size - job.begin);
            // Input read (files only) plus the output, expected no larger.
            const std::uint64_t dict = std::min<std::uint64_t>(current_->dictionary_size, job.begin);
            reserved = static_cast<std::size_t>((img.data.is_file() ? dict + job.size : 0) + job.size);
            if (job.last) {
                ++next_image_;
                next_segment_ = 0;
                current_.reset();
            } else {
                ++next_segment_;
            }
        } else {
            // The input buffer a compressing job reads a file into, and
            // its encoder (lzma's match finder is 93 MiB at preset 6).
            if (img.data.is_file() && img.compression() != "none")
                reserved = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, size + 1));
            if (img.compression() != "none" || img.cipher()) {
                job.threads_wanted = img.codec().encoder_threads(size, cores_);
                if (count_codec_state_) reserved += img.codec().encoder_memory(size, job.threads_wanted);
            }
            ++next_image_;
        }
        return true;
    }

private:
    const image_list& images_;
    const std::vector<std::uint64_t>& sizes_;
    const std::size_t chunk_size_;
    const unsigned cores_;
    const bool count_codec_state_;
    std::shared_ptr<const image> current_image_;  // the image whose jobs are being made
    std::size_t next_image_ = 0;
    std::uint64_t next_segment_ = 0;
    std::shared_ptr<segmented_image> current_;
};

// Runs jobs; one per thread, so its buffers serve every job it runs.
class image_job_runner {
public:
    image_job_runner(const std::vector<std::uint64_t>& sizes, unsigned threads, std::size_t chunk_size)
        : sizes_(sizes), chunk_size_(chunk_size) {
        (void)threads;  // a job's encoder gets the threads the scheduler gave it (image_job::threads)
    }

    void run(image_job& job, chunk_output& out) {
        if (job.state)
            run_segment(job);
        else
            run_whole(job, out);
    }

private:
    // The encoder's output window: what it produces is copied into chunks,
    // so it need not be a chunk.
    static constexpr std::size_t max_scratch = 64 * 1024;

    static char* ensure(std::unique_ptr<char[]>& buffer, std::size_t& capacity, std::size_t size) {
        // Never zero-filled: every byte used is read into first.
        if (capacity < size || !buffer) {
            buffer.reset(new char[std::max<std::size_t>(size, 1)]);
            capacity = std::max<std::size_t>(size, 1);
        }
        return buffer.get();
    }

    void run_segment(image_job& job) {
        const image& img = *job.img;
        segmented_image& state = *job.state;
        const auto dict = static_cast<std::size_t>(std::min<std::uint64_t>(state.dictionary_size, job.begin));
        const auto size = static_cast<std::size_t>(job.size);
        const char* base;
        if (!img.data.is_file()) {
            base = img.data.data() ? img.data.data() + (job.begin - dict) : nullptr;
        } else {
            std::call_once(state.opened, [&] {
                state.fd = open_for_reading(img.data.name());
                const std::uint64_t now = file_source_size(img.data, state.fd.get());
                if (now != sizes_[job.image])
                    throw error(errc::input_changed, img.data.name(),
                                "changed size before it was read (" + std::to_string(sizes_[job.image]) +
                                    " bytes when planned, " + std::to_string(now) + " now)");
                (void)::posix_fadvise(state.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
            });
            // The last segment reads one byte more, to see a file that grew
            // (a range of a file may be followed by more bytes).
            const bool whole_file = !img.data.range_length();
            const std::size_t want = dict + size + (job.last && whole_file ? 1 : 0);
            char* buffer = ensure(input_, input_capacity_, want);
            const std::uint64_t from = img.data.offset() + job.begin - dict;
            const std::size_t got = pread_up_to(state.fd.get(), buffer, want, from, img.data.name());
            if (got != dict + size)
                throw input_changed_while_read(img.data.name(), sizes_[job.image], job.begin - dict + got,
                                               got > dict + size);
            if (state.unread.fetch_sub(1) == 1) state.fd.reset();  // every segment is read
            base = buffer;
        }
        const char* in = base ? base + dict : nullptr;
        state.segmenter->encode(job.segment, base, dict, in, size, job.last, job.segment_out);
    }

    void run_whole(image_job& job, chunk_output& out) {
        const image& img = *job.img;
        const std::uint64_t planned = sizes_[job.image];
        source_reader reader(img.data);
        reader.expect_size(planned);
        std::vector<std::unique_ptr<hasher_interface>> hashers;
        hashers.reserve(img.hashes().size());
        for (const auto& h : img.hashes()) hashers.push_back(h.make());
        std::uint64_t consumed = 0;
        const auto put = [&](image_chunk&& chunk) {
            for (auto& h : hashers) h->update(chunk.data, chunk.size);
            chunk.input_done = consumed;
            out.deliver(std::move(chunk));
        };

        std::uint64_t unciphered = 0;
        if (img.compression() == "none" && !img.cipher()) {
            if (reader.in_memory()) {
                // Views into the caller's memory: hashed and written as they are.
                while (consumed < planned) {
                    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, planned - consumed));
                    image_chunk view;
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
                    image_chunk chunk = out.acquire(capacity);
                    const std::size_t n = reader.read(chunk.storage.get(), capacity);
                    if (n == 0) {
                        out.discard(std::move(chunk));
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
            // What the scheduler gave it (1 on the calling thread): zstd's
            // bytes are the same for any number of workers from 1 up.
            const auto encoder = img.codec().make_encoder(planned, std::max(1u, job.threads));
            // Small images get a small buffer; incompressible data that
            // comes out larger simply continues in the next one.
            const auto out_capacity = static_cast<std::size_t>(
                std::min<std::uint64_t>(chunk_size_, std::max<std::uint64_t>(4096, planned + planned / 8 + 1024)));
            const std::size_t scratch_size = std::min(out_capacity, max_scratch);
            char* scratch = ensure(scratch_, scratch_capacity_, scratch_size);
            image_chunk chunk = out.acquire(out_capacity);
            std::size_t filled = 0;
            const auto emit = [&](const char* data, std::size_t size) {
                while (size > 0) {
                    const std::size_t n = std::min(size, out_capacity - filled);
                    std::memcpy(chunk.storage.get() + filled, data, n);
                    filled += n;
                    data += n;
                    size -= n;
                    if (filled == out_capacity) {
                        chunk.data = chunk.storage.get();
                        chunk.size = out_capacity;
                        put(std::move(chunk));
                        chunk = out.acquire(out_capacity);
                        filled = 0;
                    }
                }
            };
            // Encrypted images: the codec's output through the cipher.
            std::unique_ptr<cipher_stream> cipher;
            if (img.cipher()) cipher = std::make_unique<cipher_stream>(*img.cipher(), "/images/" + img.name);
            const auto encrypt = [&](const char* data, std::size_t size) {
                unciphered += size;
                while (size > 0) {
                    const std::size_t n = std::min(size, max_scratch);
                    char* out = ensure(crypt_, crypt_capacity_, cipher_stream::output_bound(n));
                    emit(out, cipher->update(data, n, out));
                    data += n;
                    size -= n;
                }
            };
            const auto feed = [&](const char* data, std::size_t size, bool last) {
                if (cipher)
                    run_filter(*encoder, data, size, last, scratch, scratch_size, encrypt);
                else
                    run_filter(*encoder, data, size, last, scratch, scratch_size, emit);
            };
            if (reader.in_memory()) {
                const char* memory = reader.memory();
                do {
                    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, planned - consumed));
                    const bool last = consumed + n == planned;
                    consumed += n;
                    feed(n ? memory + (consumed - n) : scratch, n, last);
                } while (consumed < planned);
            } else {
                const auto capacity = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size_, planned + 1));
                char* buffer = ensure(input_, input_capacity_, capacity);
                for (;;) {
                    const std::size_t n = reader.read(buffer, capacity);
                    // A short read means the end: the reader has checked the size.
                    const bool last = n < capacity;
                    consumed += n;
                    feed(buffer, n, last);
                    if (last) break;
                }
            }
            if (cipher) {
                char* out = ensure(crypt_, crypt_capacity_, cipher_block_size);
                emit(out, cipher->final(out));
            }
            if (filled != 0) {
                chunk.data = chunk.storage.get();
                chunk.size = filled;
                out.shrink(chunk);
                put(std::move(chunk));
            } else {
                out.discard(std::move(chunk));
            }
        }
        job.digests = digest_space(img);
        std::size_t at = 0;
        for (std::size_t k = 0; k < hashers.size(); ++k) {
            hashers[k]->final(job.digests.data() + at);
            at += img.hashes()[k].digest_size;
        }
        if (img.cipher()) {
            // data-size-unciphered is one cell; what is stored is larger
            // still, so the placement refuses it first.
            if (unciphered > 0xffffffffu)
                throw error(errc::limit_exceeded, "/images/" + img.name,
                            "more than 4 GiB to encrypt: data-size-unciphered is a 32-bit cell");
            for (std::size_t b = 0; b < unciphered_size_bytes; ++b)
                job.digests[at + b] = static_cast<std::uint8_t>(unciphered >> (8 * (unciphered_size_bytes - 1 - b)));
        }
    }

    const std::vector<std::uint64_t>& sizes_;
    const std::size_t chunk_size_;
    std::unique_ptr<char[]> input_;  // a file's bytes on their way to the codec
    std::size_t input_capacity_ = 0;
    std::unique_ptr<char[]> scratch_;  // the encoder's output window
    std::size_t scratch_capacity_ = 0;
    std::unique_ptr<char[]> crypt_;  // the cipher's output window
    std::size_t crypt_capacity_ = 0;
};

}  // namespace detail
}  // namespace fitstream
