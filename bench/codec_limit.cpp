// SPDX-License-Identifier: MIT
//
// The codec limit: how fast the same bytes go through the same codec, and
// the same hashes, on all cores, with no FIT work at all (no structure, no
// devicetree checks, no layout). fitpack can only be slower than this;
// bench/run prints fitpack's time as a ratio to it.
//
//   codec_limit -c CODEC [-j N] [--hash ALGOS|none] [--files-from LIST] [-o OUT [--no-fsync]] [FILE...]
//
// Every file is compressed with fitstream's own codec policy for CODEC, with
// its default options (what fitpack uses), through the same type-erased
// binding the writer uses (fitstream::image::compress_with), and what is
// stored is hashed with every algorithm of --hash (comma-separated, default
// sha256: fitpack's default, one hash node per image), through the same
// binding as the writer's hash nodes (fitstream::image::add_hash). `--hash
// none` is the limit of the codec alone (what this program measured before
// it hashed). Work is spread over N threads (default: every core):
// - a codec with the optional `segments` part (see <fitstream/codec/concept.hpp>)
//   has each file cut into its segments, each segment one task, read with
//   pread with the dictionary bytes before it, as the writer does. A file's
//   stored bytes (container header, segments, trailer) are hashed in order,
//   as they must be, by whichever thread finishes the segment that is next
//   in order (it also hashes any later ones already done): the best an
//   ordered hashing stage can do, with no thread set aside for it;
// - any other codec gets one task per file, read in 1 MiB chunks and hashed
//   as it is stored, and its encoder is given the threads its codec says it
//   can keep busy, up to N (zstd: one worker per 4 MiB job), as the writer
//   does (codec_binding::encoder_threads()).
// The biggest tasks go first, so the kernel does not finish last. With -o,
// every stored byte is also written to OUT (in whatever order the threads
// finish: a floor on the cost of writing them, not a FIT), so the limit pays
// for the output file as fitpack does; that makes it meaningful for `none`.
// OUT is then fsync()ed before the clock stops, as fitpack syncs its output
// unless --no-fsync (110 MB of `none` output: about 0.1 s on the bench
// machine); --no-fsync skips that here too.
//
// Freed memory is kept mapped (see main): the limit is the codec's cost, not
// glibc's arena trimming between files.
//
// Prints one line of key=value pairs: codec, threads, files, segmented
// (whether the codec has segments), hashes, fsync, input and output bytes,
// seconds.

#include <fitstream/codec/builtin.hpp>
#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/write/image_jobs.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/builtin.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/tree.hpp>

#include "bench_args.hpp"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct arguments {
    std::string codec;
    unsigned threads = 0;
    std::vector<std::string> hashes{"sha256"};
    std::vector<std::string> files;
    std::string output;
    bool fsync = true;
};

// Reads the command line into `a`. Files named on it and files listed by
// --files-from keep the order they were given in. Throws CLI::ParseError.
void parse(CLI::App& app, int argc, char** argv, arguments& a) {
    // Given twice, a value replaces the first (--hash and the files add up).
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_option("-c,--compress", a.codec, "Codec, by its FIT name (as fitpack -c)")->type_name("CODEC")->required();
    app.add_option("-j,--jobs", a.threads, "Threads (default, or 0: every core)")->type_name("N");
    // Repeatable, as fitpack's: the lists add up.
    app.add_option("--hash", a.hashes,
                   "Hash algorithms of what is stored, comma-separated, or none (repeatable: the lists add up)")
        ->type_name("ALGOS|none")
        ->delimiter(',')
        ->allow_extra_args(false)
        ->default_str("sha256");
    app.add_option("-o,--output", a.output, "Write every stored byte to OUT (fsynced unless --no-fsync)")->type_name("OUT");
    app.add_flag_callback("--no-fsync", [&a] { a.fsync = false; }, "With -o: do not fsync OUT");
    std::vector<std::string> lists, named;
    CLI::Option* from = app.add_option("--files-from", lists, "Read input files from LIST, one a line")
                            ->type_name("LIST")
                            ->allow_extra_args(false)
                            ->check(CLI::ExistingFile);
    CLI::Option* files = app.add_option("FILE", named, "Input files")->type_name("");
    app.parse(argc, argv);

    std::size_t next_list = 0, next_file = 0;
    for (const CLI::Option* opt : app.parse_order()) {
        if (opt == files) {
            a.files.push_back(named[next_file++]);
            continue;
        }
        if (opt != from) continue;
        const std::string& list = lists[next_list++];
        std::ifstream in(list);
        if (!in) throw CLI::ValidationError("--files-from", list + ": cannot open");
        for (std::string line; std::getline(in, line);)
            if (!line.empty()) a.files.push_back(line);
    }
    if (a.files.empty()) throw CLI::RequiredError("An input file (FILE or --files-from)");
    a.hashes.erase(std::remove(a.hashes.begin(), a.hashes.end(), std::string()), a.hashes.end());
    if (a.hashes.empty()) throw CLI::ValidationError("--hash", "needs an algorithm name or 'none'");
    if (a.hashes == std::vector<std::string>{"none"}) a.hashes.clear();
    if (std::find(a.hashes.begin(), a.hashes.end(), "none") != a.hashes.end())
        throw CLI::ValidationError("--hash", "none cannot be combined with an algorithm");
    if (a.threads == 0) a.threads = std::max(1u, std::thread::hardware_concurrency());
}

using hasher_list = std::vector<std::unique_ptr<fitstream::detail::hasher_interface>>;

hasher_list make_hashers(const fitstream::image& img) {
    hasher_list out;
    for (const auto& h : img.hashes()) out.push_back(h.make());
    return out;
}

// Finishes every hash; the digests are thrown away, but computing them is
// the work fitpack does.
void finish(hasher_list& hashers, const fitstream::image& img) {
    std::vector<std::uint8_t> digest;
    for (std::size_t k = 0; k < hashers.size(); ++k) {
        digest.resize(img.hashes()[k].digest_size);
        hashers[k]->final(digest.data());
    }
}

/// One file and what compressing it produced.
struct file_job {
    std::string path;
    std::uint64_t size = 0;
    std::uint64_t stored = 0;  // bytes stored, once the file is done
    // Segmented codecs only: the open file, the codec's segmenter, and the
    // ordered stage (segments handed to add() and the hashes in order).
    fitstream::detail::unique_fd fd;
    std::unique_ptr<fitstream::detail::segmenter_interface> segmenter;
    std::uint64_t segments = 0;
    std::mutex mutex;  // guards done, next and busy
    std::vector<std::optional<fitstream::detail::segment_output>> done;
    std::uint64_t next = 0;  // the segment the ordered stage needs next
    bool busy = false;       // a thread is running the ordered stage
    hasher_list hashers;
};

struct task {
    std::size_t file;
    std::uint64_t segment;  // segmented codecs: the index; otherwise 0
    std::uint64_t size;     // input bytes, to order the work
};

/// Where stored bytes go with -o: one file, appended to under a lock.
class output_file {
public:
    explicit output_file(const std::string& path) {
        if (path.empty()) return;
        file_ = std::fopen(path.c_str(), "wb");
        if (!file_) throw std::runtime_error(path + ": cannot create");
        path_ = path;
    }
    ~output_file() {
        if (file_) std::fclose(file_);
    }
    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;
    void write(const char* data, std::size_t n) {
        if (!file_ || n == 0) return;
        const std::lock_guard<std::mutex> lock(mutex_);
        if (std::fwrite(data, 1, n, file_) != n) throw std::runtime_error(path_ + ": write failed");
    }
    void close(bool sync) {
        if (!file_) return;
        if (sync && (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0))
            throw std::runtime_error(path_ + ": fsync failed");
        if (std::fclose(std::exchange(file_, nullptr)) != 0) throw std::runtime_error(path_ + ": write failed");
    }

private:
    std::FILE* file_ = nullptr;
    std::string path_;
    std::mutex mutex_;
};

/// Compresses and hashes a whole file through the writer's own path: the
/// file read front to back in 1 MiB chunks, through one encoder, what it
/// stores hashed as it comes. Returns the stored size.
std::uint64_t encode_whole(const fitstream::image& img, const std::string& path, unsigned threads,
                           std::vector<char>& in, std::vector<char>& out, output_file& sink) {
    const fitstream::source src = fitstream::source::file(path);
    fitstream::detail::source_reader reader(src);
    const std::uint64_t size = reader.size();
    auto encoder =
        img.codec().make_encoder(size, img.codec().encoder_threads(size, threads));
    hasher_list hashers = make_hashers(img);
    std::uint64_t stored = 0;
    const auto emit = [&](const char* data, std::size_t n) {
        for (auto& h : hashers) h->update(data, n);
        sink.write(data, n);
        stored += n;
    };
    for (;;) {
        const std::size_t n = reader.read(in.data(), in.size());
        const bool last = n < in.size();
        fitstream::detail::run_filter(*encoder, in.data(), n, last, out.data(), out.size(), emit);
        if (last) break;
    }
    finish(hashers, img);
    return stored;
}

/// Segment `s` of `job` is encoded: hands it to the ordered stage, and runs
/// that stage when no other thread does.
void segment_done(file_job& job, std::uint64_t s, fitstream::detail::segment_output out,
                  const fitstream::image& img, output_file& sink) {
    std::unique_lock<std::mutex> lock(job.mutex);
    job.done[s] = std::move(out);
    if (job.busy) return;  // that thread will find it
    job.busy = true;
    while (job.next < job.segments && job.done[job.next]) {
        fitstream::detail::segment_output ready = std::move(*job.done[job.next]);
        job.done[job.next].reset();
        ++job.next;
        lock.unlock();
        job.segmenter->add(ready);
        for (auto& h : job.hashers) h->update(ready.bytes.data(), ready.bytes.size());
        job.stored += ready.bytes.size();
        lock.lock();
    }
    if (job.next == job.segments) {
        std::vector<char> frame;
        job.segmenter->trailer(frame);
        sink.write(frame.data(), frame.size());
        for (auto& h : job.hashers) h->update(frame.data(), frame.size());
        job.stored += frame.size();
        finish(job.hashers, img);
    }
    job.busy = false;
}

int run(const arguments& a) {
    fitstream::image img("limit", "kernel", fitstream::source::file(a.files.front()));
    fitstream::visit_codec(a.codec, [&](auto tag) { img.compress_with<typename decltype(tag)::type>(); });
    for (const auto& h : a.hashes)
        fitstream::visit_hash(h, [&](auto tag) { img.add_hash<typename decltype(tag)::type>(); });
    const fitstream::detail::codec_binding& codec = img.codec();
    const bool segmented = codec.segmented();

    const auto start = std::chrono::steady_clock::now();
    output_file sink(a.output);

    std::vector<file_job> jobs(a.files.size());
    std::vector<task> tasks;
    std::uint64_t input_bytes = 0;
    for (std::size_t i = 0; i < a.files.size(); ++i) {
        file_job& job = jobs[i];
        job.path = a.files[i];
        if (segmented) {
            job.fd = fitstream::detail::open_for_reading(job.path);
            job.size = fitstream::detail::file_size(job.fd.get(), job.path);
            job.segmenter = codec.make_segmenter(job.size);
            const std::uint64_t segment = std::max<std::uint64_t>(1, job.segmenter->segment_size());
            job.segments = job.size == 0 ? 1 : (job.size + segment - 1) / segment;
            job.done.resize(job.segments);
            job.hashers = make_hashers(img);
            // The container's header comes first in what is stored.
            std::vector<char> frame;
            job.segmenter->header(frame);
            sink.write(frame.data(), frame.size());
            for (auto& h : job.hashers) h->update(frame.data(), frame.size());
            job.stored = frame.size();
            for (std::uint64_t s = 0; s < job.segments; ++s)
                tasks.push_back({i, s, std::min<std::uint64_t>(segment, job.size - std::min(job.size, s * segment))});
        } else {
            const fitstream::source src = fitstream::source::file(job.path);
            job.size = fitstream::detail::source_reader(src).size();
            tasks.push_back({i, 0, job.size});
        }
        input_bytes += job.size;
    }
    // Largest first; ties keep file order, so the order never depends on -j.
    std::stable_sort(tasks.begin(), tasks.end(), [](const task& l, const task& r) { return l.size > r.size; });

    std::atomic<std::size_t> next{0};
    std::mutex error_mutex;
    std::exception_ptr failure;
    const auto worker = [&]() {
        std::vector<char> in(std::size_t{1} << 20), out(std::size_t{1} << 20);
        for (;;) {
            const std::size_t t = next.fetch_add(1);
            if (t >= tasks.size()) return;
            {
                const std::lock_guard<std::mutex> lock(error_mutex);
                if (failure) return;
            }
            try {
                file_job& job = jobs[tasks[t].file];
                if (!segmented) {
                    job.stored = encode_whole(img, job.path, a.threads, in, out, sink);
                    continue;
                }
                const std::uint64_t s = tasks[t].segment;
                const std::uint64_t segment_size = std::max<std::uint64_t>(1, job.segmenter->segment_size());
                const std::uint64_t begin = s * segment_size;
                const auto size = static_cast<std::size_t>(std::min(segment_size, job.size - begin));
                const auto dict =
                    static_cast<std::size_t>(std::min<std::uint64_t>(begin, job.segmenter->dictionary_size()));
                if (in.size() < dict + size) in.resize(dict + size);
                if (fitstream::detail::pread_up_to(job.fd.get(), in.data(), dict + size, begin - dict, job.path) !=
                    dict + size)
                    throw std::runtime_error(job.path + ": changed while read");
                fitstream::detail::segment_output segment_out;
                job.segmenter->encode(s, in.data(), dict, in.data() + dict, size, begin + size == job.size,
                                      segment_out);
                sink.write(segment_out.bytes.data(), segment_out.bytes.size());
                segment_done(job, s, std::move(segment_out), img, sink);
            } catch (...) {
                const std::lock_guard<std::mutex> lock(error_mutex);
                if (!failure) failure = std::current_exception();
            }
        }
    };
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < a.threads; ++i) pool.emplace_back(worker);
    for (auto& thread : pool) thread.join();
    if (failure) std::rethrow_exception(failure);
    sink.close(a.fsync);

    std::uint64_t output_bytes = 0;
    for (const auto& job : jobs) output_bytes += job.stored;
    std::string hashes;
    for (const auto& h : a.hashes) hashes += (hashes.empty() ? "" : ",") + h;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "codec=" << a.codec << " threads=" << a.threads << " files=" << jobs.size()
              << " segmented=" << (segmented ? "yes" : "no") << " hashes=" << (hashes.empty() ? "none" : hashes)
              << " fsync=" << (a.fsync && !a.output.empty() ? "yes" : "no") << " input_bytes=" << input_bytes << " output_bytes=" << output_bytes << " seconds=" << seconds
              << "\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    // glibc gives each worker thread its own arena and trims it (madvise
    // MADV_DONTNEED) whenever an encoder's multi-MiB state is freed, so the
    // next file's encoder faults every page in again: with one encoder per
    // DTB that costs lz4 12x its own time (3.4 s instead of 0.28 s for this
    // workload on 2 cores). The limit measures the codec, not that, so
    // freed memory stays mapped.
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    CLI::App app{"The codec limit: FILEs through CODEC and the hashes on N threads, no FIT work", "codec_limit"};
    return bench::parse_and_run<arguments>(app, argc, argv, parse, run);
}
