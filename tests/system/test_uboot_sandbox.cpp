// SPDX-License-Identifier: MIT
//
// FITs booted by upstream U-Boot v2026.10-rc2 (the sandbox build in
// ../shared/uboot-2026.10; every case skips, saying so, where it is absent):
// what Debian's U-Boot 2023.01 under QEMU (test_uboot_qemu) cannot show.
//
// Overlays: U-Boot decompresses a configuration's base devicetree but
// applies overlays straight from the FIT (boot_get_fdt_fit() loads them
// with FIT_LOAD_IGNORED), so fitpack stores overlays uncompressed even with
// --compress; a configuration of a gzip base and its overlay must boot, and
// the overlay --compress-fdt forces must fail as fitpack's warning says.

#define BOOST_TEST_MODULE U-Boot sandbox
#include <boost/test/unit_test.hpp>

#include "support.hpp"
#include "uboot_sandbox.hpp"

#include <string>
#include <vector>

using namespace fitstream_test;

namespace {

/// A kernel, a base DTB and an overlay for it, and a FIT of them whose
/// configuration `with-uart2` applies the overlay, packed with `extra`.
struct overlay_fit {
    temp_dir dir;
    fs::path kernel = dir / "Image";
    fs::path base = fs::path(FITSTREAM_TEST_EXAMPLES_DTB_DIR) / "vendor-board-a.dtb";
    fs::path overlay = fs::path(FITSTREAM_TEST_EXAMPLES_DTB_DIR) / "vendor-board-a-uart2.dtbo";
    fs::path fit = dir / "image.fit";
    run_result packed;

    explicit overlay_fit(const std::vector<std::string>& extra) {
        write_file(kernel, kernel_like_payload(256 * 1024));
        std::vector<std::string> args{"-o", fit.string(), "-A", "arm64", "-O", "linux", "-n", "Linux",
                                      "-k", kernel.string(), base.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        args.insert(args.end(), {"--config", "with-uart2:" + base.string() + "," + overlay.string()});
        packed = fitpack_ok(args);
    }

    /// `bootm start` of `conf` in sandbox U-Boot: finds, checks, loads and
    /// decompresses the devicetrees, applying the overlays.
    run_result bootm_start(const fs::path& uboot, const std::string& conf) const {
        return run_uboot_sandbox(uboot, "load hostfs - 0x1000000 " + fit.string() +
                                            "; bootm start 0x1000000#" + conf + "; echo RESULT=$?");
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_compressed_base_with_its_overlay_boots) {
    const auto uboot = uboot_2026_dir();
    if (!uboot) {
        BOOST_TEST_MESSAGE("skipped: no ../shared/uboot-2026.10 beside the source tree");
        return;
    }
    for (const std::string codec : {"gzip", "lzma", "lz4", "zstd", "bzip2", "lzo"}) {
        BOOST_TEST_CONTEXT("--compress " << codec) {
            const overlay_fit f({"--compress", codec});
            BOOST_TEST(!has(f.packed.err, "warning"), f.packed.err);
            const auto listing = run({"dumpimage", "-l", f.fit.string()});
            // fdt-1 (the base) compressed, fdt-2 (the overlay) not.
            BOOST_TEST(has(listing.out, "Image 2 (fdt-2)"), listing.out);
            const std::string overlay_part = listing.out.substr(listing.out.find("Image 2 (fdt-2)"));
            BOOST_TEST(has(overlay_part.substr(0, overlay_part.find("Image 3")), "Compression:  uncompressed"),
                       overlay_part);
            const auto boot = f.bootm_start(*uboot, "with-uart2");
            BOOST_TEST(has(boot.out, "RESULT=0"), boot.out << boot.err);
            BOOST_TEST(!has(boot.out, "DTO"), boot.out);
            // The plain configuration, base only, decompressed by U-Boot.
            const auto plain = f.bootm_start(*uboot, "conf-1");
            BOOST_TEST(has(plain.out, "RESULT=0"), plain.out << plain.err);
        }
    }
}

BOOST_AUTO_TEST_CASE(an_overlay_forced_compressed_is_warned_about_and_does_not_boot) {
    const auto uboot = uboot_2026_dir();
    if (!uboot) {
        BOOST_TEST_MESSAGE("skipped: no ../shared/uboot-2026.10 beside the source tree");
        return;
    }
    const overlay_fit f({"--compress", "gzip", "--compress-fdt", "gzip"});
    BOOST_TEST(has(f.packed.err, "fitpack: warning: " + f.overlay.string() + " (fdt-2): overlay stored "
                                 "gzip-compressed as --compress-fdt says"),
               f.packed.err);
    const auto boot = f.bootm_start(*uboot, "with-uart2");
    BOOST_TEST(has(boot.out, "RESULT=1"), boot.out << boot.err);
    BOOST_TEST(has(boot.out, "failed on fdt_open_into for DTO: FDT_ERR_BADMAGIC"), boot.out);
}
