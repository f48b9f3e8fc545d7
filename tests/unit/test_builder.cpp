// SPDX-License-Identifier: MIT
// fitstream::fit_builder and fitstream::iostreams_sink: a FIT assembled
// image by image from files and memory, written to a path and to a
// Boost.Iostreams device, read back with the reader and with dumpimage.

#define BOOST_TEST_MODULE builder
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <boost/iostreams/device/back_inserter.hpp>

#include "read_back.hpp"
#include "support.hpp"

#include <string>
#include <vector>

using namespace fitstream_test;

BOOST_AUTO_TEST_CASE(builder_from_files_and_memory_to_a_path_and_a_device) {
    temp_dir dir;
    const auto board = compile_dts(data_dir / "unit" / "board.dts", dir / "board.dtb");
    const auto other = read_file(compile_dts(data_dir / "unit" / "board-no-model.dts", dir / "other.dtb"));
    const std::string kernel = kernel_like_payload(300 * 1024, 5);
    const std::string firmware(4096, '\x5a');
    const auto overlay = compile_dts(data_dir / "boards" / "acme-rk3399-sbc-spi-flash.dtso", dir / "spi.dtbo");

    fitstream::fit_builder fit("Built");
    fit.arch("arm64").timestamp(1234);
    fit.hash_every_image<fitstream::hash::sha256>();
    fit.add_kernel<fitstream::codec::gzip>(fitstream::source::memory_view(kernel.data(), kernel.size(), "kernel"));
    fit.add_ramdisk(fitstream::source::memory(std::vector<char>(1000, 'r'), "initrd"));
    const auto first = fit.add_fdt<fitstream::codec::lz4>(fitstream::source::file(board.string()));
    const auto second = fit.add_fdt(fitstream::source::memory_view(other.data(), other.size(), "mem/other.dtb"));
    const auto ov = fit.add_overlay(fitstream::source::file(overlay.string()));
    fit.add_loadable<fitstream::codec::zstd>("tee", "tee", fitstream::source::memory_view(firmware.data(),
                                                                                         firmware.size(), "tee.bin"))
        .load = 0x60000000;
    fit.add_configuration("with-spi", "fdt-1", {ov});
    fit.hash_every_image<fitstream::hash::crc32>();
    BOOST_TEST(first == "conf-1");
    BOOST_TEST(second == "conf-2");
    BOOST_TEST(ov == "fdt-3");

    fitstream::write_options options;
    options.layout.layout = fitstream::data_layout::external;
    const auto path = dir / "built.fit";
    fit.write(path.string(), options);

    std::string bytes;
    boost::iostreams::back_insert_device<std::string> device(bytes);
    fitstream::iostreams_sink<decltype(device)> out(device, "memory");
    fit.write(out, options);
    BOOST_TEST(bytes == read_file(path), "the device got other bytes than the file");

    const fitstream::reader r(path.string());
    BOOST_TEST(r.verify().empty());
    BOOST_TEST(r.timestamp().value_or(0) == 1234u);
    BOOST_TEST(r.default_configuration() == "conf-1");
    BOOST_TEST(decoded(r, "kernel") == kernel);
    BOOST_TEST(decoded(r, "fdt-1") == read_file(board));
    BOOST_TEST(decoded(r, "fdt-2") == other);
    BOOST_TEST(decoded(r, "tee") == firmware);
    BOOST_TEST(r.find_image("fdt-1")->compression == "lz4");
    BOOST_TEST(r.find_image("tee")->load.value_or(0) == 0x60000000u);
    for (const auto& img : r.images()) BOOST_TEST(img.hashes.size() == 2u, img.name);  // sha256 and crc32 on all

    const auto& confs = r.configurations();
    BOOST_TEST_REQUIRE(confs.size() == 3u);
    BOOST_TEST(confs[0].compatible == fitstream::inspect_dtb_file(board.string()).compatible);
    BOOST_TEST(confs[1].description == "other.dtb");  // no model: the file name
    BOOST_TEST((confs[2].fdt == std::vector<std::string>{"fdt-1", "fdt-3"}));
    for (const auto& c : confs) {
        BOOST_TEST(c.kernel == "kernel");
        BOOST_TEST(c.ramdisk == "ramdisk");
        BOOST_TEST((c.loadables == std::vector<std::string>{"tee"}));
    }

    const auto listing = run({"dumpimage", "-l", path.string()});
    BOOST_TEST(listing.exit_code == 0);
    for (const char* words : {"Image 5 (tee)", "Configuration 2 (with-spi)", "lz4 compressed"})
        BOOST_TEST(listing.out.find(words) != std::string::npos, words);
}

BOOST_AUTO_TEST_CASE(builder_refuses_an_invalid_dtb_by_name) {
    fitstream::fit_builder fit("Bad");
    const std::string junk(100, 'j');
    BOOST_CHECK_EXCEPTION(fit.add_fdt(fitstream::source::memory_view(junk.data(), junk.size(), "junk.dtb")),
                          fitstream::error, [](const fitstream::error& e) {
                              return e.subject() == "junk.dtb" && e.code() == fitstream::errc::invalid_input;
                          });
}

// The README's pattern: keep the reference add_kernel() returns, add more,
// then set the load address. With references into a vector that grew, this
// wrote to freed memory (ASan: heap-use-after-free) and the tree kept 0.
BOOST_AUTO_TEST_CASE(references_the_builder_returns_survive_later_additions) {
    temp_dir dir;
    const auto board = read_file(compile_dts(data_dir / "unit" / "board.dts", dir / "board.dtb"));
    const std::string kernel(4096, 'k');
    const std::string firmware(512, 'f');

    fitstream::fit_builder fit("Handles");
    fit.arch("arm64");
    fitstream::image& k = fit.add_kernel(fitstream::source::memory_view(kernel.data(), kernel.size(), "Image"));
    fitstream::image& tee =
        fit.add_loadable("tee", "tee", fitstream::source::memory_view(firmware.data(), firmware.size(), "tee.bin"));
    fitstream::configuration& custom = fit.add_configuration("custom", "fdt-1");
    constexpr int boards = 300;  // many times any initial capacity: the containers grow repeatedly
    for (int i = 0; i < boards; ++i)
        fit.add_fdt(fitstream::source::memory_view(board.data(), board.size(), "b" + std::to_string(i) + ".dtb"));
    fitstream::fit_builder moved = std::move(fit);  // and the references survive a move of the builder
    k.type = "kernel";
    k.load = 0x40200000;
    k.entry = 0x40200000;
    tee.load = 0x60000000;
    custom.description = "set after 300 additions";

    const fitstream::tree t = moved.build();
    BOOST_TEST_REQUIRE(t.images.size() == static_cast<std::size_t>(boards + 2));
    BOOST_TEST(t.images[0].name == "kernel");
    BOOST_TEST(t.images[0].type == "kernel");
    BOOST_TEST(t.images[0].load.value_or(0) == 0x40200000u);
    BOOST_TEST(t.images[0].entry.value_or(0) == 0x40200000u);
    BOOST_TEST(t.images[1].name == "tee");
    BOOST_TEST(t.images[1].load.value_or(0) == 0x60000000u);
    BOOST_TEST_REQUIRE(t.configurations.size() == static_cast<std::size_t>(boards + 1));
    BOOST_TEST(t.configurations[0].name == "custom");
    BOOST_TEST(t.configurations[0].description == "set after 300 additions");
    BOOST_TEST(t.configurations[boards].name == "conf-" + std::to_string(boards + 1));
}
