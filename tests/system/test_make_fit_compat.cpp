// SPDX-License-Identifier: MIT
//
// fitpack against the real make_fit.py: Linux 6.12's scripts/make_fit.py,
// taken from Debian's linux-source-6.12 package at test time and run with
// Debian's /usr/bin/python3 (which has python3-libfdt; the PATH may start
// with another python). Both tools get the same command line and inputs; the
// two FITs are parsed with libfdt and must describe the same thing:
//
// - the same image nodes, in order, with the same type, description, arch,
//   os and compression, and payloads that decode (with the reference `gzip`
//   tool) to the same bytes, which are the input files' bytes;
// - the same configurations, in order, with the same description,
//   compatible list, kernel and fdt list;
// - what fitpack adds (make_fit.py writes none of it): a hash node on every
//   image and /configurations/default = "conf-1".
//
// Without -D: a kernel and eight DTBs (one listed twice) plus a .dtbo that
// both must skip, with -c none and -c gzip, embedded and -E.
//
// With -D (--decompose-dtbs): a tree laid out as Kbuild lays it out, run
// from its top (the paths in the .cmd files are relative to it): base DTBs
// whose .cmd files hold the dtc command and its dependency lines, overlays,
// and composite DTBs made by the real fdtoverlay through
// ./scripts/dtc/fdtoverlay, with the .cmd files Kbuild writes for them.
// Each base and overlay becomes one fdt image (deduplicated by file), and
// each composite's configuration lists its base then its overlays. When
// Kbuild checks schemas (make CHECK_DTBS=y), the .cmd command goes on after
// a ';' with the checker: fitpack must read only up to the ';', and give what
// make_fit.py gives for the same tree without it (6.12's make_fit.py itself
// takes every word after "-i" and fails on that form).

#define BOOST_TEST_MODULE fitpack against make_fit.py
#include <boost/test/unit_test.hpp>
#include <boost/test/data/test_case.hpp>

#include "support.hpp"

#include <libfdt.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace bdata = boost::unit_test::data;
namespace fs = std::filesystem;
using fitstream_test::epoch_env;
using fitstream_test::fitpack_ok;
using fitstream_test::operator+;
using fitstream_test::read_file;
using fitstream_test::run;
using fitstream_test::run_ok;
using fitstream_test::run_result;
using fitstream_test::temp_dir;
using fitstream_test::write_file;

namespace {

const fs::path linux_source_tarball = "/usr/src/linux-source-6.12.tar.xz";
const std::string make_fit_member = "linux-source-6.12/scripts/make_fit.py";
const std::string debian_python = "/usr/bin/python3";

/// make_fit.py, extracted once from the linux-source-6.12 tarball.
class make_fit_script {
public:
    make_fit_script() {
        BOOST_TEST_REQUIRE(fs::exists(linux_source_tarball),
                           linux_source_tarball << " is missing: install Debian's linux-source-6.12 "
                                                   "(scripts/install-deps.sh test)");
        const run_result libfdt = run({debian_python, "-c", "import libfdt"});
        BOOST_TEST_REQUIRE(libfdt.exit_code == 0, debian_python << " cannot import libfdt: install python3-libfdt ("
                                                                << libfdt.err << ")");
        // Only the one member: the tarball is big, xz reads it through once.
        run_ok({"tar", "-xJf", linux_source_tarball.string(), "-C", dir_.path().string(), "--wildcards",
                "*/scripts/make_fit.py"});
        path_ = dir_ / make_fit_member;
        BOOST_TEST_REQUIRE(fs::is_regular_file(path_), "no " << make_fit_member << " in " << linux_source_tarball);
    }
    const fs::path& path() const noexcept { return path_; }

private:
    temp_dir dir_;
    fs::path path_;
};

const make_fit_script& make_fit() {
    static const make_fit_script instance;
    return instance;
}

/// Runs make_fit.py with `args` in `cwd` (or here when empty).
void run_make_fit(const std::vector<std::string>& args, const fs::path& cwd = {}) {
    std::vector<std::string> argv;
    if (!cwd.empty()) argv = {"env", "-C", cwd.string()};
    argv = argv + std::vector<std::string>{debian_python, make_fit().path().string()} + args;
    run_ok(argv);
}

// ---------------------------------------------------------------------------
// A FIT as libfdt reads it
// ---------------------------------------------------------------------------

struct image_summary {
    std::string name, type, description, arch, os, compression;
    std::string stored;  ///< the payload as stored (embedded or external)
    bool has_hash = false;
};

struct configuration_summary {
    std::string name, description, kernel;
    std::vector<std::string> compatible, fdt;
};

struct fit_summary {
    std::string description;
    std::optional<std::string> default_configuration;
    std::vector<image_summary> images;
    std::vector<configuration_summary> configurations;

    const image_summary* image(const std::string& name) const {
        for (const auto& i : images)
            if (i.name == name) return &i;
        return nullptr;
    }
};

const std::string absent = "<absent>";

std::string string_prop(const void* fdt, int node, const char* name) {
    int len = 0;
    const auto* v = static_cast<const char*>(fdt_getprop(fdt, node, name, &len));
    if (!v) return absent;
    BOOST_REQUIRE_MESSAGE(len > 0 && v[len - 1] == '\0', name << " is not a string");
    return std::string(v, static_cast<std::size_t>(len - 1));
}

std::vector<std::string> string_list_prop(const void* fdt, int node, const char* name) {
    int len = 0;
    const auto* v = static_cast<const char*>(fdt_getprop(fdt, node, name, &len));
    std::vector<std::string> out;
    if (!v) return out;
    BOOST_REQUIRE_MESSAGE(len > 0 && v[len - 1] == '\0', name << " is not a string list");
    for (int pos = 0; pos < len;) {
        out.emplace_back(v + pos);
        pos += static_cast<int>(out.back().size()) + 1;
    }
    return out;
}

std::optional<std::uint32_t> cell_prop(const void* fdt, int node, const char* name) {
    int len = 0;
    const void* v = fdt_getprop(fdt, node, name, &len);
    if (!v) return std::nullopt;
    BOOST_REQUIRE_MESSAGE(len == 4, name << " is not one cell");
    std::uint32_t be;
    std::memcpy(&be, v, 4);
    return fdt32_to_cpu(be);
}

fit_summary parse_fit(const fs::path& path) {
    const std::string bytes = read_file(path);
    BOOST_REQUIRE_MESSAGE(bytes.size() >= sizeof(fdt_header), path << ": too short for a FIT");
    std::vector<std::uint64_t> aligned((bytes.size() + 7) / 8);  // libfdt wants an aligned blob
    std::memcpy(aligned.data(), bytes.data(), bytes.size());
    const void* fdt = aligned.data();
    const int check = fdt_check_full(fdt, bytes.size());
    BOOST_REQUIRE_MESSAGE(check == 0, path << ": fdt_check_full: " << fdt_strerror(check));
    const std::uint64_t external_base = (fdt_totalsize(fdt) + 3u) & ~std::uint64_t{3};  // U-Boot's rule

    fit_summary fit;
    fit.description = string_prop(fdt, 0, "description");
    const int images = fdt_path_offset(fdt, "/images");
    BOOST_REQUIRE_MESSAGE(images >= 0, path << ": no /images");
    int node;
    fdt_for_each_subnode(node, fdt, images) {
        image_summary img;
        img.name = fdt_get_name(fdt, node, nullptr);
        img.type = string_prop(fdt, node, "type");
        img.description = string_prop(fdt, node, "description");
        img.arch = string_prop(fdt, node, "arch");
        img.os = string_prop(fdt, node, "os");
        img.compression = string_prop(fdt, node, "compression");
        int len = 0;
        if (const auto* data = static_cast<const char*>(fdt_getprop(fdt, node, "data", &len))) {
            img.stored.assign(data, static_cast<std::size_t>(len));
        } else {
            const auto size = cell_prop(fdt, node, "data-size");
            const auto offset = cell_prop(fdt, node, "data-offset");
            const auto position = cell_prop(fdt, node, "data-position");
            BOOST_REQUIRE_MESSAGE(size && (offset || position), path << ": " << img.name << " has no data");
            const std::uint64_t start = position ? *position : external_base + *offset;
            BOOST_REQUIRE_MESSAGE(start + *size <= bytes.size(), path << ": " << img.name << " data past the end");
            img.stored = bytes.substr(static_cast<std::size_t>(start), *size);
        }
        int sub;
        fdt_for_each_subnode(sub, fdt, node) {
            if (std::string(fdt_get_name(fdt, sub, nullptr)).rfind("hash", 0) == 0) img.has_hash = true;
        }
        fit.images.push_back(std::move(img));
    }
    const int confs = fdt_path_offset(fdt, "/configurations");
    BOOST_REQUIRE_MESSAGE(confs >= 0, path << ": no /configurations");
    if (fdt_getprop(fdt, confs, "default", nullptr)) fit.default_configuration = string_prop(fdt, confs, "default");
    fdt_for_each_subnode(node, fdt, confs) {
        configuration_summary conf;
        conf.name = fdt_get_name(fdt, node, nullptr);
        conf.description = string_prop(fdt, node, "description");
        conf.kernel = string_prop(fdt, node, "kernel");
        conf.compatible = string_list_prop(fdt, node, "compatible");
        conf.fdt = string_list_prop(fdt, node, "fdt");
        fit.configurations.push_back(std::move(conf));
    }
    return fit;
}

/// The payload as U-Boot would see it after decompression, decoded by the
/// reference tool, not by fitstream.
std::string decoded(const image_summary& img) {
    if (img.compression == "none") return img.stored;
    BOOST_REQUIRE_MESSAGE(img.compression == "gzip", img.name << ": unexpected compression " << img.compression);
    return run_ok({"gzip", "-dc"}, img.stored).out;
}

std::string join(const std::vector<std::string>& items) { return "[" + fitstream_test::join(items, ", ") + "]"; }

/// The input file each image must decode to: the kernel, and every DTB or
/// overlay by its file name (which make_fit.py uses as the description).
struct expected_payloads {
    fs::path kernel;
    std::map<std::string, fs::path> by_file_name;
};

/// Checks that `ours` (fitpack) describes what `reference` (make_fit.py)
/// describes; see the file comment.
/// `image` is a .dtbo, or a configuration applies it to a base.
bool is_overlay(const fit_summary& fit, const std::string& image) {
    for (const auto& img : fit.images)
        if (img.name == image && img.description.size() > 5 &&
            img.description.compare(img.description.size() - 5, 5, ".dtbo") == 0)
            return true;
    for (const auto& conf : fit.configurations)
        if (std::find(conf.fdt.begin() + (conf.fdt.empty() ? 0 : 1), conf.fdt.end(), image) != conf.fdt.end())
            return true;
    return false;
}

void compare(const fit_summary& reference, const fit_summary& ours, const expected_payloads& inputs) {
    BOOST_TEST(ours.description == reference.description);

    std::vector<std::string> ref_images, our_images;
    for (const auto& i : reference.images) ref_images.push_back(i.name);
    for (const auto& i : ours.images) our_images.push_back(i.name);
    BOOST_TEST_REQUIRE(join(our_images) == join(ref_images), "image nodes");

    for (std::size_t n = 0; n < reference.images.size(); ++n) {
        const image_summary& ref = reference.images[n];
        const image_summary& our = ours.images[n];
        BOOST_TEST_CONTEXT("/images/" << ref.name << " (" << ref.description << ")") {
            BOOST_TEST(our.type == ref.type);
            BOOST_TEST(our.description == ref.description);
            BOOST_TEST(our.arch == ref.arch);
            BOOST_TEST(our.os == ref.os);
            // make_fit.py compresses overlays too, which U-Boot cannot apply
            // (it applies overlays without decompressing them): fitpack
            // stores every overlay uncompressed.
            if (is_overlay(ours, our.name))
                BOOST_TEST(our.compression == "none", "an overlay is stored uncompressed");
            else
                BOOST_TEST(our.compression == ref.compression);
            BOOST_TEST(our.has_hash, "fitpack writes a hash node on every image");
            const std::string ref_bytes = decoded(ref);
            const std::string our_bytes = decoded(our);
            BOOST_TEST((our_bytes == ref_bytes), "payloads decode to different bytes (" << our_bytes.size() << " and "
                                                                                       << ref_bytes.size() << ")");
            fs::path source;
            if (ref.name == "kernel") {
                source = inputs.kernel;
            } else {
                const auto it = inputs.by_file_name.find(ref.description);
                BOOST_TEST_REQUIRE((it != inputs.by_file_name.end()), "no input named " << ref.description);
                source = it->second;
            }
            BOOST_TEST((our_bytes == read_file(source)), "payload is not " << source);
        }
    }

    std::vector<std::string> ref_confs, our_confs;
    for (const auto& c : reference.configurations) ref_confs.push_back(c.name);
    for (const auto& c : ours.configurations) our_confs.push_back(c.name);
    BOOST_TEST_REQUIRE(join(our_confs) == join(ref_confs), "configurations");
    for (std::size_t n = 0; n < reference.configurations.size(); ++n) {
        const configuration_summary& ref = reference.configurations[n];
        const configuration_summary& our = ours.configurations[n];
        BOOST_TEST_CONTEXT("/configurations/" << ref.name << " (" << ref.description << ")") {
            BOOST_TEST(our.description == ref.description);
            BOOST_TEST(join(our.compatible) == join(ref.compatible));
            BOOST_TEST(our.kernel == ref.kernel);
            BOOST_TEST(join(our.fdt) == join(ref.fdt));
        }
    }
    BOOST_TEST((ours.default_configuration == std::optional<std::string>("conf-1")),
               "fitpack writes /configurations/default");
}

/// The fdt list of each configuration as file names, for checks that state
/// the expected layout outright (not only "as make_fit.py").
std::vector<std::string> fdt_files(const fit_summary& fit, const configuration_summary& conf) {
    std::vector<std::string> names;
    for (const auto& f : conf.fdt) {
        const image_summary* img = fit.image(f);
        names.push_back(img ? img->description : "<missing " + f + ">");
    }
    return names;
}

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/// A board that only this test uses: three compatible strings, and a model
/// with punctuation.
const char* const extra_board_dts = R"(/dts-v1/;
/ {
	model = "Hooli XPS-9 (rev. 2), 8 GiB";
	compatible = "hooli,xps9-rev2", "hooli,xps9", "rockchip,rk3588";
	#address-cells = <2>;
	#size-cells = <2>;
	memory@0 { device_type = "memory"; reg = <0x0 0x0 0x2 0x0>; };
};
)";

/// make_fit.py needs a root model and compatible in every DTB (it raises
/// otherwise), so the boards without them (nomodel-evb, nocompat-board) are
/// left out.
struct plain_inputs {
    temp_dir dir;
    fs::path kernel;
    std::vector<fs::path> dtbs;  // positional arguments, in order
    expected_payloads expected;

    plain_inputs() {
        kernel = dir / "Image";
        write_file(kernel, fitstream_test::kernel_like_payload(300 * 1024 + 6, 11));
        expected.kernel = kernel;
        const fs::path boards = fitstream_test::data_dir / "boards";
        const fs::path examples = fitstream_test::examples_dir;
        write_file(dir / "hooli-xps9.dts", extra_board_dts);
        const auto dtb = [&](const fs::path& src) {
            const fs::path out = dir / (src.stem().string() + (src.extension() == ".dtso" ? ".dtbo" : ".dtb"));
            fitstream_test::compile_dts(src, out);
            expected.by_file_name[out.filename().string()] = out;
            return out;
        };
        const fs::path sbc = dtb(boards / "acme-rk3399-sbc.dts");
        dtbs = {sbc,
                dtb(boards / "globex-imx8mp-som-devkit.dts"),
                dtb(boards / "acme-rk3399-sbc-spi-flash.dtso"),  // skipped by both
                dtb(boards / "initech-a64-tablet.dts"),
                dtb(boards / "umbrella-sm8250-hdk.dts"),
                dtb(examples / "qemu-virt-arm64.dts"),
                sbc,  // listed twice: one image, two configurations
                dtb(examples / "vendor-board-a.dts"),
                dtb(examples / "vendor-board-b.dts"),
                dtb(dir / "hooli-xps9.dts")};
    }
};

const plain_inputs& plain() {
    static const plain_inputs instance;
    return instance;
}

struct plain_case {
    std::string codec;
    bool external;
};
std::ostream& operator<<(std::ostream& os, const plain_case& c) {
    return os << "-c " << c.codec << (c.external ? " -E" : "");
}

/// Overlays that apply to any base: they target the root by path.
const char* const leds_dtso = R"(/dts-v1/;
/plugin/;
/ {
	fragment@0 {
		target-path = "/";
		__overlay__ {
			leds {
				compatible = "gpio-leds";
				led-status { label = "status"; default-state = "on"; };
			};
		};
	};
};
)";

/// Changes the board's identity: the composite's model and compatible are
/// not its base's, and its configuration must show the composite's.
const char* const identity_dtso = R"(/dts-v1/;
/plugin/;
/ {
	fragment@0 {
		target-path = "/";
		__overlay__ {
			model = "Acme RK3399 SBC with flash and LEDs";
			compatible = "acme,rk3399-sbc-flash-leds", "acme,rk3399-sbc", "rockchip,rk3399";
		};
	};
};
)";

/// How a composite's .cmd file ends.
enum class cmd_style {
    plain,       ///< `make dtbs`: the fdtoverlay command alone
    schema_check ///< `make CHECK_DTBS=y dtbs`: "; <dt-validate ...> || true" after it
};

/// A kernel object tree as Kbuild leaves it after `make dtbs`, in a
/// temporary directory; every path below is relative to its top, which is
/// where the tools run.
class kbuild_tree {
public:
    explicit kbuild_tree(cmd_style style) : style_(style) {
        fs::create_directories(top() / "scripts/dtc");
        // ./scripts/dtc/fdtoverlay is the real fdtoverlay: the composites are
        // made by running exactly the command their .cmd files record.
        const std::string fdtoverlay = fitstream_test::trim_newline(run_ok({"sh", "-c", "command -v fdtoverlay"}).out);
        fs::create_symlink(fdtoverlay, top() / "scripts/dtc/fdtoverlay");
        kernel = "arch/arm64/boot/Image";
        fs::create_directories(top() / "arch/arm64/boot");
        write_file(top() / kernel, fitstream_test::kernel_like_payload(256 * 1024 + 2, 21));
        expected.kernel = top() / kernel;

        const fs::path boards = fitstream_test::data_dir / "boards";
        const fs::path examples = fitstream_test::examples_dir;
        const std::string acme = "arch/arm64/boot/dts/acme/";
        const std::string globex = "arch/arm64/boot/dts/globex/";
        const std::string vendor = "arch/arm64/boot/dts/vendor/";
        write_file(scratch_ / "leds.dtso", leds_dtso);
        write_file(scratch_ / "identity.dtso", identity_dtso);

        // The dtbs-list order is the Makefiles' dtb-y order: bases,
        // overlays and composites mixed.
        dtb(acme + "acme-rk3399-sbc.dtb", boards / "acme-rk3399-sbc.dts");
        dtb(acme + "acme-rk3399-sbc-spi-flash.dtbo", boards / "acme-rk3399-sbc-spi-flash.dtso");
        dtb(acme + "leds.dtbo", scratch_ / "leds.dtso");
        composite(acme + "acme-rk3399-sbc-flash.dtb", acme + "acme-rk3399-sbc.dtb",
                  {acme + "acme-rk3399-sbc-spi-flash.dtbo"}, ";");
        dtb(acme + "identity.dtbo", scratch_ / "identity.dtso");
        composite(acme + "acme-rk3399-sbc-flash-leds.dtb", acme + "acme-rk3399-sbc.dtb",
                  {acme + "acme-rk3399-sbc-spi-flash.dtbo", acme + "leds.dtbo", acme + "identity.dtbo"}, " ;");
        dtb(globex + "globex-imx8mp-som-devkit.dtb", boards / "globex-imx8mp-som-devkit.dts");
        dtb(vendor + "vendor-board-a.dtb", examples / "vendor-board-a.dts");
        dtb(vendor + "vendor-board-a-uart2.dtbo", examples / "vendor-board-a-uart2.dtso");
        composite(vendor + "vendor-board-a-with-uart2.dtb", vendor + "vendor-board-a.dtb",
                  {vendor + "vendor-board-a-uart2.dtbo"}, " ;");
        // A composite whose base is not in the list itself (dtb- in the
        // Makefile): the base is stored when the composite needs it.
        dtb(vendor + "vendor-board-b.dtb", examples / "vendor-board-b.dts", false);
        composite(vendor + "vendor-board-b-leds.dtb", vendor + "vendor-board-b.dtb", {acme + "leds.dtbo"}, ";");

        std::string list;
        for (const auto& p : listed_) list += p + "\n";
        write_file(top() / "arch/arm64/boot/dts/dtbs-list", list);
    }

    const fs::path& top() const noexcept { return dir_.path(); }

    /// Kbuild's cmd_fit, as in arch/arm64/boot/Makefile (FIT_COMPRESSION is
    /// gzip unless set); `decompose` is -D or --decompose-dtbs.
    std::vector<std::string> cmd_fit(const std::string& output, const std::string& codec,
                                     const std::string& decompose) const {
        return {"-o", output, "--arch", "arm64", "--os", "linux", "--name", "Linux 6.12.0", decompose, "--compress",
                codec, "-k", kernel, "@arch/arm64/boot/dts/dtbs-list"};
    }

    std::string kernel;
    expected_payloads expected;

private:
    /// Compiles `src` to `path` (a .dtb with symbols, or a .dtbo) and writes
    /// the .cmd file Kbuild's cmd_dtc leaves: the preprocessor, dtc (with
    /// "-i<dir>" include options, not an "-i" word) and the depfile lines.
    void dtb(const std::string& path, const fs::path& src, bool listed = true) {
        fs::create_directories((top() / path).parent_path());
        fitstream_test::compile_dts(src, top() / path);
        const std::string dir = fs::path(path).parent_path().string() + "/";
        const std::string base = fs::path(path).filename().string();
        const std::string tmp = dir + "." + base;
        const std::string dts = dir + src.filename().string();
        write_cmd(path,
                  "savedcmd_" + path + " := gcc -E -Wp,-MMD," + tmp + ".d.pre.tmp -nostdinc "
                  "-I./scripts/dtc/include-prefixes -undef -D__DTS__ -x assembler-with-cpp -o " + tmp + ".dts.tmp " +
                  dts + " ; ./scripts/dtc/dtc -o " + path + " -b 0 -i" + dir + " -i./scripts/dtc/include-prefixes "
                  "-Wno-interrupt_provider -Wno-unique_unit_address -@ -d " + tmp + ".d.dtc.tmp " + tmp +
                  ".dts.tmp ; cat " + tmp + ".d.pre.tmp " + tmp + ".d.dtc.tmp > " + tmp + ".d\n\n"
                  "source_" + path + " := " + dts + "\n\n"
                  "deps_" + path + " := \\\n"
                  "  scripts/dtc/include-prefixes/dt-bindings/gpio/gpio.h \\\n"
                  "  scripts/dtc/include-prefixes/dt-bindings/interrupt-controller/arm-gic.h \\\n\n" +
                  path + ": $(deps_" + path + ")\n\n$(deps_" + path + "):\n");
        expected.by_file_name[base] = top() / path;
        if (listed) listed_.push_back(path);
    }

    /// Runs ./scripts/dtc/fdtoverlay as Kbuild's cmd_fdtoverlay does and
    /// writes its .cmd file; with cmd_style::schema_check, `separator` (";"
    /// right after the last overlay, or " ;") and the checker follow.
    void composite(const std::string& path, const std::string& base, const std::vector<std::string>& overlays,
                   const std::string& separator) {
        std::vector<std::string> argv{"./scripts/dtc/fdtoverlay", "-o", path, "-i", base};
        argv.insert(argv.end(), overlays.begin(), overlays.end());
        run_ok(std::vector<std::string>{"env", "-C", top().string()} + argv);
        std::string cmd = "savedcmd_" + path + " := " + fitstream_test::join(argv);
        if (style_ == cmd_style::schema_check)
            cmd += separator + " dt-validate -u ./Documentation/devicetree/bindings -p "
                   "./Documentation/devicetree/bindings/processed-schema.json " + path + " || true";
        write_cmd(path, cmd + "\n");
        listed_.push_back(path);
    }

    void write_cmd(const std::string& path, const std::string& text) {
        const fs::path p = top() / path;
        write_file(p.parent_path() / ("." + p.filename().string() + ".cmd"), text);
    }

    cmd_style style_;
    temp_dir dir_;
    temp_dir scratch_;
    std::vector<std::string> listed_;
};

}  // namespace

// ---------------------------------------------------------------------------
// Without -D
// ---------------------------------------------------------------------------

BOOST_DATA_TEST_CASE(same_fit_as_make_fit_py,
                     bdata::make(std::vector<plain_case>{{"none", false}, {"gzip", false}, {"none", true},
                                                         {"gzip", true}}),
                     c) {
    temp_dir out;
    const fs::path reference = out / "make_fit.fit";
    const fs::path ours = out / "fitpack.fit";
    std::vector<std::string> dtbs;
    for (const auto& p : plain().dtbs) dtbs.push_back(p.string());
    const auto args = [&](const fs::path& output) {
        std::vector<std::string> a{"-A", "arm64", "-O", "linux", "-n", "Linux 6.12.0", "-c", c.codec,
                                   "-o", output.string(), "-k", plain().kernel.string()};
        if (c.external) a.push_back("-E");
        return a + dtbs;
    };
    run_make_fit(args(reference));
    fitpack_ok(args(ours));
    const fit_summary ref = parse_fit(reference);
    const fit_summary our = parse_fit(ours);
    compare(ref, our, plain().expected);

    // What the comparison implies, stated outright: the kernel and eight
    // DTBs, the .dtbo skipped by both, the twice-listed DTB stored once.
    BOOST_TEST(our.images.size() == 9u);
    BOOST_TEST(our.configurations.size() == 9u);
    for (const auto& img : ref.images) BOOST_TEST(img.description.find(".dtbo") == std::string::npos);
    BOOST_TEST_REQUIRE(our.configurations.size() >= 6u);
    BOOST_TEST(join(our.configurations[5].fdt) == join({"fdt-1"}));
    BOOST_TEST(our.configurations[5].description == "Acme RK3399 SBC");
}

// ---------------------------------------------------------------------------
// With -D, on a Kbuild tree
// ---------------------------------------------------------------------------

namespace {

/// What both tools must make of the tree: configuration description and fdt
/// files, in dtbs-list order.
void check_decomposed_layout(const fit_summary& fit) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> expected{
        {"Acme RK3399 SBC", {"acme-rk3399-sbc.dtb"}},
        {"Acme RK3399 SBC", {"acme-rk3399-sbc.dtb", "acme-rk3399-sbc-spi-flash.dtbo"}},
        {"Acme RK3399 SBC with flash and LEDs",
         {"acme-rk3399-sbc.dtb", "acme-rk3399-sbc-spi-flash.dtbo", "leds.dtbo", "identity.dtbo"}},
        {"Globex i.MX8MP SoM on DevKit carrier", {"globex-imx8mp-som-devkit.dtb"}},
        {"Vendor Board A", {"vendor-board-a.dtb"}},
        {"Vendor Board A", {"vendor-board-a.dtb", "vendor-board-a-uart2.dtbo"}},
        {"Vendor Board B (2 GiB)", {"vendor-board-b.dtb", "leds.dtbo"}},
    };
    BOOST_TEST_REQUIRE(fit.configurations.size() == expected.size());
    for (std::size_t n = 0; n < expected.size(); ++n) {
        BOOST_TEST_CONTEXT("/configurations/" << fit.configurations[n].name) {
            BOOST_TEST(fit.configurations[n].description == expected[n].first);
            BOOST_TEST(join(fdt_files(fit, fit.configurations[n])) == join(expected[n].second));
        }
    }
    // Each base and overlay stored once; composites never.
    BOOST_TEST(fit.images.size() == 1u + 8u);
    BOOST_TEST(join(fit.configurations[2].compatible) ==
               join({"acme,rk3399-sbc-flash-leds", "acme,rk3399-sbc", "rockchip,rk3399"}));
}

}  // namespace

BOOST_DATA_TEST_CASE(decompose_dtbs_same_as_make_fit_py, bdata::make(std::vector<std::string>{"gzip", "none"}),
                     codec) {
    const kbuild_tree tree(cmd_style::plain);
    run_make_fit(tree.cmd_fit("make_fit.fit", codec, "--decompose-dtbs"), tree.top());
    const fit_summary ref = parse_fit(tree.top() / "make_fit.fit");
    BOOST_TEST_CONTEXT("make_fit.py -D") { check_decomposed_layout(ref); }

    fitpack_ok(tree.cmd_fit("fitpack.fit", codec, "--decompose-dtbs"), {{epoch_env}, tree.top()});
    const fit_summary our = parse_fit(tree.top() / "fitpack.fit");
    compare(ref, our, tree.expected);
    BOOST_TEST_CONTEXT("fitpack -D") { check_decomposed_layout(our); }
}

BOOST_AUTO_TEST_CASE(decompose_dtbs_reads_the_command_up_to_the_first_semicolon) {
    // make_fit.py 6.12 runs on the plain tree; fitpack on the same tree as
    // `make CHECK_DTBS=y dtbs` leaves it must write the same FIT.
    const kbuild_tree plain_tree(cmd_style::plain);
    run_make_fit(plain_tree.cmd_fit("make_fit.fit", "gzip", "-D"), plain_tree.top());
    const fit_summary ref = parse_fit(plain_tree.top() / "make_fit.fit");

    const kbuild_tree checked_tree(cmd_style::schema_check);
    fitpack_ok(checked_tree.cmd_fit("fitpack.fit", "gzip", "-D"), {{epoch_env}, checked_tree.top()});
    const fit_summary our = parse_fit(checked_tree.top() / "fitpack.fit");
    // Same layout, same names and configurations; payloads come from the
    // second tree's files, which are byte for byte the first's.
    compare(ref, our, checked_tree.expected);
    check_decomposed_layout(our);
}
