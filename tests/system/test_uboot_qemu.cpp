// SPDX-License-Identifier: MIT
//
// fitpack's output read, decoded and booted by real U-Boot: Debian 12's
// u-boot-qemu (qemu_arm64) under qemu-system-aarch64, driven through its
// console by tests/support/uboot_qemu.hpp. The FITs are preloaded into guest RAM
// with QEMU's generic loader.
//
//  - iminfo_and_loados*: for one codec, four FITs (embedded, -E,
//    -E -B 0x1000, -p), packed with --load 0x40400000, in one session.
//    `iminfo` must verify every hash of every image (all six algorithms
//    fitpack writes); `bootm start ADDR#conf-2 && bootm loados` must decode
//    the kernel to its load address, where `crc32` must equal the input's
//    CRC-32.
//  - boot_*: a tiny arm64 payload (tests/data/qemu, built here with
//    aarch64-linux-gnu-gcc) packed with QEMU's own board DTB among other
//    boards: plain `bootm ADDR` must pick the board's configuration by
//    compatible (not the default), and the payload must run at the load
//    address, print the model of the DTB it was handed, and power the
//    machine off. boot_kernel_noload boots fitpack's default output
//    (make_fit.py's: uncompressed kernel_noload).
//  - segmented_kernels_decode: a multi-segment gzip member and a
//    multi-block LZ4 frame, each made through the codec's `segments` on
//    several threads out of order (as the writer's parallel pipeline does),
//    packed by mkimage from an .its with compression = "gzip" / "lz4":
//    `iminfo` verifies them and `bootm loados` decodes both to the input.
//  - tampered_kernel_fails_verification: one flipped byte in the kernel's
//    stored bytes (embedded and external) fails `iminfo` and `bootm`, while
//    the untouched FIT boots in the same session.
//
// lzma and lz4 cases run when `fitpack --help` lists those codecs (a
// fitpack built without one skips its cases, visibly). FITSTREAM_SKIP_QEMU=1 skips everything here;
// otherwise a missing QEMU, U-Boot or cross compiler is a failure.

#define BOOST_TEST_MODULE fitpack output under U-Boot in QEMU
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include "segments.hpp"
#include "uboot_qemu.hpp"

#include <fitstream/fitstream.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace bdata = boost::unit_test::data;
namespace utf = boost::unit_test;
using namespace fitstream_test;
using layout = fitstream_test::fit_layout;

namespace {

const std::string all_hashes = "crc32,md5,sha1,sha256,sha384,sha512";
const std::vector<std::string> all_hash_algos{"crc32", "md5", "sha1", "sha256", "sha384", "sha512"};

/// CRC-32 (IEEE 802.3, zlib's and U-Boot's `crc32` command's).
std::uint32_t crc32_of(const std::string& bytes) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xffffffffu;
    for (const char ch : bytes) c = table[(c ^ static_cast<unsigned char>(ch)) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

/// Whether this fitpack offers `codec` for -c: its --help lists the names.
bool fitpack_has_codec(const std::string& codec) {
    const run_result r = run({fitstream_test::fitpack_path, "--help"});
    return r.exit_code == 0 && std::regex_search(r.out, std::regex("\\b" + codec + "\\b"));
}

// --- Preconditions (decorators): skip only when told to, or when fitpack
// was built without the codec.

struct codec_available {
    std::string codec;
    boost::test_tools::assertion_result operator()(utf::test_unit_id) const {
        boost::test_tools::assertion_result r(fitpack_has_codec(codec));
        r.message() << "fitpack -c does not list " << codec;
        return r;
    }
};

// --- Inputs shared by the tests, made once.

struct inputs {
    temp_dir dir;
    std::vector<fs::path> boards;  ///< tests/data/boards/*.dts, compiled
    fs::path qemu_board;           ///< QEMU virt's own DTB, with our model
    fs::path payload;              ///< the arm64 test payload ("Image")
    fs::path ramdisk;

    inputs() {
        for (const auto& src : fitstream_test::board_sources())
            boards.push_back(fitstream_test::compile_dts(src, dir / (src.stem().string() + ".dtb")));
        if (boards.size() < 4) throw std::runtime_error("tests/data/boards needs at least 4 .dts files");

        // The tree U-Boot itself runs on (its "linux,dummy-virt" compatible
        // is what bootm matches), with a model of our own: the payload
        // prints it, which proves it got the FIT's DTB and not U-Boot's.
        qemu_board = uboot_qemu::dump_board_dtb(uboot_qemu::options{}, dir / "qemu-virt.dtb");
        const auto put = run({"fdtput", "-t", "s", qemu_board.string(), "/", "model", board_model});
        if (put.exit_code != 0) throw std::runtime_error("fdtput failed: " + put.err);

        const fs::path build = dir / "payload";
        fs::create_directories(build);
        payload = fitstream_test::build_qemu_payload(fitstream_test::data_dir / "qemu", build);
        ramdisk = dir / "initrd.img";
        write_file(ramdisk, fitstream_test::kernel_like_payload(64 * 1024 + 1, 11));
    }
};

const inputs& shared_inputs() {
    static const inputs instance;
    return instance;
}

const std::vector<layout> all_layouts{layout::embedded, layout::external, layout::external_aligned, layout::position};

/// One FIT to pack.
struct fit_spec {
    fs::path output;
    fs::path kernel;
    std::string codec = "none";
    layout lay = layout::embedded;
    std::string hashes = "sha256";
    std::vector<fs::path> dtbs;
    std::optional<std::uint64_t> load = kernel_load;  ///< none: kernel_noload, as make_fit.py writes
};

/// Packs `spec` with fitpack (with the shared ramdisk); for -p, the position
/// is the first 4 KiB boundary 4 KiB past the structure, measured with a -E
/// probe.
void pack(const fit_spec& spec) {
    std::vector<std::string> options{"-A", "arm64", "-O", "linux", "-n", "fitstream test", "-c", spec.codec,
                                     "-r", shared_inputs().ramdisk.string(), "--hash", spec.hashes};
    if (spec.load) options.insert(options.end(), {"--load", hex(*spec.load)});
    switch (spec.lay) {
        case layout::embedded: break;
        case layout::external: options.push_back("-E"); break;
        case layout::external_aligned: options.insert(options.end(), {"-E", "-B", "0x1000"}); break;
        case layout::position: {
            // The structure's size does not depend on the payloads' sizes
            // (data-size and data-offset are one cell each), so the -E probe
            // packs a stand-in kernel: no need to compress the real one twice.
            const fs::path probe = spec.output.string() + ".probe";
            const fs::path stand_in = spec.output.string() + ".probe-kernel";
            write_file(stand_in, fitstream_test::kernel_like_payload(4096));
            auto probe_args = options;
            probe_args.insert(probe_args.end(), {"-E", "-o", probe.string(), "-k", stand_in.string()});
            for (const auto& d : spec.dtbs) probe_args.push_back(d.string());
            fitpack_ok(probe_args);
            const std::uint32_t structure = be32(read_file(probe), 4);
            fs::remove(probe);
            fs::remove(stand_in);
            options.insert(options.end(), {"-p", hex(align_up(structure, 0x1000) + 0x1000)});
            break;
        }
    }
    options.insert(options.end(), {"-o", spec.output.string(), "-k", spec.kernel.string()});
    for (const auto& d : spec.dtbs) options.push_back(d.string());
    fitpack_ok(options);
}

/// Every image's every hash verified good by iminfo: one line
/// "Hash(es) for Image N (name): crc32+ md5+ ..." per image, listing each
/// algorithm once with '+' (a bad one reads "<algo> error!"), no complaint.
void check_iminfo(const fitstream_test::uboot_command_result& r, const std::vector<std::string>& algos,
                  std::size_t images) {
    BOOST_TEST(r.status == 0, "iminfo failed:\n" << r.output);
    std::string expected;
    for (const auto& algo : algos) expected += algo + "+ ";
    static const std::regex line_re(R"(^   Hash\(es\) for Image (\d+) \(([^)]*)\): (.*)$)");
    std::size_t lines = 0;
    std::istringstream in(r.output);
    for (std::string line; std::getline(in, line);) {
        std::smatch m;
        if (!std::regex_match(line, m, line_re)) continue;
        BOOST_TEST(std::stoul(m[1]) == lines, line);
        BOOST_TEST(m[3].str() == expected, "image " << m[2] << ": " << m[3]);
        ++lines;
    }
    BOOST_TEST(lines == images, lines << " images' hashes checked, expected " << images << ":\n" << r.output);
    for (const auto& algo : algos) BOOST_TEST(r.output.find(algo + " error") == std::string::npos, algo << " error");
    static const std::regex complaint(R"(\b(bad|error|invalid|unsupported|unimplemented|can't)\b)", std::regex::icase);
    BOOST_TEST(!std::regex_search(r.output, complaint), "iminfo complains:\n" << r.output);
}

/// U-Boot's `crc32 ADDR SIZE` result ("... ==> 1234abcd").
std::uint32_t uboot_crc32(uboot_qemu& uboot, std::uint64_t addr, std::uint64_t size) {
    const auto r = uboot.run("crc32 " + hex(addr) + " " + hex(size));
    BOOST_REQUIRE_MESSAGE(r.status == 0, r.output);
    std::smatch m;
    BOOST_REQUIRE_MESSAGE(std::regex_search(r.output, m, std::regex("==> ([0-9a-fA-F]{8})")), r.output);
    return static_cast<std::uint32_t>(std::stoul(m[1], nullptr, 16));
}

std::string what_bootm_says(const std::string& codec) {
    return codec == "none" ? "Loading Kernel Image" : "Uncompressing Kernel Image";
}

std::string crc_hex(std::uint32_t v) {
    char text[16];
    std::snprintf(text, sizeof text, "%08x", v);
    return text;
}

// ---------------------------------------------------------------------------
// iminfo and bootm loados: one session per codec, a FIT per layout.

void check_iminfo_and_loados(const std::string& codec) {
    const auto& in = shared_inputs();
    temp_dir out;
    uboot_qemu::options options;
    struct packed {
        layout lay;
        std::uint64_t address;
        std::string kernel_bytes;
    };
    std::vector<packed> fits;
    for (std::size_t i = 0; i < all_layouts.size(); ++i) {
        // A different kernel in each FIT, so that a loados that did nothing
        // cannot pass on the previous one's bytes. Over 1 MiB (fitstream's
        // chunk), not a multiple of 4; no bigger, as lzma packs slowly.
        fit_spec spec;
        spec.kernel = out / ("Image-" + std::to_string(i));
        const std::string kernel = fitstream_test::kernel_like_payload((5u << 18) + 5 + 2 * i, 40 + unsigned(i));
        write_file(spec.kernel, kernel);
        spec.output = out / ("image-" + std::to_string(i) + ".fit");
        spec.codec = codec;
        spec.lay = all_layouts[i];
        spec.hashes = all_hashes;
        spec.dtbs = in.boards;
        pack(spec);
        fits.push_back({spec.lay, fit_base + i * fit_stride, kernel});
        options.blobs.push_back({spec.output, fits.back().address});
    }
    const std::size_t images = 2 + in.boards.size();  // kernel, ramdisk, fdt-N

    uboot_qemu uboot(options);
    uboot.start();
    BOOST_TEST_MESSAGE(codec << ": " << uboot.version() << ", prompt after " << uboot.elapsed() << " s");
    for (const auto& fit : fits) {
        BOOST_TEST_CONTEXT(codec << ", " << fit.lay << ", FIT at " << hex(fit.address)) {
            check_iminfo(uboot.run("iminfo " + hex(fit.address), std::chrono::seconds(90)), all_hash_algos, images);

            const auto load = uboot.run("bootm start " + hex(fit.address) + "#conf-2 && bootm loados",
                                        std::chrono::seconds(90));
            BOOST_TEST(load.status == 0, "bootm start/loados failed:\n" << load.output);
            BOOST_TEST(load.output.find("Using 'conf-2' configuration") != std::string::npos, load.output);
            BOOST_TEST(load.output.find(what_bootm_says(codec)) != std::string::npos, load.output);
            const std::string decoded = crc_hex(uboot_crc32(uboot, kernel_load, fit.kernel_bytes.size()));
            const std::string input = crc_hex(crc32_of(fit.kernel_bytes));
            BOOST_TEST(decoded == input,
                       "the decoded kernel differs from the input: CRC-32 " << decoded << ", expected " << input);
        }
    }
    BOOST_TEST_MESSAGE(codec << ": session took " << uboot.elapsed() << " s");
}

// ---------------------------------------------------------------------------
// A real boot: plain bootm picks the QEMU board by compatible.

/// The DTBs of a boot FIT: the test boards with QEMU's board third, so that
/// neither the first configuration (the default) nor the last is the match.
std::vector<fs::path> boot_dtbs(std::size_t& board_index) {
    const auto& in = shared_inputs();
    std::vector<fs::path> dtbs = in.boards;
    board_index = 2;
    dtbs.insert(dtbs.begin() + static_cast<std::ptrdiff_t>(board_index), in.qemu_board);
    return dtbs;
}

void check_payload_boot(uboot_qemu& uboot, const fitstream_test::uboot_boot_result& b, const std::string& conf,
                        const std::string& codec, std::optional<std::uint64_t> load) {
    BOOST_TEST(b.found, "the payload did not finish:\n" << b.output);
    BOOST_TEST(b.output.find("Using '" + conf + "' configuration") != std::string::npos, b.output);
    BOOST_TEST(b.output.find(what_bootm_says(codec)) != std::string::npos, b.output);
    BOOST_TEST(b.output.find("Starting kernel") != std::string::npos, b.output);
    BOOST_TEST(b.output.find("FITSTREAM-PAYLOAD: started\n") != std::string::npos, b.output);
    if (load) {
        char at[64];
        std::snprintf(at, sizeof at, "FITSTREAM-PAYLOAD: at=0x%016llx\n", static_cast<unsigned long long>(*load));
        BOOST_TEST(b.output.find(at) != std::string::npos, "not running at the load address:\n" << b.output);
    }
    BOOST_TEST(b.output.find("FITSTREAM-PAYLOAD: model=" + board_model + "\n") != std::string::npos, b.output);
    BOOST_TEST(b.output.find("FITSTREAM-PAYLOAD: compatible=linux,dummy-virt\n") != std::string::npos, b.output);
    // The payload powers off through PSCI: QEMU exits by itself, cleanly.
    BOOST_TEST(uboot.wait_exit(std::chrono::seconds(20)), "QEMU did not power off");
    BOOST_TEST(uboot.exit_code() == 0, "QEMU exit code " << uboot.exit_code() << ": " << uboot.qemu_stderr());
}

void boot_payload(const std::string& codec, layout lay, std::optional<std::uint64_t> load = kernel_load) {
    const auto& in = shared_inputs();
    temp_dir out;
    fit_spec spec;
    spec.output = out / "boot.fit";
    spec.kernel = in.payload;
    spec.codec = codec;
    spec.lay = lay;
    spec.load = load;
    std::size_t board_index = 0;
    spec.dtbs = boot_dtbs(board_index);
    pack(spec);
    const std::string conf = "conf-" + std::to_string(board_index + 1);
    // The test is only meaningful if the default is another configuration.
    BOOST_TEST(trim_newline(tool({"fdtget", spec.output.string(), "/configurations", "default"})) != conf);

    uboot_qemu::options options;
    options.blobs.push_back({spec.output, fit_base});
    uboot_qemu uboot(options);
    uboot.start();
    const auto b = uboot.boot_and_read("bootm " + hex(fit_base), "FITSTREAM-PAYLOAD: done");
    BOOST_TEST_CONTEXT(codec << ", " << lay << (load ? "" : ", kernel_noload")) {
        check_payload_boot(uboot, b, conf, codec, load);
    }
    BOOST_TEST_MESSAGE(codec << ", " << lay << ": boot session took " << uboot.elapsed() << " s");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(uboot_in_qemu, *utf::precondition(qemu_enabled))

BOOST_DATA_TEST_CASE(iminfo_and_loados, bdata::make(std::vector<std::string>{"none", "gzip"}), codec) {
    check_iminfo_and_loados(codec);
}

BOOST_AUTO_TEST_CASE(iminfo_and_loados_lzma, *utf::precondition(codec_available{"lzma"})) {
    check_iminfo_and_loados("lzma");
}

BOOST_AUTO_TEST_CASE(iminfo_and_loados_lz4, *utf::precondition(codec_available{"lz4"})) {
    check_iminfo_and_loados("lz4");
}

// --load 0x40400000 (type "kernel"): this U-Boot decompresses only those.
BOOST_DATA_TEST_CASE(boot_picks_the_board_by_compatible,
                     bdata::make(std::vector<std::string>{"none", "gzip"}) * bdata::make(all_layouts), codec, lay) {
    boot_payload(codec, lay);
}

BOOST_AUTO_TEST_CASE(boot_lzma, *utf::precondition(codec_available{"lzma"})) {
    for (const auto lay : all_layouts) boot_payload("lzma", lay);
}

BOOST_AUTO_TEST_CASE(boot_lz4, *utf::precondition(codec_available{"lz4"})) {
    for (const auto lay : all_layouts) boot_payload("lz4", lay);
}

// A gzip member and an LZ4 frame made in segments on three threads (four
// gzip segments, four LZ4 blocks), in a FIT that mkimage packs from an .its:
// U-Boot's gunzip and ulz4fn must decode both to the input.
BOOST_AUTO_TEST_CASE(segmented_kernels_decode) {
    const auto& in = shared_inputs();
    temp_dir out;
    struct kernel {
        std::string codec;
        std::string input;
        std::string stored;
    };
    std::vector<kernel> kernels;
    const std::size_t size = (7u << 19) + 13;  // 3.5 MiB and a bit: the last segment partial
    kernels.push_back({"gzip", fitstream_test::kernel_like_payload(size, 71), {}});
    kernels.push_back({"lz4", fitstream_test::kernel_like_payload(size + 2, 72), {}});
    kernels[0].stored = fitstream_test::encode_segments<fitstream::codec::gzip>(kernels[0].input, {}, 3);
    kernels[1].stored = fitstream_test::encode_segments<fitstream::codec::lz4>(kernels[1].input, {}, 3);
    std::string images, confs;
    for (const auto& k : kernels) {
        const fs::path file = out / ("Image." + k.codec);
        write_file(file, k.stored);
        // The reference tools agree before U-Boot is asked.
        tool({k.codec == "gzip" ? "gzip" : "lz4", "-t", file.string()});
        BOOST_TEST((tool({k.codec == "gzip" ? "gzip" : "lz4", "-dc", file.string()}) == k.input), k.codec);
        images += "        kernel-" + k.codec + " {\n            description = \"" + k.codec +
                  " in segments\";\n            data = /incbin/(\"" + file.string() +
                  "\");\n            type = \"kernel\";\n            arch = \"arm64\";\n"
                  "            os = \"linux\";\n            compression = \"" + k.codec +
                  "\";\n            load = <" + hex(kernel_load) + ">;\n            entry = <" + hex(kernel_load) +
                  ">;\n            hash-1 { algo = \"crc32\"; };\n        };\n";
        confs += "        conf-" + k.codec + " {\n            description = \"" + k.codec +
                 "\";\n            kernel = \"kernel-" + k.codec + "\";\n            fdt = \"fdt-1\";\n        };\n";
    }
    images += "        fdt-1 {\n            description = \"board\";\n            data = /incbin/(\"" +
              in.qemu_board.string() +
              "\");\n            type = \"flat_dt\";\n            arch = \"arm64\";\n"
              "            compression = \"none\";\n            hash-1 { algo = \"crc32\"; };\n        };\n";
    const std::string its = "/dts-v1/;\n\n/ {\n    description = \"segmented kernels\";\n"
                            "    #address-cells = <1>;\n\n    images {\n" + images +
                            "    };\n\n    configurations {\n        default = \"conf-gzip\";\n" + confs +
                            "    };\n};\n";
    const fs::path its_file = out / "segmented.its";
    const fs::path fit = out / "segmented.fit";
    write_file(its_file, its);
    tool({"mkimage", "-f", its_file.string(), fit.string()});

    uboot_qemu::options options;
    options.blobs.push_back({fit, fit_base});
    uboot_qemu uboot(options);
    uboot.start();
    check_iminfo(uboot.run("iminfo " + hex(fit_base), std::chrono::seconds(90)), {"crc32"}, 3);
    for (const auto& k : kernels) {
        BOOST_TEST_CONTEXT(k.codec << " in segments") {
            const auto load = uboot.run("bootm start " + hex(fit_base) + "#conf-" + k.codec + " && bootm loados",
                                        std::chrono::seconds(90));
            BOOST_TEST(load.status == 0, "bootm start/loados failed:\n" << load.output);
            BOOST_TEST(load.output.find("Using 'conf-" + k.codec + "' configuration") != std::string::npos,
                       load.output);
            BOOST_TEST(load.output.find("Uncompressing Kernel Image") != std::string::npos, load.output);
            const std::string decoded = crc_hex(uboot_crc32(uboot, kernel_load, k.input.size()));
            const std::string expected = crc_hex(crc32_of(k.input));
            BOOST_TEST(decoded == expected,
                       "the decoded kernel differs from the input: CRC-32 " << decoded << ", expected " << expected);
        }
    }
    BOOST_TEST_MESSAGE("segments session took " << uboot.elapsed() << " s");
}

// fitpack's default, make_fit.py's output: an uncompressed kernel_noload
// kernel, which U-Boot runs where it lies (after moving it to a 2 MiB
// boundary, as booti does).
BOOST_DATA_TEST_CASE(boot_kernel_noload, bdata::make(std::vector<layout>{layout::embedded, layout::external}), lay) {
    boot_payload("none", lay, std::nullopt);
}

// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(tampered_kernel_fails_verification) {
    const auto& in = shared_inputs();
    temp_dir out;
    std::size_t board_index = 0;
    const auto dtbs = boot_dtbs(board_index);
    const std::string conf = "conf-" + std::to_string(board_index + 1);
    const std::string payload = read_file(in.payload);

    // (a) embedded, uncompressed: the kernel's stored bytes are the payload's,
    //     found by content; (b) -E, gzip: at data-offset past the structure;
    // (c) (a) untouched, as the control.
    fit_spec embedded{out / "embedded.fit", in.payload, "none", layout::embedded, "sha256", dtbs};
    fit_spec external{out / "external.fit", in.payload, "gzip", layout::external, "sha256", dtbs};
    pack(embedded);
    pack(external);
    const fs::path pristine = out / "pristine.fit";
    fs::copy_file(embedded.output, pristine);

    {
        std::string bytes = read_file(embedded.output);
        const auto at = bytes.find(payload);
        BOOST_REQUIRE(at != std::string::npos);
        BOOST_REQUIRE(bytes.find(payload, at + 1) == std::string::npos);
        bytes[at + payload.size() / 2] ^= 0x01;
        write_file(embedded.output, bytes);
    }
    {
        std::string bytes = read_file(external.output);
        const auto get = [&](const std::string& prop) {
            return std::stoull(trim_newline(tool({"fdtget", "-t", "u", external.output.string(), "/images/kernel", prop})));
        };
        const std::uint64_t offset = get("data-offset"), size = get("data-size");
        const std::uint64_t at = align_up(be32(bytes, 4), 4) + offset + size / 2;
        BOOST_REQUIRE(size > 16 && at < bytes.size());
        bytes[at] ^= 0x80;
        write_file(external.output, bytes);
    }

    uboot_qemu::options options;
    const std::uint64_t a = fit_base, b = fit_base + fit_stride, c = fit_base + 2 * fit_stride;
    options.blobs = {{embedded.output, a}, {external.output, b}, {pristine, c}};
    uboot_qemu uboot(options);
    uboot.start();

    // What U-Boot 2023.01 says (boot/image-fit.c); "sha256-" is never printed.
    const std::string bad_kernel_hash = "Bad hash value for 'hash-1' hash node in 'kernel' image node";
    for (const auto& [addr, name] : {std::pair{a, "embedded"}, std::pair{b, "-E"}}) {
        BOOST_TEST_CONTEXT(name) {
            const auto info = uboot.run("iminfo " + hex(addr));
            BOOST_TEST(info.status != 0, "iminfo accepted a tampered kernel:\n" << info.output);
            BOOST_TEST(info.output.find("(kernel): sha256 error!") != std::string::npos, info.output);
            BOOST_TEST(info.output.find(bad_kernel_hash) != std::string::npos, info.output);

            const auto boot = uboot.boot_and_read("bootm " + hex(addr), "FITSTREAM-PAYLOAD");
            BOOST_TEST(boot.returned, "bootm did not fail back to the prompt:\n" << boot.output);
            BOOST_TEST(boot.status != 0);
            BOOST_TEST(!boot.found, "the tampered payload ran:\n" << boot.output);
            BOOST_TEST(boot.output.find(bad_kernel_hash) != std::string::npos, boot.output);
            BOOST_TEST(boot.output.find("Starting kernel") == std::string::npos, boot.output);
        }
    }
    check_iminfo(uboot.run("iminfo " + hex(c)), {"sha256"}, 2 + dtbs.size());
    const auto boot = uboot.boot_and_read("bootm " + hex(c), "FITSTREAM-PAYLOAD: done");
    check_payload_boot(uboot, boot, conf, "none", kernel_load);
    BOOST_TEST_MESSAGE("tamper session took " << uboot.elapsed() << " s");
}

BOOST_AUTO_TEST_SUITE_END()
