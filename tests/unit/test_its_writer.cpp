// SPDX-License-Identifier: MIT
// The image tree source back end: its::check_tree() and the payload checks
// (<fitstream/its/checks.hpp>), and its::write_its() (<fitstream/its/writer.hpp>):
// sources compiled by the real dtc, FITs read back with fitstream::reader
// (every hash recomputed) and libfdt, payloads streamed from file ranges.
// Conformance with mkimage is tests/system/test_its_conformance.cpp.
#define BOOST_TEST_MODULE fitstream its writer
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <libfdt.h>
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using fitstream_test::random_bytes;
using fitstream_test::read_file;
using fitstream_test::temp_dir;
using fitstream_test::write_file;

// Compiles `text` as dir/image.its.
fitstream::its::compiled_source compile(const temp_dir& dir, const std::string& text) {
    write_file(dir.path() / "image.its", text);
    return fitstream::its::compile_its((dir.path() / "image.its").string());
}

std::string property(const std::string& fit, const std::string& node, const char* name) {
    const int at = fdt_path_offset(fit.data(), node.c_str());
    BOOST_REQUIRE_MESSAGE(at >= 0, node);
    int len = 0;
    const auto* p = static_cast<const char*>(fdt_getprop(fit.data(), at, name, &len));
    return p ? std::string(p, static_cast<std::size_t>(len)) : std::string("<absent>");
}

std::vector<std::string> property_names(const std::string& fit, const std::string& node) {
    std::vector<std::string> out;
    int prop;
    fdt_for_each_property_offset(prop, fit.data(), fdt_path_offset(fit.data(), node.c_str())) {
        const char* name = nullptr;
        fdt_getprop_by_offset(fit.data(), prop, &name, nullptr);
        out.emplace_back(name);
    }
    return out;
}

std::string write(const fitstream::its::compiled_source& src, fitstream::data_layout layout,
                  const fitstream::its::build_options& options = {}, unsigned threads = 2) {
    fitstream::write_options w;
    w.layout.layout = layout;
    w.threads = threads;
    w.chunk_size = 4096;  // several chunks per payload
    const fs::path out = fs::path(src.path).parent_path() / "out.fit";
    fitstream::file_sink sink(out.string());
    fitstream::its::write_its(src, sink, options, w);
    return read_file(out);
}

const std::string two_images = R"(/dts-v1/;
/ {
    description = "two";
    #address-cells = <1>;
    custom-root = <7>;
    images {
        kernel {
            description = "k";
            data = /incbin/("kernel.bin", 16, 40000);
            type = "kernel"; arch = "arm64"; os = "linux"; compression = "none";
            load = <0x80000>; entry = <0x80000>;
            vendor,extra = "kept";
            hash-1 { algo = "sha256"; };
            hash-2 { algo = "crc16-ccitt"; };
        };
        blob {
            description = "b";
            data = [01 02 03 04 05];
            type = "firmware"; compression = "none";
            hash { algo = "crc32"; };
        };
    };
    configurations {
        default = "conf-1";
        conf-1 { kernel = "kernel"; loadables = "blob"; };
    };
};
)";

}  // namespace

BOOST_AUTO_TEST_CASE(identify_payload_names_the_containers_u_boot_decodes) {
    using fitstream::its::identify_payload;
    const auto id = [](std::vector<std::uint8_t> b) { return identify_payload(b.data(), b.size()); };
    BOOST_TEST(id({0x1f, 0x8b, 0x08, 0}) == "gzip");
    BOOST_TEST(id({0xfd, '7', 'z', 'X', 'Z', 0x00, 0}) == "xz");
    BOOST_TEST(id({'B', 'Z', 'h', '9', 0x31}) == "bzip2");
    BOOST_TEST(id({0x04, 0x22, 0x4d, 0x18, 0x64}) == "lz4");
    BOOST_TEST(id({0x28, 0xb5, 0x2f, 0xfd, 0}) == "zstd");
    BOOST_TEST(id({0x78, 0x9c, 0x01}) == "zlib");
    BOOST_TEST(id({0x5d, 0x00, 0x00, 0x80, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0}) == "lzma");
    BOOST_TEST(id({0xd0, 0x0d, 0xfe, 0xed, 0, 0}) == "fdt");
    BOOST_TEST(id({'p', 'l', 'a', 'i', 'n', ' ', 't', 'e', 'x', 't'}) == "");
    BOOST_TEST(fitstream::its::payload_matches("none", "gzip"));
    BOOST_TEST(!fitstream::its::payload_matches("lzma", "xz"));
    BOOST_TEST(fitstream::its::payload_is_compressed("xz"));
    BOOST_TEST(!fitstream::its::payload_is_compressed("fdt"));
}

BOOST_AUTO_TEST_CASE(every_property_is_kept_in_source_order_and_hashes_are_right) {
    temp_dir dir;
    const std::string kernel = random_bytes(50000, 3);
    write_file(dir.path() / "kernel.bin", kernel);
    const auto src = compile(dir, two_images);
    for (const auto layout : {fitstream::data_layout::embedded, fitstream::data_layout::external}) {
        for (const unsigned threads : {1u, 2u}) {
            fitstream::its::build_options options;
            options.timestamp = 1234;
            const std::string fit = write(src, layout, options, threads);
            BOOST_TEST(property(fit, "/", "custom-root").size() == 4u);
            BOOST_TEST(property(fit, "/images/kernel", "vendor,extra") == std::string("kept", 5));
            // mkimage's edits: new properties go first in their node.
            const std::vector<std::string> want_embedded{"description", "data", "type", "arch", "os",
                                                         "compression", "load", "entry", "vendor,extra"};
            std::vector<std::string> want = want_embedded;
            if (layout == fitstream::data_layout::external) {
                want.erase(want.begin() + 1);
                want.insert(want.begin(), {"data-size", "data-offset"});
            }
            BOOST_TEST(property_names(fit, "/images/kernel") == want, boost::test_tools::per_element());
            BOOST_TEST(property_names(fit, "/images/kernel/hash-2") == (std::vector<std::string>{"value", "algo"}),
                       boost::test_tools::per_element());
            BOOST_TEST(property_names(fit, "/").front() == "timestamp");
            BOOST_TEST(property(fit, "/images/kernel/hash-2", "value").size() == 2u);

            fitstream::reader r(fit.data(), fit.size(), "out.fit");
            for (const auto& p : r.verify()) BOOST_ERROR(p.subject + ": " + p.message);
            std::string stored;
            r.read_stored(*r.find_image("kernel"), [&](const char* d, std::size_t n) { stored.append(d, n); });
            BOOST_TEST(stored == kernel.substr(16, 40000));
            stored.clear();
            r.read_stored(*r.find_image("blob"), [&](const char* d, std::size_t n) { stored.append(d, n); });
            BOOST_TEST(stored == std::string("\x01\x02\x03\x04\x05", 5));
        }
    }
}

BOOST_AUTO_TEST_CASE(the_checks_name_the_node) {
    temp_dir dir;
    write_file(dir.path() / "kernel.bin", random_bytes(50000, 3));
    const auto fails = [&](const std::string& text, const std::string& part) {
        const auto src = compile(dir, text);
        try {
            write(src, fitstream::data_layout::external);
            BOOST_ERROR("no error for: " + part);
        } catch (const fitstream::error& e) {
            BOOST_TEST(std::string(e.what()).find(part) != std::string::npos, e.what() << " lacks " << part);
        }
        BOOST_TEST(!fs::exists(dir.path() / "out.fit"));
    };
    auto with = [&](const std::string& from, const std::string& to) {
        std::string s = two_images;
        const auto at = s.find(from);
        BOOST_REQUIRE(at != std::string::npos);
        return s.replace(at, from.size(), to);
    };
    fails(with("loadables = \"blob\"", "loadables = \"nope\""), "'nope'");
    fails(with("default = \"conf-1\"", "default = \"conf-9\""), "conf-9");
    fails(with("load = <0x80000>", "load = <0 0x80000>"), "/images/kernel");
    fails(with("blob {", "blob@1 {"), "'@'");
    fails(with("compression = \"none\";\n            load", "compression = \"gzip\";\n            load"),
          "plain data");
    fails(with("hash { algo = \"crc32\"; };", "hash { algo = \"crc64\"; };"), "crc64");
    fails(with("hash { algo = \"crc32\"; };", "hash { };"), "no algo");
}

BOOST_AUTO_TEST_CASE(compress_images_stores_the_container_u_boot_decodes) {
    temp_dir dir;
    const std::string kernel = fitstream_test::kernel_like_payload(200000, 5);
    write_file(dir.path() / "kernel.bin", kernel);
    std::string text = two_images;
    text.replace(text.find("compression = \"none\";\n            load"), 20, "compression = \"gzip\"");
    text.replace(text.find("\"kernel.bin\", 16, 40000"), 23, "\"kernel.bin\"");
    const auto src = compile(dir, text);
    fitstream::its::build_options options;
    options.compress_images = true;
    const std::string fit = write(src, fitstream::data_layout::embedded, options);
    fitstream::reader r(fit.data(), fit.size(), "out.fit");
    for (const auto& p : r.verify()) BOOST_ERROR(p.subject + ": " + p.message);
    std::string stored;
    r.read_stored(*r.find_image("kernel"), [&](const char* d, std::size_t n) { stored.append(d, n); });
    BOOST_TEST(stored.size() < kernel.size());
    // zlib's own gunzip gives the kernel back.
    std::string out(kernel.size() + 16, '\0');
    z_stream z{};
    BOOST_REQUIRE(inflateInit2(&z, 16 + MAX_WBITS) == Z_OK);
    z.next_in = reinterpret_cast<Bytef*>(stored.data());
    z.avail_in = static_cast<uInt>(stored.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    BOOST_TEST(inflate(&z, Z_FINISH) == Z_STREAM_END);
    out.resize(z.total_out);
    inflateEnd(&z);
    BOOST_TEST(out == kernel);

    options.compress_images = false;
    options.allow_compression_mismatch = true;
    const std::string as_is = write(src, fitstream::data_layout::embedded, options);
    fitstream::reader r2(as_is.data(), as_is.size(), "out.fit");
    stored.clear();
    r2.read_stored(*r2.find_image("kernel"), [&](const char* d, std::size_t n) { stored.append(d, n); });
    BOOST_TEST(stored == kernel);
}

BOOST_AUTO_TEST_CASE(a_range_past_the_file_end_is_refused_before_writing) {
    temp_dir dir;
    write_file(dir.path() / "kernel.bin", random_bytes(50000, 3));
    const auto src = compile(dir, two_images);
    // The file shrinks after the source was compiled: the write fails, naming it.
    write_file(dir.path() / "kernel.bin", random_bytes(1000, 3));
    BOOST_CHECK_THROW(write(src, fitstream::data_layout::external), fitstream::error);
    BOOST_TEST(!fs::exists(dir.path() / "out.fit"));
}

namespace {

std::string try_signed(const temp_dir& dir, const std::string& images, const std::string& conf,
                       const std::string& sign_images) {
    fs::create_directories(dir.path() / "keys");
    if (!fs::exists(dir.path() / "keys" / "dev.key"))
        fitstream_test::run_ok({"openssl", "genrsa", "-out", (dir.path() / "keys" / "dev.key").string(), "2048"});
    const auto src = compile(dir, "/dts-v1/;\n/ { description = \"s\"; images { " + images +
                                      " }; configurations { default = \"c\"; c { " + conf +
                                      " signature-1 { algo = \"sha256,rsa2048\"; key-name-hint = \"dev\"; " +
                                      sign_images + " }; }; }; };\n");
    fitstream::its::build_options options;
    options.key_dir = (dir.path() / "keys").string();
    try {
        write(src, fitstream::data_layout::external, options);
        return {};
    } catch (const fitstream::error& e) {
        BOOST_TEST(!fs::exists(dir.path() / "out.fit"));
        return e.what();
    }
}

const std::string hashed_kernel = "kernel { description = \"k\"; data = [01 02 03]; type = \"kernel\"; "
                                  "compression = \"none\"; hash-1 { algo = \"sha256\"; }; };";

}  // namespace

BOOST_AUTO_TEST_CASE(configuration_signatures_that_protect_nothing_are_refused) {
    temp_dir dir;
    // sign-images naming a property that lists no image: an error naming
    // the signature, not a crash.
    std::string e = try_signed(dir, hashed_kernel, "kernel = \"kernel\"; description = \"d\";",
                               "sign-images = \"kernel\", \"description\";");
    BOOST_TEST(e.find("/configurations/c/signature-1") != std::string::npos, e);
    BOOST_TEST(e.find("'d'") != std::string::npos, e);
    // An image without a hash node could be swapped under the signature.
    e = try_signed(dir,
                   "kernel { description = \"k\"; data = [01]; type = \"kernel\"; compression = \"none\"; };",
                   "kernel = \"kernel\";", "");
    BOOST_TEST(e.find("no hash node") != std::string::npos, e);
    // Nothing covered at all (the default list is kernel, fdt).
    e = try_signed(dir,
                   "fw { description = \"f\"; data = [01]; type = \"firmware\"; compression = \"none\"; "
                   "hash-1 { algo = \"sha256\"; }; };",
                   "firmware = \"fw\";", "");
    BOOST_TEST(e.find("signs no image") != std::string::npos, e);
    // A property the configuration lacks names nothing, as with mkimage.
    e = try_signed(dir, hashed_kernel, "kernel = \"kernel\";", "sign-images = \"kernel\", \"ramdisk\";");
    BOOST_TEST(e.empty(), e);
    const std::string fit = read_file(dir.path() / "out.fit");
    BOOST_TEST(property(fit, "/configurations/c/signature-1", "hashed-nodes") ==
               std::string("/\0/configurations/c\0/images/kernel\0/images/kernel/hash-1\0", 57));
}

BOOST_AUTO_TEST_CASE(a_root_without_description_is_refused) {
    temp_dir dir;
    const auto src = compile(dir, "/dts-v1/;\n/ { images { " + hashed_kernel + " }; };\n");
    BOOST_CHECK_EXCEPTION(write(src, fitstream::data_layout::embedded), fitstream::error,
                          [](const fitstream::error& e) {
                              return std::string(e.what()).find("no description") != std::string::npos;
                          });
}

BOOST_AUTO_TEST_CASE(dev_null_is_an_empty_payload) {
    // U-Boot's own build packs `mkimage -f auto ... -d /dev/null`.
    temp_dir dir;
    const auto src = compile(dir, "/dts-v1/;\n/ { description = \"n\"; images { empty { description = \"e\"; "
                                  "data = /incbin/(\"/dev/null\"); type = \"firmware\"; compression = \"none\"; "
                                  "hash-1 { algo = \"crc32\"; }; }; }; };\n");
    const std::string fit = write(src, fitstream::data_layout::embedded);
    BOOST_TEST(property(fit, "/images/empty", "data").empty());
    BOOST_TEST(property(fit, "/images/empty/hash-1", "value") == std::string(4, '\0'));  // crc32 of nothing
}

BOOST_AUTO_TEST_CASE(a_file_included_many_times_is_rewritten_once) {
    // Each file includes the next twice. Rewriting every occurrence doubles
    // with each level; one copy per file stays linear.
    const auto chain = [](const temp_dir& dir, int levels) {
        for (int i = 0; i < levels; ++i)
            write_file(dir.path() / ("f" + std::to_string(i) + ".dtsi"),
                       "/include/ \"f" + std::to_string(i + 1) + ".dtsi\"\n/include/ \"f" + std::to_string(i + 1) +
                           ".dtsi\"\n");
        write_file(dir.path() / ("f" + std::to_string(levels) + ".dtsi"), "/ { leaf = <1>; };\n");
    };
    const std::string its = "/dts-v1/;\n/include/ \"f0.dtsi\"\n/ { description = \"d\"; images { " + hashed_kernel +
                            " }; };\n";
    temp_dir dir;
    chain(dir, 5);
    const auto src = compile(dir, its);
    BOOST_TEST(src.files.size() == 7u);  // the .its and six includes, once each (not 63 copies)
    BOOST_TEST(property(std::string(src.blob.begin(), src.blob.end()), "/", "leaf").size() == 4u);
    // 40 levels: 2^40 occurrences. dtc refuses such nesting; fitpack gets that far at once.
    temp_dir deep;
    chain(deep, 40);
    BOOST_CHECK_EXCEPTION(compile(deep, its), fitstream::error, [](const fitstream::error& e) {
        return std::string(e.what()).find("nested too deeply") != std::string::npos;
    });
}
