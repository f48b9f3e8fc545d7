// SPDX-License-Identifier: MIT
//
// fitpack signing with keys held in a PKCS#11 token: SoftHSM2 in a
// temporary SOFTHSM2_CONF (tests/support/softhsm.hpp), keys generated inside
// the token by pkcs11-tool (RSA-2048, RSA-4096, EC P-256), reached through
// OpenSSL's pkcs11 engine. The private keys never leave the token: fitpack
// gets signatures and the public keys (--key-dtb) from it.
//
//  - every_key_type: `fitpack --key pkcs11:... --key-dtb DTB --required
//    conf` with each key, the PIN from $FITPACK_PKCS11_PIN or --pin-file;
//    `fitpack verify --key-dtb` checks each; neither the PIN nor any key
//    material is in any output.
//  - ecdsa_fit_check_sign: U-Boot 2026.10's fit_check_sign verifies the
//    ECDSA FIT with the key DTB fitpack wrote from the token, and refuses it
//    with a byte of the kernel changed (skipped, saying why, without
//    ../shared/uboot-2026.10: Debian's U-Boot verifies no ECDSA).
//  - mkimage_spelling: `fitpack mkimage -N pkcs11 -k token=LABEL -K DTB -r`
//    and Debian's `mkimage` with the same command line (PIN on its prompt)
//    sign with the token key: same PKCS#1 v1.5 value; `fitpack -f -G
//    pkcs11:...` too.
//  - uboot_boots (QEMU): Debian's U-Boot (2023.01, qemu_arm64), its control
//    DTB holding both RSA keys from the token (required, mode "any"),
//    verifies the RSA-2048 and RSA-4096 FITs and boots one.
//  - failures: wrong PIN, no PIN, a PIN in the URI, an unreadable PIN file,
//    a missing token, a missing object, a key of the wrong type or size
//    for --sign-algo, a missing module, a missing engine: each one line
//    naming the URI and the reason, a non-zero exit, no output written, the
//    previous FIT and key DTB byte for byte untouched, and no PIN printed.
//
// Skipped, saying why, without SoftHSM2, OpenSC's pkcs11-tool or OpenSSL's
// pkcs11 engine (Debian: softhsm2, opensc, libengine-pkcs11-openssl);
// FITSTREAM_SKIP_QEMU=1 skips the QEMU case.

#define BOOST_TEST_MODULE fitpack with keys in a PKCS#11 token
#include <boost/test/unit_test.hpp>

#include "softhsm.hpp"
#include "tools.hpp"
#include "uboot_qemu.hpp"
#include "uboot_sandbox.hpp"

#include <fitstream/fitstream.hpp>

#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace utf = boost::unit_test;
using namespace fitstream_test;
using fitstream_test::operator+;

namespace {

// Distinct digit strings, so finding one in any output is no accident.
const std::string pin = "58302716";
const std::string wrong_pin = "91827364";

/// The token, its three keys, a kernel, a board DTB and a PIN file: made
/// once for the run.
struct token_inputs {
    softhsm_token hsm{"fitstream-test", pin};
    temp_dir dir;
    fs::path kernel, board, pin_file;

    token_inputs() {
        hsm.generate("rsa2048", "rsa:2048");
        hsm.generate("rsa4096", "rsa:4096");
        hsm.generate("ec256", "EC:prime256v1");
        kernel = dir / "Image";
        write_file(kernel, kernel_like_payload(256 * 1024));
        board = compile_dts(data_dir / "boards" / "acme-rk3399-sbc.dts", dir / "board.dtb");
        pin_file = dir / "pin";
        write_file(pin_file, pin + "\n");
    }
};

const token_inputs& inputs() {
    static const token_inputs instance;
    return instance;
}

/// The environment fitpack runs with: fixed time, the token, and `extra`.
fitpack_run with_env(const std::vector<std::string>& extra) {
    fitpack_run how;
    how.env = {epoch_env};
    for (const auto& e : inputs().hsm.env()) {
        bool overridden = false;
        for (const auto& x : extra) overridden = overridden || x.compare(0, x.find('=') + 1, e, 0, e.find('=') + 1) == 0;
        if (!overridden) how.env.push_back(e);
    }
    how.env.insert(how.env.end(), extra.begin(), extra.end());
    return how;
}

const std::string pin_env = "FITPACK_PKCS11_PIN=" + pin;

// libp11 0.4.12 (Debian 12) leaks about 770 bytes (its RSA method) when
// ENGINE_load_private_key fails: a wrong or missing PIN, a missing token or
// object. The leak is the engine's, not fitpack's, but LeakSanitizer's report
// would be a second line of error: the sanitizer build checks those runs
// without leak detection (every other run keeps it).
#if defined(__SANITIZE_ADDRESS__)
const std::vector<std::string> failed_login_env{"ASAN_OPTIONS=abort_on_error=0:detect_leaks=0"};
#else
const std::vector<std::string> failed_login_env{};
#endif

/// fitpack's packing mode on the kernel and board DTB, plus `extra`.
std::vector<std::string> pack_args(const fs::path& out, const std::vector<std::string>& extra) {
    const auto& in = inputs();
    std::vector<std::string> args{"-A", "arm64", "-O", "linux", "-n", "token test", "-k", in.kernel.string(),
                                  "-o", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(in.board.string());
    return args;
}

/// An empty control DTB at `path`.
fs::path empty_dtb(const fs::path& path) {
    run_ok({"dtc", "-I", "dts", "-O", "dtb", "-o", path.string(), "-"}, "/dts-v1/;\n/ { };\n");
    return path;
}

/// Neither PIN appears in `text`.
void expect_no_pin(const std::string& text, const std::string& what) {
    BOOST_TEST(!has(text, pin), what << " shows the PIN");
    BOOST_TEST(!has(text, wrong_pin), what << " shows the (wrong) PIN");
}

}  // namespace

// The URI rules, without a token.
BOOST_AUTO_TEST_CASE(uri_rules) {
    // mkimage -N pkcs11 -k KEYDIR: "pkcs11:" added, the hint as object
    // unless KEYDIR names one.
    BOOST_TEST(fitstream::mkimage_token_uri("token=t", "dev") == "pkcs11:token=t;object=dev");
    BOOST_TEST(fitstream::mkimage_token_uri("pkcs11:token=t", "dev") == "pkcs11:token=t;object=dev");
    BOOST_TEST(fitstream::mkimage_token_uri("token=t;object=k", "dev") == "pkcs11:token=t;object=k");
    BOOST_TEST(fitstream::mkimage_token_uri("", "dev") == "pkcs11:object=dev");
    BOOST_TEST(fitstream::mkimage_token_uri("pkcs11:token=t?module-path=/m.so", "dev") ==
               "pkcs11:token=t;object=dev?module-path=/m.so");
    const auto u = fitstream::parse_token_uri("pkcs11:token=My%20HSM;object=fit-key?module-path=/usr/lib/x.so&pin-source=file:/run/pin");
    BOOST_TEST(u.path == "pkcs11:token=My%20HSM;object=fit-key");
    BOOST_TEST(u.token == "My HSM");
    BOOST_TEST(u.object == "fit-key");
    BOOST_TEST(u.module_path == "/usr/lib/x.so");
    BOOST_TEST(u.pin_source == "file:/run/pin");
    // A PIN in the URI, in the query or the path: refused, never repeated.
    for (const std::string& uri : std::vector<std::string>{"pkcs11:token=t;object=k?pin-value=" + pin,
                                                           "pkcs11:token=t;pin-value=" + pin + ";object=k"}) {
        BOOST_TEST_CONTEXT(uri) {
            try {
                (void)fitstream::parse_token_uri(uri);
                BOOST_ERROR("accepted");
            } catch (const fitstream::error& e) {
                BOOST_TEST(has(e.what(), "refused"), e.what());
                BOOST_TEST(has(e.what(), "pkcs11:token=t;"), e.what());
                expect_no_pin(e.what(), "the message");
            }
        }
    }
    BOOST_CHECK_THROW(fitstream::parse_token_uri("pkcs11:token=t?module-name=softhsm2"), fitstream::error);
    BOOST_CHECK_THROW(fitstream::parse_token_uri("pkcs11:object=a%2"), fitstream::error);
}

BOOST_AUTO_TEST_SUITE(pkcs11_token, *utf::precondition(softhsm_available))

BOOST_AUTO_TEST_CASE(every_key_type) {
    const auto& in = inputs();
    temp_dir out;
    struct row {
        std::string object, algo;
        bool pin_file;
    };
    for (const row& r : {row{"rsa2048", "sha256,rsa2048", false}, row{"rsa4096", "sha256,rsa4096", true},
                         row{"ec256", "sha256,ecdsa256", false}}) {
        BOOST_TEST_CONTEXT(r.object) {
            const fs::path fit = out / (r.object + ".fit");
            const fs::path dtb = empty_dtb(out / (r.object + ".dtb"));
            std::vector<std::string> extra{"--key", in.hsm.uri(r.object), "--key-dtb", dtb.string(), "--required", "conf"};
            // The PIN from a file, and image signatures too, for RSA-4096.
            if (r.pin_file) extra.insert(extra.end(), {"--pin-file", in.pin_file.string(), "--image-signatures"});
            const auto p = fitpack_ok(pack_args(fit, extra), with_env(r.pin_file ? std::vector<std::string>{}
                                                                                   : std::vector<std::string>{pin_env}));
            expect_no_pin(p.out + p.err, "fitpack's output");
            // The algo follows the key (no --sign-algo); the name is the object.
            BOOST_TEST(fdtget(fit, "/configurations/conf-1/signature-1", "algo") == r.algo);
            BOOST_TEST(fdtget(fit, "/configurations/conf-1/signature-1", "key-name-hint") == r.object);
            BOOST_TEST(fdtget(dtb, "/signature/key-" + r.object, "required") == "conf");
            const auto v = fitpack_ok({"verify", fit.string(), "--key-dtb", dtb.string()});
            BOOST_TEST(has(v.out, r.algo + ":" + r.object + "+ OK"), v.out);
            // The image signatures are made in the token too (a key required
            // for configurations leaves them unchecked, as in U-Boot).
            if (r.pin_file) {
                std::istringstream bytes(fdtget(fit, "/images/kernel/signature-1", "value", "bx"));
                BOOST_TEST(std::distance(std::istream_iterator<std::string>(bytes), std::istream_iterator<std::string>()) == 512);
            }
            expect_no_pin(read_file(fit) + read_file(dtb), "the FIT or key DTB");
        }
    }
}

BOOST_AUTO_TEST_CASE(key_dir_spelling) {
    // --key-dir 'pkcs11:token=T' --key-name O: mkimage -N pkcs11's rule in
    // packing mode, the same key as --key 'pkcs11:token=T;object=O'.
    const auto& in = inputs();
    temp_dir out;
    const fs::path a = out / "a.fit", b = out / "b.fit";
    fitpack_ok(pack_args(a, {"--key", in.hsm.uri("rsa2048")}), with_env({pin_env}));
    fitpack_ok(pack_args(b, {"--key-dir", "pkcs11:token=" + in.hsm.label(), "--key-name", "rsa2048"}),
               with_env({pin_env}));
    BOOST_TEST(read_file(a) == read_file(b));
}

BOOST_AUTO_TEST_CASE(ecdsa_fit_check_sign) {
    const auto uboot = uboot_2026_dir();
    if (!uboot) {
        BOOST_TEST_MESSAGE("skipped: no U-Boot 2026.10 fit_check_sign in ../shared/uboot-2026.10 (Debian's "
                           "U-Boot 2023.01 verifies no ECDSA)");
        return;
    }
    const auto& in = inputs();
    temp_dir out;
    const fs::path fit = out / "ec.fit", dtb = empty_dtb(out / "u-boot.dtb"), bad = out / "tampered.fit";
    fitpack_ok(pack_args(fit, {"--key", in.hsm.uri("ec256"), "--sign-algo", "sha256,ecdsa256", "--key-dtb",
                               dtb.string(), "--required", "conf"}),
               with_env({pin_env}));
    const auto ok = run({(*uboot / "fit_check_sign").string(), "-f", fit.string(), "-k", dtb.string()});
    BOOST_TEST(ok.exit_code == 0, ok.out + ok.err);
    BOOST_TEST(has(ok.out + ok.err, "Signature check OK"), ok.out + ok.err);
    BOOST_TEST(has(ok.out + ok.err, "sha256,ecdsa256:ec256+"), ok.out + ok.err);
    // A changed kernel byte: the configuration's hash no longer holds.
    std::string bytes = read_file(fit);
    const std::string kernel = read_file(in.kernel);
    const auto at = bytes.find(kernel);
    BOOST_REQUIRE(at != std::string::npos);
    bytes[at + kernel.size() / 2] ^= 1;
    write_file(bad, bytes);
    const auto refused = run({(*uboot / "fit_check_sign").string(), "-f", bad.string(), "-k", dtb.string()});
    BOOST_TEST(refused.exit_code != 0, refused.out + refused.err);
}

BOOST_AUTO_TEST_CASE(mkimage_spelling) {
    const auto& in = inputs();
    temp_dir out;
    const fs::path its = out / "token.its";
    write_file(its, "/dts-v1/;\n/ {\n description = \"token test\";\n #address-cells = <1>;\n"
                    " images {\n"
                    "  kernel { description = \"k\"; data = /incbin/(\"" + in.kernel.string() +
                        "\"); type = \"kernel\"; arch = \"arm64\"; os = \"linux\"; compression = \"none\";"
                        " load = <0x40400000>; entry = <0x40400000>; hash-1 { algo = \"sha256\"; }; };\n"
                    "  fdt-1 { description = \"f\"; data = /incbin/(\"" + in.board.string() +
                        "\"); type = \"flat_dt\"; arch = \"arm64\"; compression = \"none\"; hash-1 { algo = \"sha256\"; }; };\n"
                    " };\n configurations {\n  default = \"conf-1\";\n"
                    "  conf-1 { kernel = \"kernel\"; fdt = \"fdt-1\";"
                        " signature-1 { algo = \"sha256,rsa2048\"; key-name-hint = \"rsa2048\"; sign-images = \"kernel\", \"fdt\"; }; };\n"
                    " };\n};\n");
    const fs::path ours = out / "fitpack.fit", theirs = out / "mkimage.fit", by_uri = out / "uri.fit";
    const fs::path our_dtb = empty_dtb(out / "fitpack.dtb"), their_dtb = empty_dtb(out / "mkimage.dtb");
    const std::string token = "token=" + in.hsm.label();
    const auto f = fitpack_ok({"mkimage", "-N", "pkcs11", "-k", token, "-K", our_dtb.string(), "-r", "-f", its.string(),
                               ours.string()},
                              with_env({pin_env}));
    expect_no_pin(f.out + f.err, "fitpack mkimage's output");
    // mkimage 2023.01 asks for the PIN on its prompt; its engine's default
    // module (p11-kit's proxy) finds SoftHSM2 through the same SOFTHSM2_CONF.
    const auto m = run({"mkimage", "-N", "pkcs11", "-k", token, "-K", their_dtb.string(), "-r", "-f", its.string(),
                        theirs.string()},
                       pin + "\n", std::vector<std::string>{epoch_env} + in.hsm.env());
    BOOST_REQUIRE_MESSAGE(m.exit_code == 0, m.out + m.err);
    const auto value = [](const fs::path& fit) {
        return fdtget(fit, "/configurations/conf-1/signature-1", "value", "x");
    };
    BOOST_TEST(!value(ours).empty());
    BOOST_TEST(value(ours) == value(theirs));
    // Each key DTB verifies the other tool's FIT: the same public key.
    BOOST_TEST(has(fitpack_ok({"verify", theirs.string(), "--key-dtb", our_dtb.string()}).out, "rsa2048+ OK"));
    BOOST_TEST(has(fitpack_ok({"verify", ours.string(), "--key-dtb", their_dtb.string()}).out, "rsa2048+ OK"));
    // fitpack -f with a URI as -G, the PIN from a file.
    fitpack_ok({"-f", its.string(), "-G", in.hsm.uri("rsa2048"), "--pin-file", in.pin_file.string(), "-o",
                by_uri.string()},
               with_env({}));
    BOOST_TEST(value(by_uri) == value(ours));
}

BOOST_AUTO_TEST_CASE(failures) {
    const auto& in = inputs();
    temp_dir out;
    const fs::path fit = out / "image.fit", dtb = empty_dtb(out / "u-boot.dtb");
    // A previous FIT and key DTB (with a key already), which no failure may touch.
    fitpack_ok(pack_args(fit, {"--key", in.hsm.uri("rsa2048"), "--key-dtb", dtb.string()}), with_env({pin_env}));
    const std::string old_fit = read_file(fit), old_dtb = read_file(dtb);
    const auto names = directory_names(out.path());
    const fs::path wrong_pin_file = out.path().parent_path() / (out.path().filename().string() + ".pin");
    write_file(wrong_pin_file, wrong_pin + "\n");

    struct row {
        std::string what;
        std::vector<std::string> args;  // besides the packing arguments
        std::vector<std::string> env;
        std::vector<std::string> said;  // each in the one line of error
    };
    const std::string rsa = in.hsm.uri("rsa2048"), ec = in.hsm.uri("ec256");
    const std::vector<row> rows{
        {"wrong PIN", {"--key", rsa}, {"FITPACK_PKCS11_PIN=" + wrong_pin}, {rsa, "PIN incorrect"}},
        {"wrong PIN in a file", {"--key", rsa, "--pin-file", wrong_pin_file.string()}, {}, {rsa, "PIN incorrect"}},
        {"no PIN", {"--key", rsa}, {"FITPACK_PKCS11_PIN="}, {rsa, "no PIN was given"}},
        {"PIN in the URI", {"--key", rsa + "?pin-value=" + pin}, {pin_env}, {rsa, "pin-value", "refused"}},
        {"unreadable PIN file", {"--key", rsa, "--pin-file", (out / "no-such-pin").string()}, {},
         {"no-such-pin", "cannot read PIN file"}},
        {"missing token", {"--key", "pkcs11:token=no-such-token;object=rsa2048"}, {pin_env},
         {"pkcs11:token=no-such-token;object=rsa2048", "no such token or object"}},
        {"missing object", {"--key", in.hsm.uri("no-such-key")}, {pin_env},
         {in.hsm.uri("no-such-key"), "no such token or object"}},
        {"EC key, RSA algo", {"--key", ec, "--sign-algo", "sha256,rsa2048"}, {pin_env},
         {ec, "key is EC prime256v1, but sha256,rsa2048 needs RSA-2048"}},
        {"RSA-2048 key, RSA-4096 algo", {"--key", rsa, "--sign-algo", "sha256,rsa4096"}, {pin_env},
         {rsa, "key is RSA-2048, but sha256,rsa4096 needs RSA-4096"}},
        {"missing module", {"--key", rsa}, {pin_env, "FITPACK_PKCS11_MODULE=" + (out / "libnone.so").string()},
         {rsa, "libnone.so"}},
        {"missing engine", {"--key", rsa}, {pin_env, "OPENSSL_ENGINES=" + (out / "no-engines").string()},
         {rsa, "pkcs11 engine cannot be loaded", "libengine-pkcs11-openssl"}},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.what) {
            auto args = r.args;
            args.insert(args.end(), {"--key-dtb", dtb.string(), "--required", "conf"});
            // FITPACK_PKCS11_PIN= unsets the PIN for "no PIN"; no other row leans on it.
            const auto p = fitpack(pack_args(fit, args), with_env(r.env + failed_login_env));
            BOOST_TEST_MESSAGE(r.what << ": " << trim_newline(p.err));
            BOOST_TEST(p.exit_code != 0);
            BOOST_TEST(p.out.empty(), p.out);
            BOOST_TEST(lines_of(p.err).size() == 1u, p.err);
            for (const auto& s : r.said) BOOST_TEST(has(p.err, s), "expected '" << s << "' in: " << p.err);
            expect_no_pin(p.out + p.err, "the error");
            BOOST_TEST(read_file(fit) == old_fit, "the previous FIT changed");
            BOOST_TEST(read_file(dtb) == old_dtb, "the previous key DTB changed");
            BOOST_TEST(directory_names(out.path()) == names, "a file was left behind");
        }
    }

    // The same in mkimage's spelling: a wrong PIN, and -N with another engine.
    const auto m = fitpack({"mkimage", "-N", "pkcs11", "-k", "token=" + in.hsm.label(), "-K", dtb.string(), "-f",
                            "auto", "-A", "arm64", "-d", in.kernel.string(), "-b", in.board.string(), "-g", "rsa2048",
                            "-o", "sha256,rsa2048", fit.string()},
                           with_env(std::vector<std::string>{"FITPACK_PKCS11_PIN=" + wrong_pin} + failed_login_env));
    BOOST_TEST(m.exit_code != 0);
    BOOST_TEST(lines_of(m.err).size() == 1u, m.err);
    BOOST_TEST(has(m.err, "pkcs11:token=" + in.hsm.label() + ";object=rsa2048"), m.err);
    BOOST_TEST(has(m.err, "PIN incorrect"), m.err);
    expect_no_pin(m.out + m.err, "fitpack mkimage's error");
    const auto e = fitpack({"mkimage", "-N", "tpm", "-k", "x", "-f", "auto", "-A", "arm64", "-d", in.kernel.string(),
                            fit.string()},
                           with_env({pin_env}));
    BOOST_TEST(e.exit_code != 0);
    BOOST_TEST(has(e.err, "-N tpm"), e.err);
    BOOST_TEST(read_file(fit) == old_fit, "the previous FIT changed");
    BOOST_TEST(read_file(dtb) == old_dtb, "the previous key DTB changed");
    fs::remove(wrong_pin_file);
}

BOOST_AUTO_TEST_SUITE_END()

// Debian's U-Boot under QEMU verifies FITs signed in the token.
BOOST_AUTO_TEST_SUITE(pkcs11_uboot, *utf::precondition(softhsm_available) * utf::precondition(qemu_enabled))

BOOST_AUTO_TEST_CASE(uboot_boots) {
    const auto& in = inputs();
    temp_dir out;
    const fs::path control = uboot_qemu::dump_board_dtb(uboot_qemu::options{}, out / "u-boot.dtb");
    const fs::path board = out / "qemu-virt.dtb";
    fs::copy_file(control, board);
    run_ok({"fdtput", "-t", "s", board.string(), "/", "model", board_model});
    fs::create_directories(out / "payload");
    const fs::path payload = build_qemu_payload(data_dir / "qemu", out / "payload");

    // Both RSA keys from the token into U-Boot's control DTB, required; mode
    // "any": each FIT needs its own key only.
    std::vector<fs::path> fits;
    for (const std::string object : {"rsa2048", "rsa4096"}) {
        const fs::path fit = out / (object + ".fit");
        fitpack_ok({"-A", "arm64", "-O", "linux", "-n", "token test", "--load", hex(kernel_load), "-k",
                    payload.string(), "-o", fit.string(), "--key", in.hsm.uri(object), "--key-dtb", control.string(),
                    "--required", "conf", board.string()},
                   with_env({pin_env}));
        fits.push_back(fit);
    }
    run_ok({"fdtput", "-t", "s", control.string(), "/signature", "required-mode", "any"});

    uboot_qemu::options o;
    for (std::size_t i = 0; i < fits.size(); ++i) o.blobs.push_back({fits[i], fit_base + i * fit_stride});
    o.extra_args = {"-dtb", control.string()};
    uboot_qemu uboot(o);
    uboot.start();
    BOOST_TEST_MESSAGE(uboot.version());
    const auto r = uboot.run("bootm start " + hex(fit_base + fit_stride) + " && bootm loados", std::chrono::seconds(60));
    BOOST_TEST(r.status == 0, "bootm start/loados failed:\n" << r.output);
    BOOST_TEST(has(r.output, "sha256,rsa4096:rsa4096+ OK"), r.output);
    const auto b = uboot.boot_and_read("bootm " + hex(fit_base), "FITSTREAM-PAYLOAD: done");
    BOOST_TEST(b.found, "the payload did not finish:\n" << b.output);
    BOOST_TEST(has(b.output, "sha256,rsa2048:rsa2048+ OK"), b.output);
    BOOST_TEST(has(b.output, "FITSTREAM-PAYLOAD: model=" + board_model + "\n"), b.output);
    BOOST_TEST(uboot.wait_exit(std::chrono::seconds(20)), "QEMU did not power off");
    BOOST_TEST_MESSAGE("token FITs under U-Boot: " << uboot.elapsed() << " s");
}

BOOST_AUTO_TEST_SUITE_END()
