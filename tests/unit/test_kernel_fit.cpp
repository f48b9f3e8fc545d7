// SPDX-License-Identifier: MIT
// make_kernel_fit() (<fitstream/kbuild/kernel_fit.hpp>): the tree a kernel
// build makes from a kernel and a DTB list, one behaviour per test, on
// devicetrees compiled by dtc from tests/data at test time.
#define BOOST_TEST_MODULE fitstream kernel_fit
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using fitstream_test::compile_dts;
using fitstream_test::data_dir;
using fitstream_test::temp_dir;
using fitstream_test::thrown_by;
using fitstream_test::write_file;

/// A kernel and DTBs compiled into a fresh directory.
struct inputs {
    temp_dir dir;
    std::string kernel = (dir / "Image").string();
    std::string sbc = compile_dts(data_dir / "boards/acme-rk3399-sbc.dts", dir / "acme-rk3399-sbc.dtb").string();
    std::string imx =
        compile_dts(data_dir / "boards/globex-imx8mp-som-devkit.dts", dir / "globex-imx8mp-som-devkit.dtb").string();
    std::string overlay =
        compile_dts(data_dir / "boards/acme-rk3399-sbc-spi-flash.dtso", dir / "acme-rk3399-sbc-spi-flash.dtbo")
            .string();

    inputs() { write_file(dir / "Image", fitstream_test::kernel_like_payload(8192)); }

    /// A copy of `file` at `name` in the directory (same bytes, another path).
    std::string copy(const std::string& file, const std::string& name) const {
        const fs::path to = dir / name;
        fs::create_directories(to.parent_path());
        fs::copy_file(file, to, fs::copy_options::overwrite_existing);
        return to.string();
    }
};

fitstream::kernel_fit_options base_options() {
    fitstream::kernel_fit_options o;
    o.name = "Linux";
    o.arch = "arm64";
    o.timestamp = 0;
    return o;
}

std::vector<std::string> image_names(const fitstream::tree& fit) {
    std::vector<std::string> names;
    for (const auto& img : fit.images) names.push_back(img.name);
    return names;
}

std::vector<std::string> configuration_names(const fitstream::tree& fit) {
    std::vector<std::string> names;
    for (const auto& conf : fit.configurations) names.push_back(conf.name);
    return names;
}

const fitstream::image& image_named(const fitstream::tree& fit, const std::string& name) {
    for (const auto& img : fit.images)
        if (img.name == name) return img;
    throw std::runtime_error("no image " + name);
}

using strings = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_CASE(configurations_come_from_dtb_files_only) {
    inputs in;
    const std::string notes = (in.dir / "notes.txt").string();
    write_file(notes, "not a devicetree");
    strings skipped;
    fitstream::kernel_fit_report report;
    const auto fit = fitstream::make_kernel_fit(
        base_options(), in.kernel, "", {in.sbc, notes, in.overlay, in.imx},
        [&](const std::string& f) { skipped.push_back(f); }, &report);
    BOOST_TEST(image_names(fit) == (strings{"kernel", "fdt-1", "fdt-2"}));
    BOOST_TEST(configuration_names(fit) == (strings{"conf-1", "conf-2"}));
    BOOST_TEST(skipped == (strings{notes, in.overlay}));
    BOOST_TEST(report.files_read == (strings{in.kernel, in.sbc, in.imx}));
    const auto& conf = fit.configurations.front();
    BOOST_TEST(conf.kernel == "kernel");
    BOOST_TEST(conf.fdt == strings{"fdt-1"});
    BOOST_TEST(conf.description == "Acme RK3399 SBC");
    BOOST_TEST(conf.compatible == (strings{"acme,rk3399-sbc", "rockchip,rk3399"}));
    BOOST_TEST(fit.default_configuration == "conf-1");
    BOOST_TEST(image_named(fit, "kernel").type == "kernel_noload");
    BOOST_TEST(image_named(fit, "fdt-1").type == "flat_dt");
}

BOOST_AUTO_TEST_CASE(overlays_are_packed_only_when_asked) {
    inputs in;
    auto options = base_options();
    options.pack_overlays = true;
    const auto fit = fitstream::make_kernel_fit(options, in.kernel, "", {in.sbc, in.overlay});
    BOOST_TEST(image_names(fit) == (strings{"kernel", "fdt-1", "fdt-2"}));
    BOOST_TEST(image_named(fit, "fdt-2").data.name() == in.overlay);
    BOOST_TEST(configuration_names(fit) == strings{"conf-1"});  // none of its own
    BOOST_TEST(fit.configurations.front().fdt == strings{"fdt-1"});
}

// U-Boot applies an overlay without decompressing it (boot_get_fdt_fit()
// loads it with FIT_LOAD_IGNORED): every overlay is stored uncompressed,
// the bases and the kernel keep the codec, unless fdt_compression names
// one explicitly.
BOOST_AUTO_TEST_CASE(overlays_are_stored_uncompressed_unless_fdt_compression_is_explicit) {
    inputs in;
    const std::string board_overlay = in.copy(in.overlay, "board-overlay.dtb");  // an overlay by use, not by name
    auto options = base_options();
    options.compression = "gzip";
    options.pack_overlays = true;
    options.configurations.push_back({"with-flash", in.sbc, {in.overlay}});
    options.configurations.push_back({"imx-with-overlay", in.imx, {board_overlay}});
    fitstream::kernel_fit_report report;
    // in.overlay packed on its own first (.dtbo), then applied by with-flash;
    // board-overlay.dtb is the same bytes: deduplicated into fdt-3.
    auto fit = fitstream::make_kernel_fit(options, in.kernel, "", {in.sbc, in.overlay, in.imx}, {}, &report);
    BOOST_TEST(image_names(fit) == (strings{"kernel", "fdt-1", "fdt-2", "fdt-3"}));
    BOOST_TEST(image_named(fit, "kernel").compression() == "gzip");
    BOOST_TEST(image_named(fit, "fdt-1").compression() == "gzip");  // acme base
    BOOST_TEST(image_named(fit, "fdt-2").compression() == "none");  // the .dtbo
    BOOST_TEST(image_named(fit, "fdt-3").compression() == "gzip");  // imx base
    BOOST_TEST(fit.configurations.back().fdt == (strings{"fdt-3", "fdt-2"}));
    BOOST_TEST(report.compressed_overlays.empty());

    // Without deduplication the .dtb-named copy is an image of its own, an
    // overlay only by its place in imx-with-overlay.
    options.deduplicate = false;
    fit = fitstream::make_kernel_fit(options, in.kernel, "", {in.sbc, in.overlay, in.imx}, {}, &report);
    BOOST_TEST(image_names(fit) == (strings{"kernel", "fdt-1", "fdt-2", "fdt-3", "fdt-4"}));
    BOOST_TEST(image_named(fit, "fdt-4").data.name() == board_overlay);
    BOOST_TEST(image_named(fit, "fdt-4").compression() == "none");
    BOOST_TEST(image_named(fit, "fdt-3").compression() == "gzip");

    // An explicit fdt codec compresses them anyway, and says which.
    options.fdt_compression = "lz4";
    fit = fitstream::make_kernel_fit(options, in.kernel, "", {in.sbc, in.overlay, in.imx}, {}, &report);
    BOOST_TEST(image_named(fit, "fdt-2").compression() == "lz4");
    BOOST_TEST(image_named(fit, "fdt-4").compression() == "lz4");
    BOOST_TEST(report.compressed_overlays == (strings{"fdt-2", "fdt-4"}));
}

BOOST_AUTO_TEST_CASE(identical_dtbs_are_stored_once) {
    inputs in;
    const std::string twin = in.copy(in.sbc, "other/acme-rk3399-sbc.dtb");
    fitstream::kernel_fit_report report;
    const auto fit = fitstream::make_kernel_fit(base_options(), in.kernel, "", {in.sbc, in.imx, twin}, {}, &report);
    BOOST_TEST(image_names(fit) == (strings{"kernel", "fdt-1", "fdt-2"}));
    BOOST_TEST(fit.configurations.size() == 3u);
    BOOST_TEST(fit.configurations[2].fdt == strings{"fdt-1"});
    BOOST_TEST(report.images_deduplicated == 1u);
    BOOST_TEST(report.bytes_deduplicated == fs::file_size(twin));

    // The same file listed twice is one image, and saves nothing.
    fitstream::kernel_fit_report again;
    const auto listed_twice = fitstream::make_kernel_fit(base_options(), in.kernel, "", {in.sbc, in.sbc}, {}, &again);
    BOOST_TEST(image_names(listed_twice) == (strings{"kernel", "fdt-1"}));
    BOOST_TEST(listed_twice.configurations.size() == 2u);
    BOOST_TEST(again.images_deduplicated == 0u);

    auto no_dedup = base_options();
    no_dedup.deduplicate = false;
    const auto each = fitstream::make_kernel_fit(no_dedup, in.kernel, "", {in.sbc, in.imx, twin});
    BOOST_TEST(image_names(each) == (strings{"kernel", "fdt-1", "fdt-2", "fdt-3"}));
}

BOOST_AUTO_TEST_CASE(the_tree_is_the_same_for_every_thread_count) {
    inputs in;
    const std::string twin = in.copy(in.imx, "b/globex-imx8mp-som-devkit.dtb");
    const strings dtbs{in.sbc, in.imx, twin, in.sbc};
    auto one = base_options();
    one.threads = 1;
    auto four = base_options();
    four.threads = 4;
    const auto a = fitstream::make_kernel_fit(one, in.kernel, "", dtbs);
    const auto b = fitstream::make_kernel_fit(four, in.kernel, "", dtbs);
    BOOST_TEST(image_names(a) == image_names(b));
    BOOST_TEST(configuration_names(a) == configuration_names(b));
    for (std::size_t i = 0; i < a.configurations.size(); ++i) BOOST_TEST(a.configurations[i].fdt == b.configurations[i].fdt);
}

BOOST_AUTO_TEST_CASE(a_composite_dtb_is_decomposed_from_its_kbuild_cmd_file) {
    inputs in;
    const std::string base = compile_dts(data_dir / "features/wombat-base.dts", in.dir / "wombat-base.dtb").string();
    const std::string flash =
        compile_dts(data_dir / "features/wombat-spi-flash.dtso", in.dir / "wombat-spi-flash.dtbo").string();
    // The composite's own bytes: any DTB will do, its model names the configuration.
    const std::string composite = in.copy(in.sbc, "wombat-flash.dtb");
    const std::string cmd = (in.dir / ".wombat-flash.dtb.cmd").string();
    write_file(cmd, "savedcmd_wombat-flash.dtb := ./scripts/dtc/fdtoverlay -o wombat-flash.dtb -i " + base + " " +
                        flash + " ; ./scripts/dtc/dt-validate wombat-flash.dtb\n");
    auto options = base_options();
    options.decompose_dtbs = true;
    fitstream::kernel_fit_report report;
    const auto fit = fitstream::make_kernel_fit(options, in.kernel, "", {composite}, {}, &report);
    BOOST_TEST(image_names(fit) == (strings{"kernel", "fdt-1", "fdt-2"}));
    BOOST_TEST(image_named(fit, "fdt-1").data.name() == base);
    BOOST_TEST(image_named(fit, "fdt-2").data.name() == flash);
    const auto& conf = fit.configurations.front();
    BOOST_TEST(conf.fdt == (strings{"fdt-1", "fdt-2"}));
    BOOST_TEST(conf.description == "Acme RK3399 SBC");  // from the composite
    BOOST_TEST(conf.compatible.front() == "acme,rk3399-sbc");
    BOOST_TEST(report.files_read == (strings{in.kernel, composite, cmd, base, flash}));

    // A command that is not fdtoverlay's: the DTB is itself.
    write_file(cmd, "savedcmd_wombat-flash.dtb := dtc -O dtb -o wombat-flash.dtb wombat-flash.dts\n");
    const auto plain = fitstream::make_kernel_fit(options, in.kernel, "", {composite});
    BOOST_TEST(image_named(plain, "fdt-1").data.name() == composite);

    // fdtoverlay without '-i': an error naming the command file.
    write_file(cmd, "savedcmd_wombat-flash.dtb := ./scripts/dtc/fdtoverlay -o wombat-flash.dtb\n");
    const auto no_i = thrown_by<fitstream::error>([&] { fitstream::make_kernel_fit(options, in.kernel, "", {composite}); });
    BOOST_TEST(no_i.subject() == cmd);
    BOOST_TEST(no_i.code() == make_error_code(fitstream::errc::invalid_input));

    // No command file: an error naming it and the DTB that needed it.
    fs::remove(cmd);
    const auto missing = thrown_by<fitstream::error>([&] { fitstream::make_kernel_fit(options, in.kernel, "", {composite}); });
    BOOST_TEST(missing.subject() == cmd);
    BOOST_TEST(missing.reason().find(composite) != std::string::npos, missing.reason());
    BOOST_TEST(missing.code() == std::error_code(ENOENT, std::generic_category()));
}

BOOST_AUTO_TEST_CASE(configurations_are_named_by_sequence_or_basename) {
    inputs in;
    const std::string twin = in.copy(in.sbc, "other/acme-rk3399-sbc.dtb");
    const strings dtbs{in.sbc, in.imx, twin};
    BOOST_TEST(configuration_names(fitstream::make_kernel_fit(base_options(), in.kernel, "", dtbs)) ==
               (strings{"conf-1", "conf-2", "conf-3"}));
    auto options = base_options();
    options.naming = fitstream::conf_naming::basename;
    BOOST_TEST(configuration_names(fitstream::make_kernel_fit(options, in.kernel, "", dtbs)) ==
               (strings{"conf-acme-rk3399-sbc.dtb", "conf-globex-imx8mp-som-devkit.dtb", "conf-acme-rk3399-sbc.dtb-2"}));
    // A character a node name cannot hold becomes '_'; explicit names are kept.
    const std::string odd = in.copy(in.imx, "board@1 v2.dtb");
    options.configurations.push_back({"conf-acme-rk3399-sbc.dtb", in.sbc, {}});
    BOOST_TEST(configuration_names(fitstream::make_kernel_fit(options, in.kernel, "", {in.sbc, odd})) ==
               (strings{"conf-acme-rk3399-sbc.dtb-2", "conf-board_1_v2.dtb", "conf-acme-rk3399-sbc.dtb"}));
    // Two explicit configurations of the same name.
    options.configurations.push_back({"conf-acme-rk3399-sbc.dtb", in.imx, {}});
    const auto twice = thrown_by<fitstream::error>([&] { fitstream::make_kernel_fit(options, in.kernel, "", {}); });
    BOOST_TEST(twice.subject() == "/configurations/conf-acme-rk3399-sbc.dtb");
}

BOOST_AUTO_TEST_CASE(the_default_is_found_by_name_file_or_compatible) {
    inputs in;
    const strings dtbs{in.sbc, in.imx};
    const auto default_for = [&](const std::string& want) {
        auto options = base_options();
        options.default_configuration = want;
        return fitstream::make_kernel_fit(options, in.kernel, "", dtbs).default_configuration;
    };
    BOOST_TEST(default_for("") == "conf-1");
    BOOST_TEST(default_for("conf-2") == "conf-2");
    BOOST_TEST(default_for(in.imx) == "conf-2");                          // the file as given
    BOOST_TEST(default_for("globex-imx8mp-som-devkit.dtb") == "conf-2");  // its base name
    BOOST_TEST(default_for("rockchip,rk3399") == "conf-1");               // a compatible string
    const auto none = thrown_by<fitstream::error>([&] { default_for("no,such-board"); });
    BOOST_TEST(none.subject() == "default configuration");
    BOOST_TEST(none.code() == make_error_code(fitstream::errc::invalid_argument));
    BOOST_TEST(none.reason().find("no,such-board") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(errors_name_the_file) {
    inputs in;
    const std::string gone = (in.dir / "gone.dtb").string();
    const auto missing = thrown_by<fitstream::error>([&] { fitstream::make_kernel_fit(base_options(), in.kernel, "", {in.sbc, gone}); });
    BOOST_TEST(missing.subject() == gone);
    BOOST_TEST(missing.code() == std::error_code(ENOENT, std::generic_category()));

    const std::string junk = (in.dir / "junk.dtb").string();
    write_file(junk, std::string(256, 'x'));
    const auto invalid = thrown_by<fitstream::error>([&] { fitstream::make_kernel_fit(base_options(), in.kernel, "", {junk}); });
    BOOST_TEST(invalid.subject() == junk);

    const auto nothing = thrown_by<fitstream::error>([&] { fitstream::make_kernel_fit(base_options(), "", "", {}); });
    BOOST_TEST(nothing.reason().find("nothing to pack") != std::string::npos);

    auto bad_codec = base_options();
    bad_codec.compression = "xz";
    const auto codec = thrown_by<fitstream::error>([&] { fitstream::make_kernel_fit(bad_codec, in.kernel, "", {in.sbc}); });
    BOOST_TEST(codec.code() == make_error_code(fitstream::errc::unsupported));
}

BOOST_AUTO_TEST_CASE(loadables_with_the_same_bytes_and_shape_are_stored_once) {
    inputs in;
    const std::string tee = (in.dir / "tee.bin").string();
    write_file(tee, fitstream_test::kernel_like_payload(4096, 3));
    const std::string tee2 = in.copy(tee, "copy/tee.bin");
    auto options = base_options();
    options.loadables.push_back({tee, "", "tee", "", "", "", 0x1000, std::nullopt, "none"});
    options.loadables.push_back({tee2, "", "tee", "", "", "", 0x1000, std::nullopt, "none"});
    options.loadables.push_back({tee2, "", "tee", "", "", "", 0x2000, std::nullopt, "none"});  // another load
    fitstream::kernel_fit_report report;
    const auto fit = fitstream::make_kernel_fit(options, in.kernel, "", {in.sbc}, {}, &report);
    BOOST_TEST(image_names(fit) == (strings{"kernel", "fdt-1", "loadable-1", "loadable-2"}));
    BOOST_TEST(fit.configurations.front().loadables == (strings{"loadable-1", "loadable-2"}));
    BOOST_TEST(report.images_deduplicated == 1u);
}
