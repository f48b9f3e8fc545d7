// SPDX-License-Identifier: MIT
//
// Image tree sources (tests/data/its/*.its, see its README.md) built by
// Debian's `mkimage -f` (u-boot-tools 2023.01) and by fitpack with the same
// command line (`fitpack mkimage ARGS`, and for some `fitpack -f ITS -o
// FIT`), for each layout: embedded, -E, -E -B 0x1000, -E -p 0x20000 (the
// last only where mkimage accepts it). SOURCE_DATE_EPOCH is fixed for both.
//
//  - The trees are equal (tests/support/fdt_compare.hpp: nodes, properties,
//    their order and values), but for timestamp (root and signature nodes),
//    signer-name and signer-version, which both must have. Under -E the bytes
//    after the structure (payloads and padding) are equal too.
//  - dumpimage -l lists both FITs alike, and dumpimage -p N extracts the same
//    bytes from both for every image.
//  - Signed sources (signed-*.its, key "dev", -k keys -K ctrl.dtb -r): the
//    signature values, hashed-nodes and hashed-strings are equal (PKCS#1
//    v1.5 is deterministic), so are the two key DTBs' /signature nodes;
//    `fitpack verify --key-dtb` accepts both FITs, and upstream U-Boot's
//    fit_check_sign (../shared/uboot-2026.10, skipped when absent) too.
//  - More of mkimage's options (include-path/, signed-config.its): -D "-i
//    DIR" (fitpack -f: -I DIR), -G KEY, -c COMMENT, -o ALGO (fitpack -f:
//    --sign-algo ALGO); and fitpack -f -j 1 and -j 2 give the same bytes.
//  - /incbin/ paths: beside the naming file first, the current folder last.
//  - --compress-images (tests/data/its/compress/): a payload that is not yet
//    compressed is compressed in the codec its node declares; the reference
//    tool (gzip, lz4, zstd, xz --format=lzma, bzip2, lzop) gives it back, and
//    the hash is over the stored bytes.
//  - Under QEMU (FITSTREAM_SKIP_QEMU=1 skips it): Debian's U-Boot verifies a
//    configuration signed by `fitpack -f` with the key fitpack wrote into
//    its control DTB (qemu/signed-boot.its).
//
// FITSTREAM_ITS_CANDIDATE=/path/to/mkimage runs the comparisons with that
// program in the place of `fitpack mkimage` (and of `fitpack -f` in the
// QEMU case; the other `fitpack -f` runs are skipped): with Debian's mkimage
// itself it checks this harness.

#define BOOST_TEST_MODULE fitpack -f and fitpack mkimage against mkimage -f
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include "fdt_compare.hpp"
#include "support.hpp"
#include "uboot_qemu.hpp"
#include "uboot_sandbox.hpp"

#include <libfdt.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <ostream>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace bdata = boost::unit_test::data;
namespace utf = boost::unit_test;
using namespace fitstream_test;

namespace {

const fs::path its_data = data_dir / "its";

std::uint32_t fnv1a(const std::string& text) {
    std::uint32_t h = 2166136261u;
    for (const unsigned char c : text) h = (h ^ c) * 16777619u;
    return h;
}

bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The plain bytes of a payload named `name`: kernel-like, 8 KiB to 48 KiB,
/// odd sizes included, the same for the same name.
std::string plain_payload(const std::string& name) {
    const std::uint32_t h = fnv1a(name);
    return kernel_like_payload(8192 + h % 40000, h | 1);
}

/// `plain` compressed by the reference tool for the file suffix `codec`
/// (".gz", ".lz4", ".lzma", ".xz", ".zst", ".bz2", ".lzo"); `plain` itself
/// for any other suffix.
std::string reference_compress(const std::string& codec, const std::string& plain) {
    if (codec == ".gz") return tool({"gzip", "-n", "-9", "-c"}, plain);
    if (codec == ".lz4") return tool({"lz4", "-q", "-c"}, plain);
    if (codec == ".lzma") return tool({"xz", "--format=lzma", "-c"}, plain);
    if (codec == ".xz") return tool({"xz", "-c"}, plain);
    if (codec == ".zst") return tool({"zstd", "-q", "-c"}, plain);
    if (codec == ".bz2") return tool({"bzip2", "-c"}, plain);
    if (codec == ".lzo") return tool({"lzop", "-c"}, plain);
    return plain;
}

/// Makes the payload file an /incbin/ names, by its name (README.md):
/// NAME.dtb / NAME.dtbo compiled from dts/NAME.dts / .dtso, NAME.dtb.gz the
/// same gzipped; a codec suffix (.gz .lz4 .lzma .xz .zst .bz2 .lzo) a
/// compressed plain_payload; anything else a plain_payload.
void make_payload(const fs::path& file) {
    fs::create_directories(file.parent_path());
    const std::string name = file.filename().string();
    if (ends_with(name, ".dtb.gz") || ends_with(name, ".dtb") || ends_with(name, ".dtbo")) {
        const std::string base = name.substr(0, name.find('.'));
        const bool overlay = ends_with(name, ".dtbo");
        const fs::path dtb = file.string() + ".tmp";
        compile_dts(its_data / "dts" / (base + (overlay ? ".dtso" : ".dts")), dtb);
        write_file(file, ends_with(name, ".gz") ? reference_compress(".gz", read_file(dtb)) : read_file(dtb));
        fs::remove(dtb);
        return;
    }
    const auto dot = name.rfind('.');
    write_file(file, reference_compress(dot == std::string::npos ? "" : name.substr(dot), plain_payload(name)));
}

/// The /incbin/ paths of an .its or .dtsi, as written.
std::vector<std::string> incbin_paths(const fs::path& source) {
    static const std::regex incbin(R"(/incbin/\s*\(\s*"([^"]+)\")");
    const std::string text = read_file(source);
    std::vector<std::string> paths;
    for (std::sregex_iterator it(text.begin(), text.end(), incbin), end; it != end; ++it) paths.push_back((*it)[1]);
    return paths;
}

/// The conformance sources: tests/data/its/*.its, by name.
std::vector<std::string> its_names() {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(its_data))
        if (e.path().extension() == ".its") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

/// A copy of tests/data/its (but errors/) with every payload made beside
/// the source that names it; keys/dev.key and dev.crt; ctrl.dtb.
struct workspace {
    temp_dir dir;
    fs::path its, keys, ctrl;

    workspace() {
        its = dir / "its";
        fs::copy(its_data, its, fs::copy_options::recursive);
        fs::remove_all(its / "errors");  // the error tests make their own
        fs::remove_all(its / "qemu");    // made by its test case
        for (const auto& e : fs::recursive_directory_iterator(its)) {
            const auto ext = e.path().extension();
            if (ext != ".its" && ext != ".dtsi") continue;
            for (const auto& p : incbin_paths(e.path())) {
                const fs::path file = e.path().parent_path() / p;
                if (!fs::exists(file)) make_payload(file);
            }
        }
        keys = dir / "keys";
        fs::create_directories(keys);
        run_ok({"openssl", "genrsa", "-out", (keys / "dev.key").string(), "2048"});
        run_ok({"openssl", "req", "-batch", "-new", "-x509", "-key", (keys / "dev.key").string(), "-subj", "/CN=dev",
                "-out", (keys / "dev.crt").string()});
        ctrl = compile_dts(its_data / "dts" / "ctrl.dts", dir / "ctrl.dtb");
    }
};

const workspace& ws() {
    static const workspace instance;
    return instance;
}

/// Where the payloads go, and mkimage's options for it.
struct layout_case {
    std::string name;
    std::vector<std::string> args;
    bool external() const { return !args.empty(); }
};

const std::vector<layout_case> layouts{
    {"embedded", {}},
    {"-E", {"-E"}},
    {"-E -B 0x1000", {"-E", "-B", "0x1000"}},
    {"-E -p 0x20000", {"-E", "-p", "0x20000"}},
};

/// What stands in for mkimage: `fitpack mkimage`, or FITSTREAM_ITS_CANDIDATE.
std::vector<std::string> candidate() {
    const char* other = std::getenv("FITSTREAM_ITS_CANDIDATE");
    if (other && *other) return {other};
    return {fitpack_path, "mkimage"};
}

bool candidate_is_fitpack() {
    const char* other = std::getenv("FITSTREAM_ITS_CANDIDATE");
    return !other || !*other;
}

run_result run_epoch(const std::vector<std::string>& argv, const fs::path& cwd = {}) {
    std::vector<std::string> full;
    if (!cwd.empty()) full = {"env", "-C", cwd.string()};
    full.insert(full.end(), argv.begin(), argv.end());
    return run(full, {}, {epoch_env});
}

/// The names of /images' subnodes, in order.
std::vector<std::string> image_names(const std::string& fit) {
    std::vector<std::string> names;
    const void* fdt = fit.data();
    BOOST_REQUIRE(fit.size() >= sizeof(fdt_header) && fdt_check_header(fdt) == 0);
    const int images = fdt_path_offset(fdt, "/images");
    if (images < 0) return names;
    int node = 0;
    fdt_for_each_subnode(node, fdt, images) names.push_back(fdt_get_name(fdt, node, nullptr));
    return names;
}

/// A property's bytes (empty when absent).
std::string property(const std::string& fit, const std::string& node, const std::string& name) {
    const void* fdt = fit.data();
    const int at = fdt_path_offset(fdt, node.c_str());
    if (at < 0) return {};
    int len = 0;
    const auto* value = static_cast<const char*>(fdt_getprop(fdt, at, name.c_str(), &len));
    return value ? std::string(value, static_cast<std::size_t>(len)) : std::string();
}

/// Image `index` of `fit`, extracted by dumpimage.
std::string dumpimage_extract(const fs::path& fit, std::size_t index, const fs::path& out) {
    run_ok({"dumpimage", "-T", "flat_dt", "-p", std::to_string(index), "-o", out.string(), fit.string()});
    return read_file(out);
}

/// dumpimage -l must read `fit` without complaining.
void dumpimage_lists(const fs::path& fit) {
    const std::string text = tool({"dumpimage", "-l", fit.string()});
    static const std::regex complaint(R"(\b(bad|error|invalid|corrupt|unsupported|unknown|can't|cannot)\b)",
                                      std::regex::icase);
    BOOST_TEST(!std::regex_search(text, complaint), "dumpimage -l complains:\n" << text);
}

/// Where the external payload area starts: the FDT's end, 4-byte aligned
/// (-E, -E -B), or the -p position.
std::size_t external_start(const std::string& fit, const layout_case& l) {
    const auto p = std::find(l.args.begin(), l.args.end(), "-p");
    if (p != l.args.end()) return std::stoul(*(p + 1), nullptr, 0);
    return static_cast<std::size_t>(align_up(be32(fit, 4), 4));
}

/// `theirs` (the candidate's FIT) against `mk` (mkimage's): the trees, the
/// external area, dumpimage's listing and every extracted image.
void compare_fits(const fs::path& mk, const fs::path& theirs, const layout_case& l, const fs::path& scratch) {
    const std::string a = read_file(mk), b = read_file(theirs);
    const std::string diff = fdt_first_difference(a, b, fit_tool_properties, "/", "mkimage", "fitpack");
    BOOST_TEST(diff.empty(), "trees differ: " << diff);
    if (l.external()) {
        const std::size_t at = external_start(a, l), bt = external_start(b, l);
        BOOST_TEST_REQUIRE(a.size() >= at);
        BOOST_TEST_REQUIRE(b.size() >= bt);
        check_same(b.substr(bt), a.substr(at), "external area (payloads and padding)");
    }
    // dumpimage -l reads both alike (the same epoch gives the same dates).
    const auto listed = lines_of(tool({"dumpimage", "-l", theirs.string()}));
    const auto want = lines_of(tool({"dumpimage", "-l", mk.string()}));
    std::size_t line = 0;
    while (line < listed.size() && line < want.size() && listed[line] == want[line]) ++line;
    BOOST_TEST((line == listed.size() && line == want.size()),
               "dumpimage -l differs at line " << line + 1 << ":\n  mkimage: "
                                               << (line < want.size() ? want[line] : "(end)")
                                               << "\n  fitpack: " << (line < listed.size() ? listed[line] : "(end)"));
    const auto names = image_names(a);
    BOOST_TEST((image_names(b) == names));
    fs::create_directories(scratch);
    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto want = dumpimage_extract(mk, i, scratch / ("mk-" + std::to_string(i)));
        const auto got = dumpimage_extract(theirs, i, scratch / ("fp-" + std::to_string(i)));
        check_same(got, want, "dumpimage -p " + std::to_string(i) + " (" + names[i] + ")");
    }
}

/// Upstream U-Boot's fit_check_sign, when ../shared/uboot-2026.10 is there.
std::optional<fs::path> fit_check_sign() {
    if (const auto dir = fitstream_test::uboot_2026_dir()) return *dir / "fit_check_sign";
    return std::nullopt;
}

/// The checks of a signed FIT and its key DTB, for mkimage's and the
/// candidate's alike.
void check_signed(const fs::path& fit, const fs::path& key_dtb, const std::string& who) {
    BOOST_TEST_CONTEXT(who) {
        const auto v = fitpack({"verify", "--key-dtb", key_dtb.string(), fit.string()});
        BOOST_TEST(v.exit_code == 0, describe({"fitpack verify --key-dtb", key_dtb.string(), fit.string()}, v));
        if (const auto checker = fit_check_sign()) {
            const std::vector<std::string> argv{checker->string(), "-f", fit.string(), "-k", key_dtb.string()};
            const auto r = run(argv);
            BOOST_TEST(r.exit_code == 0, describe(argv, r));
        } else {
            BOOST_TEST_MESSAGE("fit_check_sign not run: no ../shared/uboot-2026.10 beside the source tree");
        }
    }
}

bool is_signed(const std::string& name) { return name.rfind("signed", 0) == 0; }

/// -k keys -K <a copy of ctrl.dtb at `dtb`> -r, for a signed source.
std::vector<std::string> sign_args(const std::string& name, const fs::path& dtb) {
    if (!is_signed(name)) return {};
    fs::copy_file(ws().ctrl, dtb, fs::copy_options::overwrite_existing);
    return {"-k", ws().keys.string(), "-K", dtb.string(), "-r"};
}

/// The sources also built with `fitpack -f ITS -o FIT` (from another
/// folder than the source's), in two layouts.
bool also_its_mode(const std::string& name) {
    return name == "kernel-fdt" || name == "multi" || name == "custom" || name == "signed-config";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(its_conformance)

BOOST_AUTO_TEST_CASE(harness_self_check) {
    // mkimage against itself: no difference; embedded against -E: the
    // first difference is named with both values.
    temp_dir out;
    const fs::path its = ws().its / "custom.its";
    for (const std::string n : {"1", "2"})
        run_ok({"env", "SOURCE_DATE_EPOCH=1700000000", "mkimage", "-f", its.string(), (out / ("a" + n)).string()});
    run_ok({"env", "SOURCE_DATE_EPOCH=1700000000", "mkimage", "-E", "-f", its.string(), (out / "e").string()});
    BOOST_TEST(fdt_first_difference(read_file(out / "a1"), read_file(out / "a2")) == "");
    const std::string diff = fdt_first_difference(read_file(out / "a1"), read_file(out / "e"));
    BOOST_TEST(has(diff, "/images/firmware-common"), diff);
    // A changed byte in one value is found and shown in hex.
    std::string changed = read_file(out / "a1");
    const auto at = changed.find("fitstream tests");
    BOOST_REQUIRE(at != std::string::npos);
    changed[at] = 'F';
    const std::string value_diff = fdt_first_difference(read_file(out / "a1"), changed);
    BOOST_TEST(has(value_diff, "/vendor,build-info:builder differs"), value_diff);
    BOOST_TEST(has(value_diff, "66697473"), value_diff);
    BOOST_TEST(has(value_diff, "46697473"), value_diff);
    // A later timestamp is not a difference.
    run_ok({"env", "SOURCE_DATE_EPOCH=1800000000", "mkimage", "-f", its.string(), (out / "later").string()});
    BOOST_TEST(fdt_first_difference(read_file(out / "a1"), read_file(out / "later")) == "");
    BOOST_TEST(fdt_first_difference(read_file(out / "a1"), read_file(out / "later"), {}) != "");
}

BOOST_DATA_TEST_CASE(same_fit_as_mkimage, bdata::make(its_names()), name) {
    temp_dir out;
    const fs::path its = ws().its / (name + ".its");
    for (const auto& l : layouts) {
        BOOST_TEST_CONTEXT(name << ".its, " << l.name) {
            const std::string tag = std::to_string(&l - layouts.data());
            const fs::path mk = out / ("mkimage-" + tag + ".fit"), fp = out / ("fitpack-" + tag + ".fit");
            const fs::path mk_ctrl = out / ("mkimage-ctrl-" + tag + ".dtb");
            const fs::path fp_ctrl = out / ("fitpack-ctrl-" + tag + ".dtb");
            const auto mk_argv = std::vector<std::string>{"mkimage"} + l.args + sign_args(name, mk_ctrl) +
                                 std::vector<std::string>{"-f", its.string(), mk.string()};
            const auto m = run_epoch(mk_argv);
            if (m.exit_code != 0 && has(l.name, "-p")) {
                BOOST_TEST_MESSAGE(name << ".its: mkimage refuses " << l.name << ", not compared: " << m.err);
                continue;
            }
            BOOST_REQUIRE_MESSAGE(m.exit_code == 0, describe(mk_argv, m));

            const auto fp_argv = candidate() + l.args + sign_args(name, fp_ctrl) +
                                 std::vector<std::string>{"-f", its.string(), fp.string()};
            const auto f = run_epoch(fp_argv);
            BOOST_TEST(f.exit_code == 0, describe(fp_argv, f));
            if (f.exit_code != 0) continue;
            compare_fits(mk, fp, l, out / ("x-" + tag));
            if (is_signed(name)) {
                const std::string diff = fdt_first_difference(read_file(mk_ctrl), read_file(fp_ctrl), {}, "/signature",
                                                              "mkimage -K", "fitpack -K");
                BOOST_TEST(diff.empty(), "key DTBs differ: " << diff);
                check_signed(mk, mk_ctrl, "mkimage's FIT");
                check_signed(fp, fp_ctrl, "fitpack's FIT");
            }

            if (!candidate_is_fitpack() || !also_its_mode(name) || (l.name != "embedded" && l.name != "-E -B 0x1000"))
                continue;
            // fitpack's own spelling, run from another folder: /incbin/
            // paths are relative to the source, not to the current folder.
            const fs::path elsewhere = out / ("cwd-" + tag);
            fs::create_directories(elsewhere);
            const fs::path own = out / ("fitpack-f-" + tag + ".fit");
            const fs::path own_ctrl = out / ("fitpack-f-ctrl-" + tag + ".dtb");
            const auto own_argv = std::vector<std::string>{fitpack_path, "-f", its.string(), "-o", own.string()} +
                                  l.args + sign_args(name, own_ctrl);
            const auto o = run_epoch(own_argv, elsewhere);
            BOOST_TEST(o.exit_code == 0, describe(own_argv, o));
            if (o.exit_code != 0) continue;
            BOOST_TEST(fs::is_empty(elsewhere), "fitpack -f wrote into the current folder");
            compare_fits(mk, own, l, out / ("y-" + tag));
            if (is_signed(name)) check_signed(own, own_ctrl, "fitpack -f's FIT");
        }
    }
}

BOOST_AUTO_TEST_CASE(positional_output, *utf::precondition([](utf::test_unit_id) {
                         return utf::assertion_result(candidate_is_fitpack());
                     })) {
    // `fitpack -f ITS FIT`, mkimage's positional output, builds the same FIT.
    temp_dir out;
    const fs::path its = ws().its / "kernel-fdt.its";
    run_ok({"env", "SOURCE_DATE_EPOCH=1700000000", "mkimage", "-f", its.string(), (out / "mk.fit").string()});
    const auto r = fitpack({"-f", its.string(), (out / "fp.fit").string()});
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe({"fitpack -f", its.string(), (out / "fp.fit").string()}, r));
    const std::string diff = fdt_first_difference(read_file(out / "mk.fit"), read_file(out / "fp.fit"));
    BOOST_TEST(diff.empty(), "trees differ: " << diff);
}

/// mkimage -f auto (one image, DTBs, a ramdisk; signed images with -g):
/// the same tree as mkimage's, its `creator` (which names the tool) aside.
BOOST_AUTO_TEST_CASE(f_auto_same_fit_as_mkimage, *utf::precondition([](utf::test_unit_id) {
                         return utf::assertion_result(candidate_is_fitpack());
                     })) {
    temp_dir out;
    const fs::path dtb_a = compile_dts(its_data / "dts" / "board-a.dts", out / "board-a.dtb");
    const fs::path dtb_b = compile_dts(its_data / "dts" / "board-b.dts", out / "board-b.dtb");
    write_file(out / "Image", kernel_like_payload(30000, 9));
    write_file(out / "rootfs.cpio", random_bytes(7000, 9));
    const std::vector<std::string> common{"-A", "arm64", "-O", "linux", "-T", "kernel", "-C", "none",
                                          "-a", "40400000", "-n", "Linux 6.12", "-d", "Image",
                                          "-b", "board-a.dtb", "-b", "board-b.dtb", "-i", "rootfs.cpio"};
    const auto creator_too = [](const std::string& path, const std::string& name) {
        return fit_tool_properties(path, name) || (path == "/" && name == "creator");
    };
    struct variant {
        std::string name;
        std::vector<std::string> args;
    };
    const std::vector<variant> variants{
        {"embedded", {}},
        {"-E", {"-E"}},
        {"signed images", {"-k", ws().keys.string(), "-g", "dev", "-o", "sha256,rsa2048"}},
    };
    for (const auto& v : variants) {
        BOOST_TEST_CONTEXT(v.name) {
            const auto mk = run_epoch(std::vector<std::string>{"mkimage", "-f", "auto"} + common + v.args +
                                          std::vector<std::string>{"mk.fit"},
                                      out.path());
            BOOST_REQUIRE_MESSAGE(mk.exit_code == 0, mk.err);
            const auto fp = run_epoch(std::vector<std::string>{fitpack_path, "mkimage", "-f", "auto"} + common +
                                          v.args + std::vector<std::string>{"fp.fit"},
                                      out.path());
            BOOST_REQUIRE_MESSAGE(fp.exit_code == 0, fp.err);
            const std::string diff = fdt_first_difference(read_file(out / "mk.fit"), read_file(out / "fp.fit"),
                                                          creator_too, "/", "mkimage", "fitpack");
            BOOST_TEST(diff.empty(), "trees differ: " << diff);
            BOOST_TEST(property(read_file(out / "fp.fit"), "/", "creator").rfind("fitpack ", 0) == 0u);
        }
    }
}

/// mkimage's options beyond the layout, in both of fitpack's spellings:
/// `mkimage_args` for mkimage and fitpack mkimage, `its_args` for fitpack -f
/// (its own spelling of the same), before `-f ITS OUT` / after `-f ITS -o OUT`.
struct option_case {
    std::string name, its;
    std::vector<std::string> mkimage_args, its_args;
    bool signs = false;
};

std::ostream& operator<<(std::ostream& os, const option_case& c) { return os << c.name; }

/// {DIR} and {KEY} stand for include-path/dir and keys/dev.key in the
/// workspace, which is made only when a test runs.
std::vector<option_case> option_cases() {
    const std::string comment = "built by the its tests";
    return {
        // dtc's include path: mkimage -D "-i DIR", fitpack -f -I DIR.
        {"-D -i", "include-path/include-path.its", {"-D", "-i {DIR}"}, {"-I", "{DIR}"}},
        {"-E -D -i", "include-path/include-path.its", {"-E", "-D", "-i {DIR}"}, {"-E", "-I", "{DIR}"}},
        // A key file (-G; mkimage -K still reads KEYDIR/dev.crt) and a comment
        // (-c) in every signature node.
        {"-G -c", "signed-config.its", {"-G", "{KEY}", "-c", comment}, {"-G", "{KEY}", "-c", comment}, true},
        // The signing algorithm overridden: mkimage -o, fitpack -f --sign-algo
        // (-o is its output); in the FIT and the key node alike.
        {"-o", "signed-config.its", {"-o", "sha512,rsa2048"}, {"--sign-algo", "sha512,rsa2048"}, true},
    };
}

std::vector<std::string> expand(std::vector<std::string> args) {
    for (auto& a : args) {
        for (const auto& [from, to] : {std::pair<std::string, fs::path>{"{DIR}", ws().its / "include-path" / "dir"},
                                       std::pair<std::string, fs::path>{"{KEY}", ws().keys / "dev.key"}})
            if (const auto at = a.find(from); at != std::string::npos) a.replace(at, from.size(), to.string());
    }
    return args;
}

BOOST_DATA_TEST_CASE(more_mkimage_options, bdata::make(option_cases()), c) {
    temp_dir out;
    const fs::path its = ws().its / c.its;
    const bool external = std::find(c.mkimage_args.begin(), c.mkimage_args.end(), "-E") != c.mkimage_args.end();
    const auto& layout = external ? layouts[1] : layouts[0];
    const auto sign = [&](const std::string& tag) {
        if (!c.signs) return std::vector<std::string>{};
        fs::copy_file(ws().ctrl, out / (tag + ".dtb"));
        return std::vector<std::string>{"-k", ws().keys.string(), "-K", (out / (tag + ".dtb")).string(), "-r"};
    };
    const fs::path mk = out / "mkimage.fit", fp = out / "fitpack.fit", own = out / "fitpack-f.fit";
    run_ok(std::vector<std::string>{"env", epoch_env, "mkimage"} + expand(c.mkimage_args) + sign("mkimage") +
           std::vector<std::string>{"-f", its.string(), mk.string()});
    if (c.name == "-G -c")
        BOOST_TEST(has(property(read_file(mk), "/configurations/conf-1/signature-1", "comment"), "its tests"));
    if (c.name == "-o")
        BOOST_TEST(property(read_file(mk), "/configurations/conf-2/signature-1", "algo") ==
                   std::string("sha512,rsa2048", 15));
    const auto fp_argv = candidate() + expand(c.mkimage_args) + sign("fitpack") +
                         std::vector<std::string>{"-f", its.string(), fp.string()};
    const auto f = run_epoch(fp_argv);
    BOOST_TEST(f.exit_code == 0, describe(fp_argv, f));
    if (f.exit_code == 0) compare_fits(mk, fp, layout, out / "x");
    if (!candidate_is_fitpack()) return;
    const auto own_argv = std::vector<std::string>{fitpack_path, "-f", its.string(), "-o", own.string()} +
                          expand(c.its_args) + sign("fitpack-f");
    const auto o = run_epoch(own_argv);
    BOOST_TEST(o.exit_code == 0, describe(own_argv, o));
    if (o.exit_code == 0) compare_fits(mk, own, layout, out / "y");
    if (c.signs && o.exit_code == 0) check_signed(own, out / "fitpack-f.dtb", "fitpack -f's FIT");
}

BOOST_AUTO_TEST_CASE(jobs_do_not_change_the_fit, *utf::precondition([](utf::test_unit_id) {
                         return utf::assertion_result(candidate_is_fitpack());
                     })) {
    temp_dir out;
    const fs::path its = ws().its / "multi.its";
    for (const std::string jobs : {"1", "2"}) {
        const std::vector<std::string> argv{"-f", its.string(), "-o", (out / ("j" + jobs)).string(), "-E", "-j", jobs};
        const auto r = fitpack(argv);
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(fitpack_argv(argv), r));
    }
    check_same(read_file(out / "j2"), read_file(out / "j1"), "-j 2 against -j 1");
}

BOOST_AUTO_TEST_CASE(incbin_search_order, *utf::precondition([](utf::test_unit_id) {
                         return utf::assertion_result(candidate_is_fitpack());
                     })) {
    // An /incbin/ resolves beside the file that names it first, and (a
    // fitpack addition mkimage lacks) in the current folder last.
    temp_dir out;
    const fs::path src = out / "src", cwd = out / "cwd";
    fs::create_directories(src);
    fs::create_directories(cwd);
    std::string text = read_file(its_data / "kernel.its");
    const std::string image = "/incbin/(\"Image\")";
    BOOST_REQUIRE(text.find(image) != std::string::npos);
    text.replace(text.find(image), image.size(), "/incbin/(\"payload.bin\")");
    write_file(src / "k.its", text);
    write_file(cwd / "payload.bin", plain_payload("in the current folder"));
    const auto build = [&](const std::string& name) {
        const fs::path fit = out / name;
        const std::vector<std::string> argv{"-f", (src / "k.its").string(), "-o", fit.string()};
        fitpack_run how;
        how.cwd = cwd;
        const auto r = fitpack(argv, how);
        BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(fitpack_argv(argv, how), r));
        return dumpimage_extract(fit, 0, out / (name + ".kernel"));
    };
    check_same(build("from-cwd.fit"), read_file(cwd / "payload.bin"), "found in the current folder");
    write_file(src / "payload.bin", plain_payload("beside the source"));
    check_same(build("beside.fit"), read_file(src / "payload.bin"), "beside the source, before the current folder");
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------
// --compress-images
// ---------------------------------------------------------------------------

namespace {

/// The codec of each image of compress/compress-images.its and the plain
/// payload it points at.
struct compress_case {
    std::string image, codec, file;
};

const std::vector<compress_case> compress_cases{
    {"kernel-gzip", "gzip", "kernel-gzip.bin"},   {"kernel-lz4", "lz4", "kernel-lz4.bin"},
    {"kernel-zstd", "zstd", "kernel-zstd.bin"},   {"kernel-lzma", "lzma", "kernel-lzma.bin"},
    {"kernel-bzip2", "bzip2", "kernel-bzip2.bin"}, {"kernel-lzo", "lzo", "kernel-lzo.bin"},
    {"fdt-gzip", "gzip", "board-a.dtb"},
};

std::string reference_decompress(const std::string& codec, const std::string& stored) {
    if (codec == "gzip") return tool({"gzip", "-dc"}, stored);
    if (codec == "lz4") return tool({"lz4", "-q", "-dc"}, stored);
    if (codec == "zstd") return tool({"zstd", "-q", "-dc"}, stored);
    if (codec == "lzma") return tool({"xz", "--format=lzma", "-dc"}, stored);
    if (codec == "bzip2") return tool({"bzip2", "-dc"}, stored);
    if (codec == "lzo") return tool({"lzop", "-dc"}, stored);
    BOOST_FAIL("no reference decompressor for " << codec);
    return {};
}

/// The magic each container starts with (U-Boot's exact container).
std::string container_magic(const std::string& codec) {
    if (codec == "gzip") return std::string("\x1f\x8b\x08", 3);
    if (codec == "lz4") return std::string("\x04\x22\x4d\x18", 4);  // a frame, not the legacy format
    if (codec == "zstd") return std::string("\x28\xb5\x2f\xfd", 4);
    if (codec == "bzip2") return "BZh";
    if (codec == "lzo") return std::string("\x89LZO\x00\r\n\x1a\n", 9);
    return {};  // LZMA_Alone has none; xz --format=lzma -dc refuses anything else
}

std::string sha256_hex(const std::string& bytes) {
    const std::string line = tool({"sha256sum"}, bytes);
    return line.substr(0, line.find(' '));
}

std::string hex_of(const std::string& bytes) {
    std::string out;
    for (const unsigned char c : bytes) {
        char two[3];
        std::snprintf(two, sizeof two, "%02x", c);
        out += two;
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(compress_images, *utf::precondition([](utf::test_unit_id) {
                         return utf::assertion_result(candidate_is_fitpack());
                     })) {
    const fs::path dir = ws().its / "compress";
    const fs::path its = dir / "compress-images.its";
    temp_dir out;
    for (const auto& l : {layouts[0], layouts[2]}) {
        BOOST_TEST_CONTEXT(l.name) {
            const fs::path fit = out / (l.external() ? "ext.fit" : "emb.fit");
            const auto argv =
                std::vector<std::string>{"-f", its.string(), "-o", fit.string(), "--compress-images"} + l.args;
            const auto r = fitpack(argv);
            BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(fitpack_argv(argv), r));
            dumpimage_lists(fit);
            const std::string bytes = read_file(fit);
            const auto names = image_names(bytes);
            for (const auto& c : compress_cases) {
                if (c.codec == "lzo" && find_program("lzop").empty()) {
                    BOOST_TEST_MESSAGE(c.image << " not checked: no lzop to decompress it");
                    continue;
                }
                BOOST_TEST_CONTEXT(c.image << " (" << c.codec << ")") {
                    const auto at = std::find(names.begin(), names.end(), c.image);
                    BOOST_TEST_REQUIRE((at != names.end()));
                    const std::string stored = dumpimage_extract(
                        fit, static_cast<std::size_t>(at - names.begin()), out / (c.image + ".stored"));
                    const std::string magic = container_magic(c.codec);
                    BOOST_TEST(stored.compare(0, magic.size(), magic) == 0, "no " << c.codec << " magic");
                    const std::string plain = read_file(dir / c.file);
                    check_same(reference_decompress(c.codec, stored), plain, "decompressed by the reference tool");
                    BOOST_TEST(stored.size() < plain.size());
                    BOOST_TEST(property(bytes, "/images/" + c.image, "compression") == c.codec + '\0');
                    // The hash is over what is stored.
                    const std::string hash = property(bytes, "/images/" + c.image + "/hash-1", "value");
                    BOOST_TEST(hex_of(hash) == sha256_hex(stored));
                }
            }
            // An already compressed payload is stored as it is.
            const auto at = std::find(names.begin(), names.end(), "kernel-compressed");
            BOOST_TEST_REQUIRE((at != names.end()));
            check_same(dumpimage_extract(fit, static_cast<std::size_t>(at - names.begin()), out / "kc.stored"),
                       read_file(dir / "Image.gz"), "kernel-compressed (already gzip)");
        }
    }
}

// ---------------------------------------------------------------------------
// U-Boot under QEMU verifies what `fitpack -f` signed.
// ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(uboot_verifies_signed_configuration, *utf::precondition(qemu_enabled)) {
    temp_dir out;
    const fs::path src = out / "src";
    fs::copy(its_data / "qemu", src, fs::copy_options::recursive);
    // The payload is never started (bootm loados): any bytes do.
    write_file(src / "Image", plain_payload("qemu-Image"));
    const fs::path control = uboot_qemu::dump_board_dtb(uboot_qemu::options{}, out / "control.dtb");
    fs::copy_file(control, src / "board.dtb");
    const fs::path fit = out / "signed.fit";
    const std::vector<std::string> sign{"-k", ws().keys.string(), "-K", control.string(), "-r"};
    const fs::path its = src / "signed-boot.its";
    if (candidate_is_fitpack())
        fitpack_ok(std::vector<std::string>{"-f", its.string(), "-o", fit.string()} + sign);
    else
        run_ok(std::vector<std::string>{"env", epoch_env} + candidate() + sign +
               std::vector<std::string>{"-f", its.string(), fit.string()});
    uboot_qemu::options o;
    o.blobs.push_back({fit, fit_base});
    o.extra_args = {"-dtb", control.string()};
    uboot_qemu uboot(o);
    uboot.start();
    const auto r = uboot.run("bootm start " + hex(fit_base) + "#conf-1 && bootm loados", std::chrono::seconds(60));
    BOOST_TEST(r.status == 0, "bootm start/loados failed:\n" << r.output);
    BOOST_TEST(has(r.output, "sha256,rsa2048:dev+ OK"), r.output);
    BOOST_TEST(has(r.output, "Loading Kernel Image"), r.output);
}
