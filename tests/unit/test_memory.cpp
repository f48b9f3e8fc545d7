// SPDX-License-Identifier: MIT
// What the writer keeps in memory: the FIT structure is measured before it
// is built, so its blob is allocated once at its final size (no doubling,
// no slack), and the measure agrees with what libfdt builds byte for byte.
// (Peak RSS over 100,000 DTBs is measured in bench/, not asserted here.)
#define BOOST_TEST_MODULE fitstream memory
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using fitstream::detail::fdt_builder;

/// Runs the same calls on a measuring and a real builder.
template <class Calls>
void check_measure(Calls&& calls) {
    auto measure = fdt_builder::measure();
    calls(measure);
    fdt_builder real(64);  // small: it has to grow, the measure must not care
    calls(real);
    const auto blob = std::move(real).finish();
    BOOST_TEST(measure.size() == blob.size());
}

fitstream::tree sample_tree(int dtbs) {
    fitstream::tree fit;
    fit.description = "memory test";
    fit.timestamp = 1700000000;
    auto& kernel = fit.images.emplace_back("kernel", "kernel", fitstream::source::memory(std::vector<char>(100, 'k'), "k"));
    kernel.arch = "arm64";
    kernel.os = "linux";
    kernel.load = 0x80000;
    kernel.entry = 0x80000;
    kernel.compress_with<fitstream::codec::gzip>();
    kernel.add_hash<fitstream::hash::sha256>();
    kernel.add_hash<fitstream::hash::crc32>();
    for (int i = 1; i <= dtbs; ++i) {
        const std::string name = "fdt-" + std::to_string(i);
        auto& f = fit.images.emplace_back(name, "flat_dt",
                                          fitstream::source::memory(std::vector<char>(10, 'd'), name));
        f.description = "board-" + std::to_string(i) + ".dtb";
        f.add_hash<fitstream::hash::sha1>();
        fitstream::configuration conf;
        conf.name = "conf-" + std::to_string(i);
        conf.description = "Board " + std::to_string(i);
        conf.compatible = {"vendor,board-" + std::to_string(i), "vendor,soc"};
        conf.kernel = "kernel";
        conf.fdt = {name};
        fit.configurations.push_back(std::move(conf));
    }
    if (dtbs > 0) fit.default_configuration = "conf-1";
    return fit;
}

}  // namespace

BOOST_AUTO_TEST_CASE(measure_matches_libfdt_including_shared_names) {
    check_measure([](fdt_builder& fdt) {
        fdt.begin_node("");
        fdt.property_string("description", "x");
        fdt.property_u32("size", 1);
        fdt.property_u32("data-size", 2);  // "size" is a tail of it: a new string
        fdt.property_u32("size", 3);
        fdt.begin_node("a-node-name-longer-than-four");
        fdt.property_strings("compatible", {"a", "bc", "def"});
        fdt.property_cells("load", 0x123456789ull, 2);
        fdt.placeholder("value", 32);
        fdt.placeholder("data", 0);
        fdt.property_string("alue", "");  // already there, as the tail of "value"
        fdt.end_node();
        fdt.end_node();
    });
}

BOOST_AUTO_TEST_CASE(measure_matches_libfdt_for_an_empty_tree) {
    check_measure([](fdt_builder& fdt) {
        fdt.begin_node("");
        fdt.end_node();
    });
}

BOOST_AUTO_TEST_CASE(embedded_structure_is_allocated_at_its_size) {
    for (int dtbs : {0, 1, 7, 2000}) {
        const auto st = fitstream::detail::build_structure(sample_tree(dtbs), {});
        BOOST_TEST(st.blob.size() == fdt_totalsize(st.blob.data()));
        BOOST_TEST(st.blob.capacity() == st.blob.size(), dtbs << " DTBs");
    }
}

// -B's padding is a gap the sinks fill (or leave sparse) as they write:
// the structure in memory is its blocks alone, whatever the alignment.
BOOST_AUTO_TEST_CASE(external_structure_holds_no_padding) {
    for (std::uint32_t align : {4u, 8u, 4096u, 1u << 30}) {
        fitstream::layout_options layout;
        layout.layout = fitstream::data_layout::external;
        layout.align = align;
        const auto st = fitstream::detail::build_structure(sample_tree(500), layout);
        BOOST_TEST(st.blob.size() == fdt_off_dt_strings(st.blob.data()) + fdt_size_dt_strings(st.blob.data()),
                   "align " << align);
        BOOST_TEST(st.blob.capacity() == st.blob.size(), "align " << align);
        BOOST_TEST(st.blob.size() < (1u << 20), "align " << align);
    }
}
