// SPDX-License-Identifier: MIT
//
// The codec limit: how fast the same bytes go through the same codec, on all
// cores, with no FIT work at all (no structure, no hashing, no output file).
// fitpack can only be slower than this; bench/run prints fitpack's time as a
// ratio to it.
//
//   codec_limit -c CODEC [-j N] [--files-from LIST] [-o OUT] [FILE...]
//
// Every file is compressed with fitstream's own codec policy for CODEC, with
// its default options (what fitpack uses), through the same type-erased
// binding the writer uses (fitstream::image::compress_with). Work is spread
// over N threads (default: every core):
// - a codec with the optional `segments` part (see <fitstream/codec/concept.hpp>)
//   has each file cut into its segments, each segment one task, with the
//   dictionary bytes before it, as the writer does;
// - any other codec gets one task per file, and the encoder of that file is
//   offered all N threads (zstd's workers use them; others ignore them).
// The biggest tasks go first, so the kernel does not finish last. With -o,
// every stored byte is also written to OUT (in whatever order the threads
// finish: a floor on the cost of writing them, not a FIT), so the limit pays
// for the output file as fitpack does; that makes it meaningful for `none`.
//
// Freed memory is kept mapped (see main): the limit is the codec's cost, not
// glibc's arena trimming between files.
//
// Prints one line of key=value pairs: codec, threads, files, segmented
// (whether the codec has segments), input and output bytes, seconds.

#include <fitstream/codec/builtin.hpp>
#include <fitstream/detail/io/input_file.hpp>
#include <fitstream/error.hpp>
#include <fitstream/input/source.hpp>
#include <fitstream/tree.hpp>

#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct arguments {
    std::string codec;
    unsigned threads = 0;
    std::vector<std::string> files;
    std::string output;
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "codec_limit: " << why << "\n"
              << "usage: codec_limit -c CODEC [-j N] [--files-from LIST] [-o OUT] [FILE...]\n";
    std::exit(2);
}

arguments parse(int argc, char** argv) {
    arguments a;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(arg + " needs a value");
            return argv[++i];
        };
        if (arg == "-c" || arg == "--compress") {
            a.codec = value();
        } else if (arg == "-j" || arg == "--jobs") {
            const std::string n = value();
            if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos) usage("-j " + n + ": not a number");
            a.threads = static_cast<unsigned>(std::stoul(n));
        } else if (arg == "-o" || arg == "--output") {
            a.output = value();
        } else if (arg == "--files-from") {
            const std::string list = value();
            std::ifstream in(list);
            if (!in) usage(list + ": cannot open");
            for (std::string line; std::getline(in, line);)
                if (!line.empty()) a.files.push_back(line);
        } else if (!arg.empty() && arg[0] == '-') {
            usage("unknown option " + arg);
        } else {
            a.files.push_back(arg);
        }
    }
    if (a.codec.empty()) usage("-c CODEC is required");
    if (a.files.empty()) usage("no input files");
    if (a.threads == 0) a.threads = std::max(1u, std::thread::hardware_concurrency());
    return a;
}

/// One file and what compressing it produced.
struct file_job {
    std::string path;
    std::uint64_t size = 0;
    // Segmented codecs only: the mapped input, the codec's segmenter, and
    // each segment's summary (kept for add(), in order) with its size.
    std::unique_ptr<fitstream::detail::mapped_file> mapped;
    std::unique_ptr<fitstream::detail::segmenter_interface> segmenter;
    std::vector<std::shared_ptr<const void>> summaries;
    std::vector<std::uint64_t> segment_bytes;
    std::uint64_t whole_bytes = 0;  // unsegmented codecs: the stored size
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
    void close() {
        if (file_ && std::fclose(std::exchange(file_, nullptr)) != 0) throw std::runtime_error(path_ + ": write failed");
    }

private:
    std::FILE* file_ = nullptr;
    std::string path_;
    std::mutex mutex_;
};

/// Compresses a whole file through the writer's own path: the file read
/// front to back in 1 MiB chunks, through one encoder. Returns the stored size.
std::uint64_t encode_whole(const fitstream::detail::codec_binding& codec, const std::string& path, unsigned threads,
                           std::vector<char>& in, std::vector<char>& out, output_file& sink) {
    const fitstream::source src = fitstream::source::file(path);
    fitstream::detail::source_reader reader(src);
    auto encoder = codec.make_encoder(reader.size(), threads);
    std::uint64_t stored = 0;
    const auto emit = [&](const char* data, std::size_t n) {
        sink.write(data, n);
        stored += n;
    };
    for (;;) {
        const std::size_t n = reader.read(in.data(), in.size());
        const bool last = n < in.size();
        fitstream::detail::run_filter(*encoder, in.data(), n, last, out.data(), out.size(), emit);
        if (last) break;
    }
    return stored;
}

int run(const arguments& a) {
    fitstream::image img("limit", "kernel", fitstream::source::file(a.files.front()));
    fitstream::visit_codec(a.codec, [&](auto tag) { img.compress_with<typename decltype(tag)::type>(); });
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
            job.mapped = std::make_unique<fitstream::detail::mapped_file>(job.path);
            job.size = job.mapped->size();
            job.segmenter = codec.make_segmenter(job.size);
            const std::uint64_t segment = std::max<std::uint64_t>(1, job.segmenter->segment_size());
            const std::uint64_t count = job.size == 0 ? 1 : (job.size + segment - 1) / segment;
            job.summaries.resize(count);
            job.segment_bytes.resize(count);
            for (std::uint64_t s = 0; s < count; ++s)
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
        fitstream::detail::segment_output segment_out;
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
                    job.whole_bytes = encode_whole(codec, job.path, a.threads, in, out, sink);
                    continue;
                }
                const std::uint64_t s = tasks[t].segment;
                const std::size_t segment_size = std::max<std::size_t>(1, job.segmenter->segment_size());
                const std::size_t begin = static_cast<std::size_t>(s) * segment_size;
                const std::size_t size = std::min(segment_size, job.mapped->size() - begin);
                const std::size_t dict = std::min(begin, job.segmenter->dictionary_size());
                const char* data = job.mapped->data();
                job.segmenter->encode(s, data ? data + begin - dict : nullptr, dict, data ? data + begin : nullptr,
                                      size, begin + size == job.mapped->size(), segment_out);
                sink.write(segment_out.bytes.data(), segment_out.bytes.size());
                job.segment_bytes[s] = segment_out.bytes.size();
                job.summaries[s] = std::move(segment_out.summary);
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

    // Containers are assembled in segment order: header, segments, trailer.
    std::uint64_t output_bytes = 0;
    for (auto& job : jobs) {
        if (!segmented) {
            output_bytes += job.whole_bytes;
            continue;
        }
        std::vector<char> frame;
        job.segmenter->header(frame);
        sink.write(frame.data(), frame.size());
        output_bytes += frame.size();
        for (std::size_t s = 0; s < job.summaries.size(); ++s) {
            fitstream::detail::segment_output summary_only;
            summary_only.summary = job.summaries[s];
            job.segmenter->add(summary_only);
            output_bytes += job.segment_bytes[s];
        }
        frame.clear();
        job.segmenter->trailer(frame);
        sink.write(frame.data(), frame.size());
        output_bytes += frame.size();
    }
    sink.close();

    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::cout << "codec=" << a.codec << " threads=" << a.threads << " files=" << jobs.size()
              << " segmented=" << (segmented ? "yes" : "no") << " input_bytes=" << input_bytes
              << " output_bytes=" << output_bytes << " seconds=" << seconds << "\n";
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
    try {
        return run(parse(argc, argv));
    } catch (const std::exception& e) {
        std::cerr << "codec_limit: " << e.what() << "\n";
        return 1;
    }
}
