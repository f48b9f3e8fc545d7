// SPDX-License-Identifier: MIT
//
// fitpack's features beyond a plain kernel + DTBs FIT, through fitpack and
// through the library: -D on a tree laid out as Kbuild lays it (composite
// DTB made by the real fdtoverlay, `.<name>.dtb.cmd` files), content
// deduplication, overlays and explicit configurations, compression per
// image kind, loadables, FITs of devicetrees only, 64-bit addresses,
// configuration naming and --default, depfiles, and reproducible output. Every FIT is read back with
// `dumpimage -l` and fdtget.

#define BOOST_TEST_MODULE fitpack_features
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"
#include "tools.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace fitstream_test;

namespace {

/// fitpack must fail with exit status `code`, naming each of `mentions`.
void fitpack_fails(const std::vector<std::string>& args, int code, const std::vector<std::string>& mentions,
                   const fs::path& dir = {}) {
    const run_result r = fitpack(args, {{epoch_env}, dir});
    BOOST_TEST_CONTEXT(describe(args, r)) {
        BOOST_TEST(r.exit_code == code);
        BOOST_TEST(r.err.rfind("fitpack: error: ", 0) == 0u);
        for (const auto& m : mentions) BOOST_TEST(has(r.err, m), "stderr does not mention '" << m << "'");
    }
}

/// `dumpimage -l`, parsed: section ("kernel", "conf-1", "" for the header)
/// -> field ("FDT", "Compression", ...) -> value; continuation lines (a
/// configuration's second fdt, ...) are appended after a space.
using listing = std::map<std::string, std::map<std::string, std::string>>;

listing dumpimage(const fs::path& fit) {
    const run_result r = run({"dumpimage", "-l", fit.string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe({"dumpimage", "-l", fit.string()}, r));
    listing out;
    std::string section, field;
    for (const auto& line : lines_of(r.out)) {
        const auto open = line.find(" (");
        if ((line.rfind(" Image ", 0) == 0 || line.rfind(" Configuration ", 0) == 0) && open != std::string::npos &&
            line.back() == ')') {
            section = line.substr(open + 2, line.size() - open - 3);
            continue;
        }
        const auto colon = line.find(':');
        const auto text_start = line.find_first_not_of(' ');
        if (text_start == std::string::npos) continue;
        if (colon != std::string::npos && text_start <= 2) {
            // "FIT description:" and " Default Configuration:" belong to the header.
            if (text_start < 2) section.clear();
            field = line.substr(text_start, colon - text_start);
            const auto value = line.find_first_not_of(' ', colon + 1);
            out[section][field] = value == std::string::npos ? "" : line.substr(value);
        } else if (!field.empty()) {
            out[section][field] += " " + line.substr(text_start);
        }
    }
    return out;
}

/// The DTBs and overlays of tests/data/features and tests/data/boards, compiled once.
struct inputs {
    temp_dir dir;
    fs::path kernel, ramdisk, firmware, tee;
    fs::path base, numbat, sbc, imx;          // .dtb
    fs::path spi_flash, pro, sbc_spi_flash;   // .dtbo

    inputs() {
        kernel = dir / "Image";
        ramdisk = dir / "initrd";
        firmware = dir / "bl31.bin";
        tee = dir / "tee.bin";
        write_file(kernel, fitstream_test::kernel_like_payload(64 * 1024, 11));
        write_file(ramdisk, fitstream_test::kernel_like_payload(8192, 12));
        write_file(firmware, fitstream_test::kernel_like_payload(16384, 13));
        write_file(tee, fitstream_test::kernel_like_payload(12000, 14));
        const fs::path features = fitstream_test::data_dir / "features";
        const fs::path boards = fitstream_test::data_dir / "boards";
        base = fitstream_test::compile_dts(features / "wombat-base.dts", dir / "wombat-base.dtb");
        numbat = fitstream_test::compile_dts(features / "numbat-board.dts", dir / "numbat-board.dtb");
        spi_flash = fitstream_test::compile_dts(features / "wombat-spi-flash.dtso", dir / "wombat-spi-flash.dtbo");
        pro = fitstream_test::compile_dts(features / "wombat-pro.dtso", dir / "wombat-pro.dtbo");
        sbc = fitstream_test::compile_dts(boards / "acme-rk3399-sbc.dts", dir / "acme-rk3399-sbc.dtb");
        imx = fitstream_test::compile_dts(boards / "globex-imx8mp-som-devkit.dts", dir / "globex-imx8mp-som-devkit.dtb");
        sbc_spi_flash =
            fitstream_test::compile_dts(boards / "acme-rk3399-sbc-spi-flash.dtso", dir / "acme-rk3399-sbc-spi-flash.dtbo");
    }
};

const inputs& in() {
    static const inputs instance;
    return instance;
}

std::vector<std::string> base_args(const fs::path& out) {
    return {"-o", out.string(), "-A", "arm64", "-O", "linux", "-n", "Linux 6.12", "-k", in().kernel.string()};
}

/// A kernel object tree as Kbuild leaves it (paths relative to its root):
/// arch/arm64/boot/dts/vendor/ holds wombat-base.dtb, two overlays, the
/// composite wombat-pro.dtb made from them by the real fdtoverlay, and
/// numbat-board.dtb; each .dtb has its `.<name>.dtb.cmd`, and dtbs-list
/// names them all in Kbuild's order.
struct kbuild_tree {
    temp_dir root;
    const std::string dts = "arch/arm64/boot/dts/vendor";
    std::string base, spi_flash, pro_overlay, composite, numbat, list = "arch/arm64/boot/dts/dtbs-list";

    std::string cmd_of(const std::string& dtb) const {
        const auto slash = dtb.rfind('/');
        return dtb.substr(0, slash + 1) + "." + dtb.substr(slash + 1) + ".cmd";
    }

    explicit kbuild_tree(const std::string& composite_cmd_tail = "") {
        fs::create_directories(root / dts);
        base = dts + "/wombat-base.dtb";
        spi_flash = dts + "/wombat-spi-flash.dtbo";
        pro_overlay = dts + "/wombat-pro.dtbo";
        composite = dts + "/wombat-pro.dtb";
        numbat = dts + "/numbat-board.dtb";
        fs::copy_file(in().base, root / base);
        fs::copy_file(in().spi_flash, root / spi_flash);
        fs::copy_file(in().pro, root / pro_overlay);
        fs::copy_file(in().numbat, root / numbat);
        const std::vector<std::string> overlay{"fdtoverlay", "-o", (root / composite).string(), "-i",
                                               (root / base).string(), (root / spi_flash).string(),
                                               (root / pro_overlay).string()};
        const run_result r = run(overlay);
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(overlay, r));
        for (const auto& dtb : {base, numbat})
            write_file(root / cmd_of(dtb), "savedcmd_" + dtb + " := gcc -E -nostdinc -undef -x assembler-with-cpp -o " +
                                               dtb + ".dts.tmp " + dtb + ".dts ; ./scripts/dtc/dtc -O dtb -o " + dtb +
                                               " -b 0 -@ " + dtb + ".dts.tmp\n");
        write_file(root / cmd_of(composite), "savedcmd_" + composite + " := ./scripts/dtc/fdtoverlay -o " + composite +
                                                 " -i " + base + " " + spi_flash + " " + pro_overlay +
                                                 composite_cmd_tail + "\n");
        write_file(root / list, join({base, spi_flash, pro_overlay, composite, numbat}, "\n") + "\n");
    }

    std::vector<std::string> args(const std::string& out) const {
        return {"-o", out, "-A", "arm64", "-O", "linux", "-n", "Linux 6.12", "-k", "Image", "@" + list};
    }
};

const std::string schema_check =
    "; ./scripts/dtc/dt-validate -u Documentation/devicetree/bindings -p processed-schema.json "
    "arch/arm64/boot/dts/vendor/wombat-pro.dtb || true";

/// A depfile read back: the target and its inputs, unescaped as Make does.
std::pair<std::string, std::vector<std::string>> parse_depfile(const std::string& text) {
    std::string joined;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\n') {
            joined += ' ';
            ++i;
        } else {
            joined += text[i];
        }
    }
    std::vector<std::string> words;
    std::string word;
    for (std::size_t i = 0; i < joined.size(); ++i) {
        const char c = joined[i];
        if (c == '\\' && i + 1 < joined.size() && (joined[i + 1] == ' ' || joined[i + 1] == '#')) {
            word += joined[++i];
        } else if (c == '$' && i + 1 < joined.size() && joined[i + 1] == '$') {
            word += '$';
            ++i;
        } else if (c == ' ' || c == '\n') {
            if (!word.empty()) words.push_back(word);
            word.clear();
        } else {
            word += c;
        }
    }
    if (!word.empty()) words.push_back(word);
    BOOST_REQUIRE(!words.empty());
    BOOST_REQUIRE(words.front().back() == ':');
    std::string target = words.front();
    target.pop_back();
    return {target, {words.begin() + 1, words.end()}};
}

}  // namespace

// ---------------------------------------------------------------------------
// -D / --decompose-dtbs
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(decompose_dtbs_stores_base_and_overlays_as_make_fit_does) {
    for (const std::string& tail : {std::string(), schema_check}) {
        BOOST_TEST_CONTEXT("composite .cmd tail: '" << tail << "'") {
            kbuild_tree k(tail);
            fs::copy_file(in().kernel, k.root / "Image");
            const fs::path fit = k.root / "image.fit";
            fitpack_ok(k.args("image.fit") + std::vector<std::string>{"-D", "-c", "gzip", "--depfile", "image.fit.d"},
                       {{epoch_env}, k.root.path()});
            const listing l = dumpimage(fit);
            // Each unique file once, in first-seen order; the composite itself is not stored.
            BOOST_TEST(fdt_subnodes(fit, "/images") ==
                           (std::vector<std::string>{"kernel", "fdt-1", "fdt-2", "fdt-3", "fdt-4"}),
                       boost::test_tools::per_element());
            BOOST_TEST(l.at("fdt-1").at("Description") == "wombat-base.dtb");
            BOOST_TEST(l.at("fdt-2").at("Description") == "wombat-spi-flash.dtbo");
            BOOST_TEST(l.at("fdt-3").at("Description") == "wombat-pro.dtbo");
            BOOST_TEST(l.at("fdt-4").at("Description") == "numbat-board.dtb");
            BOOST_TEST(l.at("conf-1").at("FDT") == "fdt-1");
            BOOST_TEST(l.at("conf-2").at("FDT") == "fdt-1 fdt-2 fdt-3");
            BOOST_TEST(l.at("conf-3").at("FDT") == "fdt-4");
            BOOST_TEST(fdtget(fit, "/configurations/conf-2", "fdt") == "fdt-1 fdt-2 fdt-3");
            // Description and compatible come from the composite, not the base.
            BOOST_TEST(fdtget(fit, "/configurations/conf-2", "description") == "Wombat Pro");
            BOOST_TEST(fdtget(fit, "/configurations/conf-2", "compatible") == "wombat,pro wombat,base vendor,soc");
            BOOST_TEST(fdtget(fit, "/configurations/conf-1", "compatible") == "wombat,base vendor,soc");
            // The base is compressed; overlays are not (U-Boot applies them
            // without decompressing them).
            BOOST_TEST(fdtget(fit, "/images/fdt-1", "compression") == "gzip");
            BOOST_TEST(fdtget(fit, "/images/fdt-2", "compression") == "none");
            BOOST_TEST(fdtget(fit, "/images/fdt-3", "compression") == "none");
            // The stored base and overlays are the files themselves.
            const fs::path extracted = k.root / "fdt-3.bin";
            const run_result x =
                run({fitstream_test::fitpack_path, "extract", fit.string(), "fdt-3", "-o", extracted.string()});
            BOOST_REQUIRE_MESSAGE(x.exit_code == 0, x.err);
            BOOST_TEST((read_file(extracted) == read_file(k.root / k.pro_overlay)));
            // The .cmd files read are inputs.
            const auto [target, deps] = parse_depfile(read_file(k.root / "image.fit.d"));
            BOOST_TEST(target == "image.fit");
            const std::set<std::string> got(deps.begin(), deps.end());
            const std::set<std::string> want{k.list,          "Image",         k.base,          k.cmd_of(k.base),
                                             k.composite,     k.cmd_of(k.composite), k.spi_flash, k.pro_overlay,
                                             k.numbat,        k.cmd_of(k.numbat)};
            BOOST_TEST(got == want, "depfile lists " << join(deps));
            BOOST_TEST(got.size() == deps.size(), "an input listed twice: " << join(deps));
            // A .cmd file is read, so it is no output either (with or
            // without a depfile), and stays as it was.
            const std::string cmd = read_file(k.root / k.cmd_of(k.composite));
            for (const bool with_depfile : {false, true}) {
                std::vector<std::string> args = k.args(k.cmd_of(k.composite)) + std::vector<std::string>{"-D"};
                if (with_depfile) args.insert(args.end(), {"--depfile", "again.d"});
                const run_result r = fitstream_test::fitpack(args, {{epoch_env}, k.root.path()});
                BOOST_TEST(r.exit_code == 1, r.err);
                BOOST_TEST(has(r.err, "output would overwrite an input"), r.err);
                BOOST_TEST((read_file(k.root / k.cmd_of(k.composite)) == cmd), ".cmd file changed");
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(without_decompose_the_composite_is_one_image_and_overlays_are_skipped) {
    kbuild_tree k;
    fs::copy_file(in().kernel, k.root / "Image");
    const fs::path fit = k.root / "image.fit";
    fitpack_ok(k.args("image.fit"), {{epoch_env}, k.root.path()});
    BOOST_TEST(fdt_subnodes(fit, "/images") == (std::vector<std::string>{"kernel", "fdt-1", "fdt-2", "fdt-3"}),
               boost::test_tools::per_element());
    BOOST_TEST(fdtget(fit, "/images/fdt-2", "description") == "wombat-pro.dtb");
    BOOST_TEST(fdtget(fit, "/configurations/conf-2", "fdt") == "fdt-2");
}

BOOST_AUTO_TEST_CASE(decompose_errors_name_the_cmd_file) {
    kbuild_tree k;
    fs::copy_file(in().kernel, k.root / "Image");
    const auto args = k.args("image.fit") + std::vector<std::string>{"-D"};
    // A missing .cmd file (make_fit.py crashes).
    fs::remove(k.root / k.cmd_of(k.numbat));
    fitpack_fails(args, 1, {k.cmd_of(k.numbat), "No such file", k.numbat}, k.root.path());
    BOOST_TEST(!fs::exists(k.root / "image.fit"));
    write_file(k.root / k.cmd_of(k.numbat), "savedcmd_x := dtc\n");
    // fdtoverlay without -i, and with nothing after it.
    write_file(k.root / k.cmd_of(k.composite), "savedcmd_" + k.composite + " := ./scripts/dtc/fdtoverlay -o x " +
                                                   k.base + "\n");
    fitpack_fails(args, 1, {k.cmd_of(k.composite), "-i"}, k.root.path());
    write_file(k.root / k.cmd_of(k.composite),
               "savedcmd_" + k.composite + " := ./scripts/dtc/fdtoverlay -o x -i ; " + k.base + "\n");
    fitpack_fails(args, 1, {k.cmd_of(k.composite), "-i"}, k.root.path());
    // A file it names that is missing.
    write_file(k.root / k.cmd_of(k.composite),
               "savedcmd_" + k.composite + " := ./scripts/dtc/fdtoverlay -o x -i " + k.base + " " + k.dts +
                   "/gone.dtbo\n");
    fitpack_fails(args, 1, {k.dts + "/gone.dtbo"}, k.root.path());
    BOOST_TEST(!fs::exists(k.root / "image.fit"));
}

// ---------------------------------------------------------------------------
// Deduplication
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(identical_dtbs_are_stored_once) {
    temp_dir t;
    fs::copy_file(in().sbc, t / "board-a.dtb");
    fs::copy_file(in().sbc, t / "board-b.dtb");
    const fs::path fit = t / "dedup.fit";
    const auto args = base_args(fit) + std::vector<std::string>{(t / "board-a.dtb").string(), in().imx.string(),
                                                                (t / "board-b.dtb").string(), "-v"};
    const run_result r = fitpack_ok(args);
    BOOST_TEST(fdt_subnodes(fit, "/images") == (std::vector<std::string>{"kernel", "fdt-1", "fdt-2"}),
               boost::test_tools::per_element());
    const listing l = dumpimage(fit);
    BOOST_TEST(l.at("conf-1").at("FDT") == "fdt-1");
    BOOST_TEST(l.at("conf-2").at("FDT") == "fdt-2");
    BOOST_TEST(l.at("conf-3").at("FDT") == "fdt-1");
    BOOST_TEST(fdtget(fit, "/configurations/conf-3", "compatible") == "acme,rk3399-sbc rockchip,rk3399");
    const std::string size = std::to_string(fs::file_size(in().sbc));
    BOOST_TEST(has(r.err, "deduplicated 1 image"), r.err);
    BOOST_TEST(has(r.err, "saving " + size + " bytes"), r.err);

    // --no-dedup stores each file.
    const fs::path plain = t / "plain.fit";
    fitpack_ok(base_args(plain) + std::vector<std::string>{(t / "board-a.dtb").string(), in().imx.string(),
                                                           (t / "board-b.dtb").string(), "--no-dedup"});
    BOOST_TEST(fdt_subnodes(plain, "/images").size() == 4u);
    BOOST_TEST(fdtget(plain, "/configurations/conf-3", "fdt") == "fdt-3");
}

BOOST_AUTO_TEST_CASE(dedup_changes_nothing_without_duplicates) {
    temp_dir t;
    const std::vector<std::string> dtbs{in().sbc.string(), in().imx.string(), in().numbat.string()};
    fitpack_ok(base_args(t / "a.fit") + dtbs + std::vector<std::string>{"-c", "gzip"});
    fitpack_ok(base_args(t / "b.fit") + dtbs + std::vector<std::string>{"-c", "gzip", "--no-dedup"});
    BOOST_TEST((read_file(t / "a.fit") == read_file(t / "b.fit")));
}

BOOST_AUTO_TEST_CASE(same_size_different_bytes_are_not_merged) {
    // Same size, different contents: the digest differs, both stored.
    temp_dir t;
    std::string bytes = read_file(in().sbc);
    write_file(t / "a.dtb", bytes);
    const std::string model = "Acme RK3399 SBC";
    bytes.replace(bytes.find(model), model.size(), "Acme RK3399 SBX");
    write_file(t / "b.dtb", bytes);
    const fs::path fit = t / "o.fit";
    fitpack_ok(base_args(fit) + std::vector<std::string>{(t / "a.dtb").string(), (t / "b.dtb").string()});
    BOOST_TEST(fdtget(fit, "/configurations/conf-2", "fdt") == "fdt-2");
}

// ---------------------------------------------------------------------------
// Overlays and explicit configurations
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(overlays_and_explicit_configurations) {
    temp_dir t;
    const fs::path fit = t / "ov.fit";
    fitpack_ok(base_args(fit) + std::vector<std::string>{
                                    in().base.string(), in().spi_flash.string(), in().numbat.string(), "--overlays",
                                    "--config", "wombat-flash:" + in().base.string() + "," + in().spi_flash.string(),
                                    "--config",
                                    "wombat-all:" + in().base.string() + "," + in().spi_flash.string() + "," +
                                        in().pro.string(),
                                    "--config", "acme:" + in().sbc.string()});
    // fdt images in first-seen order; the .dtbo makes no configuration itself.
    const listing l = dumpimage(fit);
    BOOST_TEST(l.at("fdt-1").at("Description") == "wombat-base.dtb");
    BOOST_TEST(l.at("fdt-2").at("Description") == "wombat-spi-flash.dtbo");
    BOOST_TEST(l.at("fdt-3").at("Description") == "numbat-board.dtb");
    BOOST_TEST(l.at("fdt-4").at("Description") == "wombat-pro.dtbo");
    BOOST_TEST(l.at("fdt-5").at("Description") == "acme-rk3399-sbc.dtb");
    BOOST_TEST(fdt_subnodes(fit, "/configurations") ==
                   (std::vector<std::string>{"conf-1", "conf-2", "wombat-flash", "wombat-all", "acme"}),
               boost::test_tools::per_element());
    BOOST_TEST(l.at("wombat-flash").at("FDT") == "fdt-1 fdt-2");
    BOOST_TEST(l.at("wombat-all").at("FDT") == "fdt-1 fdt-2 fdt-4");
    BOOST_TEST(l.at("acme").at("FDT") == "fdt-5");
    BOOST_TEST(l.at("wombat-all").at("Kernel") == "kernel");
    BOOST_TEST(fdtget(fit, "/configurations/wombat-all", "description") == "Wombat Base");
    BOOST_TEST(fdtget(fit, "/configurations/wombat-all", "compatible") == "wombat,base vendor,soc");
    BOOST_TEST(fdtget(fit, "/configurations/acme", "compatible") == "acme,rk3399-sbc rockchip,rk3399");
    BOOST_TEST(fdtget(fit, "/configurations", "default") == "conf-1");
    const run_result v = run({fitstream_test::fitpack_path, "verify", fit.string()});
    BOOST_TEST(v.exit_code == 0, v.out << v.err);

    fitpack_fails(base_args(t / "x.fit") + std::vector<std::string>{"--config", "bad"}, 2, {"--config"});
    fitpack_fails(base_args(t / "x.fit") + std::vector<std::string>{"--config", "a:" + in().base.string(), "--config",
                                                                    "a:" + in().numbat.string()},
                  1, {"a", "twice"});
    fitpack_fails(base_args(t / "x.fit") + std::vector<std::string>{"--config", "a:" + (t / "none.dtb").string()}, 1,
                  {"none.dtb"});
    BOOST_TEST(!fs::exists(t / "x.fit"));
}

// ---------------------------------------------------------------------------
// Compression per image kind
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(compression_per_image_kind) {
    temp_dir t;
    const auto check = [&](const std::vector<std::string>& options, const std::string& kernel, const std::string& fdt,
                           const std::string& ramdisk) {
        const fs::path fit = t / "c.fit";
        fitpack_ok(base_args(fit) + options +
                   std::vector<std::string>{"-r", in().ramdisk.string(), in().sbc.string(), in().numbat.string()});
        BOOST_TEST_CONTEXT(join(options)) {
            BOOST_TEST(fdtget(fit, "/images/kernel", "compression") == kernel);
            BOOST_TEST(fdtget(fit, "/images/fdt-1", "compression") == fdt);
            BOOST_TEST(fdtget(fit, "/images/fdt-2", "compression") == fdt);
            BOOST_TEST(fdtget(fit, "/images/ramdisk", "compression") == ramdisk);
            const run_result v = run({fitstream_test::fitpack_path, "verify", fit.string()});
            BOOST_TEST(v.exit_code == 0, v.out << v.err);
        }
        const listing l = dumpimage(fit);
        return l;
    };
    check({"-c", "gzip"}, "gzip", "gzip", "none");
    check({"-c", "gzip", "--compress-fdt", "none"}, "gzip", "none", "none");
    const listing l = check({"--compress-kernel", "lz4", "--compress-fdt", "zstd", "--compress-ramdisk", "gzip"},
                            "lz4", "zstd", "gzip");
    BOOST_TEST(l.at("kernel").at("Compression") == "lz4 compressed");
    BOOST_TEST(l.at("ramdisk").at("Compression") == "gzip compressed");
    check({"-c", "zstd", "--compress-kernel", "none"}, "none", "zstd", "none");
    fitpack_fails(base_args(t / "x.fit") + std::vector<std::string>{"--compress-fdt", "xz"}, 1,
                  {"--compress-fdt", "xz", "gzip"});
}

// ---------------------------------------------------------------------------
// Loadables, DTB-only FITs, 64-bit addresses
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(loadables_are_listed_by_every_configuration) {
    temp_dir t;
    const fs::path fit = t / "l.fit";
    fitpack_ok(base_args(fit) +
               std::vector<std::string>{
                   in().sbc.string(), in().imx.string(), "--loadable",
                   in().firmware.string() + ":name=atf,os=arm-trusted-firmware,load=0x40000000,entry=0x40000100",
                   "--loadable", in().tee.string() + ":type=tee,compression=gzip,load=0x48000000", "--loadable",
                   in().firmware.string()});
    const listing l = dumpimage(fit);
    BOOST_TEST(fdt_subnodes(fit, "/images") ==
                   (std::vector<std::string>{"kernel", "fdt-1", "fdt-2", "atf", "loadable-1", "loadable-2"}),
               boost::test_tools::per_element());
    for (const std::string conf : {"conf-1", "conf-2"}) {
        BOOST_TEST(fdtget(fit, "/configurations/" + conf, "loadables") == "atf loadable-1 loadable-2");
        BOOST_TEST(l.at(conf).at("Loadables") == "atf loadable-1 loadable-2");
    }
    BOOST_TEST(fdtget(fit, "/images/atf", "type") == "firmware");
    BOOST_TEST(fdtget(fit, "/images/atf", "os") == "arm-trusted-firmware");
    BOOST_TEST(fdtget(fit, "/images/atf", "arch") == "arm64");
    BOOST_TEST(fdtget(fit, "/images/atf", "load", "x") == "40000000");
    BOOST_TEST(fdtget(fit, "/images/atf", "entry", "x") == "40000100");
    BOOST_TEST(fdtget(fit, "/images/atf", "compression") == "none");
    BOOST_TEST(fdtget(fit, "/images/atf", "description") == "bl31.bin");
    BOOST_TEST(fdtget(fit, "/images/loadable-1", "type") == "tee");
    BOOST_TEST(fdtget(fit, "/images/loadable-1", "compression") == "gzip");
    BOOST_TEST(fdtget(fit, "/images/loadable-1", "entry", "x") == "48000000");
    BOOST_TEST(fdtget(fit, "/images/loadable-2", "type") == "firmware");
    BOOST_TEST(fdtget(fit, "/images/loadable-2", "load") == absent);
    BOOST_TEST(l.at("atf").at("Load Address") == "0x40000000");
    BOOST_TEST(fdtget(fit, "/", "#address-cells") == "1");

    fitpack_fails(base_args(t / "x.fit") + std::vector<std::string>{"--loadable", in().tee.string() + ":colour=red"},
                  2, {"colour"});
    fitpack_fails(base_args(t / "x.fit") +
                      std::vector<std::string>{"--loadable", in().tee.string() + ":compression=xz"},
                  1, {"xz"});
    fitpack_fails(base_args(t / "x.fit") + std::vector<std::string>{"--loadable", (t / "gone.bin").string()}, 1,
                  {"gone.bin"});
}

BOOST_AUTO_TEST_CASE(identical_loadables_are_stored_once) {
    temp_dir t;
    fs::copy_file(in().firmware, t / "copy.bin");
    const fs::path fit = t / "l.fit";
    fitpack_ok(base_args(fit) + std::vector<std::string>{in().sbc.string(), "--loadable", in().firmware.string(),
                                                         "--loadable", (t / "copy.bin").string()});
    BOOST_TEST(fdtget(fit, "/configurations/conf-1", "loadables") == "loadable-1");
    BOOST_TEST(fdt_subnodes(fit, "/images").size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_fit_of_devicetrees_only) {
    temp_dir t;
    const fs::path fit = t / "dtbs.fit";
    fitpack_ok({"-o", fit.string(), "-A", "arm64", "-O", "linux", "-n", "Vendor DTBs", "--no-kernel",
                in().sbc.string(), in().imx.string()});
    BOOST_TEST(fdt_subnodes(fit, "/images") == (std::vector<std::string>{"fdt-1", "fdt-2"}),
               boost::test_tools::per_element());
    for (const std::string conf : {"conf-1", "conf-2"}) {
        BOOST_TEST(fdtget(fit, "/configurations/" + conf, "kernel") == absent);
        BOOST_TEST(fdtget(fit, "/configurations/" + conf, "fdt") != absent);
    }
    const listing l = dumpimage(fit);
    BOOST_TEST(l.at("conf-2").at("FDT") == "fdt-2");
    BOOST_TEST(l.at("conf-2").at("Kernel") == "unavailable");
    const run_result v = run({fitstream_test::fitpack_path, "verify", fit.string()});
    BOOST_TEST(v.exit_code == 0, v.out << v.err);

    // Neither a kernel nor a devicetree: nothing to pack.
    fitpack_fails({"-o", (t / "x.fit").string(), "-A", "arm64", "-O", "linux", "-n", "X", "--no-kernel"}, 1,
                  {"nothing to pack"});
    fitpack_fails({"-o", (t / "x.fit").string(), "-A", "arm64", "-O", "linux", "-n", "X", "--no-kernel",
                   in().spi_flash.string()},
                  1, {"nothing to pack"});
    // -k is still what make_fit.py's command line requires otherwise.
    fitpack_fails({"-o", (t / "x.fit").string(), "-A", "arm64", "-O", "linux", "-n", "X", in().sbc.string()}, 2,
                  {"--kernel", "--no-kernel"});
    BOOST_TEST(!fs::exists(t / "x.fit"));
}

BOOST_AUTO_TEST_CASE(sixty_four_bit_addresses_use_two_address_cells) {
    temp_dir t;
    const fs::path fit = t / "a64.fit";
    fitpack_ok(base_args(fit) + std::vector<std::string>{"--load", "0x880000000", "--entry", "0x880001000",
                                                         "--address-cells", "auto", in().sbc.string()});
    BOOST_TEST(fdtget(fit, "/", "#address-cells") == "2");
    BOOST_TEST(fdtget(fit, "/images/kernel", "type") == "kernel");
    BOOST_TEST(fdtget(fit, "/images/kernel", "load", "x") == "8 80000000");
    BOOST_TEST(fdtget(fit, "/images/kernel", "entry", "x") == "8 80001000");
    BOOST_TEST(dumpimage(fit).at("kernel").at("Load Address") == "0x880000000");

    // A 64-bit loadable address does the same; --address-cells 2 asks for it.
    const fs::path fit2 = t / "b.fit";
    fitpack_ok(base_args(fit2) + std::vector<std::string>{in().sbc.string(), "--address-cells", "auto", "--loadable",
                                                          in().tee.string() + ":load=0x100000000"});
    BOOST_TEST(fdtget(fit2, "/", "#address-cells") == "2");
    BOOST_TEST(fdtget(fit2, "/images/loadable-1", "load", "x") == "1 0");
    BOOST_TEST(fdtget(fit2, "/images/kernel", "load", "x") == "0 0");
    const fs::path fit3 = t / "c.fit";
    fitpack_ok(base_args(fit3) + std::vector<std::string>{in().sbc.string(), "--address-cells", "2", "--load",
                                                          "0x40400000"});
    BOOST_TEST(fdtget(fit3, "/", "#address-cells") == "2");
    BOOST_TEST(fdtget(fit3, "/images/kernel", "load", "x") == "0 40400000");
    BOOST_TEST(dumpimage(fit3).at("kernel").at("Load Address") == "0x40400000");

    // auto with 32-bit addresses: one cell, as make_fit.py writes.
    const fs::path fit4 = t / "d.fit";
    fitpack_ok(base_args(fit4) + std::vector<std::string>{in().sbc.string(), "--address-cells", "auto", "--load",
                                                          "0xffffffff"});
    BOOST_TEST(fdtget(fit4, "/", "#address-cells") == "1");
    // fitpack's default is one cell, as make_fit.py's: a 64-bit address is
    // then refused (never wrapped), naming the option that fixes it.
    for (const std::vector<std::string>& cells : {std::vector<std::string>{}, {"--address-cells", "1"}})
        fitpack_fails(base_args(t / "x.fit") + cells +
                          std::vector<std::string>{in().sbc.string(), "--load", "0x100000000"},
                      1, {"kernel", "two address cells", "--address-cells 2"});
    fitpack_fails(base_args(t / "x.fit") + std::vector<std::string>{"--address-cells", "3"}, 2, {"--address-cells"});
}

// ---------------------------------------------------------------------------
// Configuration names and --default
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(configurations_named_after_their_dtbs) {
    temp_dir t;
    fs::create_directories(t / "a");
    fs::create_directories(t / "b");
    fs::copy_file(in().sbc, t / "a/board.dtb");
    fs::copy_file(in().imx, t / "b/board.dtb");
    fs::copy_file(in().numbat, t / "odd name@2.dtb");
    const fs::path fit = t / "n.fit";
    fitpack_ok(base_args(fit) + std::vector<std::string>{(t / "a/board.dtb").string(), (t / "b/board.dtb").string(),
                                                         (t / "odd name@2.dtb").string(), in().base.string(),
                                                         "--conf-names", "basename"});
    // As Yocto names them: FIT_CONF_PREFIX + the DTB's file name, .dtb kept.
    BOOST_TEST(fdt_subnodes(fit, "/configurations") ==
                   (std::vector<std::string>{"conf-board.dtb", "conf-board.dtb-2", "conf-odd_name_2.dtb",
                                             "conf-wombat-base.dtb"}),
               boost::test_tools::per_element());
    BOOST_TEST(fdtget(fit, "/configurations", "default") == "conf-board.dtb");
    BOOST_TEST(fdtget(fit, "/configurations/conf-board.dtb-2", "fdt") == "fdt-2");
    BOOST_TEST(dumpimage(fit).at("conf-wombat-base.dtb").at("FDT") == "fdt-4");
    fitpack_fails(base_args(t / "x.fit") + std::vector<std::string>{in().sbc.string(), "--conf-names", "yocto"}, 2,
                  {"--conf-names"});
}

BOOST_AUTO_TEST_CASE(default_by_name_file_or_compatible) {
    temp_dir t;
    const std::vector<std::string> dtbs{in().sbc.string(), in().imx.string(), in().base.string(), in().numbat.string()};
    const auto default_of = [&](const std::string& spec) {
        const fs::path fit = t / "d.fit";
        fitpack_ok(base_args(fit) + dtbs + std::vector<std::string>{"--default", spec});
        const listing l = dumpimage(fit);
        BOOST_TEST(l.at("").at("Default Configuration") == "'" + fdtget(fit, "/configurations", "default") + "'");
        return fdtget(fit, "/configurations", "default");
    };
    BOOST_TEST(default_of("conf-3") == "conf-3");
    BOOST_TEST(default_of(in().numbat.string()) == "conf-4");  // the path as given
    BOOST_TEST(default_of("globex-imx8mp-som-devkit.dtb") == "conf-2");  // its file name
    BOOST_TEST(default_of("wombat,base") == "conf-3");  // a compatible string
    BOOST_TEST(default_of("vendor,soc") == "conf-3");   // the first configuration listing it
    BOOST_TEST(default_of("rockchip,rk3399") == "conf-1");
    fitpack_fails(base_args(t / "x.fit") + dtbs + std::vector<std::string>{"--default", "no,such-board"}, 1,
                  {"no,such-board"});
    BOOST_TEST(!fs::exists(t / "x.fit"));
}

// ---------------------------------------------------------------------------
// --depfile
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(depfile_lists_every_input_read) {
    temp_dir t;
    // Awkward names: a space, '$' and '#', which Make needs escaped.
    fs::create_directories(t / "my dir");
    const fs::path dtb_a = t / "my dir/board $1.dtb";
    const fs::path dtb_b = t / "board#2.dtb";
    fs::copy_file(in().sbc, dtb_a);
    fs::copy_file(in().imx, dtb_b);
    const fs::path rsp = t / "args.rsp";
    const fs::path inner = t / "inner.rsp";
    const fs::path list = t / "list.txt";
    write_file(inner, "-c\ngzip\n");
    write_file(rsp, dtb_a.string() + "\n@" + inner.string() + "\n");  // one argument a line
    write_file(list, dtb_b.string() + "\n" + in().spi_flash.string() + "\n");
    const fs::path fit = t / "out dir.fit";
    const fs::path dep = t / "out.d";
    const auto args = base_args(fit) + std::vector<std::string>{"-r", in().ramdisk.string(), "@" + rsp.string(),
                                                                "--files-from", list.string(), "--loadable",
                                                                in().firmware.string(), "--depfile", dep.string()};
    fitpack_ok(args);
    const std::string text = read_file(dep);
    BOOST_TEST(has(text, "my\\ dir/board\\ $$1.dtb"), text);
    BOOST_TEST(has(text, "board\\#2.dtb"), text);
    const auto [target, deps] = parse_depfile(text);
    BOOST_TEST(target == fit.string());
    const std::set<std::string> got(deps.begin(), deps.end());
    // The skipped .dtbo is not read, so it is not an input.
    const std::set<std::string> want{rsp.string(),          inner.string(),           list.string(),
                                     in().kernel.string(),  in().ramdisk.string(),    dtb_a.string(),
                                     dtb_b.string(),        in().firmware.string()};
    BOOST_TEST(got == want, "depfile lists " << join(deps, " | "));
    BOOST_TEST(got.size() == deps.size());

    // A failed run writes no depfile and keeps an earlier one.
    const fs::path dep2 = t / "fail.d";
    fitpack_fails(base_args(t / "x.fit") + std::vector<std::string>{(t / "gone.dtb").string(), "--depfile", dep2.string()},
                  1, {"gone.dtb"});
    BOOST_TEST(!fs::exists(dep2));
    fitpack_fails(base_args(fit) + std::vector<std::string>{(t / "gone.dtb").string(), "--depfile", dep.string()}, 1,
                  {"gone.dtb"});
    BOOST_TEST(read_file(dep) == text);
    std::set<std::string> left;
    for (const auto& e : fs::directory_iterator(t.path())) left.insert(e.path().filename().string());
    BOOST_TEST(left == (std::set<std::string>{"my dir", "board#2.dtb", "args.rsp", "inner.rsp", "list.txt",
                                              "out dir.fit", "out.d"}),
               join({left.begin(), left.end()}));
    fitpack_fails({"-o", "-", "-A", "arm64", "-O", "linux", "-n", "X", "-k", in().kernel.string(), "--depfile",
                   dep2.string()},
                  2, {"--depfile"});
}

// ---------------------------------------------------------------------------
// Reproducible output
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(output_does_not_depend_on_mtimes_locale_or_directory) {
    kbuild_tree k(schema_check);
    fs::copy_file(in().kernel, k.root / "Image");
    const auto args = k.args("image.fit") + std::vector<std::string>{"-D", "-c", "gzip", "-E", "--overlays"};
    fitpack_ok(args, {{epoch_env}, k.root.path()});
    const std::string first = read_file(k.root / "image.fit");

    // Touch every input.
    const auto later = fs::file_time_type::clock::now() + std::chrono::hours(24 * 365);
    for (const auto& e : fs::recursive_directory_iterator(k.root.path()))
        if (e.is_regular_file()) fs::last_write_time(e.path(), later);
    fitpack_ok(args, {{epoch_env}, k.root.path()});
    BOOST_TEST((read_file(k.root / "image.fit") == first), "touching the inputs changed the FIT");

    // Another locale.
    fitpack_ok(args, {{epoch_env, "LANG=de_DE.UTF-8", "LC_ALL=de_DE.UTF-8", "LC_NUMERIC=de_DE.UTF-8"}, k.root.path()});
    BOOST_TEST((read_file(k.root / "image.fit") == first), "the locale changed the FIT");

    // Another directory: the same tree copied elsewhere, run from there.
    temp_dir other;
    fs::copy(k.root.path(), other / "tree", fs::copy_options::recursive);
    fs::remove(other / "tree/image.fit");
    fitpack_ok(args, {{epoch_env}, other / "tree"});
    BOOST_TEST((read_file(other / "tree/image.fit") == first), "the directory changed the FIT");
}

// ---------------------------------------------------------------------------
// The library, without fitpack
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(library_api_reaches_every_feature) {
    kbuild_tree k(schema_check);
    temp_dir t;
    const auto at = [&](const std::string& rel) { return (k.root / rel).string(); };
    // Absolute paths in the .cmd file, since the test does not chdir.
    write_file(k.root / k.cmd_of(k.composite), "savedcmd_x := ./scripts/dtc/fdtoverlay -o x -i " + at(k.base) + " " +
                                                   at(k.spi_flash) + " " + at(k.pro_overlay) + schema_check + "\n");
    // Two copies of one DTB, each with the .cmd file Kbuild writes for dtc.
    for (const std::string name : {"sbc-a.dtb", "sbc-b.dtb"}) {
        fs::copy_file(in().sbc, t / name);
        write_file(t / ("." + name + ".cmd"), "savedcmd_" + name + " := ./scripts/dtc/dtc -o " + name + " x.dts\n");
    }
    const std::string sbc_a = (t / "sbc-a.dtb").string(), sbc_b = (t / "sbc-b.dtb").string();

    fitstream::kernel_fit_options o;
    o.name = "Linux 6.12";
    o.arch = "arm64";
    o.compression = "gzip";
    o.fdt_compression = "none";
    o.ramdisk_compression = "zstd";
    o.decompose_dtbs = true;
    o.pack_overlays = true;
    o.naming = fitstream::conf_naming::basename;
    o.default_configuration = "wombat,pro";
    o.timestamp = 1700000000;
    o.load = 0x40400000;
    fitstream::configuration_spec spec;
    spec.name = "sbc-flash";
    spec.base = in().sbc.string();
    spec.overlays = {in().sbc_spi_flash.string()};
    o.configurations.push_back(spec);
    fitstream::loadable_spec fw;
    fw.path = in().firmware.string();
    fw.name = "atf";
    fw.load = 0x204000000ull;
    o.loadables.push_back(fw);

    std::vector<std::string> skipped;
    fitstream::kernel_fit_report report;
    const auto fit = fitstream::make_kernel_fit(
        o, in().kernel.string(), in().ramdisk.string(),
        {at(k.composite), sbc_a, sbc_b, at(k.pro_overlay), "notes.txt"},
        [&](const std::string& f) { skipped.push_back(f); }, &report);

    BOOST_TEST(skipped == std::vector<std::string>{"notes.txt"}, boost::test_tools::per_element());
    BOOST_TEST(fit.address_cells == 2);
    // sbc-b.dtb and the explicit configuration's base are sbc-a.dtb's bytes.
    BOOST_TEST(report.images_deduplicated == 2u);
    BOOST_TEST(report.bytes_deduplicated == 2 * fs::file_size(in().sbc));
    std::vector<std::string> names;
    for (const auto& c : fit.configurations) names.push_back(c.name);
    BOOST_TEST(names == (std::vector<std::string>{"conf-wombat-pro.dtb", "conf-sbc-a.dtb", "conf-sbc-b.dtb", "sbc-flash"}),
               boost::test_tools::per_element());
    BOOST_TEST(fit.default_configuration == "conf-wombat-pro.dtb");
    BOOST_TEST(fit.configurations[0].fdt == (std::vector<std::string>{"fdt-1", "fdt-2", "fdt-3"}),
               boost::test_tools::per_element());
    BOOST_TEST(fit.configurations[2].fdt == std::vector<std::string>{"fdt-4"}, boost::test_tools::per_element());
    BOOST_TEST(fit.configurations[3].fdt == (std::vector<std::string>{"fdt-4", "fdt-5"}),
               boost::test_tools::per_element());
    BOOST_TEST(fit.configurations[3].loadables == std::vector<std::string>{"atf"}, boost::test_tools::per_element());
    const std::set<std::string> read(report.files_read.begin(), report.files_read.end());
    const std::set<std::string> want{in().kernel.string(),
                                     in().ramdisk.string(),
                                     at(k.composite),
                                     at(k.cmd_of(k.composite)),
                                     at(k.base),
                                     at(k.spi_flash),
                                     at(k.pro_overlay),
                                     sbc_a,
                                     (t / ".sbc-a.dtb.cmd").string(),
                                     sbc_b,
                                     (t / ".sbc-b.dtb.cmd").string(),
                                     in().sbc.string(),
                                     in().sbc_spi_flash.string(),
                                     in().firmware.string()};
    BOOST_TEST(read == want, "files read: " << join(report.files_read, " | "));
    BOOST_TEST(read.size() == report.files_read.size());

    const fs::path out = t / "lib.fit";
    fitstream::write_fit(fit, out.string());
    BOOST_TEST(fdtget(out, "/images/ramdisk", "compression") == "zstd");
    BOOST_TEST(fdtget(out, "/images/kernel", "compression") == "gzip");
    BOOST_TEST(fdtget(out, "/images/fdt-1", "compression") == "none");
    BOOST_TEST(fdtget(out, "/images/atf", "load", "x") == "2 4000000");
    BOOST_TEST(dumpimage(out).at("sbc-flash").at("FDT") == "fdt-4 fdt-5");

    // The depfile text, as build systems read it.
    BOOST_TEST(fitstream::depfile_text("a b.fit", {"x$y", "c#d"}) == "a\\ b.fit: \\\n  x$$y \\\n  c\\#d\n");
}
