// SPDX-License-Identifier: MIT
// Layout arithmetic and limits (<fitstream/layout.hpp>): alignment, the
// options mkimage -E / -B / -p accept, and the 32-bit FIT cell limit; and
// the layout plan as write_fit() carries it out: where the data area
// starts, each image's offset and cells, and sizes past 32 bits refused
// before or while they are stored, never wrapped. The FITs are written to
// a sink that records what was written where, so 4 GiB offsets cost no disk.
#define BOOST_TEST_MODULE fitstream layout
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using fitstream::data_layout;
using fitstream::layout_options;

layout_options external(std::uint32_t align, std::optional<std::uint64_t> position = std::nullopt) {
    layout_options o;
    o.layout = data_layout::external;
    o.align = align;
    o.position = position;
    return o;
}

/// Runs check_layout_options and returns the errc it threw, or nothing.
struct outcome {
    bool threw = false;
    std::error_code code;
    std::string subject;
    std::string what;
};
outcome check(const layout_options& o) {
    outcome r;
    try {
        fitstream::check_layout_options(o);
    } catch (const fitstream::error& e) {
        r.threw = true;
        r.code = e.code();
        r.subject = e.subject();
        r.what = e.what();
    }
    return r;
}

}  // namespace

// ---------------------------------------------------------------------------
// align_up
// ---------------------------------------------------------------------------

static_assert(fitstream::align_up(0, 4) == 0);
static_assert(fitstream::align_up(1, 4) == 4);
static_assert(fitstream::align_up(4, 4) == 4);
static_assert(fitstream::align_up(0x1001, 0x1000) == 0x2000);

BOOST_AUTO_TEST_CASE(align_up_matches_division_rounding) {
    int wrong = 0;
    for (std::uint64_t align = 1; align <= (1u << 16); align <<= 1) {
        for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{1}, align - 1, align, align + 1, 3 * align - 1,
                                std::uint64_t{12345}, std::uint64_t{0xFFFFFFFF}, std::uint64_t{0x100000001}}) {
            const std::uint64_t want = (v + align - 1) / align * align;
            if (fitstream::align_up(v, align) != want) {
                ++wrong;
                BOOST_ERROR("align_up(" << v << ", " << align << ") = " << fitstream::align_up(v, align) << ", want "
                                        << want);
            }
        }
    }
    BOOST_TEST(wrong == 0);
}

BOOST_AUTO_TEST_CASE(align_up_does_not_wrap_at_32_bits) {
    // A 32-bit implementation would wrap these to 0.
    BOOST_TEST(fitstream::align_up(0xFFFFFFFFu, 4) == 0x100000000u);
    BOOST_TEST(fitstream::align_up(0xFFFFF001u, 0x1000) == 0x100000000u);
    BOOST_TEST(fitstream::align_up(0x100000000u, 0x1000) == 0x100000000u);
}

BOOST_AUTO_TEST_CASE(limits_are_the_cell_and_libfdt_limits) {
    BOOST_TEST(fitstream::max_cell_value == std::uint64_t{std::numeric_limits<std::uint32_t>::max()});
    BOOST_TEST(fitstream::max_cell_value == 0xFFFFFFFFu);
    BOOST_TEST(fitstream::max_embedded_size == static_cast<std::uint64_t>(INT_MAX));
}

// ---------------------------------------------------------------------------
// check_layout_options
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(defaults_are_valid_embedded) {
    const layout_options defaults;
    BOOST_TEST((defaults.layout == data_layout::embedded));
    BOOST_TEST(defaults.align == 4u);
    BOOST_TEST(!defaults.position.has_value());
    const auto r = check(defaults);
    BOOST_TEST(!r.threw, r.what);
}

BOOST_AUTO_TEST_CASE(external_power_of_two_alignments_of_at_least_4_are_accepted) {
    for (std::uint32_t a : {4u, 8u, 16u, 0x200u, 0x1000u, 0x10000u, 0x80000000u}) {
        const auto r = check(external(a));
        BOOST_TEST(!r.threw, "align " << a << ": " << r.what);
    }
}

BOOST_AUTO_TEST_CASE(alignment_not_a_power_of_two_or_below_4_is_rejected) {
    for (std::uint32_t a : {0u, 1u, 2u, 3u, 5u, 6u, 7u, 12u, 24u, 0x1001u, 0x3000u, 0xFFFFFFFFu}) {
        for (const data_layout layout : {data_layout::external, data_layout::embedded}) {
            layout_options o = external(a);
            o.layout = layout;
            const auto r = check(o);
            BOOST_TEST(r.threw, "align " << a << " accepted");
            BOOST_TEST((r.code == fitstream::errc::invalid_argument), "align " << a << ": " << r.code.message());
            BOOST_TEST(r.subject == "align");
            BOOST_TEST(r.what.rfind("fitstream: align: ", 0) == 0, r.what);
        }
    }
}

BOOST_AUTO_TEST_CASE(embedded_takes_neither_position_nor_alignment) {
    layout_options with_position;
    with_position.position = 0x1000;
    auto r = check(with_position);
    BOOST_TEST(r.threw);
    BOOST_TEST((r.code == fitstream::errc::invalid_argument));
    BOOST_TEST(r.subject == "position");

    layout_options with_align;
    with_align.align = 8;
    r = check(with_align);
    BOOST_TEST(r.threw);
    BOOST_TEST((r.code == fitstream::errc::invalid_argument));
    BOOST_TEST(r.subject == "align");
}

BOOST_AUTO_TEST_CASE(position_must_be_a_multiple_of_4) {
    for (std::uint64_t p : {1u, 2u, 3u, 6u, 0x1002u, 0xFFFFFFFEu}) {
        const auto r = check(external(4, p));
        BOOST_TEST(r.threw, "position " << p << " accepted");
        BOOST_TEST((r.code == fitstream::errc::invalid_argument), "position " << p);
        BOOST_TEST(r.subject == "position");
    }
    for (std::uint64_t p : {0u, 4u, 0x1000u, 0x10000u, 0xFFFFFFFCu}) {
        const auto r = check(external(0x1000, p));
        BOOST_TEST(!r.threw, "position " << p << ": " << r.what);
    }
}

BOOST_AUTO_TEST_CASE(position_past_32_bits_is_a_limit) {
    for (std::uint64_t p : {std::uint64_t{0x100000000}, std::uint64_t{0x100001000}, std::uint64_t{1} << 62}) {
        const auto r = check(external(4, p));
        BOOST_TEST(r.threw, "position " << p << " accepted");
        BOOST_TEST((r.code == fitstream::errc::limit_exceeded), "position " << p << ": " << r.code.message());
        BOOST_TEST(r.subject == "position");
    }
}

// ---------------------------------------------------------------------------
// check_cell
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(check_cell_accepts_every_32_bit_value) {
    for (std::uint64_t v : {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0x7FFFFFFF}, std::uint64_t{0x80000000},
                            std::uint64_t{0xFFFFFFFE}, std::uint64_t{0xFFFFFFFF}}) {
        BOOST_CHECK_NO_THROW(fitstream::check_cell(v, "kernel: data-offset"));
    }
}

BOOST_AUTO_TEST_CASE(check_cell_refuses_33_bits_and_names_the_value) {
    for (std::uint64_t v : {std::uint64_t{0x100000000}, std::uint64_t{0x1FFFFFFFF},
                            std::numeric_limits<std::uint64_t>::max()}) {
        try {
            fitstream::check_cell(v, "kernel: data-offset");
            BOOST_ERROR("check_cell accepted " << v);
        } catch (const fitstream::error& e) {
            BOOST_TEST((e.code() == fitstream::errc::limit_exceeded));
            BOOST_TEST((e.code().category() == fitstream::fitstream_category()));
            BOOST_TEST(e.subject() == "kernel: data-offset");
            BOOST_TEST(std::string(e.what()).rfind("fitstream: kernel: data-offset: ", 0) == 0, e.what());
            BOOST_TEST(std::string(e.what()).find(std::to_string(v)) != std::string::npos, e.what());
        }
    }
}

BOOST_AUTO_TEST_CASE(limit_exceeded_is_a_std_system_error) {
    // Callers that only know std::system_error still get the code.
    try {
        fitstream::check_cell(0x100000000u, "x");
        BOOST_ERROR("no throw");
    } catch (const std::system_error& e) {
        BOOST_TEST((e.code() == fitstream::make_error_code(fitstream::errc::limit_exceeded)));
        BOOST_TEST(std::string(e.code().category().name()) == "fitstream");
    }
}

// ---------------------------------------------------------------------------
// The layout plan, through write_fit()
// ---------------------------------------------------------------------------

namespace {

// Records every write_at(); bytes() reassembles them (gaps as zeros) up to
// a size, so a FIT whose data starts near 4 GiB costs only what it stores.
class recording_sink final : public fitstream::sink {
public:
    void write_at(std::uint64_t offset, const void* data, std::size_t size) override {
        writes[offset].append(static_cast<const char*>(data), size);
    }
    void commit(std::uint64_t total_size) override { committed = total_size; }
    const std::string& name() const noexcept override { return name_; }

    // The bytes in [from, from + size).
    std::string bytes(std::uint64_t from, std::size_t size) const {
        std::string out(size, '\0');
        for (const auto& [at, data] : writes) {
            const std::uint64_t lo = std::max(at, from);
            const std::uint64_t hi = std::min<std::uint64_t>(at + data.size(), from + size);
            if (lo < hi) std::memcpy(&out[lo - from], data.data() + (lo - at), hi - lo);
        }
        return out;
    }

    std::map<std::uint64_t, std::string> writes;
    std::optional<std::uint64_t> committed;

private:
    std::string name_ = "recorded.fit";
};

// The FDT at the start of what `out` recorded (its header says how long).
std::string structure_of(const recording_sink& out) {
    const std::string header = out.bytes(0, 40);
    return out.bytes(0, fdt_totalsize(header.data()));
}

std::uint32_t u32_prop(const std::string& fdt, const std::string& path, const char* name) {
    const int node = fdt_path_offset(fdt.data(), path.c_str());
    BOOST_TEST_REQUIRE(node >= 0, path);
    int len = 0;
    const void* value = fdt_getprop(fdt.data(), node, name, &len);
    BOOST_TEST_REQUIRE(value != nullptr, path << " " << name);
    BOOST_TEST_REQUIRE(len == 4);
    return fdt32_ld(static_cast<const fdt32_t*>(value));
}

// Three images stored as they are, of sizes that are not multiples of the
// alignment.
fitstream::tree three_images(const std::string& kernel, const std::string& ramdisk, const std::string& tee) {
    fitstream::fit_builder fit("layout");
    fit.arch("arm64").timestamp(0);
    fit.add_kernel(fitstream::source::memory_view(kernel.data(), kernel.size(), "kernel"));
    fit.add_ramdisk(fitstream::source::memory_view(ramdisk.data(), ramdisk.size(), "ramdisk"));
    fit.add_loadable("tee", "tee", fitstream::source::memory_view(tee.data(), tee.size(), "tee"));
    return fit.build();
}

fitstream::write_options external_options(std::uint32_t align, std::optional<std::uint64_t> position = {}) {
    fitstream::write_options options;
    options.layout = external(align, position);
    options.threads = 1;
    return options;
}

// Runs write_fit and returns what it threw (nothing: threw == false).
outcome write_outcome(const fitstream::tree& fit, fitstream::sink& out, const fitstream::write_options& options) {
    outcome r;
    try {
        fitstream::write_fit(fit, out, options);
    } catch (const fitstream::error& e) {
        r.threw = true;
        r.code = e.code();
        r.subject = e.subject();
        r.what = e.what();
    }
    return r;
}

// A sparse file of `size` bytes: a planned size that costs no disk.
std::string sparse_file(const fitstream_test::temp_dir& dir, const std::string& name, std::uint64_t size) {
    const auto path = (dir / name).string();
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    BOOST_TEST_REQUIRE(fd >= 0);
    BOOST_TEST_REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
    ::close(fd);
    return path;
}

}  // namespace

BOOST_AUTO_TEST_CASE(external_data_starts_after_the_padded_structure_each_image_aligned) {
    const std::string kernel(5000, 'k'), ramdisk(3, 'r'), tee(0x1001, 't');
    const auto fit = three_images(kernel, ramdisk, tee);
    for (const std::uint32_t align : {4u, 0x200u, 0x1000u}) {
        recording_sink out;
        const auto result = fitstream::write_fit(fit, out, external_options(align));
        const std::string fdt = structure_of(out);
        // The structure is padded to the alignment and says so in its header.
        BOOST_TEST(fdt.size() % align == 0u, "align " << align);
        BOOST_TEST(result.structure_size == fdt.size());
        std::uint64_t expected = fdt.size();
        const std::vector<std::pair<std::string, std::size_t>> images{
            {"kernel", kernel.size()}, {"ramdisk", ramdisk.size()}, {"tee", tee.size()}};
        BOOST_TEST_REQUIRE(result.images.size() == images.size());
        for (std::size_t i = 0; i < images.size(); ++i) {
            const auto& placed = result.images[i];
            BOOST_TEST(placed.file_offset == expected, "align " << align << " image " << i);
            BOOST_TEST(placed.file_offset % align == 0u);
            BOOST_TEST(placed.stored_size == images[i].second);
            const std::string path = "/images/" + images[i].first;
            // data-offset counts from the end of the structure (U-Boot's rule).
            BOOST_TEST(u32_prop(fdt, path, "data-offset") == placed.file_offset - fdt.size());
            BOOST_TEST(u32_prop(fdt, path, "data-size") == images[i].second);
            expected = fitstream::align_up(expected + images[i].second, align);
        }
        // The file ends with the last image, padded: no trailing alignment
        // beyond it.
        BOOST_TEST(result.total_size == result.images.back().file_offset + fitstream::align_up(tee.size(), align));
        BOOST_TEST(out.committed.value_or(0) == result.total_size);
        BOOST_TEST(out.bytes(result.images[0].file_offset, kernel.size()) == kernel);
        BOOST_TEST(out.bytes(result.images[2].file_offset, tee.size()) == tee);
    }
}

BOOST_AUTO_TEST_CASE(a_position_moves_the_data_area_and_images_carry_absolute_positions) {
    const std::string kernel(5000, 'k'), ramdisk(3, 'r'), tee(100, 't');
    const auto fit = three_images(kernel, ramdisk, tee);
    recording_sink out;
    const auto result = fitstream::write_fit(fit, out, external_options(0x200, 0x10000));
    const std::string fdt = structure_of(out);
    BOOST_TEST(result.images[0].file_offset == 0x10000u);
    BOOST_TEST(result.images[1].file_offset == 0x10000u + fitstream::align_up(kernel.size(), 0x200));
    for (const auto& [name, i] : {std::pair<const char*, std::size_t>{"kernel", 0}, {"ramdisk", 1}, {"tee", 2}}) {
        const std::string path = std::string("/images/") + name;
        BOOST_TEST(u32_prop(fdt, path, "data-position") == result.images[i].file_offset, path);
        BOOST_TEST(fdt_getprop(fdt.data(), fdt_path_offset(fdt.data(), path.c_str()), "data-offset", nullptr) ==
                   nullptr);
    }
    BOOST_TEST(out.bytes(0x10000, kernel.size()) == kernel);
    BOOST_TEST(result.total_size == result.images[2].file_offset + fitstream::align_up(tee.size(), 0x200));
}

BOOST_AUTO_TEST_CASE(a_position_inside_the_structure_is_refused) {
    const std::string kernel(100, 'k');
    const auto fit = three_images(kernel, kernel, kernel);
    recording_sink out;
    const auto r = write_outcome(fit, out, external_options(4, 0x40));
    BOOST_TEST(r.threw);
    BOOST_TEST((r.code == fitstream::errc::invalid_argument), r.what);
    BOOST_TEST(r.subject == "position");
    BOOST_TEST(r.what.find("falls inside the") != std::string::npos, r.what);
    BOOST_TEST(!out.committed.has_value());
}

BOOST_AUTO_TEST_CASE(embedded_data_sits_in_the_data_properties) {
    const std::string kernel(5001, 'k'), ramdisk(3, 'r'), tee(6, 't');
    const auto fit = three_images(kernel, ramdisk, tee);
    fitstream::write_options options;
    options.threads = 1;
    recording_sink out;
    const auto result = fitstream::write_fit(fit, out, options);
    const std::string fdt = structure_of(out);
    BOOST_TEST(fdt.size() == result.total_size);
    BOOST_TEST(result.structure_size == result.total_size);
    BOOST_TEST(fdt_check_full(fdt.data(), fdt.size()) == 0);
    const std::vector<std::pair<std::string, const std::string*>> images{
        {"kernel", &kernel}, {"ramdisk", &ramdisk}, {"tee", &tee}};
    for (std::size_t i = 0; i < images.size(); ++i) {
        const std::string path = "/images/" + images[i].first;
        int len = 0;
        const void* data = fdt_getprop(fdt.data(), fdt_path_offset(fdt.data(), path.c_str()), "data", &len);
        BOOST_TEST_REQUIRE(data != nullptr, path);
        BOOST_TEST(static_cast<std::size_t>(len) == images[i].second->size());
        BOOST_TEST(static_cast<const char*>(data) - fdt.data() == static_cast<std::ptrdiff_t>(result.images[i].file_offset));
        BOOST_TEST(std::string(static_cast<const char*>(data), static_cast<std::size_t>(len)) == *images[i].second);
    }
}

BOOST_AUTO_TEST_CASE(external_data_past_4_gib_is_refused_before_anything_is_written) {
    fitstream_test::temp_dir dir;
    // Two uncompressed 2 GiB images: 4 GiB + 8 of data, known before any read.
    const auto big = sparse_file(dir, "big.bin", 0x80000004u);
    fitstream::fit_builder fit("big");
    fit.add_kernel(fitstream::source::file(big));
    fit.add_ramdisk(fitstream::source::file(big));
    recording_sink out;
    const auto r = write_outcome(fit.build(), out, external_options(4));
    BOOST_TEST(r.threw);
    BOOST_TEST((r.code == fitstream::errc::limit_exceeded), r.what);
    BOOST_TEST(r.subject == out.name());
    BOOST_TEST(r.what.find("4 GiB of external data") != std::string::npos, r.what);
    BOOST_TEST(out.writes.empty(), "refused before a byte was written");
    BOOST_TEST(!out.committed.has_value());
}

BOOST_AUTO_TEST_CASE(embedded_data_past_libfdt_limit_is_refused_before_anything_is_written) {
    fitstream_test::temp_dir dir;
    const auto big = sparse_file(dir, "big.bin", 0x80000000u);  // 2 GiB: one more than an int holds
    fitstream::fit_builder fit("big");
    fit.add_kernel(fitstream::source::file(big));
    recording_sink out;
    fitstream::write_options options;
    const auto r = write_outcome(fit.build(), out, options);
    BOOST_TEST(r.threw);
    BOOST_TEST((r.code == fitstream::errc::limit_exceeded), r.what);
    BOOST_TEST(r.subject == out.name());
    BOOST_TEST(r.what.find("2 GiB - 1 with embedded data") != std::string::npos, r.what);
    BOOST_TEST(out.writes.empty());
}

BOOST_AUTO_TEST_CASE(an_image_whose_end_is_the_largest_cell_value_is_placed_one_byte_more_is_not) {
    // data-position + data-size = 2^32 - 1, the largest a cell holds. The
    // recording sink keeps only what is written.
    const std::string kernel(0xFFB, 'k');
    fitstream::fit_builder fit("edge");
    fit.add_kernel(fitstream::source::memory_view(kernel.data(), kernel.size(), "kernel"));
    recording_sink out;
    const auto result = fitstream::write_fit(fit.build(), out, external_options(4, 0xFFFFF004u));
    BOOST_TEST(result.images[0].file_offset == 0xFFFFF004u);
    BOOST_TEST(result.total_size == 0x100000000u);  // the last image padded to 4
    const std::string fdt = structure_of(out);
    BOOST_TEST(u32_prop(fdt, "/images/kernel", "data-position") == 0xFFFFF004u);
    BOOST_TEST(u32_prop(fdt, "/images/kernel", "data-size") == 0xFFBu);
    BOOST_TEST(out.bytes(0xFFFFF004u, kernel.size()) == kernel);

    const std::string longer(0xFFC, 'k');
    fitstream::fit_builder over("edge");
    over.add_kernel(fitstream::source::memory_view(longer.data(), longer.size(), "kernel"));
    recording_sink refused;
    const auto r = write_outcome(over.build(), refused, external_options(4, 0xFFFFF004u));
    BOOST_TEST(r.threw);
    BOOST_TEST((r.code == fitstream::errc::limit_exceeded), r.what);
    BOOST_TEST(r.subject == "/images/kernel: data-position + data-size", r.what);
    BOOST_TEST(!refused.committed.has_value());
}

BOOST_AUTO_TEST_CASE(a_stored_size_past_32_bits_is_refused_while_storing_never_wrapped) {
    // Compressed images are not in the up-front check (their stored size
    // is not known): incompressible bytes that outgrow the last few cells'
    // worth of room fail when they are stored.
    std::string noise = fitstream_test::kernel_like_payload(64 * 1024, 9);
    for (auto& c : noise) c = static_cast<char>(c * 131 + 7);
    for (const unsigned threads : {1u, 2u}) {
        fitstream::fit_builder fit("edge");
        fit.add_kernel<fitstream::codec::gzip>(fitstream::source::memory_view(noise.data(), noise.size(), "kernel"));
        auto options = external_options(4, 0xFFFFFF00u);
        options.threads = threads;
        recording_sink out;
        const auto r = write_outcome(fit.build(), out, options);
        BOOST_TEST(r.threw, "-j" << threads);
        BOOST_TEST((r.code == fitstream::errc::limit_exceeded), r.what);
        BOOST_TEST(r.subject == "/images/kernel: data-position + data-size", r.what);
        BOOST_TEST(!out.committed.has_value());
        for (const auto& [at, data] : out.writes)
            BOOST_TEST(at + data.size() <= 0x100000000u, "a write at " << at << " wrapped or passed 4 GiB");
    }
}
