// SPDX-License-Identifier: MIT
// Layout arithmetic and limits (<fitstream/layout.hpp>): alignment, the
// options mkimage -E / -B / -p accept, and the 32-bit FIT cell limit.
#define BOOST_TEST_MODULE fitstream layout
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <climits>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>

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
