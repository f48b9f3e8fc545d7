// SPDX-License-Identifier: MIT
// The writer's parallel pipeline (<fitstream/writer.hpp>,
// <fitstream/detail/write/pipeline.hpp>): the same bytes for every thread count
// with every codec, segmented codecs assembled in order (header, segments,
// trailer, summaries folded in order) through a codec defined here and
// decoded by this file's own checker, the first failure in tree order
// reported with nothing committed, the memory budget, and progress. The
// outputs are listed by U-Boot's dumpimage and mkimage and checked by
// fitpack verify, which decodes every stream and recomputes every hash.
#define BOOST_TEST_MODULE fitstream parallel writer
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using fitstream::data_layout;
using fitstream_test::check_same;
using fitstream_test::kernel_like_payload;
using fitstream_test::read_file;
using fitstream_test::run;
using fitstream_test::temp_dir;
using fitstream_test::write_file;

const unsigned thread_counts[] = {1, 2, 3, 8};

std::vector<char> to_vector(const std::string& s) { return {s.begin(), s.end()}; }

/// A valid DTB naming board `n`, a few hundred bytes, different per board.
std::string make_dtb(int n) {
    fitstream::detail::fdt_builder fdt;
    fdt.begin_node("");
    fdt.property_string("model", "Board " + std::to_string(n));
    fdt.property_strings("compatible", {"vendor,board-" + std::to_string(n), "vendor,soc"});
    fdt.begin_node("chosen");
    fdt.property_string("bootargs", std::string(static_cast<std::size_t>(n % 50), 'x'));
    fdt.end_node();
    fdt.end_node();
    const auto blob = std::move(fdt).finish();
    return std::string(blob.begin(), blob.end());
}

/// The inputs of a kernel build: a kernel larger than a few codec segments,
/// a ramdisk, and many DTBs, some files and some in memory.
struct inputs {
    explicit inputs(const temp_dir& dir) {
        kernel = kernel_like_payload(3u << 20, 7);
        write_file(dir / "Image", kernel);
        ramdisk = kernel_like_payload(700000, 8);
        write_file(dir / "initrd", ramdisk);
        for (int i = 0; i < 48; ++i) {
            dtbs.push_back(make_dtb(i));
            const fs::path path = dir / ("board-" + std::to_string(i) + ".dtb");
            write_file(path, dtbs.back());
            dtb_paths.push_back(path.string());
        }
        kernel_path = (dir / "Image").string();
        ramdisk_path = (dir / "initrd").string();
    }
    std::string kernel, ramdisk, kernel_path, ramdisk_path;
    std::vector<std::string> dtbs, dtb_paths;
};

template <class Codec>
fitstream::tree kernel_tree(const inputs& in) {
    fitstream::tree fit;
    fit.description = "parallel";
    fit.timestamp = 1700000000;
    auto& k = fit.images.emplace_back("kernel", "kernel_noload", fitstream::source::file(in.kernel_path));
    k.arch = "arm64";
    k.os = "linux";
    k.load = 0;
    k.entry = 0;
    k.compress_with<Codec>().template add_hash<fitstream::hash::sha256>().template add_hash<fitstream::hash::crc32>();
    auto& r = fit.images.emplace_back("ramdisk", "ramdisk", fitstream::source::file(in.ramdisk_path));
    r.arch = "arm64";
    r.os = "linux";
    r.add_hash<fitstream::hash::sha1>();
    for (std::size_t i = 0; i < in.dtbs.size(); ++i) {
        const std::string name = "fdt-" + std::to_string(i + 1);
        // Every other DTB comes from memory: both input paths are covered.
        auto& f = fit.images.emplace_back(name, "flat_dt",
                                          i % 2 ? fitstream::source::memory(to_vector(in.dtbs[i]), name)
                                                : fitstream::source::file(in.dtb_paths[i]));
        f.arch = "arm64";
        f.compress_with<Codec>().template add_hash<fitstream::hash::sha256>();
        fitstream::configuration conf;
        conf.name = "conf-" + std::to_string(i + 1);
        conf.kernel = "kernel";
        conf.ramdisk = "ramdisk";
        conf.fdt = {name};
        conf.compatible = {"vendor,board-" + std::to_string(i)};
        fit.configurations.push_back(conf);
    }
    fit.default_configuration = "conf-1";
    return fit;
}

fitstream::write_options with(data_layout layout, unsigned threads) {
    fitstream::write_options options;
    options.layout.layout = layout;
    if (layout == data_layout::external) options.layout.align = 8;
    options.threads = threads;
    return options;
}

/// dumpimage -l and mkimage -l list it without complaint, and fitpack
/// verify (every hash recomputed, every stream decoded whole) passes.
void check_accepted(const fs::path& fit, std::size_t images) {
    for (const char* tool : {"dumpimage", "mkimage"}) {
        const auto r = run({tool, "-l", fit.string()});
        BOOST_TEST(r.exit_code == 0, tool << " -l failed: " << r.err);
        std::size_t listed = 0;
        for (const auto& line : fitstream_test::lines_of(r.out))
            if (line.rfind(" Image ", 0) == 0 && line.find('(') != std::string::npos) ++listed;
        BOOST_TEST(listed == images, tool << " -l lists " << listed << " images, not " << images);
    }
    const auto v = run({fitstream_test::fitpack_path, "verify", fit.string()});
    BOOST_TEST(v.exit_code == 0, "fitpack verify: " << v.out << v.err);
}

template <class... Codecs>
void for_each_codec(fitstream::codec_list<Codecs...>, const std::function<void(std::string_view)>& check) {
    (check(Codecs::fit_name), ...);
}

BOOST_AUTO_TEST_CASE(same_bytes_for_every_thread_count_and_codec) {
    temp_dir dir;
    const inputs in(dir);
    for_each_codec(fitstream::builtin_codecs{}, [&](std::string_view name) {
        fitstream::visit_codec(name, [&](auto tag) {
            using C = typename decltype(tag)::type;
            const fitstream::tree fit = kernel_tree<C>(in);
            for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
                BOOST_TEST_CONTEXT(C::fit_name << (layout == data_layout::embedded ? " embedded" : " external")) {
                    const fs::path reference = dir / "j1.fit";
                    const auto first = fitstream::write_fit(fit, reference.string(), with(layout, 1));
                    const std::string want = read_file(reference);
                    for (const unsigned threads : thread_counts) {
                        if (threads == 1) continue;
                        const fs::path out = dir / ("j" + std::to_string(threads) + ".fit");
                        const auto result = fitstream::write_fit(fit, out.string(), with(layout, threads));
                        check_same(read_file(out), want, "-j" + std::to_string(threads) + " vs -j1");
                        BOOST_TEST(result.images.size() == first.images.size());
                        for (std::size_t i = 0; i < result.images.size() && i < first.images.size(); ++i) {
                            BOOST_TEST(result.images[i].stored_size == first.images[i].stored_size);
                            BOOST_TEST(result.images[i].file_offset == first.images[i].file_offset);
                            BOOST_TEST(result.images[i].input_size == first.images[i].input_size);
                        }
                    }
                    // A budget below one job's needs is raised, never a deadlock.
                    auto tight = with(layout, 3);
                    tight.memory_budget = 1;
                    tight.chunk_size = 4096;
                    fitstream::write_fit(fit, (dir / "tight.fit").string(), tight);
                    check_same(read_file(dir / "tight.fit"), want, "-j3, tiny budget and chunks vs -j1");
                    check_accepted(dir / "j8.fit", fit.images.size());
                }
            }
        });
    });
}

// ---------------------------------------------------------------------------
// A segmented codec defined here, so the ordering of segments, header and
// trailer is proven whatever the built-in codecs do.
//
// Stored form: "SEGH" u64 input size; per segment "SEG" u32 index, u32
// dictionary bytes seen, u32 checksum of those bytes, u32 size, then the
// input bytes XORed with (index & 0xff); "SEGT" u32 segments added, u64
// bytes added (what add() folded, in order).
// ---------------------------------------------------------------------------

void put32(std::vector<char>& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<char>((v >> s) & 0xff));
}
void put64(std::vector<char>& out, std::uint64_t v) {
    put32(out, static_cast<std::uint32_t>(v >> 32));
    put32(out, static_cast<std::uint32_t>(v));
}
std::uint32_t checksum(const char* p, std::size_t n) {
    std::uint32_t sum = 2166136261u;
    for (std::size_t i = 0; i < n; ++i) sum = (sum ^ static_cast<unsigned char>(p[i])) * 16777619u;
    return sum;
}

std::atomic<int> live_segment_encodes{0};
std::atomic<int> most_segment_encodes{0};

struct marked {
    static constexpr std::string_view fit_name = "none";  // U-Boot tools list it; our checker decodes it
    struct options {
        std::size_t segment = 10007;
        std::size_t dictionary = 333;
        std::string fail_on;  // an encode() that sees these bytes throws
    };
    class encoder {
    public:
        using char_type = char;
        encoder(const options&, std::uint64_t) {}
        bool filter(const char*&, const char*, char*&, char*, bool) {
            throw std::logic_error("marked: the writer must use segments");
        }
        void close() {}
    };
    class segments {
    public:
        struct summary {
            std::uint64_t index;
            std::uint64_t size;
        };
        segments(const options& o, std::uint64_t size) : options_(o), size_(size) {}
        std::size_t segment_size() const { return options_.segment; }
        std::size_t dictionary_size() const { return options_.dictionary; }
        summary encode(std::uint64_t index, const char* dict, std::size_t dict_size, const char* in,
                       std::size_t size, bool last, std::vector<char>& out) const {
            const int live = ++live_segment_encodes;
            int most = most_segment_encodes.load();
            while (live > most && !most_segment_encodes.compare_exchange_weak(most, live)) {
            }
            // Long enough that workers overlap.
            std::this_thread::sleep_for(std::chrono::microseconds(200));
            const std::string_view text(in ? in : "", size);
            if (!options_.fail_on.empty() && text.find(options_.fail_on) != std::string_view::npos) {
                --live_segment_encodes;
                throw fitstream::error(fitstream::errc::invalid_input,
                                       std::string(text.substr(text.find(options_.fail_on), 6)), "marked codec failed");
            }
            out.insert(out.end(), {'S', 'E', 'G'});
            put32(out, static_cast<std::uint32_t>(index));
            put32(out, static_cast<std::uint32_t>(dict_size));
            put32(out, checksum(dict, dict_size));
            put32(out, static_cast<std::uint32_t>(size) | (last ? 0x80000000u : 0));
            for (std::size_t i = 0; i < size; ++i) out.push_back(static_cast<char>(in[i] ^ (index & 0xff)));
            --live_segment_encodes;
            return {index, size};
        }
        void header(std::vector<char>& out) const {
            out.insert(out.end(), {'S', 'E', 'G', 'H'});
            put64(out, size_);
        }
        void add(const summary& s) {
            if (s.index != added_) throw std::logic_error("marked: add() out of order");
            ++added_;
            bytes_ += s.size;
        }
        void trailer(std::vector<char>& out) const {
            out.insert(out.end(), {'S', 'E', 'G', 'T'});
            put32(out, static_cast<std::uint32_t>(added_));
            put64(out, bytes_);
        }

    private:
        options options_;
        std::uint64_t size_;
        std::uint64_t added_ = 0;
        std::uint64_t bytes_ = 0;
    };
};
static_assert(fitstream::has_segments_v<marked>);

/// Decodes `stored` (the marked container) and checks it is exactly what
/// `original` split into segments of `seg` with dictionaries of `dict`
/// gives, in order. Returns the decoded bytes.
std::string decode_marked(const std::string& stored, const std::string& original, std::size_t seg,
                          std::size_t dict, const std::string& what) {
    std::size_t at = 0;
    const auto take = [&](std::size_t n) {
        if (at + n > stored.size()) throw std::runtime_error(what + ": truncated at " + std::to_string(at));
        const std::string s = stored.substr(at, n);
        at += n;
        return s;
    };
    const auto get32 = [&] {
        const std::string b = take(4);
        std::uint32_t v = 0;
        for (const char c : b) v = (v << 8) | static_cast<unsigned char>(c);
        return v;
    };
    const auto get64 = [&] {
        const std::uint64_t hi = get32();
        return (hi << 32) | get32();
    };
    if (take(4) != "SEGH") throw std::runtime_error(what + ": no header");
    if (get64() != original.size()) throw std::runtime_error(what + ": header size");
    std::string decoded;
    const std::uint64_t segments = original.empty() ? 1 : (original.size() - 1) / seg + 1;
    for (std::uint64_t k = 0; k < segments; ++k) {
        if (take(3) != "SEG") throw std::runtime_error(what + ": segment " + std::to_string(k) + " missing");
        if (get32() != k) throw std::runtime_error(what + ": segment " + std::to_string(k) + " out of order");
        const std::size_t want_dict = std::min<std::size_t>(dict, static_cast<std::size_t>(k * seg));
        if (get32() != want_dict) throw std::runtime_error(what + ": dictionary size of segment " + std::to_string(k));
        if (get32() != checksum(original.data() + k * seg - want_dict, want_dict))
            throw std::runtime_error(what + ": dictionary bytes of segment " + std::to_string(k));
        const std::uint32_t word = get32();
        const bool last = (word & 0x80000000u) != 0;
        if (last != (k + 1 == segments)) throw std::runtime_error(what + ": last flag of segment " + std::to_string(k));
        const std::string bytes = take(word & 0x7fffffffu);
        for (const char c : bytes) decoded.push_back(static_cast<char>(c ^ (k & 0xff)));
    }
    if (take(4) != "SEGT") throw std::runtime_error(what + ": no trailer");
    if (get32() != segments) throw std::runtime_error(what + ": trailer count");
    if (get64() != original.size()) throw std::runtime_error(what + ": trailer bytes");
    if (at != stored.size()) throw std::runtime_error(what + ": bytes after the trailer");
    return decoded;
}

std::string stored_bytes(const fitstream::reader& r, const std::string& name) {
    std::string out;
    r.read_stored(*r.find_image(name), [&](const char* p, std::size_t n) { out.append(p, n); });
    return out;
}

BOOST_AUTO_TEST_CASE(segmented_codec_is_assembled_in_order) {
    temp_dir dir;
    const std::string big = kernel_like_payload(1234567, 3);  // 124 segments
    write_file(dir / "big", big);
    const std::string exact = kernel_like_payload(10007 * 5, 4);  // exactly 5 segments
    write_file(dir / "exact", exact);
    const std::string small = "tiny";
    fitstream::tree fit;
    fit.description = "segments";
    const auto add = [&](const std::string& name, fitstream::source src) {
        fit.images.emplace_back(name, "firmware", std::move(src))
            .compress_with<marked>()
            .add_hash<fitstream::hash::sha256>()
            .add_hash<fitstream::hash::md5>();
    };
    add("big-file", fitstream::source::file((dir / "big").string()));
    add("big-memory", fitstream::source::memory(to_vector(big), "big"));
    add("exact", fitstream::source::file((dir / "exact").string()));
    add("empty", fitstream::source::memory({}, "empty"));
    add("small", fitstream::source::memory(to_vector(small), "small"));
    fit.images.emplace_back("plain", "firmware", fitstream::source::memory(to_vector(small), "plain"));
    const std::vector<std::pair<std::string, const std::string*>> originals = {
        {"big-file", &big}, {"big-memory", &big}, {"exact", &exact}, {"small", &small}};
    const std::string nothing;

    for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
        std::string reference;
        most_segment_encodes = 0;
        for (const unsigned threads : thread_counts) {
            BOOST_TEST_CONTEXT((layout == data_layout::embedded ? "embedded" : "external") << ", -j" << threads) {
                const fs::path out = dir / "seg.fit";
                fitstream::write_fit(fit, out.string(), with(layout, threads));
                const std::string bytes = read_file(out);
                if (threads == 1)
                    reference = bytes;
                else
                    check_same(bytes, reference, "vs -j1");
                const fitstream::reader r(out.string());
                for (const auto& [name, original] : originals) {
                    BOOST_TEST_CONTEXT(name) {
                        try {
                            const std::string decoded = decode_marked(stored_bytes(r, name), *original, 10007, 333, name);
                            BOOST_TEST((decoded == *original), "decoded bytes differ");
                        } catch (const std::exception& e) {
                            BOOST_ERROR(e.what());
                        }
                    }
                }
                try {
                    decode_marked(stored_bytes(r, "empty"), nothing, 10007, 333, "empty");
                } catch (const std::exception& e) {
                    BOOST_ERROR(e.what());
                }
                BOOST_TEST(stored_bytes(r, "plain") == small);
                // Hashes cover the stored bytes: verify() recomputes them.
                for (const auto& p : r.verify()) {
                    if (p.message.find("decode") != std::string::npos) continue;  // our container is not "none"
                    if (p.level == fitstream::problem::severity::error && p.message.find("hash") != std::string::npos)
                        BOOST_ERROR(p.subject << ": " << p.message);
                }
            }
        }
        BOOST_TEST_MESSAGE("most segment encodes at once: " << most_segment_encodes.load());
        BOOST_TEST(most_segment_encodes.load() >= 1);
    }
}

// ---------------------------------------------------------------------------
// Failures
// ---------------------------------------------------------------------------

/// A sink in memory that records whether it was committed.
class memory_sink final : public fitstream::sink {
public:
    void write_at(std::uint64_t offset, const void* data, std::size_t size) override {
        if (std::this_thread::get_id() != owner_) wrong_thread = true;
        if (bytes.size() < offset + size) bytes.resize(offset + size);
        std::memcpy(&bytes[offset], data, size);
        if (delay_per_write.count() > 0) std::this_thread::sleep_for(delay_per_write);
    }
    void commit(std::uint64_t total) override {
        bytes.resize(total);
        committed = true;
    }
    const std::string& name() const noexcept override { return name_; }

    std::string bytes;
    bool committed = false;
    bool wrong_thread = false;
    std::chrono::microseconds delay_per_write{0};

private:
    std::string name_ = "memory";
    std::thread::id owner_ = std::this_thread::get_id();
};

/// A whole-image codec whose encoder fails once it has seen `FAIL`.
struct failing {
    static constexpr std::string_view fit_name = "gzip";
    struct options {};
    class encoder {
    public:
        using char_type = char;
        encoder(const options&, std::uint64_t) {}
        bool filter(const char*& in, const char* in_end, char*& out, char* out_end, bool flush) {
            seen_.append(in, in_end);
            if (seen_.find("FAIL") != std::string::npos)
                throw fitstream::error(fitstream::errc::invalid_input, seen_.substr(seen_.find("FAIL"), 6),
                                       "failing codec");
            seen_.erase(0, seen_.size() > 3 ? seen_.size() - 3 : 0);
            in = in_end;
            (void)out;
            (void)out_end;
            return !flush;
        }
        void close() {}

    private:
        std::string seen_;
    };
};

BOOST_AUTO_TEST_CASE(first_failure_in_tree_order_is_reported_and_nothing_committed) {
    temp_dir dir;
    // Images 0..39: ordinary; 17 and 31 fail (whole-image jobs with one
    // codec, a segment in the middle of a segmented image with the other).
    for (const bool segmented : {false, true}) {
        fitstream::tree fit;
        fit.description = "fails";
        for (int i = 0; i < 40; ++i) {
            std::string bytes = kernel_like_payload(segmented ? 60000 : 20000, static_cast<unsigned>(i + 10));
            if (i == 17 || i == 31) bytes.replace(segmented ? 35000 : 9000, 6, "FAIL" + std::to_string(i));
            const std::string file = (dir / ("in-" + std::to_string(i))).string();
            write_file(file, bytes);
            auto& img = fit.images.emplace_back("img-" + std::to_string(i), "firmware", fitstream::source::file(file));
            if (segmented) {
                marked::options o;
                o.segment = 4096;
                o.dictionary = 0;
                o.fail_on = "FAIL";
                img.compress_with<marked>(o);
            } else if (i == 17 || i == 31) {
                img.compress_with<failing>();
            } else {
                img.compress_with<fitstream::codec::gzip>();
            }
            img.add_hash<fitstream::hash::sha256>();
        }
        for (const unsigned threads : thread_counts) {
            for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
                BOOST_TEST_CONTEXT((segmented ? "segmented" : "whole") << ", -j" << threads
                                                                       << (layout == data_layout::embedded ? " embedded"
                                                                                                          : " external")) {
                    memory_sink sink;
                    std::optional<fitstream::error> caught;
                    try {
                        fitstream::write_fit(fit, sink, with(layout, threads));
                    } catch (const fitstream::error& e) {
                        caught = e;
                    }
                    BOOST_TEST_REQUIRE(caught.has_value(), "write_fit did not fail");
                    BOOST_TEST(caught->subject().substr(0, 6) == "FAIL17", caught->what());
                    BOOST_TEST(!sink.committed);
                    BOOST_TEST(!sink.wrong_thread, "the sink was used from a worker thread");
                    // A file sink leaves nothing behind.
                    const fs::path target = dir / "out.fit";
                    BOOST_CHECK_THROW(fitstream::write_fit(fit, target.string(), with(layout, threads)),
                                      fitstream::error);
                    BOOST_TEST(!fs::exists(target));
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(sink_failure_stops_the_workers) {
    // The calling thread fails (the sink throws) while workers are busy
    // and blocked on the budget: write_fit must join them and rethrow.
    class failing_sink final : public fitstream::sink {
    public:
        void write_at(std::uint64_t, const void*, std::size_t) override {
            if (++writes == 5) throw fitstream::error(fitstream::errc::invalid_argument, "sink", "disk full");
        }
        void commit(std::uint64_t) override { committed = true; }
        const std::string& name() const noexcept override { return name_; }
        int writes = 0;
        bool committed = false;

    private:
        std::string name_ = "failing";
    };
    fitstream::tree fit;
    fit.description = "sink fails";
    for (int i = 0; i < 64; ++i)
        fit.images
            .emplace_back("img-" + std::to_string(i), "firmware",
                          fitstream::source::memory(to_vector(kernel_like_payload(50000, static_cast<unsigned>(i))),
                                                    "m"))
            .compress_with<fitstream::codec::gzip>();
    for (const unsigned threads : thread_counts) {
        BOOST_TEST_CONTEXT("-j" << threads) {
            failing_sink sink;
            auto options = with(data_layout::external, threads);
            options.memory_budget = 64 * 1024;
            options.chunk_size = 8192;
            try {
                fitstream::write_fit(fit, sink, options);
                BOOST_ERROR("write_fit did not fail");
            } catch (const fitstream::error& e) {
                BOOST_TEST(e.reason() == "disk full");
            }
            BOOST_TEST(!sink.committed);
        }
    }
}

// ---------------------------------------------------------------------------
// Memory budget and progress
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(memory_budget_bounds_what_is_held_in_flight) {
    // Many images whose stored bytes queue up behind a slow sink: the
    // workers could run ahead through all of them (12 MiB) but must stop at
    // the budget. The pipeline's own count is checked against the budget
    // plus what the image being written may always hold.
    temp_dir dir;
    fitstream::tree fit;
    fit.description = "budget";
    for (int i = 0; i < 200; ++i) {
        const std::string file = (dir / ("in-" + std::to_string(i))).string();
        write_file(file, kernel_like_payload(64 * 1024, static_cast<unsigned>(i)));
        auto& img = fit.images.emplace_back("img-" + std::to_string(i), "firmware", fitstream::source::file(file));
        if (i % 3 == 1) img.compress_with<fitstream::codec::lz4>();
        if (i % 3 == 2) img.compress_with<marked>(marked::options{16384, 100, {}});
        img.add_hash<fitstream::hash::crc32>();
    }
    std::string reference;
    for (const unsigned threads : thread_counts) {
        for (const std::size_t budget : {std::size_t{100000}, std::size_t{1} << 20}) {
            BOOST_TEST_CONTEXT("-j" << threads << ", budget " << budget) {
                memory_sink sink;
                sink.delay_per_write = std::chrono::microseconds(100);
                auto options = with(data_layout::external, threads);
                options.chunk_size = 16384;
                options.memory_budget = budget;
                const auto result = fitstream::write_fit(fit, sink, options);
                BOOST_TEST_MESSAGE("-j" << threads << " budget " << budget << ": peak " << result.peak_buffered);
                // The image being written may always proceed: the budget
                // may be passed by one job's needs (two chunks, or one
                // segment's input and output: lz4's segments take a whole
                // 64 KiB image here, marked's 16 KiB) and a container's few
                // bytes.
                const std::size_t lz4_segment = 2 * 64 * 1024 + 1024;
                const std::size_t one_job =
                    std::max<std::size_t>({2 * options.chunk_size, 2 * 16384 + 100, lz4_segment}) + 512;
                BOOST_TEST(result.peak_buffered <= budget + one_job + 4096);
                if (threads == 1) BOOST_TEST(result.peak_buffered == 0u);
                if (reference.empty()) reference = sink.bytes;
                check_same(sink.bytes, reference, "vs the first run");
                BOOST_TEST(!sink.wrong_thread);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(progress_is_reported_in_order_on_the_calling_thread) {
    temp_dir dir;
    const inputs in(dir);
    const fitstream::tree fit = kernel_tree<fitstream::codec::gzip>(in);
    std::uint64_t total = 0;
    for (const auto& img : fit.images)
        total += img.data.is_file() ? fs::file_size(img.data.name()) : img.data.memory_size();
    for (const unsigned threads : thread_counts) {
        BOOST_TEST_CONTEXT("-j" << threads) {
            auto options = with(data_layout::external, threads);
            std::vector<fitstream::write_progress> seen;
            bool wrong_thread = false;
            const auto caller = std::this_thread::get_id();
            options.on_progress = [&](const fitstream::write_progress& p) {
                if (std::this_thread::get_id() != caller) wrong_thread = true;
                seen.push_back(p);
            };
            std::vector<std::string> images_seen;
            options.on_image = [&](const fitstream::image& img, const fitstream::image_result&) {
                images_seen.push_back(img.name);
            };
            fitstream::write_fit(fit, (dir / "p.fit").string(), options);
            BOOST_TEST(!wrong_thread);
            BOOST_TEST_REQUIRE(!seen.empty());
            bool monotonic = true;
            for (std::size_t i = 1; i < seen.size(); ++i)
                monotonic = monotonic && seen[i].input_done >= seen[i - 1].input_done &&
                            seen[i].stored_done >= seen[i - 1].stored_done &&
                            seen[i].images_done >= seen[i - 1].images_done;
            BOOST_TEST(monotonic);
            BOOST_TEST(seen.back().input_done == total);
            BOOST_TEST(seen.back().input_total == total);
            BOOST_TEST(seen.back().images_done == fit.images.size());
            BOOST_TEST(seen.back().images_total == fit.images.size());
            // The kernel alone reports progress several times (3 MiB in 1 MiB steps).
            BOOST_TEST(seen.size() > fit.images.size() + 2);
            std::vector<std::string> names;
            for (const auto& img : fit.images) names.push_back(img.name);
            BOOST_TEST(images_seen == names, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(thousands_of_tiny_images) {
    // 3000 DTB-sized images with a compressing codec: each is one job, the
    // structure and the pipeline stay linear, bytes are the same.
    fitstream::tree fit;
    fit.description = "many";
    for (int i = 0; i < 3000; ++i) {
        const std::string name = "fdt-" + std::to_string(i + 1);
        fit.images.emplace_back(name, "flat_dt", fitstream::source::memory(to_vector(make_dtb(i)), name))
            .compress_with<fitstream::codec::zstd>()
            .add_hash<fitstream::hash::sha256>();
    }
    std::string reference;
    for (const unsigned threads : thread_counts) {
        BOOST_TEST_CONTEXT("-j" << threads) {
            memory_sink sink;
            fitstream::write_fit(fit, sink, with(data_layout::external, threads));
            if (reference.empty()) reference = sink.bytes;
            check_same(sink.bytes, reference, "vs -j1");
        }
    }
    temp_dir dir;
    write_file(dir / "many.fit", reference);
    const auto v = run({fitstream_test::fitpack_path, "verify", (dir / "many.fit").string()});
    BOOST_TEST(v.exit_code == 0, v.out << v.err);
}


// ---------------------------------------------------------------------------
// fitpack: -j, -v and the progress line
// ---------------------------------------------------------------------------

std::vector<std::string> fitpack_args(const inputs& in, const fs::path& out, const std::string& codec) {
    std::vector<std::string> args = {fitstream_test::fitpack_path, "-o", out.string(), "-A", "arm64", "-O", "linux",
                                     "-n", "Linux", "-c", codec, "--timestamp", "0", "-k", in.kernel_path,
                                     "-r", in.ramdisk_path};
    args.insert(args.end(), in.dtb_paths.begin(), in.dtb_paths.end());
    return args;
}

std::vector<std::string> operator+(std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

BOOST_AUTO_TEST_CASE(fitpack_jobs_give_the_same_bytes) {
    temp_dir dir;
    const inputs in(dir);
    for (const std::string codec : {"gzip", "zstd", "none"}) {
        for (const std::string layout : {"", "-E"}) {
            BOOST_TEST_CONTEXT(codec << " " << layout) {
                std::string reference;
                for (const std::string jobs : {"1", "2", "3", "8"}) {
                    const fs::path out = dir / ("j" + jobs + ".fit");
                    auto args = fitpack_args(in, out, codec) + std::vector<std::string>{"-j", jobs};
                    if (!layout.empty()) args.push_back(layout);
                    const auto r = run(args);
                    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
                    // Not a terminal: no progress line, nothing at all on stderr.
                    BOOST_TEST(r.err.empty(), "stderr: " << r.err);
                    if (reference.empty())
                        reference = read_file(out);
                    else
                        check_same(read_file(out), reference, "-j" + jobs + " vs -j1");
                }
                // The default (all cores) too.
                auto args = fitpack_args(in, dir / "default.fit", codec);
                if (!layout.empty()) args.push_back(layout);
                BOOST_TEST_REQUIRE(run(args).exit_code == 0);
                check_same(read_file(dir / "default.fit"), reference, "default -j vs -j1");
                check_accepted(dir / "default.fit", in.dtbs.size() + 2);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(fitpack_refuses_bad_jobs) {
    temp_dir dir;
    write_file(dir / "k", "kernel");
    for (const std::string bad : {"0", "-1", "two", "", "99999"}) {
        BOOST_TEST_CONTEXT("-j '" << bad << "'") {
            const auto r = run({fitstream_test::fitpack_path, "-o", (dir / "x.fit").string(), "-A", "arm64", "-O",
                                "linux", "-n", "L", "-k", (dir / "k").string(), "-j", bad});
            BOOST_TEST(r.exit_code == 2, r.err);
            BOOST_TEST(r.err.find("-j/--jobs") != std::string::npos, r.err);
            BOOST_TEST(!fs::exists(dir / "x.fit"));
        }
    }
    const auto help = run({fitstream_test::fitpack_path, "--help"});
    BOOST_TEST(help.out.find("-j,--jobs") != std::string::npos);
    BOOST_TEST(help.out.find("MiB") != std::string::npos, "--help does not state the memory budget");
}

BOOST_AUTO_TEST_CASE(fitpack_verbose_reports_each_image) {
    temp_dir dir;
    const inputs in(dir);
    const auto r = run(fitpack_args(in, dir / "v.fit", "gzip") + std::vector<std::string>{"-v", "-j", "3"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    const fitstream::reader fit((dir / "v.fit").string());
    const auto lines = fitstream_test::lines_of(r.err);
    std::size_t next = 0;  // images are reported in tree order
    for (const auto& img : fit.images()) {
        const std::string file = img.name == "kernel"    ? in.kernel_path
                                 : img.name == "ramdisk" ? in.ramdisk_path
                                                         : in.dtb_paths[std::stoul(img.name.substr(4)) - 1];
        const std::uint64_t input = fs::file_size(file);
        const std::string want = "fitpack: " + img.name + ": " + file + ", " + std::to_string(input) + " -> " +
                                 std::to_string(img.size) + " bytes (" + img.compression + ")";
        while (next < lines.size() && lines[next] != want) ++next;
        BOOST_TEST(next < lines.size(), "missing or out of order: " << want);
    }
    BOOST_TEST(r.err.find("FIT size") != std::string::npos);
    BOOST_TEST(r.err.find('\r') == std::string::npos, "a progress line without a terminal");
}

/// Runs argv on a pseudo-terminal (python3's pty module); returns what the
/// terminal received (standard output and error together).
fitstream_test::run_result run_on_pty(const std::vector<std::string>& argv) {
    static const char* script =
        "import os, pty, sys\n"
        "pid, fd = pty.fork()\n"
        "if pid == 0:\n"
        "    os.execv(sys.argv[1], sys.argv[1:])\n"
        "out = b''\n"
        "while True:\n"
        "    try:\n"
        "        data = os.read(fd, 65536)\n"
        "    except OSError:\n"
        "        break\n"
        "    if not data:\n"
        "        break\n"
        "    out += data\n"
        "_, status = os.waitpid(pid, 0)\n"
        "sys.stdout.buffer.write(out)\n"
        "sys.exit(os.waitstatus_to_exitcode(status))\n";
    return run(std::vector<std::string>{"python3", "-c", script} + argv);
}

BOOST_AUTO_TEST_CASE(fitpack_progress_line_only_on_a_terminal) {
    temp_dir dir;
    // Long enough to pass the line's 0.3 s delay on any machine: ~40 MiB
    // through gzip on one thread.
    write_file(dir / "Image", kernel_like_payload(40u << 20, 5));
    const std::vector<std::string> args = {fitstream_test::fitpack_path, "-o", (dir / "p.fit").string(), "-A",
                                           "arm64", "-O", "linux", "-n", "L", "-c", "gzip", "-j", "1", "-k",
                                           (dir / "Image").string()};
    const auto tty = run_on_pty(args);
    BOOST_TEST_REQUIRE(tty.exit_code == 0, tty.out << tty.err);
    BOOST_TEST(tty.out.find('\r') != std::string::npos, "no progress line on a terminal: " << tty.out);
    BOOST_TEST(tty.out.find("MB/s") != std::string::npos, tty.out);
    BOOST_TEST(tty.out.find("1/1 images") != std::string::npos, "no final state: " << tty.out);
    BOOST_TEST((!tty.out.empty() && tty.out.back() == '\n'), "the line is not finished with a newline");
    const fitstream::reader fit((dir / "p.fit").string());
    BOOST_TEST(fit.verify().empty());

    // With -v on a terminal: each image line stands on a line of its own.
    const auto verbose = run_on_pty(args + std::vector<std::string>{"-v"});
    BOOST_TEST_REQUIRE(verbose.exit_code == 0, verbose.out);
    const bool own_line = verbose.out.find("\r\033[Kfitpack: kernel: ") != std::string::npos ||
                          verbose.out.find("fitpack: kernel: ") == 0;
    BOOST_TEST(own_line, verbose.out);

    // Not a terminal: not a byte of it.
    const auto piped = run(args);
    BOOST_TEST_REQUIRE(piped.exit_code == 0, piped.err);
    BOOST_TEST(piped.err.empty(), "stderr: " << piped.err);
}

}  // namespace

// ---------------------------------------------------------------------------
// The scheduler alone (detail/parallel/scheduler.hpp): independent jobs on
// several threads, consumed in order within a window, as the Kbuild DTB
// read-ahead uses it.
// ---------------------------------------------------------------------------

namespace {

struct square_job {
    std::size_t index = 0;
    std::uint64_t value = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(scheduler_consumes_independent_jobs_in_order_within_the_window) {
    using scheduler = fitstream::detail::scheduler<square_job>;
    for (const unsigned threads : {1u, 2u, 3u, 8u}) {
        for (const std::size_t window : {std::size_t{1}, std::size_t{4}, std::size_t{64}}) {
            const std::size_t count = 200;
            std::size_t next = 0;
            std::vector<std::size_t> order;
            std::atomic<std::size_t> running{0};
            std::atomic<std::size_t> most_running{0};
            scheduler s(threads, window, 1);
            s.run(
                [&](square_job& job, std::size_t& reserved) {
                    if (next == count) return false;
                    job.index = next++;
                    reserved = 0;
                    return true;
                },
                [&] {
                    return [&](square_job& job, scheduler::worker&) {
                        const std::size_t now = ++running;
                        std::size_t seen = most_running.load();
                        while (now > seen && !most_running.compare_exchange_weak(seen, now)) {
                        }
                        job.value = std::uint64_t{job.index} * job.index;
                        --running;
                    };
                },
                [&](square_job& job, scheduler::results& r) {
                    r.wait();
                    BOOST_TEST(job.value == std::uint64_t{job.index} * job.index);
                    order.push_back(job.index);
                });
            BOOST_TEST(order.size() == count, "-j" << threads << " window " << window);
            BOOST_TEST(std::is_sorted(order.begin(), order.end()));
            BOOST_TEST(most_running.load() <= threads);
            // Each job costs 1; the head may always start: at most the window
            // and the head are taken and not yet consumed.
            BOOST_TEST(s.peak_in_flight() <= window + 1, "-j" << threads << " window " << window);
        }
    }
}

BOOST_AUTO_TEST_CASE(scheduler_reports_the_first_failure_in_order_after_the_jobs_before_it) {
    using scheduler = fitstream::detail::scheduler<square_job>;
    for (const unsigned threads : {1u, 2u, 4u}) {
        std::size_t next = 0;
        std::vector<std::size_t> consumed;
        scheduler s(threads, 16, 1);
        try {
            s.run(
                [&](square_job& job, std::size_t&) {
                    if (next == 100) return false;
                    job.index = next++;
                    return true;
                },
                [&] {
                    return [&](square_job& job, scheduler::worker&) {
                        // Later failures may finish first; the earliest is reported.
                        if (job.index == 30 || job.index == 31 || job.index == 90)
                            throw std::runtime_error("job " + std::to_string(job.index));
                    };
                },
                [&](square_job& job, scheduler::results& r) {
                    r.wait();
                    consumed.push_back(job.index);
                });
            BOOST_ERROR("no failure reported");
        } catch (const std::runtime_error& e) {
            BOOST_TEST(std::string(e.what()) == "job 30", "-j" << threads);
        }
        BOOST_TEST(consumed.size() == 30u, "-j" << threads << ": every job before the failure is consumed");
        BOOST_TEST(std::is_sorted(consumed.begin(), consumed.end()));
    }
}

BOOST_AUTO_TEST_CASE(scheduler_reports_a_failure_to_describe_after_the_jobs_before_it) {
    using scheduler = fitstream::detail::scheduler<square_job>;
    std::size_t next = 0;
    std::size_t consumed = 0;
    scheduler s(3, 4, 1);
    try {
        s.run(
            [&](square_job& job, std::size_t&) {
                if (next == 10) throw std::bad_alloc();
                job.index = next++;
                return true;
            },
            [&] { return [](square_job&, scheduler::worker&) {}; },
            [&](square_job&, scheduler::results& r) {
                r.wait();
                ++consumed;
            });
        BOOST_ERROR("no failure reported");
    } catch (const std::bad_alloc&) {
    }
    BOOST_TEST(consumed == 10u);
}
