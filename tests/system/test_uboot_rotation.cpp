// SPDX-License-Identifier: MIT
//
// Key rotation under real U-Boot: Debian 12's u-boot-qemu (2023.01,
// qemu_arm64) under qemu-system-aarch64, with the public keys in its control
// DTB (-dtb), as test_uboot_signing runs it. Two RSA-2048 keys, "old" and
// "new"; three FITs: signed by old only, by new only, and by both
// (signature-1 old, signature-2 new: what a release made during the
// rotation carries). One fitpack run signs the last and writes both keys,
// each required, with required-mode "any", into the control DTB.
//
//  - old_and_new_any: that U-Boot verifies and loads each of the three FITs
//    ("sha256,rsa2048:old+" / "new+"), and boots the old one.
//  - old_removed: the same DTB with /signature/key-old removed (what the
//    next U-Boot release ships): the old FIT is refused ("Failed to verify
//    'any' of the required signature(s)"), the new and the transition FIT
//    load, the new one boots.
//  - mode_all: both keys required with required-mode "all": the transition
//    FIT boots; a FIT signed by new only is refused by fitpack verify (key
//    old verifies no signature) and by this U-Boot ("Failed to verify
//    required signature 'key-old'"): each required key must verify a
//    signature itself.
//
// FITSTREAM_SKIP_QEMU=1 skips these; otherwise a missing QEMU, U-Boot,
// cross compiler or openssl is a failure.

#define BOOST_TEST_MODULE key rotation under U-Boot in QEMU
#include <boost/test/unit_test.hpp>

#include "uboot_qemu.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace utf = boost::unit_test;
using namespace fitstream_test;

namespace {

struct inputs {
    temp_dir dir;
    fs::path board, control, payload, keys;
    fs::path old_fit, new_fit, both_fit;
    fs::path any_dtb;  ///< old + new, required, required-mode any (written by fitpack)

    inputs() {
        control = uboot_qemu::dump_board_dtb(uboot_qemu::options{}, dir / "control.dtb");
        board = dir / "qemu-virt.dtb";
        fs::copy_file(control, board);
        run_ok({"fdtput", "-t", "s", board.string(), "/", "model", board_model});
        const fs::path build = dir / "payload";
        fs::create_directories(build);
        payload = build_qemu_payload(data_dir / "qemu", build);
        keys = dir / "keys";
        fs::create_directories(keys);
        for (const std::string name : {"old", "new"})
            run_ok({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                    (keys / (name + ".key")).string()});
        old_fit = dir / "old.fit";
        new_fit = dir / "new.fit";
        both_fit = dir / "both.fit";
        any_dtb = dir / "any.dtb";
        fs::copy_file(control, any_dtb);
        pack(both_fit, {"--key-dir", keys.string(), "--key-name", "old", "--required", "conf", "--key-dir",
                        keys.string(), "--key-name", "new", "--required", "conf", "--key-dtb", any_dtb.string(),
                        "--required-mode", "any"});
        pack(old_fit, {"--key-dir", keys.string(), "--key-name", "old"});
        pack(new_fit, {"--key-dir", keys.string(), "--key-name", "new"});
    }

    /// fitpack with the payload as kernel and the QEMU board's DTB, plus `extra`.
    void pack(const fs::path& out, const std::vector<std::string>& extra) const {
        std::vector<std::string> args{"-A", "arm64", "-O", "linux", "-n", "fitstream test", "--load", hex(kernel_load),
                                      "-k", payload.string(), "-o", out.string()};
        args.insert(args.end(), extra.begin(), extra.end());
        args.push_back(board.string());
        fitpack_ok(args);
    }
};

const inputs& in() {
    static const inputs instance;
    return instance;
}

uboot_qemu::options session(const fs::path& control_dtb) {
    uboot_qemu::options o;
    const std::vector<fs::path> fits{in().old_fit, in().new_fit, in().both_fit};
    for (std::size_t i = 0; i < fits.size(); ++i) o.blobs.push_back({fits[i], fit_base + i * fit_stride});
    o.extra_args = {"-dtb", control_dtb.string()};
    return o;
}
const std::uint64_t old_at = fit_base, new_at = fit_base + fit_stride, both_at = fit_base + 2 * fit_stride;

void expect_verified_load(uboot_qemu& uboot, std::uint64_t addr, const std::string& verified) {
    const auto r = uboot.run("bootm start " + hex(addr) + " && bootm loados", std::chrono::seconds(60));
    BOOST_TEST(r.status == 0, "bootm start/loados failed:\n" << r.output);
    BOOST_TEST(r.output.find(verified) != std::string::npos, "expected '" << verified << "':\n" << r.output);
    BOOST_TEST(r.output.find("Loading Kernel Image") != std::string::npos, r.output);
}

void expect_not_verified(uboot_qemu& uboot, std::uint64_t addr, const std::string& why) {
    const auto r = uboot.run("bootm start " + hex(addr), std::chrono::seconds(60));
    BOOST_TEST(r.status != 0, "U-Boot accepted it:\n" << r.output);
    BOOST_TEST(r.output.find(why) != std::string::npos, "expected '" << why << "':\n" << r.output);
}

void expect_boot(uboot_qemu& uboot, std::uint64_t addr, const std::string& verified) {
    const auto b = uboot.boot_and_read("bootm " + hex(addr), "FITSTREAM-PAYLOAD: done");
    BOOST_TEST(b.found, "the payload did not finish:\n" << b.output);
    BOOST_TEST(b.output.find(verified) != std::string::npos, "expected '" << verified << "':\n" << b.output);
    BOOST_TEST(uboot.wait_exit(std::chrono::seconds(20)), "QEMU did not power off");
}

run_result verify(const fs::path& fit, const fs::path& dtb) {
    return fitpack({"verify", fit.string(), "--key-dtb", dtb.string()});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rotation, *utf::precondition(qemu_enabled))

BOOST_AUTO_TEST_CASE(old_and_new_any) {
    const fs::path dtb = in().any_dtb;
    BOOST_TEST(trim_newline(run_ok({"fdtget", dtb.string(), "/signature", "required-mode"}).out) == "any");
    for (const auto& fit : {in().old_fit, in().new_fit, in().both_fit})
        BOOST_TEST(verify(fit, dtb).exit_code == 0, verify(fit, dtb).err);
    uboot_qemu uboot(session(dtb));
    uboot.start();
    BOOST_TEST_MESSAGE(uboot.version());
    expect_verified_load(uboot, new_at, "sha256,rsa2048:new+");
    // fitpack (as mkimage -K) adds each key node first under /signature:
    // key-new comes first, and with mode any U-Boot stops at the first
    // required key that verifies: signature-1 (old) is tried with it and
    // fails, signature-2 (new) verifies.
    expect_verified_load(uboot, both_at, "sha256,rsa2048:old- sha256,rsa2048:new+ OK");
    expect_boot(uboot, old_at, "sha256,rsa2048:old+");
    BOOST_TEST_MESSAGE("old+new, any: " << uboot.elapsed() << " s");
}

BOOST_AUTO_TEST_CASE(old_removed) {
    temp_dir out;
    const fs::path dtb = out / "rotated.dtb";
    fs::copy_file(in().any_dtb, dtb);
    run_ok({"fdtput", "-r", dtb.string(), "/signature/key-old"});
    BOOST_TEST(verify(in().old_fit, dtb).exit_code == 1);
    BOOST_TEST(verify(in().new_fit, dtb).exit_code == 0);
    BOOST_TEST(verify(in().both_fit, dtb).exit_code == 0);
    uboot_qemu uboot(session(dtb));
    uboot.start();
    expect_not_verified(uboot, old_at, "Failed to verify 'any' of the required signature(s)");
    expect_verified_load(uboot, both_at, "sha256,rsa2048:new+");
    expect_boot(uboot, new_at, "sha256,rsa2048:new+");
    BOOST_TEST_MESSAGE("old removed: " << uboot.elapsed() << " s");
}

BOOST_AUTO_TEST_CASE(mode_all) {
    temp_dir out;
    const fs::path dtb = out / "all.dtb";
    fs::copy_file(in().any_dtb, dtb);
    run_ok({"fdtput", "-t", "s", dtb.string(), "/signature", "required-mode", "all"});
    const auto v = verify(in().new_fit, dtb);
    BOOST_TEST(v.exit_code == 1);
    BOOST_TEST(has(v.err, "no signature verifies with required key 'old'"), v.err);
    BOOST_TEST(verify(in().both_fit, dtb).exit_code == 0);
    uboot_qemu uboot(session(dtb));
    uboot.start();
    const auto r = uboot.run("bootm start " + hex(new_at), std::chrono::seconds(60));
    BOOST_TEST_MESSAGE("new only, mode all:\n" << r.output);
    BOOST_TEST(r.status != 0, "U-Boot accepted a FIT the required key 'old' did not sign:\n" << r.output);
    // Each required key must itself verify a signature: a signature whose
    // key-name-hint names another key of the DTB does not stand in for it.
    BOOST_TEST(r.output.find("Failed to verify required signature 'key-old'") != std::string::npos, r.output);
    expect_boot(uboot, both_at, "sha256,rsa2048:new+");
    BOOST_TEST_MESSAGE("mode all: " << uboot.elapsed() << " s");
}

BOOST_AUTO_TEST_SUITE_END()
