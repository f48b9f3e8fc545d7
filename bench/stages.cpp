// SPDX-License-Identifier: MIT
//
// What each stage of a fitpack run costs on its own, on one thread, with the
// library's own code: the figures the per-stage projection for more cores
// (docs/bench/stages.md) is made from, measured rather than guessed.
//
//   stages --workload DIR [--list FILE] [--list-only] [-c CODEC,...] [--repeat N] [--scratch FILE] [--overlap N]
//
// DIR is the bench's workload (bench/gen: DIR/Image and DIR/dtbs.list);
// --list takes the DTBs from another list (bench/rss-dtbs.sh's tiny ones),
// --list-only stops after the DTB list's stages (up to make_kernel_fit).
// --overlap N runs only the overlap experiment: for each codec, the
// kernel's compression on N threads after make_kernel_fit with N threads
// (as fitpack runs them today) against the two started together (the
// kernel compressing while the DTB list is read and checked), alternating,
// best of --repeat, wall-clock.
// Every stage runs on files already in the page cache (each is read once
// before any timing) and reports its best of N runs (default 3), in
// seconds of one thread:
// - dtb read: detail::read_dtb_file of every DTB in the list;
// - dtb check: inspect_dtb (fdt_check_full, model, compatible) of each,
//   bytes in memory;
// - dedup sha256 / dedup crc32: a deduplication key of each DTB: the
//   SHA-256 it was before (fitstream::hash::sha256) and the content key it
//   is now (detail::content_key_of: size and libdeflate's CRC-32);
// - make_kernel_fit -j1 / -j2: the whole tree, as fitpack builds it
//   (deduplicating, sha256 hash nodes), with 1 and 2 read-ahead threads;
// - for each codec: compressing the kernel and the DTBs (through the
//   codec binding the writer uses: its segments when it has them, else one
//   encoder per file), bytes in memory, no hash; then the sha256 of what is
//   stored, kernel and DTBs apart (the kernel's is the one the writing
//   thread computes, in order, for a codec with segments);
// - write: the stored bytes of `none` (the largest output) written to
//   --scratch with write(2) in 1 MiB pieces, then fsync, timed apart
//   (fitpack fsyncs its output unless --no-fsync);
// - write_fit none: fitstream::write_fit of the tree, codec none, no hash,
//   external data, unsynced, one thread: everything but compression and
//   hashing (plan, structure, reading, writing).
// Prints one `STAGE wall SECONDS cpu SECONDS [bytes N]` line per stage: the
// best wall-clock time and the best CPU time (all threads) of the runs.

#include <fitstream/codec/builtin.hpp>
#include <fitstream/detail/kbuild/dedup.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/sha.hpp>
#include <fitstream/input/dtb.hpp>
#include <fitstream/kbuild/kernel_fit.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/tree.hpp>
#include <fitstream/writer.hpp>

#include "bench_args.hpp"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct arguments {
    std::string workload;
    std::vector<std::string> codecs{"none", "gzip", "zstd", "lz4", "lzma", "bzip2", "lzo"};
    int repeat = 3;
    std::string scratch = "stages.scratch";
    std::string list;         // the DTB list; empty: the workload's dtbs.list
    bool list_only = false;   // only the DTB list's stages
    unsigned overlap = 0;     // >0: the overlap experiment on this many threads, then stop
};

// Reads the command line into `a`. Throws CLI::ParseError.
void parse(CLI::App& app, int argc, char** argv, arguments& a) {
    // Given twice, a value replaces the first (-c's list too).
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    app.add_option("--workload", a.workload, "The bench's workload (bench/gen): DIR/Image and DIR/dtbs.list")
        ->required()
        ->check(CLI::ExistingDirectory);
    app.add_option("--list", a.list, "Take the DTBs from this list instead of DIR/dtbs.list")->check(CLI::ExistingFile);
    app.add_flag("--list-only", a.list_only, "Stop after the DTB list's stages (up to make_kernel_fit)");
    // Each -c is parsed as it comes, so the last list replaces the others.
    app.add_option("-c,--compress", a.codecs, "Codecs, comma-separated")
        ->type_name("CODEC,...")
        ->delimiter(',')
        ->allow_extra_args(false)
        ->trigger_on_parse()
        ->capture_default_str();
    app.add_option_function<int>(
           "--repeat", [&a](const int& n) { a.repeat = std::max(1, n); }, "Best of N runs (at least 1)")
        ->type_name("N")
        ->default_str(std::to_string(a.repeat));
    app.add_option("--scratch", a.scratch, "The write stages' output file (removed at the end)")->type_name("FILE")->capture_default_str();
    app.add_option_function<int>(
        "--overlap", [&a](const int& n) { a.overlap = static_cast<unsigned>(std::max(1, n)); },
        "Only the overlap experiment, on N threads (at least 1)")
        ->type_name("N");
    app.parse(argc, argv);
    a.codecs.erase(std::remove(a.codecs.begin(), a.codecs.end(), std::string()), a.codecs.end());
}

// Seconds of wall-clock time and of CPU time (every thread of the process):
// on a machine shared with other work the CPU time is the steadier figure.
struct cost {
    double wall = 1e30;
    double cpu = 1e30;
};

double cpu_now() {
    timespec t{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The best of `repeat` runs of `f`, each clock apart.
cost best_of(int repeat, const std::function<void()>& f) {
    cost best;
    for (int i = 0; i < repeat; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const double cpu_start = cpu_now();
        f();
        best.cpu = std::min(best.cpu, cpu_now() - cpu_start);
        best.wall = std::min(best.wall, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
}

void print(const std::string& stage, cost c, std::uint64_t bytes = 0) {
    std::cout << std::left << std::setw(28) << stage << " wall " << std::fixed << std::setprecision(4) << c.wall
              << " cpu " << c.cpu;
    if (bytes) std::cout << " bytes " << bytes;
    std::cout << "\n" << std::flush;
}

// `data` as `img`'s codec stores it: header, segments, trailer for a codec
// with segments (one thread, in order, as the writer's jobs would on one
// core), else one encoder over it.
std::vector<char> compress(const fitstream::image& img, const std::string& data) {
    std::vector<char> stored;
    stored.reserve(data.size() + data.size() / 8 + 1024);  // the container's growth is not the codec's cost
    const auto& codec = img.codec();
    if (codec.segmented()) {
        auto seg = codec.make_segmenter(data.size());
        const std::size_t size = std::max<std::size_t>(1, seg->segment_size());
        seg->header(stored);
        fitstream::detail::segment_output out;
        std::size_t begin = 0;
        do {
            const std::size_t n = std::min(size, data.size() - begin);
            const std::size_t dict = std::min(begin, seg->dictionary_size());
            out = {};
            seg->encode(begin / size, data.data() + begin - dict, dict, data.data() + begin, n,
                        begin + n == data.size(), out);
            seg->add(out);
            stored.insert(stored.end(), out.bytes.begin(), out.bytes.end());
            begin += n;
        } while (begin < data.size());
        std::vector<char> trailer;
        seg->trailer(trailer);
        stored.insert(stored.end(), trailer.begin(), trailer.end());
        return stored;
    }
    auto encoder = codec.make_encoder(data.size(), 1);
    std::vector<char> scratch(64 * 1024);
    fitstream::detail::run_filter(*encoder, data.data(), data.size(), true, scratch.data(), scratch.size(),
                                  [&](const char* p, std::size_t n) { stored.insert(stored.end(), p, p + n); });
    return stored;
}

// A byte of the SHA-256 of [data, data + size): the hash is computed whole.
std::uint8_t sha256_of(const void* data, std::size_t size) {
    fitstream::hash::sha256 h;
    h.update(data, size);
    return h.final()[0];
}

// The kernel compressed on `threads` threads, as the writer's jobs would:
// segments spread over the threads, or one encoder offered all of them.
void compress_on(const fitstream::image& img, const std::string& data, unsigned threads) {
    const auto& codec = img.codec();
    if (!codec.segmented()) {
        auto encoder = codec.make_encoder(data.size(), threads);
        std::vector<char> scratch(64 * 1024);
        std::size_t stored = 0;
        fitstream::detail::run_filter(*encoder, data.data(), data.size(), true, scratch.data(), scratch.size(),
                                      [&](const char*, std::size_t n) { stored += n; });
        return;
    }
    auto seg = codec.make_segmenter(data.size());
    const std::size_t size = std::max<std::size_t>(1, seg->segment_size());
    const std::size_t count = data.empty() ? 1 : (data.size() + size - 1) / size;
    std::atomic<std::size_t> next{0};
    const auto work = [&] {
        fitstream::detail::segment_output out;
        for (std::size_t s; (s = next.fetch_add(1)) < count;) {
            const std::size_t begin = s * size, n = std::min(size, data.size() - begin);
            const std::size_t dict = std::min(begin, seg->dictionary_size());
            out = {};
            seg->encode(s, data.data() + begin - dict, dict, data.data() + begin, n, s + 1 == count, out);
        }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
}

int overlap_experiment(const arguments& a, const std::string& kernel_path, const std::string& kernel,
                       const std::vector<std::string>& dtb_paths) {
    fitstream::kernel_fit_options options;
    options.name = "Linux-bench";
    options.arch = "arm64";
    options.threads = a.overlap;
    for (const auto& c : a.codecs) {
        fitstream::image img("stage", "kernel", fitstream::source::file(kernel_path));
        fitstream::visit_codec(c, [&](auto tag) { img.compress_with<typename decltype(tag)::type>(); });
        cost after, together, tree_only, kernel_only;
        for (int r = 0; r < a.repeat; ++r) {
            const auto keep = [](cost& best, cost c) {
                best.wall = std::min(best.wall, c.wall);
                best.cpu = std::min(best.cpu, c.cpu);
            };
            keep(tree_only, best_of(1, [&] { fitstream::make_kernel_fit(options, kernel_path, "", dtb_paths); }));
            keep(kernel_only, best_of(1, [&] { compress_on(img, kernel, a.overlap); }));
            keep(after, best_of(1, [&] {
                     fitstream::make_kernel_fit(options, kernel_path, "", dtb_paths);
                     compress_on(img, kernel, a.overlap);
                 }));
            keep(together, best_of(1, [&] {
                     std::thread k([&] { compress_on(img, kernel, a.overlap); });
                     fitstream::make_kernel_fit(options, kernel_path, "", dtb_paths);
                     k.join();
                 }));
        }
        const std::string j = " -j" + std::to_string(a.overlap);
        print(c + " tree" + j, tree_only);
        print(c + " kernel" + j, kernel_only);
        print(c + " tree, then kernel" + j, after);
        print(c + " tree with kernel" + j, together);
    }
    return 0;
}

std::string read_whole(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error(path + ": cannot open");
    return std::string(std::istreambuf_iterator<char>(in), {});
}

int run(const arguments& a) {
    const std::string kernel_path = a.workload + "/Image";
    std::vector<std::string> dtb_paths;
    {
        const std::string list_path = a.list.empty() ? a.workload + "/dtbs.list" : a.list;
        std::ifstream list(list_path);
        if (!list) throw std::runtime_error(list_path + ": cannot open");
        for (std::string line; std::getline(list, line);)
            if (!line.empty()) dtb_paths.push_back(line);
    }
    // Into memory (and the page cache) once.
    const std::string kernel = read_whole(kernel_path);
    std::vector<std::string> dtbs;
    std::uint64_t dtb_bytes = 0;
    for (const auto& p : dtb_paths) {
        dtbs.push_back(read_whole(p));
        dtb_bytes += dtbs.back().size();
    }
    std::cout << "# " << dtbs.size() << " DTBs, " << dtb_bytes << " bytes; kernel " << kernel.size()
              << " bytes; best of " << a.repeat << "\n";

    if (a.overlap) return overlap_experiment(a, kernel_path, kernel, dtb_paths);

    volatile std::uint64_t sink = 0;  // keeps results alive
    print("dtb read", best_of(a.repeat, [&] {
              for (const auto& p : dtb_paths) sink = sink + fitstream::detail::read_dtb_file(p).size();
          }), dtb_bytes);
    print("dtb check", best_of(a.repeat, [&] {
              for (std::size_t i = 0; i < dtbs.size(); ++i)
                  sink = sink + fitstream::inspect_dtb(dtbs[i].data(), dtbs[i].size(), dtb_paths[i]).compatible.size();
          }), dtb_bytes);
    print("dedup sha256", best_of(a.repeat, [&] {
              for (const auto& d : dtbs) sink = sink + sha256_of(d.data(), d.size());
          }), dtb_bytes);
    print("dedup crc32", best_of(a.repeat, [&] {
              for (const auto& d : dtbs) sink = sink + fitstream::detail::content_key_of(d.data(), d.size());
          }), dtb_bytes);

    fitstream::kernel_fit_options options;
    options.name = "Linux-bench";
    options.arch = "arm64";
    for (const unsigned threads : {1u, 2u}) {
        options.threads = threads;
        print("make_kernel_fit -j" + std::to_string(threads), best_of(a.repeat, [&] {
                  sink = sink + fitstream::make_kernel_fit(options, kernel_path, "", dtb_paths).images.size();
              }));
    }

    if (a.list_only) return 0;
    for (const auto& c : a.codecs) {
        fitstream::image img("stage", "kernel", fitstream::source::file(kernel_path));
        fitstream::visit_codec(c, [&](auto tag) { img.compress_with<typename decltype(tag)::type>(); });
        std::vector<char> kernel_stored;
        std::vector<std::vector<char>> dtb_stored(dtbs.size());
        const int repeat = (c == "lzma" || c == "bzip2") ? 1 : a.repeat;  // tens of seconds each
        print(c + " compress kernel", best_of(repeat, [&] { kernel_stored = compress(img, kernel); }), kernel.size());
        std::uint64_t stored_bytes = 0;
        print(c + " compress dtbs", best_of(repeat, [&] {
                  stored_bytes = 0;
                  for (std::size_t i = 0; i < dtbs.size(); ++i) {
                      dtb_stored[i] = compress(img, dtbs[i]);
                      stored_bytes += dtb_stored[i].size();
                  }
              }), dtb_bytes);
        print(c + " sha256 kernel", best_of(a.repeat, [&] {
                  sink = sink + sha256_of(kernel_stored.data(), kernel_stored.size());
              }), kernel_stored.size());
        print(c + " sha256 dtbs", best_of(a.repeat, [&] {
                  for (const auto& d : dtb_stored) sink = sink + sha256_of(d.data(), d.size());
              }), stored_bytes);
    }

    // Writing the largest output (codec none: every input byte), then fsync.
    {
        const std::uint64_t total = kernel.size() + dtb_bytes;
        cost write_s, sync_s;
        for (int r = 0; r < a.repeat; ++r) {
            const int fd = ::open(a.scratch.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) throw std::runtime_error(a.scratch + ": cannot create");
            const auto start = std::chrono::steady_clock::now();
            const double cpu_start = cpu_now();
            const auto put = [&](const std::string& bytes) {
                for (std::size_t at = 0; at < bytes.size();) {
                    const ssize_t n = ::write(fd, bytes.data() + at, std::min<std::size_t>(1u << 20, bytes.size() - at));
                    if (n <= 0) throw std::runtime_error(a.scratch + ": write failed");
                    at += static_cast<std::size_t>(n);
                }
            };
            put(kernel);
            for (const auto& d : dtbs) put(d);
            const auto written = std::chrono::steady_clock::now();
            const double cpu_written = cpu_now();
            if (::fsync(fd) != 0) throw std::runtime_error(a.scratch + ": fsync failed");
            const auto synced = std::chrono::steady_clock::now();
            const double cpu_synced = cpu_now();
            ::close(fd);
            write_s.wall = std::min(write_s.wall, std::chrono::duration<double>(written - start).count());
            write_s.cpu = std::min(write_s.cpu, cpu_written - cpu_start);
            sync_s.wall = std::min(sync_s.wall, std::chrono::duration<double>(synced - written).count());
            sync_s.cpu = std::min(sync_s.cpu, cpu_synced - cpu_written);
        }
        print("write", write_s, total);
        print("fsync", sync_s, total);
    }

    // Everything but compression and hashing, on one thread.
    {
        options.threads = 1;
        options.hashes.clear();
        const fitstream::tree fit = fitstream::make_kernel_fit(options, kernel_path, "", dtb_paths);
        fitstream::write_options write;
        write.threads = 1;
        write.layout.layout = fitstream::data_layout::external;
        print("write_fit none", best_of(a.repeat, [&] {
                  fitstream::file_sink out(a.scratch, fitstream::file_sync::unsynced);
                  sink = sink + fitstream::write_fit(fit, out, write).total_size;
              }));
    }
    std::remove(a.scratch.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"What each stage of a fitpack run costs on one thread", "stages"};
    return bench::parse_and_run<arguments>(app, argc, argv, parse, run);
}
