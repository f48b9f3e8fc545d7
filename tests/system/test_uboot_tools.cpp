// SPDX-License-Identifier: MIT
//
// fitpack's output read back by U-Boot's own tools (Debian u-boot-tools:
// dumpimage, mkimage) and the device-tree-compiler tools (dtc, fdtget), with
// every payload decompressed by the codec's reference tool (gzip, zstd) and
// every hash recomputed by coreutils (sha*sum, md5sum) or Python's zlib.
//
// Inputs: tests/data/boards/*.dts and *.dtso, compiled with dtc at test time,
// a kernel-like payload and a ramdisk. Covered: compression none/gzip/zstd
// x layout embedded, -E, -E -B 0x1000, -p; hash algorithm sets; --default;
// and Kbuild's exact cmd_fit command line on 200 generated DTBs.

#define BOOST_TEST_MODULE fitpack with U-Boot tools
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include "support.hpp"
#include "tools.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace bdata = boost::unit_test::data;
using namespace fitstream_test;
using layout = fitstream_test::fit_layout;

namespace {

/// Many (node, property) values in one fdtget call; a missing property
/// reads as `absent`.
using node_property = std::pair<std::string, std::string>;

std::vector<std::string> fdtget_many(const fs::path& file, const std::vector<node_property>& pairs,
                                     const std::string& type = {}) {
    std::vector<std::string> argv{"fdtget", "-d", absent};
    if (!type.empty()) argv.insert(argv.end(), {"-t", type});
    argv.push_back(file.string());
    for (const auto& [node, prop] : pairs) argv.insert(argv.end(), {node, prop});
    auto values = lines_of(tool(argv));
    BOOST_REQUIRE_EQUAL(values.size(), pairs.size());
    return values;
}

bool contains(const std::vector<std::string>& items, const std::string& item) {
    return std::find(items.begin(), items.end(), item) != items.end();
}

/// A byte-array property (a hash value) as lowercase hex, two digits a byte.
std::string fdt_hex_bytes(const fs::path& file, const std::string& node, const std::string& prop) {
    const auto text = fdtget(file, node, prop, "bx");
    BOOST_REQUIRE_MESSAGE(text != absent, file.string() << ": no " << node << "/" << prop);
    std::istringstream in(text);
    std::string out;
    for (std::string byte; in >> byte;) {
        const unsigned long v = std::stoul(byte, nullptr, 16);
        BOOST_REQUIRE(v < 256);
        char two[3];
        std::snprintf(two, sizeof two, "%02lx", v);
        out += two;
    }
    return out;
}

/// Digests of files by a reference tool: "sha256", "sha1", "md5", ... via
/// coreutils' <algo>sum; "crc32" via Python's zlib. Lowercase hex.
std::vector<std::string> reference_digests(const std::string& algo, const std::vector<fs::path>& files) {
    std::vector<std::string> digests;
    if (files.empty()) return digests;
    if (algo == "crc32") {
        std::vector<std::string> argv{"python3", "-c",
                                      "import sys, zlib\n"
                                      "for p in sys.argv[1:]:\n"
                                      "    print('%08x' % (zlib.crc32(open(p, 'rb').read()) & 0xffffffff))\n"};
        for (const auto& f : files) argv.push_back(f.string());
        digests = lines_of(tool(argv));
    } else {
        std::vector<std::string> argv{algo + "sum", "--"};
        for (const auto& f : files) argv.push_back(f.string());
        for (const auto& line : lines_of(tool(argv))) digests.push_back(line.substr(0, line.find(' ')));
    }
    BOOST_REQUIRE_EQUAL(digests.size(), files.size());
    return digests;
}

/// Decompresses a stored payload with the codec's reference tool.
std::string reference_decompress(const std::string& codec, const fs::path& stored) {
    if (codec == "none") return read_file(stored);
    if (codec == "gzip") return tool({"gzip", "-dc", "--", stored.string()});
    if (codec == "zstd") return tool({"zstd", "-q", "-dc", "--", stored.string()});
    BOOST_FAIL("no reference decompressor for " << codec);
    return {};
}

/// What dumpimage -l / mkimage -l print about a FIT.
struct listed_image {
    std::string name, description, type, compression;
    std::uint64_t data_size = 0;
    std::vector<std::string> hash_algos, hash_values;
};
struct listed_configuration {
    std::string name, description, kernel, ramdisk, fdt;
};
struct listing {
    std::string description;
    std::string default_configuration;
    std::vector<listed_image> images;
    std::vector<listed_configuration> configurations;
};

listing parse_listing(const std::string& text) {
    static const std::regex image_re(R"(^ Image (\d+) \((.*)\)$)");
    static const std::regex conf_re(R"(^ Configuration (\d+) \((.*)\)$)");
    static const std::regex default_re(R"(^ Default Configuration: '(.*)'$)");
    static const std::regex field_re(R"(^  ([A-Za-z ]+):\s*(.*)$)");
    listing l;
    bool in_image = false;
    std::smatch m;
    for (const auto& line : lines_of(text)) {
        if (line.rfind("FIT description: ", 0) == 0) {
            l.description = line.substr(17);
        } else if (std::regex_match(line, m, image_re)) {
            BOOST_REQUIRE_EQUAL(std::stoul(m[1]), l.images.size());
            l.images.emplace_back().name = m[2];
            in_image = true;
        } else if (std::regex_match(line, m, conf_re)) {
            BOOST_REQUIRE_EQUAL(std::stoul(m[1]), l.configurations.size());
            l.configurations.emplace_back().name = m[2];
            in_image = false;
        } else if (std::regex_match(line, m, default_re)) {
            l.default_configuration = m[1];
        } else if (std::regex_match(line, m, field_re)) {
            const std::string key = m[1], value = m[2];
            if (in_image) {
                auto& img = l.images.back();
                if (key == "Description") img.description = value;
                if (key == "Type") img.type = value;
                if (key == "Compression") img.compression = value;
                if (key == "Data Size") img.data_size = std::stoull(value);
                if (key == "Hash algo") img.hash_algos.push_back(value);
                if (key == "Hash value") img.hash_values.push_back(value);
            } else if (!l.configurations.empty()) {
                auto& conf = l.configurations.back();
                if (key == "Description") conf.description = value;
                if (key == "Kernel") conf.kernel = value;
                if (key == "Init Ramdisk") conf.ramdisk = value;
                if (key == "FDT") conf.fdt = value;
            }
        }
    }
    return l;
}

/// dumpimage -l, checked for U-Boot's complaints, and parsed.
listing dumpimage_list(const fs::path& fit) {
    const std::string text = tool({"dumpimage", "-l", fit.string()});
    static const std::regex complaint(R"(\b(bad|error|invalid|corrupt|unsupported|unknown|can't|cannot)\b)",
                                      std::regex::icase);
    BOOST_TEST(!std::regex_search(text, complaint), "dumpimage -l complains:\n" << text);
    return parse_listing(text);
}

std::string dumpimage_label(const std::string& codec) {
    return codec == "none" ? "uncompressed" : codec + " compressed";
}

/// A compiled board from tests/data/boards.
struct board {
    fs::path dtb;
    std::string model;       ///< fdtget DTB / model, or `absent`
    std::string compatible;  ///< fdtget DTB / compatible, or `absent`
};

/// Inputs shared by the tests: compiled once.
struct inputs {
    temp_dir dir;
    fs::path kernel, ramdisk, dtbo;
    std::vector<board> boards;

    inputs() {
        kernel = dir / "Image";
        ramdisk = dir / "initrd.img";
        // Larger than fitstream's 1 MiB chunk and not a multiple of 4: the
        // last chunk is short and the payload needs padding.
        write_file(kernel, fitstream_test::kernel_like_payload((5u << 19) + 3, 7));
        write_file(ramdisk, fitstream_test::kernel_like_payload(100 * 1024 + 1, 11));
        for (const auto& src : fitstream_test::board_sources()) {
            board b;
            b.dtb = fitstream_test::compile_dts(src, dir / (src.stem().string() + ".dtb"));
            b.model = fdtget(b.dtb, "/", "model");
            b.compatible = fdtget(b.dtb, "/", "compatible");
            boards.push_back(b);
        }
        for (const auto& src : fitstream_test::board_sources(".dtso"))
            dtbo = fitstream_test::compile_dts(src, dir / (src.stem().string() + ".dtbo"));
        if (boards.size() < 5 || dtbo.empty())
            throw std::runtime_error("tests/data/boards needs at least 5 .dts and one .dtso");
    }

    std::vector<std::string> dtb_args() const {
        std::vector<std::string> args;
        for (const auto& b : boards) args.push_back(b.dtb.string());
        return args;
    }
};

const inputs& shared_inputs() {
    static const inputs instance;
    return instance;
}

std::vector<std::string> base_args(const fs::path& fit, const std::string& codec) {
    const auto& in = shared_inputs();
    return {"-o", fit.string(), "-A", "arm64", "-O", "linux", "-n", "Linux 6.12", "-c", codec,
            "-k", in.kernel.string(), "-r", in.ramdisk.string()};
}

struct expected_image {
    std::string name;
    fs::path input;
    std::string codec;
};

std::vector<expected_image> expected_images(const std::string& codec) {
    const auto& in = shared_inputs();
    std::vector<expected_image> images{{"kernel", in.kernel, codec}, {"ramdisk", in.ramdisk, "none"}};
    for (std::size_t i = 0; i < in.boards.size(); ++i)
        images.push_back({"fdt-" + std::to_string(i + 1), in.boards[i].dtb, codec});
    return images;
}

}  // namespace

// ---------------------------------------------------------------------------

const std::vector<std::string> codecs{"none", "gzip", "zstd"};
const std::vector<layout> layouts{layout::embedded, layout::external, layout::external_aligned, layout::position};

BOOST_DATA_TEST_CASE(every_codec_and_layout_reads_back_with_uboot_tools, bdata::make(codecs) * bdata::make(layouts),
                     codec, lay) {
    const auto& in = shared_inputs();
    temp_dir out;
    const fs::path fit = out / "image.fit";

    std::vector<std::string> layout_args;
    std::uint64_t align = 4;
    std::optional<std::uint64_t> position;
    switch (lay) {
        case layout::embedded: break;
        case layout::external: layout_args = {"-E"}; break;
        case layout::external_aligned:
            layout_args = {"-E", "-B", "0x1000"};
            align = 0x1000;
            break;
        case layout::position: {
            // A position past the structure: measure the structure with -E first.
            auto probe_args = base_args(out / "probe.fit", codec);
            probe_args.push_back("-E");
            for (const auto& d : in.dtb_args()) probe_args.push_back(d);
            fitpack_ok(probe_args);
            const std::uint32_t structure = be32(read_file(out / "probe.fit"), 4);
            position = std::max<std::uint64_t>(0x2000, align_up(structure, 0x1000) + 0x1000);
            layout_args = {"-p", hex(*position)};
            break;
        }
    }
    const bool external = lay != layout::embedded;

    auto args = base_args(fit, codec);
    args.insert(args.end(), layout_args.begin(), layout_args.end());
    for (const auto& d : in.dtb_args()) args.push_back(d);
    args.push_back(in.dtbo.string());
    fitpack_ok(args);

    const std::string fit_bytes = read_file(fit);
    BOOST_REQUIRE(fit_bytes.size() >= 40);
    BOOST_TEST(be32(fit_bytes, 0) == 0xd00dfeedu);
    const std::uint32_t totalsize = be32(fit_bytes, 4);

    // --- dumpimage -l: every image and every configuration, in order.
    const listing l = dumpimage_list(fit);
    const auto images = expected_images(codec);
    BOOST_TEST(l.description == "Linux 6.12 with devicetree set");
    BOOST_REQUIRE_EQUAL(l.images.size(), images.size());
    for (std::size_t i = 0; i < images.size(); ++i) {
        BOOST_TEST_CONTEXT("image " << i) {
            BOOST_TEST(l.images[i].name == images[i].name);
            BOOST_TEST(l.images[i].compression == dumpimage_label(images[i].codec));
            BOOST_TEST(l.images[i].hash_algos == std::vector<std::string>{"sha256"});
        }
    }
    BOOST_TEST(l.images[0].description == "Linux 6.12");
    BOOST_TEST(l.images[0].type == "Kernel Image (no loading done)");
    BOOST_TEST(l.images[1].description == "Ramdisk");
    BOOST_TEST(l.images[1].type == "RAMDisk Image");
    for (std::size_t i = 2; i < images.size(); ++i) {
        BOOST_TEST(l.images[i].description == images[i].input.filename().string());
        BOOST_TEST(l.images[i].type == "Flat Device Tree");
    }
    BOOST_TEST(l.default_configuration == "conf-1");
    BOOST_REQUIRE_EQUAL(l.configurations.size(), in.boards.size());  // the .dtbo makes none
    for (std::size_t i = 0; i < in.boards.size(); ++i) {
        const auto& conf = l.configurations[i];
        const auto& b = in.boards[i];
        BOOST_TEST_CONTEXT("configuration " << i) {
            BOOST_TEST(conf.name == "conf-" + std::to_string(i + 1));
            BOOST_TEST(conf.description == (b.model != absent ? b.model : b.dtb.filename().string()));
            BOOST_TEST(conf.kernel == "kernel");
            BOOST_TEST(conf.ramdisk == "ramdisk");
            BOOST_TEST(conf.fdt == "fdt-" + std::to_string(i + 1));
        }
    }

    // --- mkimage -l prints the same.
    std::string mk = tool({"mkimage", "-l", fit.string()});
    std::string dump = tool({"dumpimage", "-l", fit.string()});
    for (auto* text : {&mk, &dump})
        for (const std::string name : {"mkimage", "dumpimage"})
            for (auto at = text->find(name); at != std::string::npos; at = text->find(name, at))
                text->replace(at, name.size(), "TOOL");
    BOOST_TEST(mk == dump);

    // --- Every payload: extracted by dumpimage, decoded by the reference tool.
    std::vector<fs::path> stored;
    for (std::size_t i = 0; i < images.size(); ++i) {
        const fs::path p = out / ("stored-" + std::to_string(i));
        tool({"dumpimage", "-T", "flat_dt", "-p", std::to_string(i), "-o", p.string(), fit.string()});
        stored.push_back(p);
        BOOST_TEST_CONTEXT(images[i].name) {
            const std::string bytes = read_file(p);
            BOOST_TEST(bytes.size() == l.images[i].data_size);
            const std::string decoded = reference_decompress(images[i].codec, p);
            BOOST_TEST((decoded == read_file(images[i].input)), "decompressed payload differs from the input");
            if (images[i].codec == "gzip") BOOST_TEST(bytes.compare(0, 3, "\x1f\x8b\x08") == 0);
            if (images[i].codec == "zstd") BOOST_TEST(bytes.compare(0, 4, "\x28\xb5\x2f\xfd") == 0);
            if (images[i].name == "kernel" && images[i].codec != "none")
                BOOST_TEST(bytes.size() < decoded.size(), "the kernel was not compressed");
        }
    }

    // --- hash-1: algo and value (fdtget) against sha256sum of the stored bytes.
    const auto sha = reference_digests("sha256", stored);
    for (std::size_t i = 0; i < images.size(); ++i) {
        const std::string node = "/images/" + images[i].name;
        BOOST_TEST_CONTEXT(node) {
            BOOST_TEST(fdtget(fit, node + "/hash-1", "algo") == std::string("sha256"));
            BOOST_TEST(fdt_hex_bytes(fit, node + "/hash-1", "value") == sha[i]);
            BOOST_TEST(l.images[i].hash_values.at(0) == sha[i]);
            BOOST_TEST(fdtget(fit, node + "/hash-2", "algo") == absent);
        }
    }

    // --- The data properties, and for external data the payloads sliced by hand.
    std::uint64_t previous_end = totalsize;
    for (std::size_t i = 0; i < images.size(); ++i) {
        const std::string node = "/images/" + images[i].name;
        const auto props = fdt_properties(fit, node);
        BOOST_TEST_CONTEXT(node << " properties: " << join(props)) {
            BOOST_TEST(contains(props, "data") == !external);
            BOOST_TEST(contains(props, "data-size") == external);
            BOOST_TEST(contains(props, "data-offset") == (external && !position));
            BOOST_TEST(contains(props, "data-position") == position.has_value());
            if (!external) continue;
            const auto size = std::stoull(fdtget(fit, node, "data-size", "u"));
            std::uint64_t at;
            if (position) {
                at = std::stoull(fdtget(fit, node, "data-position", "u"));
                if (i == 0) BOOST_TEST(at == *position);
            } else {
                at = align_up(totalsize, 4) + std::stoull(fdtget(fit, node, "data-offset", "u"));
            }
            BOOST_TEST(at % align == 0, "payload at " << at << " is not aligned to " << align);
            BOOST_TEST(at >= previous_end, "payload at " << at << " overlaps what precedes it (ends " << previous_end
                                                         << ")");
            BOOST_REQUIRE(at + size <= fit_bytes.size());
            BOOST_TEST((fit_bytes.compare(at, size, read_file(stored[i])) == 0),
                       "bytes at data-offset differ from dumpimage's");
            previous_end = at + size;
        }
    }
    if (external) {
        BOOST_TEST(fit_bytes.size() >= previous_end);
        if (align > 4) BOOST_TEST(totalsize % align == 0, "totalsize " << totalsize << " not padded to -B");
    } else {
        BOOST_TEST(fit_bytes.size() == totalsize);
    }
    if (position) {
        // What lies between the structure and the data area is zeros.
        BOOST_TEST(fit_bytes.find_first_not_of('\0', totalsize) >= *position);
    }

    // --- compatible: each configuration has its DTB's; no fdt image node has one.
    for (std::size_t i = 0; i < in.boards.size(); ++i) {
        const auto& b = in.boards[i];
        const std::string conf = "/configurations/conf-" + std::to_string(i + 1);
        const std::string fdt = "/images/fdt-" + std::to_string(i + 1);
        BOOST_TEST_CONTEXT(b.dtb.filename().string()) {
            BOOST_TEST(fdtget(fit, conf, "compatible") == b.compatible);
            BOOST_TEST(!contains(fdt_properties(fit, fdt), "compatible"));
            BOOST_TEST(fdtget(fit, fdt, "type") == std::string("flat_dt"));
            BOOST_TEST(fdtget(fit, conf, "fdt") == std::string("fdt-" + std::to_string(i + 1)));
        }
    }
    BOOST_TEST(fdtget(fit, "/configurations", "default") == std::string("conf-1"));
    BOOST_TEST(fdtget(fit, "/", "timestamp", "u") == std::string("1700000000"));
    BOOST_TEST(fdtget(fit, "/images/kernel", "type") == std::string("kernel_noload"));
    BOOST_TEST(fdtget(fit, "/images/kernel", "load", "u") == std::string("0"));
    BOOST_TEST(fdtget(fit, "/images/kernel", "entry", "u") == std::string("0"));
    BOOST_TEST(fdtget(fit, "/images/ramdisk", "compression") == std::string("none"));
    // Sanity of the comparison itself: the boards do differ in compatible.
    BOOST_TEST(in.boards[0].compatible != in.boards[1].compatible);
}

// ---------------------------------------------------------------------------

const std::vector<std::string> hash_sets{"crc32,sha1,md5", "sha384,sha512", "md5,sha256", "none"};

const std::vector<std::string> embedded_or_external{"embedded", "-E"};

BOOST_DATA_TEST_CASE(hash_nodes_match_reference_tools, bdata::make(hash_sets) * bdata::make(embedded_or_external),
                     hashes, layout_arg) {
    const auto& in = shared_inputs();
    temp_dir out;
    const fs::path fit = out / "image.fit";
    auto args = base_args(fit, "gzip");
    args.insert(args.end(), {"--hash", hashes});
    if (layout_arg == "-E") args.push_back("-E");
    for (const auto& d : in.dtb_args()) args.push_back(d);
    fitpack_ok(args);

    std::vector<std::string> algos;
    if (hashes != "none") {
        std::istringstream list(hashes);
        for (std::string a; std::getline(list, a, ',');) algos.push_back(a);
    }
    const listing l = dumpimage_list(fit);
    const auto images = expected_images("gzip");
    BOOST_REQUIRE_EQUAL(l.images.size(), images.size());

    std::vector<fs::path> stored;
    for (std::size_t i = 0; i < images.size(); ++i) {
        const fs::path p = out / ("stored-" + std::to_string(i));
        tool({"dumpimage", "-T", "flat_dt", "-p", std::to_string(i), "-o", p.string(), fit.string()});
        stored.push_back(p);
    }
    for (std::size_t h = 0; h < algos.size(); ++h) {
        const auto expected = reference_digests(algos[h], stored);
        const std::string hash_node = "/hash-" + std::to_string(h + 1);
        for (std::size_t i = 0; i < images.size(); ++i) {
            const std::string node = "/images/" + images[i].name + hash_node;
            BOOST_TEST_CONTEXT(node) {
                BOOST_TEST(fdtget(fit, node, "algo") == std::string(algos[h]));
                BOOST_TEST(fdt_hex_bytes(fit, node, "value") == expected[i]);
                BOOST_TEST(l.images[i].hash_algos.at(h) == algos[h]);
                BOOST_TEST(l.images[i].hash_values.at(h) == expected[i]);
            }
        }
    }
    for (std::size_t i = 0; i < images.size(); ++i) {
        BOOST_TEST_CONTEXT(images[i].name) {
            BOOST_TEST(l.images[i].hash_algos.size() == algos.size());
            // No hash node past the requested ones.
            const auto nodes = lines_of(tool({"fdtget", "-l", fit.string(), "/images/" + images[i].name}));
            BOOST_TEST(nodes.size() == algos.size(), "subnodes: " << join(nodes));
        }
    }
}

// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(default_configuration_option_is_written_and_listed) {
    const auto& in = shared_inputs();
    temp_dir out;
    for (const std::string conf : {"conf-1", "conf-2", "conf-3"}) {
        BOOST_TEST_CONTEXT(conf) {
            const fs::path fit = out / (conf + ".fit");
            auto args = base_args(fit, "zstd");
            args.insert(args.end(), {"--default", conf});
            for (const auto& d : in.dtb_args()) args.push_back(d);
            fitpack_ok(args);
            BOOST_TEST(fdtget(fit, "/configurations", "default") == std::string(conf));
            BOOST_TEST(dumpimage_list(fit).default_configuration == conf);
        }
    }
}

// ---------------------------------------------------------------------------
// Kbuild: cmd_fit = $(MAKE_FIT) -o $@ --arch $(UIMAGE_ARCH) --os linux
//   --name '$(UIMAGE_NAME)' $(FIT_EXTRA_ARGS) --compress $(FIT_COMPRESSION)
//   -k $< @$(word 2,$^)
// run from the object tree, on a dtbs-list of 200 DTBs (plus overlays, which
// Kbuild lists too and make_fit.py skips).
// ---------------------------------------------------------------------------

namespace {

struct generated_dtb {
    std::string path;  ///< relative to the object tree, as in dtbs-list
    std::optional<std::string> model;
    std::vector<std::string> compatible;
};

std::string dts_string(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

/// `source` with its root model and compatible replaced (a board source's
/// root properties sit on lines indented by exactly one tab).
std::string rewrite_root(const std::string& source, const std::optional<std::string>& model,
                         const std::vector<std::string>& compatible) {
    std::string out;
    bool root_seen = false;
    for (const auto& line : lines_of(source)) {
        if (line.rfind("\tmodel = ", 0) == 0 || line.rfind("\tcompatible = ", 0) == 0) continue;
        out += line + '\n';
        if (!root_seen && line == "/ {") {
            root_seen = true;
            if (model) out += "\tmodel = " + dts_string(*model) + ";\n";
            if (!compatible.empty()) {
                std::vector<std::string> quoted;
                for (const auto& c : compatible) quoted.push_back(dts_string(c));
                out += "\tcompatible = " + join(quoted, ", ") + ";\n";
            }
        }
    }
    if (!root_seen) throw std::runtime_error("no '/ {' line in a board source");
    return out;
}

/// An object tree with Image, 200 DTBs, two overlays and dtbs-list.
struct kbuild_tree {
    temp_dir objtree;
    std::vector<generated_dtb> dtbs;
    std::string kernel = "arch/arm64/boot/Image";
    std::string list = "arch/arm64/boot/dts/dtbs-list";

    kbuild_tree() {
        const std::vector<fs::path> sources = fitstream_test::board_sources();
        const std::vector<fs::path> overlays = fitstream_test::board_sources(".dtso");
        const fs::path overlay = overlays.empty() ? fs::path() : overlays.back();
        if (sources.empty() || overlay.empty()) throw std::runtime_error("tests/data/boards is incomplete");

        const fs::path dts_dir = objtree / "arch/arm64/boot/dts";
        fs::create_directories(dts_dir);
        write_file(objtree / kernel, fitstream_test::kernel_like_payload(3u << 20, 3));
        std::string list_text;
        for (int i = 0; i < 200; ++i) {
            const fs::path& src = sources[static_cast<std::size_t>(i) % sources.size()];
            const std::string stem = src.stem().string();
            const std::string vendor = stem.substr(0, stem.find('-'));
            const std::string board = stem.substr(stem.find('-') + 1);
            char suffix[16];
            std::snprintf(suffix, sizeof suffix, "-v%03d", i);
            generated_dtb d;
            d.path = "arch/arm64/boot/dts/" + vendor + "/" + stem + suffix + ".dtb";
            if (i % 13 != 7) {
                d.model = "Board " + std::to_string(i) + " of " + stem;
                if (i % 10 == 3) *d.model += " (\"rev B\", 4 GiB)";
            }
            if (i % 17 != 9) {
                const std::vector<std::string> all{vendor + "," + board + "-rev" + std::to_string(i),
                                                   vendor + "," + board,
                                                   "fitstream-test,family-" + std::to_string(i % 3),
                                                   "fitstream-test,soc"};
                d.compatible.assign(all.begin(), all.begin() + 1 + i % 4);
            }
            fs::create_directories((objtree / d.path).parent_path());
            const fs::path generated = objtree / (d.path + ".dts");
            write_file(generated, rewrite_root(read_file(src), d.model, d.compatible));
            fitstream_test::compile_dts(generated, objtree / d.path);
            list_text += d.path + '\n';
            dtbs.push_back(d);
            if (i == 50 || i == 150) {
                // Overlays appear in dtbs-list too.
                const std::string o = "arch/arm64/boot/dts/" + vendor + "/" + stem + suffix + "-overlay.dtbo";
                fitstream_test::compile_dts(overlay, objtree / o);
                list_text += o + '\n';
            }
        }
        write_file(objtree / list, list_text);
    }
};

const kbuild_tree& shared_kbuild_tree() {
    static const kbuild_tree instance;
    return instance;
}

}  // namespace

BOOST_DATA_TEST_CASE(kbuild_cmd_fit_with_200_dtbs, bdata::make(std::vector<std::string>{"", "-E"}), extra_args) {
    const bool external = extra_args == "-E";
    const auto& kb = shared_kbuild_tree();
    const fs::path root = kb.objtree.path();
    const std::string output = external ? "arch/arm64/boot/image-external.fit" : "arch/arm64/boot/image.fit";
    const fs::path fit = root / output;

    // Exactly Kbuild's command line, run in the object tree; FIT_EXTRA_ARGS=-E.
    std::vector<std::string> args{"-o", output, "--arch", "arm64", "--os", "linux", "--name", "Linux 6.12"};
    if (external) args.push_back("-E");
    args.insert(args.end(), {"--compress", "gzip", "-k", kb.kernel, "@" + kb.list});
    const run_result r = fitpack_ok(args, {{fitstream_test::epoch_env}, root});
    // Each DTB without compatible is warned about, by name; nothing else is said.
    std::size_t without_compatible = 0;
    std::vector<std::string> not_named;
    for (const auto& d : kb.dtbs) {
        if (!d.compatible.empty()) continue;
        ++without_compatible;
        if (r.err.find(d.path) == std::string::npos) not_named.push_back(d.path);
    }
    BOOST_TEST(without_compatible > 0u);
    BOOST_TEST(not_named.empty(), "warnings do not name " << join(not_named) << ":\n" << r.err);
    BOOST_TEST(lines_of(r.err).size() == without_compatible, r.err);

    const std::size_t n = kb.dtbs.size();
    const listing l = dumpimage_list(fit);
    BOOST_TEST(l.description == "Linux 6.12 with devicetree set");
    BOOST_REQUIRE_EQUAL(l.images.size(), n + 1);
    BOOST_REQUIRE_EQUAL(l.configurations.size(), n);
    BOOST_TEST(l.default_configuration == "conf-1");
    BOOST_TEST(l.images[0].name == "kernel");
    for (std::size_t i = 0; i < n; ++i) {
        const auto& d = kb.dtbs[i];
        const std::string fdt = "fdt-" + std::to_string(i + 1);
        BOOST_TEST_CONTEXT(d.path) {
            BOOST_TEST(l.images[i + 1].name == fdt);
            BOOST_TEST(l.images[i + 1].description == fs::path(d.path).filename().string());
            BOOST_TEST(l.images[i + 1].compression == "gzip compressed");
            BOOST_TEST(l.configurations[i].name == "conf-" + std::to_string(i + 1));
            BOOST_TEST(l.configurations[i].description == (d.model ? *d.model : fs::path(d.path).filename().string()));
            BOOST_TEST(l.configurations[i].fdt == fdt);
            BOOST_TEST(l.configurations[i].kernel == "kernel");
        }
    }

    // compatible in every configuration (one fdtget call), none in fdt images.
    std::vector<node_property> pairs;
    for (std::size_t i = 0; i < n; ++i) {
        pairs.emplace_back("/configurations/conf-" + std::to_string(i + 1), "compatible");
        pairs.emplace_back("/images/fdt-" + std::to_string(i + 1), "compatible");
    }
    const auto values = fdtget_many(fit, pairs);
    for (std::size_t i = 0; i < n; ++i) {
        const auto& d = kb.dtbs[i];
        BOOST_TEST_CONTEXT(d.path) {
            BOOST_TEST(values[2 * i] == (d.compatible.empty() ? absent : join(d.compatible)));
            BOOST_TEST(values[2 * i + 1] == absent);
        }
    }

    // Every payload: dumpimage extracts it, gzip decodes it, sha256sum agrees.
    std::vector<fs::path> stored, sources{root / kb.kernel};
    for (const auto& d : kb.dtbs) sources.push_back(root / d.path);
    temp_dir work;
    for (std::size_t i = 0; i <= n; ++i) {
        const fs::path p = work / ("stored-" + std::to_string(i));
        tool({"dumpimage", "-T", "flat_dt", "-p", std::to_string(i), "-o", p.string(), fit.string()});
        stored.push_back(p);
        BOOST_TEST((tool({"gzip", "-dc", p.string()}) == read_file(sources[i])),
                   sources[i].string() << ": payload does not round-trip");
    }
    const auto sha = reference_digests("sha256", stored);
    for (std::size_t i = 0; i <= n; ++i) BOOST_TEST(l.images[i].hash_values.at(0) == sha[i]);

    if (external) {
        // And by hand: data-offset counts from ALIGN(totalsize, 4).
        const std::string bytes = read_file(fit);
        const std::uint64_t base = align_up(be32(bytes, 4), 4);
        std::vector<node_property> where;
        where.emplace_back("/images/kernel", "data-offset");
        where.emplace_back("/images/kernel", "data-size");
        for (std::size_t i = 1; i <= n; ++i) {
            where.emplace_back("/images/fdt-" + std::to_string(i), "data-offset");
            where.emplace_back("/images/fdt-" + std::to_string(i), "data-size");
        }
        const auto cells = fdtget_many(fit, where, "u");
        for (std::size_t i = 0; i <= n; ++i) {
            const std::uint64_t at = base + std::stoull(cells[2 * i]), size = std::stoull(cells[2 * i + 1]);
            BOOST_TEST_CONTEXT(sources[i].string()) {
                BOOST_TEST(at % 4 == 0);
                BOOST_REQUIRE(at + size <= bytes.size());
                BOOST_TEST((bytes.compare(at, size, read_file(stored[i])) == 0));
            }
        }
    }
}
