// SPDX-License-Identifier: MIT
// The structure builder and streaming writer (<fitstream/detail/write/structure.hpp>,
// <fitstream/writer.hpp>, <fitstream/sink.hpp>) and DTB inspection
// (<fitstream/input/source.hpp>). Every FIT written here is read back with libfdt
// (fdt_check_full, fdt_path_offset, fdt_getprop), its payloads decoded with
// the codecs' reference libraries (zlib, libzstd) and its hash values
// recomputed with OpenSSL / zlib; U-Boot's dumpimage lists the images.
#define BOOST_TEST_MODULE fitstream writer
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <fcntl.h>
#include <libfdt.h>
#include <openssl/evp.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <type_traits>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace codec = fitstream::codec;
namespace hash = fitstream::hash;
using fitstream::data_layout;
using fitstream_test::check_same;
using fitstream_test::directory_names;
using fitstream_test::kernel_like_payload;
using fitstream_test::random_bytes;
using fitstream_test::read_file;
using fitstream_test::temp_dir;
using fitstream_test::write_file;

using all_codecs = std::tuple<codec::none, codec::gzip, codec::zstd>;
using all_hashes = std::tuple<hash::crc32, hash::md5, hash::sha1, hash::sha256, hash::sha384, hash::sha512>;

const fs::path unit_data = fs::path(FITSTREAM_TEST_DATA_DIR) / "unit";

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

std::vector<char> to_vector(const std::string& s) { return {s.begin(), s.end()}; }

/// A memory source for `bytes`; empty ones point at a real (empty) array,
/// so these tests stay clear of the null-pointer case, which
/// empty_memory_sources_and_empty_file (last in this file) covers.
fitstream::source memory_source(const std::string& bytes, const std::string& name) {
    static const char nothing[1] = {0};
    if (bytes.empty()) return fitstream::source::memory_view(nothing, 0, name);
    return fitstream::source::memory(to_vector(bytes), name);
}

std::uint64_t align_to(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

bool all_zero(const std::string& s, std::size_t from, std::size_t to) {
    return std::all_of(s.begin() + static_cast<std::ptrdiff_t>(from), s.begin() + static_cast<std::ptrdiff_t>(to),
                       [](char c) { return c == '\0'; });
}

/// A DTB compiled from tests/data/unit/<name>.dts into `dir`.
fs::path compiled_dtb(const temp_dir& dir, const std::string& name) {
    return fitstream_test::compile_dts(unit_data / (name + ".dts"), dir / (name + ".dtb"));
}

// ---------------------------------------------------------------------------
// Independent references: digests and decoders
// ---------------------------------------------------------------------------

std::vector<std::uint8_t> evp(const EVP_MD* md, const std::string& data) {
    std::vector<std::uint8_t> out(EVP_MAX_MD_SIZE);
    unsigned int n = 0;
    BOOST_REQUIRE(EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr) == 1);
    out.resize(n);
    return out;
}

/// The `value` U-Boot expects for hash algo `algo` over `data`.
std::vector<std::uint8_t> reference_digest(const std::string& algo, const std::string& data) {
    if (algo == "crc32") {
        const uLong crc = ::crc32(0L, reinterpret_cast<const Bytef*>(data.data()), static_cast<uInt>(data.size()));
        return {static_cast<std::uint8_t>(crc >> 24), static_cast<std::uint8_t>(crc >> 16),
                static_cast<std::uint8_t>(crc >> 8), static_cast<std::uint8_t>(crc)};
    }
    if (algo == "md5") return evp(EVP_md5(), data);
    if (algo == "sha1") return evp(EVP_sha1(), data);
    if (algo == "sha256") return evp(EVP_sha256(), data);
    if (algo == "sha384") return evp(EVP_sha384(), data);
    if (algo == "sha512") return evp(EVP_sha512(), data);
    BOOST_FAIL("no reference for hash algo " << algo);
    return {};
}

std::string gunzip_reference(const std::string& gz, const std::string& what) {
    BOOST_REQUIRE_MESSAGE(gz.size() >= 18, what << ": too short for a gzip member");
    const auto* u = reinterpret_cast<const unsigned char*>(gz.data());
    BOOST_TEST((u[0] == 0x1f && u[1] == 0x8b && u[2] == 8), what << ": gzip magic and method");
    z_stream s{};
    BOOST_REQUIRE(inflateInit2(&s, 15 + 16) == Z_OK);
    s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
    s.avail_in = static_cast<uInt>(gz.size());
    std::string out;
    std::vector<char> buf(1u << 16);
    int rc = Z_OK;
    while (rc == Z_OK) {
        s.next_out = reinterpret_cast<Bytef*>(buf.data());
        s.avail_out = static_cast<uInt>(buf.size());
        rc = inflate(&s, Z_NO_FLUSH);
        out.append(buf.data(), buf.size() - s.avail_out);
    }
    BOOST_TEST(rc == Z_STREAM_END, what << ": inflate returned " << rc);
    BOOST_TEST(s.avail_in == 0u, what << ": bytes after the gzip member");
    inflateEnd(&s);
    return out;
}

std::string unzstd_reference(const std::string& z, const std::string& what) {
    BOOST_REQUIRE_MESSAGE(z.size() >= 6, what << ": too short for a zstd frame");
    const auto* u = reinterpret_cast<const unsigned char*>(z.data());
    BOOST_TEST((u[0] == 0x28 && u[1] == 0xb5 && u[2] == 0x2f && u[3] == 0xfd), what << ": zstd magic");
    BOOST_TEST(ZSTD_findFrameCompressedSize(z.data(), z.size()) == z.size(), what << ": one frame");
    ZSTD_DCtx* d = ZSTD_createDCtx();
    BOOST_REQUIRE(d);
    ZSTD_inBuffer in{z.data(), z.size(), 0};
    std::vector<char> buf(ZSTD_DStreamOutSize());
    std::string out;
    std::size_t ret = 1;
    for (;;) {
        ZSTD_outBuffer o{buf.data(), buf.size(), 0};
        ret = ZSTD_decompressStream(d, &o, &in);
        if (ZSTD_isError(ret)) {
            BOOST_ERROR(what << ": " << ZSTD_getErrorName(ret));
            break;
        }
        out.append(buf.data(), o.pos);
        if (ret == 0 || (o.pos == 0 && in.pos == in.size)) break;
    }
    BOOST_TEST(ret == 0u, what << ": incomplete zstd frame");
    ZSTD_freeDCtx(d);
    return out;
}

/// Decodes stored bytes with the reference library for FIT compression `name`.
std::string reference_decode(const std::string& compression, const std::string& stored, const std::string& what) {
    if (compression == "none") return stored;
    if (compression == "gzip") return gunzip_reference(stored, what);
    if (compression == "zstd") return unzstd_reference(stored, what);
    BOOST_FAIL("no reference decoder for " << compression);
    return {};
}

/// What fitstream's encoder for C makes of `input` in one piece.
template <class C>
std::string encode_directly(const std::string& input) {
    typename C::encoder enc(typename C::options{}, input.size());
    std::string out;
    std::vector<char> scratch(1u << 16);
    fitstream::detail::run_filter(enc, input.data(), input.size(), true, scratch.data(), scratch.size(),
                                   [&](const char* p, std::size_t n) { out.append(p, n); });
    return out;
}

// ---------------------------------------------------------------------------
// Reading a FIT back with libfdt
// ---------------------------------------------------------------------------

class fit_file {
public:
    explicit fit_file(const fs::path& path) : fit_file(read_file(path), path.string()) {}
    fit_file(std::string bytes, std::string name) : bytes_(std::move(bytes)), name_(std::move(name)) {
        // libfdt wants an 8-byte aligned blob.
        words_.resize(bytes_.size() / 8 + 2);
        std::memcpy(words_.data(), bytes_.data(), bytes_.size());
        BOOST_REQUIRE_MESSAGE(bytes_.size() >= sizeof(fdt_header), name_ << ": too short for a FIT");
    }

    const std::string& bytes() const noexcept { return bytes_; }
    const void* fdt() const noexcept { return words_.data(); }
    std::uint32_t totalsize() const { return fdt_totalsize(fdt()); }
    /// fdt_check_full over the FDT blob (its totalsize).
    int check() const { return fdt_check_full(fdt(), std::min<std::size_t>(totalsize(), bytes_.size())); }

    int node(const std::string& path) const {
        const int n = fdt_path_offset(fdt(), path.c_str());
        BOOST_REQUIRE_MESSAGE(n >= 0, name_ << ": no node " << path << " (" << fdt_strerror(n) << ")");
        return n;
    }
    bool has_node(const std::string& path) const { return fdt_path_offset(fdt(), path.c_str()) >= 0; }

    std::optional<std::string> prop(const std::string& path, const char* name) const {
        int len = 0;
        const void* v = fdt_getprop(fdt(), node(path), name, &len);
        if (!v) return std::nullopt;
        return std::string(static_cast<const char*>(v), static_cast<std::size_t>(len));
    }
    std::string need(const std::string& path, const char* name) const {
        const auto v = prop(path, name);
        BOOST_REQUIRE_MESSAGE(v.has_value(), name_ << ": " << path << " has no '" << name << "'");
        return *v;
    }
    std::string str(const std::string& path, const char* name) const {
        const std::string v = need(path, name);
        BOOST_REQUIRE_MESSAGE(!v.empty() && v.back() == '\0', path << "/" << name << " is not a string");
        return v.substr(0, v.size() - 1);
    }
    std::uint32_t u32(const std::string& path, const char* name) const {
        const std::string v = need(path, name);
        BOOST_REQUIRE_MESSAGE(v.size() == 4, path << "/" << name << " is " << v.size() << " bytes, not one cell");
        return fdt32_ld(reinterpret_cast<const fdt32_t*>(v.data()));
    }
    std::vector<std::string> strings(const std::string& path, const char* name) const {
        const int n = node(path);
        std::vector<std::string> out;
        const int count = fdt_stringlist_count(fdt(), n, name);
        BOOST_REQUIRE_MESSAGE(count >= 0, path << "/" << name << ": " << fdt_strerror(count));
        for (int i = 0; i < count; ++i) {
            int len = 0;
            const char* s = fdt_stringlist_get(fdt(), n, name, i, &len);
            BOOST_REQUIRE(s);
            out.emplace_back(s, static_cast<std::size_t>(len));
        }
        return out;
    }
    /// File offset of a property's value.
    std::size_t offset_of(const std::string& path, const char* name) const {
        int len = 0;
        const void* v = fdt_getprop(fdt(), node(path), name, &len);
        BOOST_REQUIRE(v);
        return static_cast<std::size_t>(static_cast<const char*>(v) - static_cast<const char*>(fdt()));
    }
    std::vector<std::uint8_t> value(const std::string& path) const {
        const std::string v = need(path, "value");
        return {v.begin(), v.end()};
    }

private:
    std::string bytes_;
    std::string name_;
    std::vector<std::uint64_t> words_;
};

/// Checks every hash-N node of an image against the stored bytes.
void check_hashes(const fit_file& fit, const std::string& image_path, const std::vector<std::string>& algos,
                  const std::string& stored) {
    for (std::size_t i = 0; i < algos.size(); ++i) {
        const std::string h = image_path + "/hash-" + std::to_string(i + 1);
        BOOST_TEST(fit.str(h, "algo") == algos[i]);
        BOOST_TEST(fit.value(h) == reference_digest(algos[i], stored), boost::test_tools::per_element());
    }
    BOOST_TEST(!fit.has_node(image_path + "/hash-" + std::to_string(algos.size() + 1)));
}

/// The stored bytes of an image, wherever the layout put them.
std::string stored_bytes(const fit_file& fit, const std::string& image_path) {
    if (const auto data = fit.prop(image_path, "data")) return *data;
    const std::uint32_t size = fit.u32(image_path, "data-size");
    std::uint64_t start;
    if (fit.prop(image_path, "data-position")) {
        start = fit.u32(image_path, "data-position");
    } else {
        start = align_to(fit.totalsize(), 4) + fit.u32(image_path, "data-offset");
    }
    BOOST_REQUIRE_MESSAGE(start + size <= fit.bytes().size(), image_path << ": data past the end of the file");
    return fit.bytes().substr(static_cast<std::size_t>(start), size);
}

// ---------------------------------------------------------------------------
// Trees
// ---------------------------------------------------------------------------

/// What one image should hold, to check it after writing.
struct expected_image {
    std::string name;
    std::string input;  // bytes before compression
    std::string compression;
    std::vector<std::string> hashes;
};

/// A make_fit.py-shaped tree: kernel (memory), fdt-1 (a DTB file), ramdisk
/// (memory view), one configuration.
struct sample_fit {
    fitstream::tree tree;
    std::vector<expected_image> expected;
    std::vector<std::string> board_compatible;
    std::string ramdisk_bytes;  // backs the memory_view; must outlive tree
};

template <class C>
void make_sample(sample_fit& s, const temp_dir& dir, std::size_t kernel_size = 200001) {
    const fs::path dtb = compiled_dtb(dir, "board");
    const auto info = fitstream::inspect_dtb_file(dtb.string());
    s.board_compatible = info.compatible;
    const std::string kernel = kernel_like_payload(kernel_size, 21);
    s.ramdisk_bytes = random_bytes(4097, 5);

    auto& t = s.tree;
    t.description = "Linux with devicetree set";
    t.timestamp = 1700000000u;
    t.default_configuration = "conf-1";

    auto& k = t.images.emplace_back("kernel", "kernel", fitstream::source::memory(to_vector(kernel), "Image"));
    k.description = "Linux kernel";
    k.arch = "arm64";
    k.os = "linux";
    k.load = 0x40400000u;
    k.entry = 0x40400000u;
    k.compress_with<C>();
    k.add_hash<hash::crc32>().add_hash<hash::sha256>();

    auto& f = t.images.emplace_back("fdt-1", "flat_dt", fitstream::source::file(dtb.string()));
    f.description = "board.dtb";
    f.arch = "arm64";
    f.compress_with<C>();
    f.add_hash<hash::sha1>();

    auto& r = t.images.emplace_back(
        "ramdisk", "ramdisk", fitstream::source::memory_view(s.ramdisk_bytes.data(), s.ramdisk_bytes.size(), "initrd"));
    r.description = "Ramdisk";
    r.arch = "arm64";
    r.os = "linux";
    r.add_hash<hash::md5>();

    fitstream::configuration conf;
    conf.name = "conf-1";
    conf.description = info.model.value_or("board");
    conf.compatible = info.compatible;
    conf.kernel = "kernel";
    conf.fdt = {"fdt-1"};
    conf.ramdisk = "ramdisk";
    t.configurations.push_back(conf);

    const std::string cname(C::fit_name);
    s.expected = {{"kernel", kernel, cname, {"crc32", "sha256"}},
                  {"fdt-1", read_file(dtb), cname, {"sha1"}},
                  {"ramdisk", s.ramdisk_bytes, "none", {"md5"}}};
}

fitstream::write_options with_layout(data_layout layout, std::uint32_t align = 4,
                                     std::optional<std::uint64_t> position = std::nullopt) {
    fitstream::write_options o;
    o.layout.layout = layout;
    o.layout.align = align;
    o.layout.position = position;
    return o;
}

/// Checks every image of `expected` in a written FIT: stored bytes decode
/// to the input, hashes match, and the result records match the file.
void check_images(const fit_file& fit, const std::vector<expected_image>& expected,
                  const fitstream::write_result& result) {
    BOOST_REQUIRE_EQUAL(result.images.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const auto& e = expected[i];
        const std::string path = "/images/" + e.name;
        BOOST_TEST(fit.str(path, "compression") == e.compression);
        const std::string stored = stored_bytes(fit, path);
        check_same(reference_decode(e.compression, stored, path), e.input, path + ": decoded data");
        check_hashes(fit, path, e.hashes, stored);
        BOOST_TEST(result.images[i].input_size == e.input.size(), path);
        BOOST_TEST(result.images[i].stored_size == stored.size(), path);
    }
}

// ---------------------------------------------------------------------------
// Sinks
// ---------------------------------------------------------------------------

/// Passes everything to another sink, calling `hook` once before the
/// `at`-th write_at (counting from 1).
class hooked_sink final : public fitstream::sink {
public:
    hooked_sink(fitstream::sink& inner, int at, std::function<void()> hook)
        : inner_(inner), at_(at), hook_(std::move(hook)) {}
    void write_at(std::uint64_t offset, const void* data, std::size_t size) override {
        if (++calls_ == at_ && hook_) hook_();
        inner_.write_at(offset, data, size);
    }
    void commit(std::uint64_t total) override { inner_.commit(total); }
    const std::string& name() const noexcept override { return inner_.name(); }

private:
    fitstream::sink& inner_;
    int at_;
    int calls_ = 0;
    std::function<void()> hook_;
};

/// Writes `fit` through an fd_sink into a pipe that a thread drains.
/// Returns what came out of the pipe; `failure` gets what write_fit threw.
std::string write_to_pipe(const fitstream::tree& fit, const fitstream::write_options& options,
                          std::exception_ptr& failure) {
    int fds[2];
    BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::string received;
    std::thread reader([&] {
        std::vector<char> buf(1u << 16);
        for (;;) {
            const ssize_t n = ::read(fds[0], buf.data(), buf.size());
            if (n > 0) {
                received.append(buf.data(), static_cast<std::size_t>(n));
            } else if (n < 0 && errno == EINTR) {
                continue;
            } else {
                break;
            }
        }
    });
    try {
        fitstream::fd_sink out(fds[1], "<pipe>");
        fitstream::write_fit(fit, out, options);
    } catch (...) {
        failure = std::current_exception();
    }
    ::close(fds[1]);
    reader.join();
    ::close(fds[0]);
    return received;
}

/// Runs `f`, expecting a fitstream::error; returns it (or fails).
template <class F>
std::optional<fitstream::error> expect_error(F&& f, const std::string& what) {
    try {
        f();
    } catch (const fitstream::error& e) {
        return e;
    } catch (const std::exception& e) {
        BOOST_ERROR(what << ": threw something else: " << e.what());
        return std::nullopt;
    }
    BOOST_ERROR(what << ": did not throw");
    return std::nullopt;
}

}  // namespace

// ===========================================================================
// Embedded data
// ===========================================================================

BOOST_AUTO_TEST_CASE_TEMPLATE(embedded_round_trip, C, all_codecs) {
    temp_dir dir;
    sample_fit s;
    make_sample<C>(s, dir);
    const fs::path out = dir / "image.fit";
    const auto result = fitstream::write_fit(s.tree, out.string());

    const fit_file fit(out);
    BOOST_TEST(fit.check() == 0, "fdt_check_full: " << fdt_strerror(fit.check()));
    BOOST_TEST(fit.totalsize() == fit.bytes().size(), "embedded: the FDT is the whole file");
    BOOST_TEST(result.total_size == fit.bytes().size());
    BOOST_TEST(result.structure_size == fit.totalsize());
    check_images(fit, s.expected, result);

    for (std::size_t i = 0; i < s.expected.size(); ++i) {
        const auto& e = s.expected[i];
        const std::string path = "/images/" + e.name;
        BOOST_TEST(!fit.prop(path, "data-offset"), path);
        BOOST_TEST(!fit.prop(path, "data-size"), path);
        BOOST_TEST(!fit.prop(path, "data-position"), path);
        // Where the result says the payload is, libfdt finds the `data` value.
        const std::size_t at = fit.offset_of(path, "data");
        BOOST_TEST(result.images[i].file_offset == at, path);
        // The FDT pads each property to 4 bytes: those bytes are zero.
        const std::size_t end = at + fit.need(path, "data").size();
        BOOST_TEST(all_zero(fit.bytes(), end, static_cast<std::size_t>(align_to(end, 4))), path << ": padding");
    }
    // `data` is exactly what the codec makes of the input.
    check_same(fit.need("/images/kernel", "data"), encode_directly<C>(s.expected[0].input), "kernel data");
    check_same(fit.need("/images/fdt-1", "data"), encode_directly<C>(s.expected[1].input), "fdt-1 data");
    BOOST_TEST(fit.str("/images/kernel", "compression") == std::string(C::fit_name));
    BOOST_TEST(fit.str("/images/ramdisk", "compression") == "none");
}

BOOST_AUTO_TEST_CASE(embedded_payloads_of_every_size_modulo_4) {
    // Sizes 0..9 exercise every padding length around the spliced payloads.
    temp_dir dir;
    fitstream::tree t;
    t.description = "padding";
    std::vector<expected_image> expected;
    for (int n = 0; n < 10; ++n) {
        const std::string bytes = random_bytes(static_cast<std::size_t>(n), 100u + static_cast<unsigned>(n));
        const std::string name = "blob-" + std::to_string(n);
        t.images.emplace_back(name, "firmware", memory_source(bytes, name)).add_hash<hash::crc32>();
        expected.push_back({name, bytes, "none", {"crc32"}});
    }
    const auto result = fitstream::write_fit(t, (dir / "pad.fit").string());
    const fit_file fit(dir / "pad.fit");
    BOOST_TEST(fit.check() == 0, fdt_strerror(fit.check()));
    BOOST_TEST(fit.totalsize() == fit.bytes().size());
    check_images(fit, expected, result);
    for (const auto& e : expected) {
        const std::string path = "/images/" + e.name;
        const std::size_t end = fit.offset_of(path, "data") + e.input.size();
        BOOST_TEST(all_zero(fit.bytes(), end, static_cast<std::size_t>(align_to(end, 4))), path << ": padding");
    }
}

// ===========================================================================
// Hash values, every algorithm, both layouts
// ===========================================================================

BOOST_AUTO_TEST_CASE_TEMPLATE(hash_value_covers_the_stored_bytes, H, all_hashes) {
    temp_dir dir;
    const std::string input = kernel_like_payload(70001, 8);
    for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
        fitstream::tree t;
        t.description = "hash";
        auto& img =
            t.images.emplace_back("kernel", "kernel_noload", fitstream::source::memory(to_vector(input), "k"));
        img.compress_with<codec::gzip>();
        img.add_hash<H>();
        img.add_hash<H>();
        const fs::path out = dir / "h.fit";
        fitstream::write_fit(t, out.string(), with_layout(layout));
        const fit_file fit(out);
        BOOST_TEST(fit.check() == 0);
        const std::string stored = stored_bytes(fit, "/images/kernel");
        check_same(gunzip_reference(stored, "kernel"), input, "kernel decoded");
        for (const char* node : {"/images/kernel/hash-1", "/images/kernel/hash-2"}) {
            BOOST_TEST(fit.str(node, "algo") == std::string(H::fit_name));
            BOOST_TEST(fit.need(node, "value").size() == H::digest_size);
            // Over the stored (compressed) bytes, as U-Boot recomputes it ...
            BOOST_TEST(fit.value(node) == reference_digest(std::string(H::fit_name), stored),
                       boost::test_tools::per_element());
            // ... not over the input.
            BOOST_TEST((fit.value(node) != reference_digest(std::string(H::fit_name), input)));
        }
    }
}

// ===========================================================================
// External data
// ===========================================================================

namespace {

/// Images of awkward sizes, mixed codecs and sources, for the external layouts.
void make_mixed(fitstream::tree& t, std::vector<expected_image>& expected, const temp_dir& dir) {
    t.description = "external";
    t.timestamp = 0;
    const std::string big = kernel_like_payload(100003, 31);
    const std::string odd = random_bytes(4097, 32);
    write_file(dir / "odd.bin", odd);
    const std::string five = "12345";
    t.images.emplace_back("empty", "firmware", memory_source("", "empty")).add_hash<hash::sha256>();
    t.images.emplace_back("one", "firmware", fitstream::source::memory({'\x7f'}, "one")).add_hash<hash::crc32>();
    t.images.emplace_back("five", "firmware", fitstream::source::memory(to_vector(five), "five"))
        .compress_with<codec::zstd>()
        .add_hash<hash::md5>();
    t.images.emplace_back("odd", "firmware", fitstream::source::file((dir / "odd.bin").string()))
        .add_hash<hash::sha1>();
    t.images.emplace_back("kernel", "kernel_noload", fitstream::source::memory(to_vector(big), "big"))
        .compress_with<codec::gzip>()
        .add_hash<hash::sha512>();
    expected = {{"empty", std::string(), "none", {"sha256"}},
                {"one", std::string(1, '\x7f'), "none", {"crc32"}},
                {"five", five, "zstd", {"md5"}},
                {"odd", odd, "none", {"sha1"}},
                {"kernel", big, "gzip", {"sha512"}}};
}

}  // namespace

BOOST_AUTO_TEST_CASE(external_data_offsets_alignment_and_padding) {
    for (const std::uint32_t align : {4u, 8u, 0x1000u}) {
        BOOST_TEST_CONTEXT("align " << align) {
            temp_dir dir;
            fitstream::tree t;
            std::vector<expected_image> expected;
            make_mixed(t, expected, dir);
            const fs::path out = dir / "ext.fit";
            const auto result = fitstream::write_fit(t, out.string(), with_layout(data_layout::external, align));

            const fit_file fit(out);
            BOOST_TEST(fit.check() == 0, fdt_strerror(fit.check()));
            const std::uint64_t totalsize = fit.totalsize();
            BOOST_TEST(totalsize % align == 0u, "totalsize " << totalsize);
            BOOST_TEST(result.structure_size == totalsize);
            // The FDT's own blocks end before totalsize; the rest is zero padding.
            const std::uint64_t fdt_end = fdt_off_dt_strings(fit.fdt()) + fdt_size_dt_strings(fit.fdt());
            BOOST_TEST(fdt_end <= totalsize);
            BOOST_TEST(all_zero(fit.bytes(), fdt_end, totalsize), "structure padding");

            const std::uint64_t data_start = align_to(totalsize, 4);  // U-Boot's rule
            std::uint64_t expected_offset = 0;
            for (std::size_t i = 0; i < expected.size(); ++i) {
                const std::string path = "/images/" + expected[i].name;
                BOOST_TEST(!fit.prop(path, "data"), path);
                BOOST_TEST(!fit.prop(path, "data-position"), path);
                const std::uint32_t offset = fit.u32(path, "data-offset");
                const std::uint32_t size = fit.u32(path, "data-size");
                const std::uint64_t absolute = data_start + offset;
                BOOST_TEST(offset == expected_offset, path << ": payloads follow one another");
                BOOST_TEST(absolute % align == 0u, path << " at " << absolute);
                BOOST_TEST(result.images[i].file_offset == absolute, path);
                BOOST_TEST(result.images[i].stored_size == size, path);
                const std::uint64_t padded_end = absolute + align_to(size, align);
                BOOST_REQUIRE(padded_end <= fit.bytes().size());
                BOOST_TEST(all_zero(fit.bytes(), absolute + size, padded_end), path << ": padding");
                expected_offset += align_to(size, align);
            }
            check_images(fit, expected, result);
            BOOST_TEST(fit.bytes().size() == data_start + expected_offset, "file = data start + aligned sizes");
            BOOST_TEST(result.total_size == fit.bytes().size());
        }
    }
}

BOOST_AUTO_TEST_CASE(external_data_at_an_absolute_position) {
    temp_dir dir;
    fitstream::tree t;
    std::vector<expected_image> expected;
    make_mixed(t, expected, dir);
    const std::uint64_t position = 0x10000;
    const fs::path out = dir / "pos.fit";
    const auto result =
        fitstream::write_fit(t, out.string(), with_layout(data_layout::external, 0x1000, position));
    const fit_file fit(out);
    BOOST_TEST(fit.check() == 0, fdt_strerror(fit.check()));
    BOOST_TEST(fit.totalsize() % 0x1000 == 0u);
    BOOST_REQUIRE(fit.totalsize() < position);
    BOOST_TEST(all_zero(fit.bytes(), fit.totalsize(), position), "gap before the data area");
    std::uint64_t next = position;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const std::string path = "/images/" + expected[i].name;
        BOOST_TEST(!fit.prop(path, "data-offset"), path << ": data-position replaces data-offset");
        BOOST_TEST(!fit.prop(path, "data"), path);
        const std::uint32_t at = fit.u32(path, "data-position");
        BOOST_TEST(at == next, path);
        BOOST_TEST(at % 0x1000 == 0u, path);
        BOOST_TEST(result.images[i].file_offset == at, path);
        next += align_to(fit.u32(path, "data-size"), 0x1000);
    }
    check_images(fit, expected, result);
    BOOST_TEST(fit.bytes().size() == next);
    BOOST_TEST(result.total_size == next);
}

BOOST_AUTO_TEST_CASE(position_right_after_the_structure_is_allowed) {
    temp_dir dir;
    fitstream::tree t;
    std::vector<expected_image> expected;
    make_mixed(t, expected, dir);
    // The structure's size in position mode ("data-position" is a longer
    // name than "data-offset"), from a first write with room to spare.
    fitstream::write_fit(t, (dir / "a.fit").string(), with_layout(data_layout::external, 8, std::uint64_t{0x10000}));
    const std::uint64_t padded = fit_file(dir / "a.fit").totalsize();
    BOOST_REQUIRE(padded % 8 == 0u);
    const auto result =
        fitstream::write_fit(t, (dir / "b.fit").string(), with_layout(data_layout::external, 8, padded));
    const fit_file fit(dir / "b.fit");
    BOOST_TEST(fit.check() == 0);
    BOOST_TEST(fit.totalsize() == padded);
    BOOST_TEST(fit.u32("/images/empty", "data-position") == padded);
    check_images(fit, expected, result);
    // One 8-byte step lower is inside the structure.
    const auto e = expect_error(
        [&] { fitstream::write_fit(t, (dir / "c.fit").string(), with_layout(data_layout::external, 8, padded - 8)); },
        "position one step inside the structure");
    if (e) BOOST_TEST((e->code() == fitstream::errc::invalid_argument), e->what());
    BOOST_TEST(!fs::exists(dir / "c.fit"));
}

BOOST_AUTO_TEST_CASE(position_inside_the_structure_is_refused) {
    temp_dir dir;
    fitstream::tree t;
    std::vector<expected_image> expected;
    make_mixed(t, expected, dir);
    write_file(dir / "keep.fit", "previous contents");
    const auto before = directory_names(dir.path());
    for (const std::uint64_t position : {std::uint64_t{0}, std::uint64_t{4}, std::uint64_t{0x100}}) {
        const auto e = expect_error(
            [&] {
                fitstream::write_fit(t, (dir / "keep.fit").string(), with_layout(data_layout::external, 4, position));
            },
            "position " + std::to_string(position));
        if (e) {
            BOOST_TEST((e->code() == fitstream::errc::invalid_argument), e->what());
            BOOST_TEST(e->subject() == "position");
        }
    }
    BOOST_TEST(directory_names(dir.path()) == before, boost::test_tools::per_element());
    BOOST_TEST(read_file(dir / "keep.fit") == "previous contents");
}

BOOST_AUTO_TEST_CASE(external_area_past_4_gib_is_refused_before_writing) {
    // An absolute position just below 4 GiB leaves no room: refused whether
    // the size is known up front (stored as is) or only while compressing.
    temp_dir dir;
    for (const bool compressed : {false, true}) {
        fitstream::tree t;
        t.description = "limit";
        auto& img = t.images.emplace_back("blob", "firmware",
                                          fitstream::source::memory(to_vector(random_bytes(64, 9)), "blob"));
        if (compressed) img.compress_with<codec::gzip>();
        const auto e = expect_error(
            [&] {
                fitstream::write_fit(t, (dir / "big.fit").string(),
                                     with_layout(data_layout::external, 4, std::uint64_t{0xFFFFFFF0}));
            },
            compressed ? "gzip payload" : "stored payload");
        if (e) BOOST_TEST((e->code() == fitstream::errc::limit_exceeded), e->what());
        BOOST_TEST(directory_names(dir.path()).empty(), "no file left behind");
    }
}

// ===========================================================================
// Tree validation and the properties written
// ===========================================================================

BOOST_AUTO_TEST_CASE(invalid_trees_are_refused_and_leave_no_file) {
    temp_dir dir;
    const fs::path target = dir / "image.fit";
    write_file(target, "old FIT");
    const auto before = directory_names(dir.path());

    const auto base = [] {
        fitstream::tree t;
        t.description = "bad";
        t.images.emplace_back("kernel", "kernel", fitstream::source::memory({'k'}, "k"));
        t.images.emplace_back("fdt-1", "flat_dt", fitstream::source::memory({'f'}, "f"));
        fitstream::configuration c;
        c.name = "conf-1";
        c.kernel = "kernel";
        c.fdt = {"fdt-1"};
        t.configurations.push_back(c);
        return t;
    };
    struct bad_case {
        const char* what;
        std::function<void(fitstream::tree&)> spoil;
    };
    const bad_case cases[] = {
        {"configuration names a missing kernel", [](auto& t) { t.configurations[0].kernel = "vmlinux"; }},
        {"configuration names a missing overlay", [](auto& t) { t.configurations[0].fdt.push_back("fdt-9"); }},
        {"configuration names a missing ramdisk", [](auto& t) { t.configurations[0].ramdisk = "initrd"; }},
        {"configuration names a missing loadable", [](auto& t) { t.configurations[0].loadables = {"tee"}; }},
        {"duplicate image name",
         [](auto& t) { t.images.emplace_back("kernel", "kernel", fitstream::source::memory({'x'}, "x")); }},
        {"'@' in an image name", [](auto& t) { t.images[1].name = "fdt@1"; }},
        {"'@' in a configuration name", [](auto& t) { t.configurations[0].name = "conf@1"; }},
        {"'/' in an image name", [](auto& t) { t.images[0].name = "a/b"; }},
        {"empty image name", [](auto& t) { t.images[0].name.clear(); }},
        {"duplicate configuration name", [](auto& t) { t.configurations.push_back(t.configurations[0]); }},
        {"default names a missing configuration", [](auto& t) { t.default_configuration = "conf-2"; }},
        {"image without a type", [](auto& t) { t.images[0].type.clear(); }},
        {"64-bit load address in one cell", [](auto& t) { t.images[0].load = 0x100000000u; }},
        {"three address cells", [](auto& t) { t.address_cells = 3; }},
        {"NUL in a description", [](auto& t) { t.description = std::string("a\0b", 3); }},
        {"empty compatible string", [](auto& t) { t.configurations[0].compatible = {"vendor,board", ""}; }},
    };
    for (const auto& c : cases) {
        fitstream::tree t = base();
        c.spoil(t);
        const auto e = expect_error([&] { fitstream::write_fit(t, target.string()); }, c.what);
        if (e) {
            BOOST_TEST((e->code() == fitstream::errc::invalid_argument), c.what << ": " << e->what());
            BOOST_TEST(std::string(e->what()).rfind("fitstream: ", 0) == 0, e->what());
        }
        BOOST_TEST(directory_names(dir.path()) == before, c.what << ": directory changed");
    }
    BOOST_TEST(read_file(target) == "old FIT");

    // The unspoilt tree is fine, so each refusal above came from its spoiling.
    BOOST_CHECK_NO_THROW(fitstream::write_fit(base(), target.string()));
    BOOST_TEST(fit_file(target).check() == 0);
}

BOOST_AUTO_TEST_CASE(root_configuration_and_image_properties) {
    temp_dir dir;
    sample_fit s;
    make_sample<codec::gzip>(s, dir, 5000);
    s.tree.images[0].entry = 0x40480000u;
    fitstream::configuration second;
    second.name = "conf-2";
    second.kernel = "kernel";
    second.fdt = {"fdt-1", "kernel"};
    s.tree.configurations.push_back(second);
    const fs::path out = dir / "props.fit";
    fitstream::write_fit(s.tree, out.string());
    const fit_file fit(out);
    BOOST_TEST(fit.check() == 0);

    // Root.
    BOOST_TEST(fit.str("/", "description") == "Linux with devicetree set");
    BOOST_TEST(fit.u32("/", "timestamp") == 1700000000u);
    BOOST_TEST(fit.u32("/", "#address-cells") == 1u);
    // Configurations.
    BOOST_TEST(fit.str("/configurations", "default") == "conf-1");
    BOOST_TEST(fit.strings("/configurations/conf-1", "compatible") == s.board_compatible,
               boost::test_tools::per_element());
    BOOST_TEST(s.board_compatible.size() == 3u);
    BOOST_TEST(fit.str("/configurations/conf-1", "description") == "Fitstream Unit Test Board rev2");
    BOOST_TEST(fit.str("/configurations/conf-1", "kernel") == "kernel");
    BOOST_TEST(fit.strings("/configurations/conf-1", "fdt") == std::vector<std::string>{"fdt-1"},
               boost::test_tools::per_element());
    BOOST_TEST(fit.str("/configurations/conf-1", "ramdisk") == "ramdisk");
    BOOST_TEST(fit.strings("/configurations/conf-2", "fdt") == (std::vector<std::string>{"fdt-1", "kernel"}),
               boost::test_tools::per_element());
    BOOST_TEST(fit.str("/configurations/conf-2", "description") == "conf-2", "description defaults to the name");
    BOOST_TEST(!fit.prop("/configurations/conf-2", "compatible"));
    BOOST_TEST(!fit.prop("/configurations/conf-2", "ramdisk"));
    // The board compatible belongs to the configuration, never the fdt image.
    BOOST_TEST(!fit.prop("/images/fdt-1", "compatible"));
    // Images.
    BOOST_TEST(fit.str("/images/kernel", "description") == "Linux kernel");
    BOOST_TEST(fit.str("/images/kernel", "type") == "kernel");
    BOOST_TEST(fit.str("/images/kernel", "arch") == "arm64");
    BOOST_TEST(fit.str("/images/kernel", "os") == "linux");
    BOOST_TEST(fit.u32("/images/kernel", "load") == 0x40400000u);
    BOOST_TEST(fit.u32("/images/kernel", "entry") == 0x40480000u);
    BOOST_TEST(fit.str("/images/fdt-1", "type") == "flat_dt");
    BOOST_TEST(!fit.prop("/images/fdt-1", "os"));
    BOOST_TEST(!fit.prop("/images/fdt-1", "load"));
    BOOST_TEST(!fit.prop("/images/fdt-1", "entry"));
    // Image nodes in tree order.
    std::vector<std::string> order;
    const int images = fit.node("/images");
    for (int n = fdt_first_subnode(fit.fdt(), images); n >= 0; n = fdt_next_subnode(fit.fdt(), n))
        order.emplace_back(fdt_get_name(fit.fdt(), n, nullptr));
    BOOST_TEST(order == (std::vector<std::string>{"kernel", "fdt-1", "ramdisk"}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(optional_root_properties_and_two_address_cells) {
    temp_dir dir;
    fitstream::tree t;
    t.description = "minimal";
    t.address_cells = 2;
    auto& img = t.images.emplace_back("firmware", "firmware", fitstream::source::memory({'a', 'b'}, "fw"));
    img.load = 0x123456789ABCDEF0u;
    img.entry = 0x80000000u;
    const fs::path out = dir / "min.fit";
    fitstream::write_fit(t, out.string());
    const fit_file fit(out);
    BOOST_TEST(fit.check() == 0);
    BOOST_TEST(!fit.prop("/", "timestamp"), "no timestamp unless set");
    BOOST_TEST(!fit.prop("/configurations", "default"), "no default unless set");
    BOOST_TEST(fit.has_node("/configurations"));
    BOOST_TEST(fit.u32("/", "#address-cells") == 2u);
    BOOST_TEST(fit.str("/images/firmware", "description") == "firmware", "description defaults to the name");
    BOOST_TEST(fit.str("/images/firmware", "compression") == "none", "compression defaults to none");
    BOOST_TEST(!fit.has_node("/images/firmware/hash-1"));
    const std::string load = fit.need("/images/firmware", "load");
    const std::string entry = fit.need("/images/firmware", "entry");
    BOOST_TEST(load == std::string("\x12\x34\x56\x78\x9a\xbc\xde\xf0", 8));
    BOOST_TEST(entry == std::string("\x00\x00\x00\x00\x80\x00\x00\x00", 8));
    BOOST_TEST(fit.need("/images/firmware", "data") == "ab");
}

BOOST_AUTO_TEST_CASE(tree_without_images_is_a_valid_fit) {
    temp_dir dir;
    fitstream::tree t;
    t.description = "nothing";
    for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
        const auto result = fitstream::write_fit(t, (dir / "empty.fit").string(), with_layout(layout));
        const fit_file fit(dir / "empty.fit");
        BOOST_TEST(fit.check() == 0);
        BOOST_TEST(fit.has_node("/images"));
        BOOST_TEST(result.images.empty());
        BOOST_TEST(result.total_size == fit.bytes().size());
    }
}

BOOST_AUTO_TEST_CASE(structure_larger_than_the_initial_buffer) {
    // 300 images with long descriptions make a structure of well over the
    // writer's first 64 KiB buffer, so libfdt's buffer is grown while the
    // placeholders are being recorded.
    temp_dir dir;
    fitstream::tree t;
    t.description = "many";
    std::vector<expected_image> expected;
    for (int i = 0; i < 300; ++i) {
        const std::string name = "blob-" + std::to_string(i);
        const std::string bytes = random_bytes(static_cast<std::size_t>(i % 7), static_cast<std::uint32_t>(i));
        auto& img = t.images.emplace_back(name, "firmware", memory_source(bytes, name));
        img.description = std::string(300, static_cast<char>('a' + i % 26));
        img.add_hash<hash::crc32>().add_hash<hash::sha256>();
        expected.push_back({name, bytes, "none", {"crc32", "sha256"}});
    }
    for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
        const fs::path out = dir / "many.fit";
        const auto result = fitstream::write_fit(t, out.string(), with_layout(layout));
        const fit_file fit(out);
        BOOST_TEST(fit.check() == 0, fdt_strerror(fit.check()));
        BOOST_TEST(fit.totalsize() > (64u << 10));
        check_images(fit, expected, result);
        BOOST_TEST(fit.str("/images/blob-299", "description") == std::string(300, static_cast<char>('a' + 299 % 26)));
    }
}

// ===========================================================================
// Sources, sinks and failures
// ===========================================================================

BOOST_AUTO_TEST_CASE(missing_source_file_fails_and_leaves_no_file) {
    temp_dir dir;
    const fs::path target = dir / "image.fit";
    const std::string old = kernel_like_payload(1000, 1);
    write_file(target, old);
    const auto before = directory_names(dir.path());
    const std::string missing = (dir / "no-such-Image").string();
    for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
        fitstream::tree t;
        t.description = "missing";
        t.images.emplace_back("first", "firmware", fitstream::source::memory(to_vector(old), "first"))
            .compress_with<codec::gzip>();
        t.images.emplace_back("kernel", "kernel", fitstream::source::file(missing));
        // Every input is opened before any work: no image gets stored first.
        int stored = 0;
        auto options = with_layout(layout);
        options.on_image = [&](const fitstream::image&, const fitstream::image_result&) { ++stored; };
        const auto e = expect_error([&] { fitstream::write_fit(t, target.string(), options); }, "missing");
        BOOST_TEST(stored == 0, "on_image ran before the missing input was noticed");
        if (e) {
            BOOST_TEST((e->code() == std::errc::no_such_file_or_directory), e->what());
            BOOST_TEST(e->subject() == missing);
            BOOST_TEST(std::string(e->what()).find(missing) != std::string::npos, e->what());
        }
        BOOST_TEST(directory_names(dir.path()) == before, boost::test_tools::per_element());
        BOOST_TEST((read_file(target) == old), "the existing target is untouched");
    }
    // Into a directory that does not exist: no file either.
    fitstream::tree t;
    t.description = "x";
    const auto e = expect_error([&] { fitstream::write_fit(t, (dir / "nodir" / "x.fit").string()); }, "no dir");
    if (e) BOOST_TEST((e->code() == std::errc::no_such_file_or_directory), e->what());
    BOOST_TEST(!fs::exists(dir / "nodir"));
}

BOOST_AUTO_TEST_CASE(directory_as_source_is_refused) {
    temp_dir dir;
    fs::create_directory(dir / "sub");
    fitstream::tree t;
    t.description = "dir";
    t.images.emplace_back("kernel", "kernel", fitstream::source::file((dir / "sub").string()));
    const auto e = expect_error([&] { fitstream::write_fit(t, (dir / "x.fit").string()); }, "directory source");
    if (e) {
        BOOST_TEST((e->code() == std::errc::is_a_directory), e->what());
        BOOST_TEST(std::string(e->what()).find((dir / "sub").string()) != std::string::npos, e->what());
    }
    BOOST_TEST(!fs::exists(dir / "x.fit"));
}

BOOST_AUTO_TEST_CASE(fd_sink_into_a_pipe_matches_file_sink) {
    temp_dir dir;
    sample_fit s;
    make_sample<codec::zstd>(s, dir, 300001);
    for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
        const auto options = with_layout(layout, layout == data_layout::external ? 0x200 : 4);
        const fs::path out = dir / "file.fit";
        fitstream::write_fit(s.tree, out.string(), options);
        std::exception_ptr failure;
        const std::string piped = write_to_pipe(s.tree, options, failure);
        BOOST_TEST(!failure, "write_fit into a pipe threw");
        check_same(piped, read_file(out), "pipe output vs file output");
    }
}

BOOST_AUTO_TEST_CASE(fd_sink_writes_nothing_when_the_writer_fails) {
    temp_dir dir;
    fitstream::tree t;
    t.description = "fails";
    t.images.emplace_back("a", "firmware", fitstream::source::memory(to_vector(random_bytes(100000, 1)), "a"));
    t.images.emplace_back("b", "firmware", fitstream::source::file((dir / "missing").string()));
    std::exception_ptr failure;
    const std::string piped = write_to_pipe(t, {}, failure);
    BOOST_TEST(static_cast<bool>(failure), "write_fit did not fail");
    BOOST_TEST(piped.size() == 0u, "the pipe received bytes from a failed write");
}

BOOST_AUTO_TEST_CASE(input_resized_after_the_size_check_is_detected) {
    // write_fit takes every input's size before it writes anything; this
    // input then changes in the on_image callback of an earlier image,
    // before it is read.
    for (const bool grow : {false, true}) {
        BOOST_TEST_CONTEXT((grow ? "grows" : "shrinks")) {
            temp_dir dir;
            const fs::path victim = dir / "victim.bin";
            write_file(victim, kernel_like_payload(100000, 2));
            fitstream::tree t;
            t.description = "changing";
            t.images.emplace_back("first", "firmware", fitstream::source::memory({'1', '2', '3'}, "first"));
            t.images.emplace_back("victim", "firmware", fitstream::source::file(victim.string()))
                .add_hash<hash::sha256>();
            fitstream::write_options options;
            // One thread: images are read one after the other, so the
            // victim is opened only after "first" has been stored.
            options.threads = 1;
            options.on_image = [&](const fitstream::image& img, const fitstream::image_result&) {
                if (img.name == "first") fs::resize_file(victim, grow ? 150000 : 50000);
            };
            const auto e = expect_error([&] { fitstream::write_fit(t, (dir / "x.fit").string(), options); },
                                        "input resized after the size check");
            if (e) {
                BOOST_TEST((e->code() == fitstream::errc::input_changed), e->what());
                BOOST_TEST(e->subject() == victim.string());
            }
            BOOST_TEST(!fs::exists(dir / "x.fit"));
        }
    }
}

BOOST_AUTO_TEST_CASE(input_resized_while_being_read_is_detected) {
    // The file changes after the writer has read its first chunk: the sink
    // sees that chunk's bytes before the next read happens.
    for (const bool grow : {false, true}) {
        BOOST_TEST_CONTEXT((grow ? "grows" : "shrinks")) {
            temp_dir dir;
            const fs::path victim = dir / "victim.bin";
            write_file(victim, kernel_like_payload(100000, 3));
            fitstream::tree t;
            t.description = "changing";
            t.images.emplace_back("victim", "firmware", fitstream::source::file(victim.string()));
            fitstream::write_options options;
            options.chunk_size = 4096;
            options.threads = 1;  // no read-ahead: each chunk is written before the next is read
            const fs::path out = dir / "x.fit";
            {
                fitstream::file_sink file(out.string());
                hooked_sink hooked(file, 1, [&] { fs::resize_file(victim, grow ? 200000 : 10000); });
                const auto e = expect_error([&] { fitstream::write_fit(t, hooked, options); }, "resized while read");
                if (e) {
                    BOOST_TEST((e->code() == fitstream::errc::input_changed), e->what());
                    BOOST_TEST(e->subject() == victim.string());
                }
            }
            BOOST_TEST(directory_names(dir.path()) == std::set<std::string>{"victim.bin"}, boost::test_tools::per_element());
        }
    }
}

BOOST_AUTO_TEST_CASE(one_byte_chunks_give_the_same_file) {
    temp_dir dir;
    const std::string kernel = kernel_like_payload(40000, 41);
    write_file(dir / "kernel.bin", kernel);
    const std::string fw = random_bytes(3001, 42);
    const fs::path dtb = compiled_dtb(dir, "board");
    fitstream::tree t;
    t.description = "chunks";
    t.images.emplace_back("kernel-file", "kernel_noload", fitstream::source::file((dir / "kernel.bin").string()))
        .compress_with<codec::gzip>()
        .add_hash<hash::sha256>();
    t.images.emplace_back("kernel-mem", "kernel_noload", fitstream::source::memory(to_vector(kernel), "k"))
        .compress_with<codec::zstd>()
        .add_hash<hash::crc32>();
    t.images.emplace_back("fdt-1", "flat_dt", fitstream::source::file(dtb.string()))
        .compress_with<codec::zstd>()
        .add_hash<hash::md5>();
    t.images.emplace_back("fw", "firmware", fitstream::source::memory(to_vector(fw), "fw")).add_hash<hash::sha1>();
    for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
        BOOST_TEST_CONTEXT((layout == data_layout::embedded ? "embedded" : "external")) {
            auto options = with_layout(layout, layout == data_layout::external ? 8 : 4);
            fitstream::write_fit(t, (dir / "default.fit").string(), options);
            options.chunk_size = 1;
            const auto result = fitstream::write_fit(t, (dir / "tiny.fit").string(), options);
            check_same(read_file(dir / "tiny.fit"), read_file(dir / "default.fit"), "1-byte chunks vs default");
            const fit_file fit(dir / "tiny.fit");
            BOOST_TEST(fit.check() == 0);
            check_images(fit,
                         {{"kernel-file", kernel, "gzip", {"sha256"}},
                          {"kernel-mem", kernel, "zstd", {"crc32"}},
                          {"fdt-1", read_file(dtb), "zstd", {"md5"}},
                          {"fw", fw, "none", {"sha1"}}},
                         result);
        }
    }
}

BOOST_AUTO_TEST_CASE(zero_chunk_size_does_not_hang) {
    // chunk_size 0 cannot make progress; the writer must refuse it (or
    // treat it as something that works), never spin. Run in a child with
    // an alarm so a hang fails this test instead of the whole suite.
    temp_dir dir;
    fitstream::tree t;
    t.description = "zero";
    t.images.emplace_back("fw", "firmware", fitstream::source::memory({'a', 'b', 'c'}, "fw"));
    const std::string out = (dir / "zero.fit").string();
    const pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        ::signal(SIGALRM, SIG_DFL);
        ::alarm(2);
        try {
            fitstream::write_options options;
            options.chunk_size = 0;
            fitstream::write_fit(t, out, options);
            ::_exit(0);
        } catch (const fitstream::error& e) {
            ::_exit(e.code() == fitstream::errc::invalid_argument ? 10 : 11);
        } catch (...) {
            ::_exit(12);
        }
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    const bool hung = WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM;
    BOOST_TEST(!hung, "write_fit with chunk_size = 0 did not return within 2 s");
    if (!hung) {
        BOOST_TEST(WIFEXITED(status));
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        BOOST_TEST((code == 0 || code == 10), "child exit " << code << " (10: invalid_argument, 0: written)");
        if (code == 0) {
            const fit_file fit(out);
            BOOST_TEST(fit.need("/images/fw", "data") == "abc");
        }
    }
}

BOOST_AUTO_TEST_CASE(write_result_and_on_image_agree) {
    temp_dir dir;
    sample_fit s;
    make_sample<codec::gzip>(s, dir, 20000);
    std::vector<std::string> seen;
    std::vector<fitstream::image_result> reported;
    fitstream::write_options options = with_layout(data_layout::external, 16);
    options.on_image = [&](const fitstream::image& img, const fitstream::image_result& r) {
        seen.push_back(img.name);
        reported.push_back(r);
    };
    const auto result = fitstream::write_fit(s.tree, (dir / "r.fit").string(), options);
    BOOST_TEST(seen == (std::vector<std::string>{"kernel", "fdt-1", "ramdisk"}), boost::test_tools::per_element());
    BOOST_REQUIRE_EQUAL(reported.size(), result.images.size());
    for (std::size_t i = 0; i < reported.size(); ++i) {
        BOOST_TEST(reported[i].input_size == result.images[i].input_size);
        BOOST_TEST(reported[i].stored_size == result.images[i].stored_size);
        BOOST_TEST(reported[i].file_offset == result.images[i].file_offset);
    }
    BOOST_TEST(result.images[2].stored_size == result.images[2].input_size, "none stores the input as is");
    BOOST_TEST(result.images[0].stored_size < result.images[0].input_size, "gzip shrinks a kernel-like payload");
    check_images(fit_file(dir / "r.fit"), s.expected, result);
}

// ===========================================================================
// U-Boot's own tool reads what we wrote
// ===========================================================================

BOOST_AUTO_TEST_CASE(dumpimage_lists_every_image) {
    temp_dir dir;
    sample_fit s;
    make_sample<codec::gzip>(s, dir, 50000);
    for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
        const std::string kind = layout == data_layout::embedded ? "embedded" : "external";
        const fs::path out = dir / (kind + ".fit");
        fitstream::write_fit(s.tree, out.string(), with_layout(layout, layout == data_layout::external ? 0x1000 : 4));
        const auto r = fitstream_test::run({"dumpimage", "-l", out.string()});
        BOOST_TEST(r.exit_code == 0, kind << ": dumpimage failed: " << r.err);
        BOOST_TEST(r.out.find("FIT description: Linux with devicetree set") != std::string::npos,
                   kind << "\n" << r.out);
        for (std::size_t i = 0; i < s.expected.size(); ++i) {
            const std::string line = "Image " + std::to_string(i) + " (" + s.expected[i].name + ")";
            BOOST_TEST(r.out.find(line) != std::string::npos, kind << ": no '" << line << "' in\n" << r.out);
        }
        BOOST_TEST(r.out.find("Configuration 0 (conf-1)") != std::string::npos, kind << "\n" << r.out);
        BOOST_TEST(r.out.find("Default Configuration: 'conf-1'") != std::string::npos, kind << "\n" << r.out);
    }
}

// ===========================================================================
// inspect_dtb
// ===========================================================================

BOOST_AUTO_TEST_CASE(inspect_dtb_reads_model_and_compatible) {
    temp_dir dir;
    const fs::path dtb = compiled_dtb(dir, "board");
    const auto info = fitstream::inspect_dtb_file(dtb.string());
    BOOST_TEST(info.model.value_or("<none>") == "Fitstream Unit Test Board rev2");
    const std::vector<std::string> board = {"fitstream,unit-board-rev2", "fitstream,unit-board", "fitstream,unit-soc"};
    BOOST_TEST(info.compatible == board, boost::test_tools::per_element());

    // From memory too, at an address libfdt would not accept directly.
    const std::string bytes = read_file(dtb);
    std::string shifted = "x" + bytes;
    const auto again = fitstream::inspect_dtb(shifted.data() + 1, bytes.size(), "shifted");
    BOOST_TEST(again.model.value_or("<none>") == "Fitstream Unit Test Board rev2");
    BOOST_TEST(again.compatible == info.compatible, boost::test_tools::per_element());

    const auto bare = fitstream::inspect_dtb_file(compiled_dtb(dir, "board-no-model").string());
    BOOST_TEST(!bare.model.has_value());
    BOOST_TEST(bare.compatible == std::vector<std::string>{"fitstream,unit-bare"}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(inspect_dtb_refuses_broken_blobs_naming_the_file) {
    temp_dir dir;
    const std::string good = read_file(compiled_dtb(dir, "board"));
    const auto* hdr = reinterpret_cast<const fdt_header*>(good.data());
    const std::size_t struct_off = fdt32_to_cpu(hdr->off_dt_struct);

    std::string corrupt = good;
    // Flip the first structure tag (FDT_BEGIN_NODE of the root).
    for (std::size_t i = struct_off; i < struct_off + 4; ++i) corrupt[i] = static_cast<char>(~corrupt[i]);
    {
        // Independently: libfdt itself rejects the corrupted copy.
        std::vector<std::uint64_t> aligned(corrupt.size() / 8 + 1);
        std::memcpy(aligned.data(), corrupt.data(), corrupt.size());
        BOOST_REQUIRE(fdt_check_full(aligned.data(), corrupt.size()) < 0);
    }

    struct broken {
        const char* name;
        std::string bytes;
    };
    const broken cases[] = {
        {"truncated.dtb", good.substr(0, good.size() / 2)},
        {"header-only.dtb", good.substr(0, sizeof(fdt_header))},
        {"short.dtb", good.substr(0, 10)},
        {"empty.dtb", std::string()},
        {"random.dtb", random_bytes(1024, 77)},
        {"corrupt-struct.dtb", corrupt},
    };
    for (const auto& c : cases) {
        const fs::path path = dir / c.name;
        write_file(path, c.bytes);
        for (const bool from_memory : {false, true}) {
            const auto e = expect_error(
                [&] {
                    if (from_memory)
                        fitstream::inspect_dtb(c.bytes.data(), c.bytes.size(), path.string());
                    else
                        fitstream::inspect_dtb_file(path.string());
                },
                c.name);
            if (!e) continue;
            const bool ours = e->code() == fitstream::errc::invalid_input;
            const bool libfdt = e->code().category() == fitstream::libfdt_category();
            BOOST_TEST((ours || libfdt), c.name << ": " << e->code().category().name() << " " << e->what());
            BOOST_TEST(e->subject() == path.string(), c.name);
            BOOST_TEST(std::string(e->what()).find(path.string()) != std::string::npos, e->what());
        }
    }
}

BOOST_AUTO_TEST_CASE(inspect_dtb_file_missing_is_an_os_error) {
    temp_dir dir;
    const std::string path = (dir / "absent.dtb").string();
    const auto e = expect_error([&] { fitstream::inspect_dtb_file(path); }, "absent");
    if (e) {
        BOOST_TEST((e->code() == std::errc::no_such_file_or_directory), e->what());
        BOOST_TEST(std::string(e->what()).find(path) != std::string::npos, e->what());
    }
}

// ===========================================================================
// Empty sources (kept last: see the comment inside)
// ===========================================================================

BOOST_AUTO_TEST_CASE(empty_memory_sources_and_empty_file) {
    // source::memory({}) holds an empty vector, whose data() is null, and
    // memory_view(nullptr, 0) is the same for a view. Last in this file: under
    // -fsanitize=undefined a null pointer passed to memcpy aborts the run.
    temp_dir dir;
    write_file(dir / "empty.bin", "");
    for (const data_layout layout : {data_layout::embedded, data_layout::external}) {
        fitstream::tree t;
        t.description = "empty";
        t.images.emplace_back("owned", "firmware", fitstream::source::memory({}, "owned")).add_hash<hash::crc32>();
        t.images.emplace_back("view", "firmware", fitstream::source::memory_view(nullptr, 0, "view"))
            .compress_with<codec::gzip>()
            .add_hash<hash::sha1>();
        t.images.emplace_back("file", "firmware", fitstream::source::file((dir / "empty.bin").string()))
            .compress_with<codec::zstd>()
            .add_hash<hash::md5>();
        const std::vector<expected_image> expected = {{"owned", "", "none", {"crc32"}},
                                                      {"view", "", "gzip", {"sha1"}},
                                                      {"file", "", "zstd", {"md5"}}};
        const fs::path out = dir / "e.fit";
        const auto result = fitstream::write_fit(t, out.string(), with_layout(layout));
        const fit_file fit(out);
        BOOST_TEST(fit.check() == 0);
        check_images(fit, expected, result);
    }
}
