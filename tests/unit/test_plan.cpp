// SPDX-License-Identifier: MIT
// fit_plan (<fitstream/plan.hpp>) and what writes it: the streaming FDT
// emitter against libfdt's sequential writer, the streamed writer against
// the held-structure one, a plan past the record log's spill point, codec
// overrides, and plan_kernel_fit() against make_kernel_fit(). Inputs are
// made at test time.
#define BOOST_TEST_MODULE fitstream plan
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using fitstream_test::compile_dts;
using fitstream_test::data_dir;
using fitstream_test::has;
using fitstream_test::read_file;
using fitstream_test::temp_dir;
using fitstream_test::thrown_by;
using fitstream_test::write_file;
using strings = std::vector<std::string>;

/// One call sequence for fdt_builder and fdt_stream: `between` runs at a
/// few points (the stream's bytes are taken there); returns the
/// placeholders' positions.
template <class Fdt, class Between>
std::vector<std::uint64_t> fdt_calls(Fdt& fdt, Between&& between) {
    std::vector<std::uint64_t> at;
    const char raw[3] = {'\x01', '\0', '\x7f'};
    fdt.begin_node("");
    fdt.property_string("description", "streamed");
    fdt.property_u32("timestamp", 1700000000u);
    fdt.property_u32("#address-cells", 2);
    fdt.begin_node("images");
    fdt.begin_node("kernel");
    fdt.property_string("hashed-value", "long name first");
    fdt.property_string("value", "its suffix after");  // found inside "hashed-value"
    fdt.property_string("size", "short name first");
    fdt.property_string("data-size", "then a longer one ending in it");
    fdt.property_string("empty", "");
    fdt.property_strings("compatible", {"acme,board", "", "soc"});
    fdt.property_strings("no-strings", {});
    between();
    fdt.begin_node("hash-1");
    fdt.property_cells("load", 0x123456789abcdefull, 2);
    fdt.property_cells("entry", 0x80000u, 1);
    at.push_back(fdt.placeholder("data", 0));
    at.push_back(fdt.placeholder("value", 4));
    at.push_back(fdt.placeholder("hashed-value", 32));
    fdt.property("raw", raw, sizeof raw);
    fdt.end_node();
    between();
    fdt.end_node();
    fdt.begin_node("fdt-1");
    // The table has grown since: names repeated, and new names that contain
    // or end the old ones.
    fdt.property_string("type", "flat_dt");
    fdt.property_string("hashed-value", "again");
    fdt.property_string("value", "again");
    fdt.property_string("ue", "a tail of value");
    fdt.property_string("data-size-max", "holds data-size");
    fdt.property_string("size", "again");
    fdt.property_string("e", "");
    at.push_back(fdt.placeholder("algo", 32));
    fdt.end_node();
    fdt.end_node();
    between();
    fdt.begin_node("configurations");
    fdt.property_string("default", "conf-1");
    fdt.begin_node("conf-1");
    fdt.property_strings("fdt", {"fdt-1", "fdt-2", "fdt-3"});
    fdt.property_string("kernel", "kernel");
    fdt.end_node();
    fdt.end_node();
    fdt.end_node();
    return at;
}

std::string hex_dump_diff(const std::string& got, const std::string& want) {
    std::size_t i = 0;
    while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
    return "sizes " + std::to_string(got.size()) + " vs " + std::to_string(want.size()) + ", first difference at " +
           std::to_string(i);
}

/// Inputs for the writer comparisons: a kernel, a ramdisk, a DTB, an
/// overlay, a loadable, in files; one memory image.
struct inputs {
    temp_dir dir;
    std::string kernel = (dir / "Image").string();
    std::string ramdisk = (dir / "initrd").string();
    std::string firmware = (dir / "firmware.bin").string();
    std::string sbc = compile_dts(data_dir / "boards/acme-rk3399-sbc.dts", dir / "acme-rk3399-sbc.dtb").string();
    std::string imx =
        compile_dts(data_dir / "boards/globex-imx8mp-som-devkit.dts", dir / "globex-imx8mp-som-devkit.dtb").string();
    std::string overlay =
        compile_dts(data_dir / "boards/acme-rk3399-sbc-spi-flash.dtso", dir / "acme-rk3399-sbc-spi-flash.dtbo")
            .string();

    inputs() {
        write_file(kernel, fitstream_test::kernel_like_payload(200000));
        write_file(ramdisk, fitstream_test::kernel_like_payload(70001, 2));
        write_file(firmware, fitstream_test::random_bytes(3001, 3));
    }
};

fitstream::tree sample_tree(const inputs& in) {
    using namespace fitstream;
    tree fit;
    fit.description = "plan vs structure";
    fit.timestamp = 1700000000u;
    fit.address_cells = 2;
    image kernel("kernel", "kernel", source::file(in.kernel));
    kernel.arch = "arm64";
    kernel.os = "linux";
    kernel.load = 0x1'4000'0000ull;
    kernel.entry = 0x1'4000'0000ull;
    kernel.compress_with<codec::gzip>().add_hash<hash::sha256>().add_hash<hash::crc32>();
    fit.images.push_back(kernel);
    image ramdisk("ramdisk", "ramdisk", source::file(in.ramdisk));
    ramdisk.arch = "arm64";
    ramdisk.os = "linux";
    ramdisk.compress_with<codec::lz4>().add_hash<hash::crc32>();
    fit.images.push_back(ramdisk);
    image fdt1("fdt-1", "flat_dt", source::file(in.sbc));
    fdt1.description = "Acme";
    fdt1.add_hash<hash::sha256>();
    fit.images.push_back(fdt1);
    image fdt2("fdt-2", "flat_dt", source::file(in.imx));
    fdt2.compress_with<codec::gzip>().add_hash<hash::sha256>().add_hash<hash::crc32>();
    fit.images.push_back(fdt2);
    image ov("fdt-3", "flat_dt", source::file(in.overlay));
    ov.add_hash<hash::crc32>();
    fit.images.push_back(ov);
    image fw("firmware", "firmware", source::file_range(in.firmware, 7, 2000));
    fw.load = 0x4000'0000ull;
    fw.compress_with<codec::lz4>();
    fit.images.push_back(fw);
    const std::string blob = "memory payload, stored as is";
    image mem("blob", "firmware", source::memory(std::vector<char>(blob.begin(), blob.end()), "blob"));
    mem.add_hash<hash::sha256>();
    fit.images.push_back(mem);

    configuration c1;
    c1.name = "conf-1";
    c1.description = "Acme with SPI flash";
    c1.compatible = {"acme,rk3399-sbc", "rockchip,rk3399"};
    c1.kernel = "kernel";
    c1.fdt = {"fdt-1", "fdt-3"};
    c1.ramdisk = "ramdisk";
    c1.loadables = {"firmware", "blob"};
    fit.configurations.push_back(c1);
    configuration c2;
    c2.name = "conf-2";
    c2.description = "no compatible";
    c2.kernel = "kernel";
    c2.fdt = {"fdt-2", "fdt-3", "fdt-1"};
    fit.configurations.push_back(c2);
    configuration c3;
    c3.name = "conf-3";
    c3.description = "kernel only";
    c3.kernel = "kernel";
    c3.loadables = {"firmware"};
    fit.configurations.push_back(c3);
    fit.default_configuration = "conf-2";
    return fit;
}

/// What the held-structure writer makes of `fit`.
std::string structured_bytes(const fitstream::tree& fit, const fs::path& path, const fitstream::write_options& o) {
    fitstream::file_sink out(path.string());
    fitstream::detail::write_structured(fit, fitstream::detail::build_structure(fit, o.layout), out, o);
    return read_file(path);
}

std::string plan_bytes(const fitstream::fit_plan& plan, const fs::path& path, const fitstream::write_options& o) {
    fitstream::write_fit(plan, path.string(), o);
    return read_file(path);
}

}  // namespace

BOOST_AUTO_TEST_CASE(fdt_stream_makes_the_bytes_libfdt_makes) {
    fitstream::detail::fdt_builder builder(64);  // small: it grows on the way
    const auto builder_at = fdt_calls(builder, [] {});
    const std::vector<char> blob = std::move(builder).finish();
    const std::string want(blob.begin(), blob.end());

    fitstream::detail::fdt_stream measure;
    const auto measured_at = fdt_calls(measure, [] {});
    measure.end();

    fitstream::detail::fdt_stream emit(measure.strings());
    std::string structure;
    BOOST_TEST(emit.pending_position() == fitstream::detail::fdt_stream::struct_begin());
    const auto take = [&] {
        BOOST_TEST(emit.pending_position() == fitstream::detail::fdt_stream::struct_begin() + structure.size());
        structure += emit.pending();
        emit.take();
    };
    const auto emitted_at = fdt_calls(emit, take);
    emit.end();
    take();
    BOOST_TEST(emit.struct_size() == measure.struct_size());
    BOOST_TEST(emit.struct_size() == structure.size());
    BOOST_TEST(emit.strings() == measure.strings());

    const std::vector<char> header = fitstream::detail::fdt_stream::header(structure.size(), emit.strings().size());
    const std::string got = std::string(header.begin(), header.end()) + structure + emit.strings();
    BOOST_TEST(got.size() == want.size());
    BOOST_TEST((got == want), hex_dump_diff(got, want));
    BOOST_TEST(builder_at == emitted_at);
    BOOST_TEST(measured_at == emitted_at);
}

BOOST_AUTO_TEST_CASE(fdt_stream_patches_only_pending_bytes) {
    fitstream::detail::fdt_stream measure;
    measure.begin_node("");
    measure.placeholder("value", 4);
    measure.end_node();
    measure.end();
    fitstream::detail::fdt_stream emit(measure.strings());
    emit.begin_node("");
    const std::uint64_t at = emit.placeholder("value", 4);
    const char v[4] = {'a', 'b', 'c', 'd'};
    emit.patch(at, v, 4);
    BOOST_TEST(emit.pending().substr(at - emit.pending_position(), 4) == "abcd");
    emit.take();
    BOOST_CHECK_THROW(emit.patch(at, v, 4), std::logic_error);
}

BOOST_AUTO_TEST_CASE(a_plan_is_written_as_the_held_structure_writer_writes_its_tree) {
    inputs in;
    temp_dir out;
    const fitstream::tree fit = sample_tree(in);
    const fitstream::fit_plan plan(fit);

    struct layout_case {
        const char* what;
        fitstream::layout_options layout;
    };
    std::vector<layout_case> layouts;
    layouts.push_back({"embedded", {}});
    fitstream::layout_options external;
    external.layout = fitstream::data_layout::external;
    layouts.push_back({"external", external});
    fitstream::layout_options aligned = external;
    aligned.align = 0x200;
    layouts.push_back({"external -B 0x200", aligned});
    fitstream::layout_options positioned = external;
    positioned.position = 0x10000;
    layouts.push_back({"external -p 0x10000", positioned});

    for (const auto& l : layouts) {
        for (const unsigned threads : {1u, 3u}) {
            BOOST_TEST_CONTEXT(l.what << ", -j " << threads) {
                fitstream::write_options o;
                o.layout = l.layout;
                o.threads = threads;
                const std::string want = structured_bytes(fit, out / "structured.fit", o);
                const std::string got = plan_bytes(plan, out / "plan.fit", o);
                BOOST_TEST(!want.empty());
                BOOST_TEST((got == want), hex_dump_diff(got, want));
                // The tree overload goes through a plan too: the same bytes.
                fitstream::write_fit(fit, (out / "tree.fit").string(), o);
                const std::string via_tree = read_file(out / "tree.fit");
                BOOST_TEST((via_tree == want), hex_dump_diff(via_tree, want));
            }
        }
    }
    // The file read back has what the tree had.
    fitstream::reader r((out / "plan.fit").string());
    BOOST_TEST(r.default_configuration() == "conf-2");
}

BOOST_AUTO_TEST_CASE(a_plan_past_the_spill_point_reads_back_what_was_added) {
    using namespace fitstream;
    constexpr std::size_t count = 40000;
    const std::string padding(40, 'd');
    const auto image_number = [](std::size_t i) {
        image img("fdt-" + std::to_string(i + 1), "flat_dt", source::file("/nonexistent/boards/board-" +
                                                                             std::to_string(i) + ".dtb"));
        img.description = "Board number " + std::to_string(i) + " with a long description to fill the log";
        if (i % 3 == 0) img.compress_with<codec::gzip>();
        if (i % 2 == 0) img.add_hash<hash::sha256>();
        if (i % 5 == 0) img.load = 0x80000000u + i;
        return img;
    };
    const auto configuration_number = [&](std::size_t i) {
        configuration conf;
        conf.name = "conf-" + std::to_string(i + 1);
        conf.description = "Configuration " + std::to_string(i) + " " + padding;
        if (i % 4 != 0) conf.compatible = {"vendor,board-" + std::to_string(i), "vendor,soc"};
        conf.fdt = {"fdt-" + std::to_string(i + 1)};
        if (i % 7 == 0) conf.fdt.push_back("fdt-" + std::to_string((i + 1) % count + 1));
        return conf;
    };

    fit_plan plan;
    plan.description = "many";
    // A configuration naming an image added later is accepted.
    configuration early;
    early.name = "early";
    early.fdt = {"fdt-" + std::to_string(count)};
    BOOST_TEST(plan.add(early) == 0u);
    std::uintmax_t record_bytes = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const image img = image_number(i);
        record_bytes += img.description.size() + img.data.name().size() + img.type.size();
        BOOST_TEST_REQUIRE(plan.add(img) == i);
    }
    for (std::size_t i = 0; i < count; ++i) {
        const configuration conf = configuration_number(i);
        record_bytes += conf.description.size() + 40;
        BOOST_TEST_REQUIRE(plan.add(conf) == i + 1);
    }
    BOOST_TEST(record_bytes > (2u << 20));
    BOOST_TEST(plan.image_count() == count);
    BOOST_TEST(plan.configuration_count() == count + 1);

    const auto same_image = [&](std::size_t i) {
        BOOST_TEST_CONTEXT("image " << i) {
            const image want = image_number(i);
            const image got = plan.image_at(i);
            BOOST_TEST(got.name == want.name);
            BOOST_TEST(got.type == want.type);
            BOOST_TEST(got.description == want.description);
            BOOST_TEST(got.data.is_file());
            BOOST_TEST(got.data.name() == want.data.name());
            BOOST_TEST(got.compression() == want.compression());
            BOOST_TEST(got.hashes().size() == want.hashes().size());
            BOOST_TEST(got.load.has_value() == want.load.has_value());
            if (got.load && want.load) BOOST_TEST(*got.load == *want.load);
            BOOST_TEST(!got.entry.has_value());
        }
    };
    const auto same_configuration = [&](std::size_t i) {  // i: the number, index i + 1
        BOOST_TEST_CONTEXT("configuration " << i) {
            const configuration want = configuration_number(i);
            const configuration got = plan.configuration_at(i + 1);
            BOOST_TEST(got.name == want.name);
            BOOST_TEST(got.description == want.description);
            BOOST_TEST(got.compatible == want.compatible);
            BOOST_TEST(got.fdt == want.fdt);
            BOOST_TEST(got.kernel.empty());
        }
    };
    for (const std::size_t i : {std::size_t(0), std::size_t(1), std::size_t(31), std::size_t(32), std::size_t(33),
                                std::size_t(63), std::size_t(64), std::size_t(65), std::size_t(12345),
                                std::size_t(count / 2), count - 33, count - 32, count - 31, count - 2, count - 1}) {
        same_image(i);
        same_configuration(i);
    }
    BOOST_TEST(plan.configuration_at(0).name == "early");
    BOOST_TEST(plan.configuration_at(0).fdt == strings{"fdt-" + std::to_string(count)});
    BOOST_TEST(plan.find_image("fdt-40000") == count - 1);
    BOOST_TEST(plan.find_configuration("conf-1") == 1u);
    BOOST_TEST(plan.find_image("fdt-40001") == fit_plan::npos);

    // Cursors read every record in order, from the start and from the middle.
    std::size_t n = 0;
    bool in_order = true;
    for (fit_plan::image_cursor c(plan); !c.done(); ++n) {
        const image img = c.next();
        in_order = in_order && img.name == "fdt-" + std::to_string(n + 1) &&
                   img.data.name() == "/nonexistent/boards/board-" + std::to_string(n) + ".dtb";
    }
    BOOST_TEST(in_order);
    BOOST_TEST(n == count);
    fit_plan::configuration_cursor from_middle(plan, 20001);
    BOOST_TEST(from_middle.index() == 20001u);
    BOOST_TEST(from_middle.next().name == "conf-20001");
    n = 0;
    for (fit_plan::configuration_cursor c(plan); !c.done(); ++n) c.next();
    BOOST_TEST(n == count + 1);

    // Duplicates are refused as the tree refuses them.
    const error dup_image = thrown_by<fitstream::error>([&] { plan.add(image_number(123)); });
    BOOST_TEST(has(dup_image.what(), "duplicate image name"));
    BOOST_TEST(has(dup_image.what(), "/images/fdt-124"));
    const error dup_conf = thrown_by<fitstream::error>([&] { plan.add(configuration_number(5)); });
    BOOST_TEST(has(dup_conf.what(), "duplicate configuration name"));
    BOOST_TEST(plan.image_count() == count);
    BOOST_TEST(plan.configuration_count() == count + 1);

    // to_tree(): the same records, and a tree that validates.
    const tree fit = plan.to_tree();
    BOOST_TEST(fit.images.size() == count);
    BOOST_TEST(fit.configurations.size() == count + 1);
    BOOST_CHECK_NO_THROW(fit.validate());
    BOOST_TEST(fit.images[32].description == image_number(32).description);
    BOOST_TEST(fit.configurations[count].name == "conf-40000");
    const fit_plan again(fit);
    BOOST_TEST(again.image_count() == count);
    BOOST_TEST(again.configuration_at(33).description == plan.configuration_at(33).description);
    BOOST_TEST(again.image_at(count - 1).description == plan.image_at(count - 1).description);
}

BOOST_AUTO_TEST_CASE(a_missing_image_fails_the_write_and_nothing_is_committed) {
    using namespace fitstream;
    temp_dir dir;
    fit_plan plan;
    configuration before;
    before.name = "conf-1";
    before.fdt = {"fdt-1"};  // added below
    plan.add(before);
    const std::string bytes = "abcd";
    plan.add(image("fdt-1", "flat_dt", source::memory(std::vector<char>(bytes.begin(), bytes.end()), "fdt-1")));
    configuration broken;
    broken.name = "conf-2";
    broken.fdt = {"fdt-1", "fdt-9"};
    plan.add(broken);  // accepted: fdt-9 might come later
    const fs::path path = dir / "out.fit";
    const error e = thrown_by<fitstream::error>([&] { write_fit(plan, path.string()); });
    BOOST_TEST(has(e.what(), "/configurations/conf-2"), e.what());
    BOOST_TEST(has(e.what(), "is not an image"), e.what());
    BOOST_TEST(has(e.what(), "fdt-9"), e.what());
    BOOST_TEST(!fs::exists(path));
    BOOST_TEST(fs::is_empty(dir.path()));
    const error t = thrown_by<fitstream::error>([&] { plan.to_tree(); });
    BOOST_TEST(has(t.what(), "/configurations/conf-2"));
}

BOOST_AUTO_TEST_CASE(compress_image_with_changes_only_that_image) {
    using namespace fitstream;
    fit_plan plan;
    std::vector<std::string> payloads;
    for (int i = 0; i < 4; ++i) {
        payloads.push_back(fitstream_test::kernel_like_payload(5000 + static_cast<std::size_t>(i), i + 1));
        image img("img-" + std::to_string(i), "firmware",
                  source::memory(std::vector<char>(payloads.back().begin(), payloads.back().end()),
                                 "mem-" + std::to_string(i)));
        img.compress_with<codec::gzip>().add_hash<hash::sha256>();
        if (i == 2) img.add_hash<hash::crc32>();
        plan.add(img);
    }
    configuration conf;
    conf.name = "conf-1";
    conf.loadables = {"img-0", "img-1", "img-2", "img-3"};
    plan.add(conf);

    plan.compress_image_with<codec::none>(2);
    for (std::size_t i = 0; i < 4; ++i) {
        BOOST_TEST_CONTEXT("image " << i) {
            const image img = plan.image_at(i);
            BOOST_TEST(img.compression() == (i == 2 ? "none" : "gzip"));
            BOOST_TEST(img.hashes().size() == (i == 2 ? 2u : 1u));
            BOOST_TEST(!img.data.is_file());
            BOOST_TEST(img.data.name() == "mem-" + std::to_string(i));
            BOOST_TEST(std::string(img.data.data(), img.data.memory_size()) == payloads[i]);
        }
    }
    // And through a tree and back.
    const tree fit = plan.to_tree();
    BOOST_TEST(fit.images[2].compression() == "none");
    BOOST_TEST(fit.images[1].compression() == "gzip");
    BOOST_TEST(std::string(fit.images[3].data.data(), fit.images[3].data.memory_size()) == payloads[3]);
    const fit_plan again(fit);
    BOOST_TEST(again.image_at(2).compression() == "none");
    BOOST_TEST(std::string(again.image_at(0).data.data(), again.image_at(0).data.memory_size()) == payloads[0]);

    // Written: the image is stored as is, the others compressed.
    temp_dir dir;
    write_options o;
    o.threads = 2;
    const std::string got = plan_bytes(plan, dir / "plan.fit", o);
    const std::string want = structured_bytes(fit, dir / "tree.fit", o);
    BOOST_TEST((got == want), hex_dump_diff(got, want));
    BOOST_TEST(has(got, payloads[2]));
    BOOST_TEST(!has(got, payloads[1]));
}

BOOST_AUTO_TEST_CASE(plan_kernel_fit_writes_what_make_kernel_fit_writes) {
    using namespace fitstream;
    inputs in;
    const fs::path other = in.dir / "other";
    fs::create_directories(other);
    const std::string twin = (other / "globex-imx8mp-som-devkit.dtb").string();
    fs::copy_file(in.imx, twin);
    const strings dtbs = {in.sbc, in.imx, in.sbc, twin};

    kernel_fit_options options;
    options.name = "Linux";
    options.arch = "arm64";
    options.timestamp = 0;

    kernel_fit_report tree_report;
    const tree fit = make_kernel_fit(options, in.kernel, in.ramdisk, dtbs, {}, &tree_report);

    kernel_fit_report plan_report;
    std::size_t next = 0, calls = 0;
    const fit_plan plan = plan_kernel_fit(
        options, in.kernel, in.ramdisk,
        [&](std::string& path) {
            ++calls;
            if (next == dtbs.size()) return false;
            path = dtbs[next++];
            return true;
        },
        {}, &plan_report);
    BOOST_TEST(calls == dtbs.size() + 1);

    BOOST_TEST(plan_report.images_deduplicated == 1u);  // the twin, not the file listed again
    BOOST_TEST(plan_report.deduplicated_files == strings{twin});
    BOOST_TEST(tree_report.images_deduplicated == 1u);
    BOOST_TEST(tree_report.deduplicated_files == strings{twin});
    BOOST_TEST(plan.image_count() == fit.images.size());
    BOOST_TEST(plan.configuration_count() == fit.configurations.size());

    temp_dir out;
    for (const unsigned threads : {1u, 3u}) {
        BOOST_TEST_CONTEXT("-j " << threads) {
            write_options o;
            o.threads = threads;
            write_fit(fit, (out / "tree.fit").string(), o);
            const std::string want = read_file(out / "tree.fit");
            const std::string got = plan_bytes(plan, out / "plan.fit", o);
            BOOST_TEST((got == want), hex_dump_diff(got, want));
            const std::string held = structured_bytes(fit, out / "held.fit", o);
            BOOST_TEST((held == want), hex_dump_diff(held, want));
        }
    }
}

BOOST_AUTO_TEST_CASE(the_root_is_checked_when_the_plan_is_written) {
    using namespace fitstream;
    temp_dir dir;
    const fs::path path = dir / "out.fit";
    const std::string bytes = "abcd";
    fit_plan plan;
    image img("kernel", "kernel", source::memory(std::vector<char>(bytes.begin(), bytes.end()), "kernel"));
    img.load = 0x1'0000'0000ull;  // needs two address cells
    plan.add(img);
    configuration conf;
    conf.name = "conf-1";
    conf.kernel = "kernel";
    plan.add(conf);
    BOOST_TEST(plan.wide_address_image() == "/images/kernel");

    const error wide = thrown_by<fitstream::error>([&] { write_fit(plan, path.string()); });
    BOOST_TEST(has(wide.what(), "/images/kernel"), wide.what());
    BOOST_TEST(has(wide.what(), "two address cells"), wide.what());
    BOOST_TEST(!fs::exists(path));

    plan.address_cells = 2;
    plan.default_configuration = "conf-9";
    const error no_default = thrown_by<fitstream::error>([&] { write_fit(plan, path.string()); });
    BOOST_TEST(has(no_default.what(), "'conf-9' is not a configuration"), no_default.what());
    BOOST_TEST(!fs::exists(path));

    plan.default_configuration = "conf-1";
    write_fit(plan, path.string());
    BOOST_TEST(fs::exists(path));
    reader r(path.string());
    BOOST_TEST(r.default_configuration() == "conf-1");
}

BOOST_AUTO_TEST_CASE(an_encrypted_image_before_plain_ones_is_written_as_the_tree_writer_writes_it) {
    // Each image's placeholders are its own: an encrypted image's
    // data-size-unciphered slot must not carry over to the plain image
    // after it (which then failed with "patching bytes already written").
    using namespace fitstream;
    temp_dir dir;
    const std::string key(16, '\x5a'), iv(16, '\x3c');
    {
        std::ofstream(dir / "aes-key.bin", std::ios::binary) << key;
        std::ofstream(dir / "aes-iv.bin", std::ios::binary) << iv;
    }
    const cipher_spec spec{"aes128", "aes-key", "aes-iv", dir.path().string()};
    tree fit;
    fit.description = "encrypted then plain";
    for (int i = 0; i < 3; ++i) {
        const std::string bytes = fitstream_test::kernel_like_payload(3000 + static_cast<std::size_t>(i) * 7, i + 1);
        image& img = fit.images.emplace_back("img-" + std::to_string(i), "firmware",
                                             source::memory(std::vector<char>(bytes.begin(), bytes.end()),
                                                            "mem-" + std::to_string(i)));
        img.add_hash<hash::sha256>();
        if (i == 0) img.encrypt_with(spec);
    }
    configuration conf;
    conf.name = "conf-1";
    conf.loadables = {"img-0", "img-1", "img-2"};
    fit.configurations.push_back(conf);
    for (const auto layout : {data_layout::embedded, data_layout::external}) {
        BOOST_TEST_CONTEXT((layout == data_layout::embedded ? "embedded" : "external")) {
            write_options o;
            o.layout.layout = layout;
            o.threads = 2;
            const std::string held = structured_bytes(fit, dir / "held.fit", o);
            const std::string streamed = plan_bytes(fit_plan(fit), dir / "streamed.fit", o);
            BOOST_TEST(streamed.size() == held.size());
            BOOST_TEST((streamed == held), hex_dump_diff(streamed, held));
            fitstream::reader r((dir / "streamed.fit").string());
            BOOST_TEST(r.images().size() == 3u);
        }
    }
}

BOOST_AUTO_TEST_CASE(many_small_segmented_images_do_not_hold_a_file_open_each) {
    // Encoded segments of small images wait for the writing thread; each
    // used to keep its file open until written, and with tens of thousands
    // of tiny DTBs compressed with gzip the process ran out of descriptors.
    // Here the limit is made small instead.
    using namespace fitstream;
    temp_dir dir;
    tree fit;
    fit.description = "many small gzip images";
    for (int i = 0; i < 400; ++i) {
        const std::string path = (dir / ("blob-" + std::to_string(i) + ".bin")).string();
        std::ofstream(path, std::ios::binary) << fitstream_test::kernel_like_payload(300, i + 1);
        fit.images.emplace_back("img-" + std::to_string(i), "firmware", source::file(path))
            .compress_with<codec::gzip>()
            .add_hash<hash::sha256>();
    }
    struct rlimit saved {};
    BOOST_REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved) == 0);
    struct rlimit low = saved;
    low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 48);
    BOOST_REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::string failure;
    for (const unsigned threads : {2u, 4u}) {
        write_options o;
        o.threads = threads;
        o.layout.layout = data_layout::external;
        try {
            write_fit(fit, (dir / "many.fit").string(), o);
        } catch (const std::exception& e) {
            failure = e.what();
        }
    }
    ::setrlimit(RLIMIT_NOFILE, &saved);
    BOOST_TEST(failure.empty(), failure);
    fitstream::reader r((dir / "many.fit").string());
    BOOST_TEST(r.images().size() == 400u);
}
