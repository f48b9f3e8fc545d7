// SPDX-License-Identifier: MIT
//
// fitpack --sign-command (an external signer) and several keys per FIT,
// run as a program. The signing command is the documented example,
// examples/fitpack/sign-with-openssl.sh (`openssl pkeyutl` on the key in
// $FITPACK_SIGNING_KEY). Results are checked by `fitpack verify --key-dtb`
// and by U-Boot's own fit_check_sign (v2026.10, ../shared/uboot-2026.10:
// Debian's u-boot-tools 2023.01 has no fit_check_sign; where it is absent
// those checks are skipped, saying so).
//
//  - signed_by_command: RSA pkcs-1.5 (the value equals --key's with the
//    same key: PKCS#1 v1.5 is deterministic, so both signed the same bytes),
//    RSA PSS, ECDSA P-256 (openssl's DER turned into r||s), message input,
//    the public key taken from --key-dtb, image signatures.
//  - command_failures: a non-zero exit, a signal, no output, a short
//    output, too much output, a timeout, a wrong key, a wrong public key
//    type, message input with image signatures, no public key: each one
//    line naming the command (never its arguments), no FIT written, the
//    previous FIT and the key DTB unchanged.
//  - several_keys: signature-1, -2 with their own keys and algos, both
//    public keys in --key-dtb with `required` each and --required-mode;
//    verify's rules (required-mode all: every required key; any: one;
//    signatures by keys the DTB lacks ignored) agree with fit_check_sign;
//    command lines that do not say which key an option belongs to are
//    refused. An image signed by a key not required for images: verify
//    refuses it and says that U-Boot (fit_check_sign) accepts it.

#define BOOST_TEST_MODULE fitpack sign command and several keys
#include <boost/test/unit_test.hpp>

#include "support.hpp"
#include "uboot_sandbox.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

using namespace fitstream_test;

namespace {

const fs::path script = examples_dir.parent_path() / "fitpack" / "sign-with-openssl.sh";

void genpkey(const fs::path& out, const std::vector<std::string>& opts) {
    std::vector<std::string> argv{"openssl", "genpkey", "-quiet"};
    argv.insert(argv.end(), opts.begin(), opts.end());
    argv.insert(argv.end(), {"-out", out.string()});
    run_ok(argv);
}

fs::path public_pem(const fs::path& key) {
    fs::path pub = key;
    pub.replace_extension(".pub.pem");
    run_ok({"openssl", "pkey", "-in", key.string(), "-pubout", "-out", pub.string()});
    return pub;
}

/// Keys (RSA-2048 rsa, another RSA-2048 other, EC P-256 ec; RSA ones also
/// as KEYDIR/NAME.key), a kernel, a board DTB and an empty control DTB.
struct inputs {
    temp_dir dir;
    fs::path keys, rsa, rsa_pub, other, other_pub, ec, ec_pub, kernel, board, control;
    inputs() {
        keys = dir / "keys";
        fs::create_directories(keys);
        rsa = keys / "rsa.key";
        other = keys / "other.key";
        ec = keys / "ec.pem";
        genpkey(rsa, {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"});
        genpkey(other, {"-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"});
        genpkey(ec, {"-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1"});
        rsa_pub = public_pem(rsa);
        other_pub = public_pem(other);
        ec_pub = public_pem(ec);
        kernel = dir / "Image";
        write_file(kernel, kernel_like_payload(150000, 7));
        board = compile_dts(data_dir / "boards" / "acme-rk3399-sbc.dts", dir / "board.dtb");
        write_file(dir / "control.dts", "/dts-v1/;\n/ { model = \"control\"; compatible = \"test,control\"; };\n");
        control = compile_dts(dir / "control.dts", dir / "control.dtb");
    }
};

const inputs& in() {
    static const inputs instance;
    return instance;
}

/// fitpack packing the kernel and board into `out`, plus `extra`, with
/// FITPACK_SIGNING_KEY=`key` (empty: unset).
run_result pack(const fs::path& out, const std::vector<std::string>& extra, const fs::path& key = {}) {
    std::vector<std::string> args{"-A", "arm64", "-O", "linux", "-n", "signed", "-k", in().kernel.string(),
                                  "-o", out.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(in().board.string());
    fitpack_run how;
    if (!key.empty()) how.env.push_back("FITPACK_SIGNING_KEY=" + key.string());
    return fitpack(args, how);
}

void pack_ok(const fs::path& out, const std::vector<std::string>& extra, const fs::path& key = {}) {
    const auto r = pack(out, extra, key);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, "fitpack -> " << r.exit_code << "\nstderr: " << r.err);
}

fs::path control_copy(const fs::path& dir, const std::string& name = "u-boot.dtb") {
    const fs::path out = dir / name;
    fs::copy_file(in().control, out);
    return out;
}

run_result verify(const fs::path& fit, const fs::path& dtb) {
    return fitpack({"verify", fit.string(), "--key-dtb", dtb.string()});
}

/// fit_check_sign (2026.10) on `fit`: its exit code, or nullopt (with a
/// message) when it is not there.
std::optional<run_result> fit_check_sign(const fs::path& fit, const fs::path& dtb) {
    const auto dir = uboot_2026_dir();
    if (!dir) {
        BOOST_TEST_MESSAGE("skipping fit_check_sign: ../shared/uboot-2026.10 is absent");
        return std::nullopt;
    }
    return run({(*dir / "fit_check_sign").string(), "-f", fit.string(), "-k", dtb.string()});
}

void expect_verifies(const fs::path& fit, const fs::path& dtb, const std::string& line) {
    const auto v = verify(fit, dtb);
    BOOST_TEST(v.exit_code == 0, "fitpack verify:\n" << v.out << v.err);
    BOOST_TEST(has(v.out, line), "expected '" << line << "':\n" << v.out);
    if (const auto c = fit_check_sign(fit, dtb)) BOOST_TEST(c->exit_code == 0, "fit_check_sign:\n" << c->out << c->err);
}

void expect_refused(const fs::path& fit, const fs::path& dtb, const std::string& why) {
    const auto v = verify(fit, dtb);
    BOOST_TEST(v.exit_code == 1, "fitpack verify accepted:\n" << v.out << v.err);
    BOOST_TEST(has(v.err, why), "expected '" << why << "':\n" << v.err);
    if (const auto c = fit_check_sign(fit, dtb)) BOOST_TEST(c->exit_code != 0, "fit_check_sign accepted:\n" << c->out);
}

std::string fdtget(const fs::path& file, const std::string& node, const std::string& prop) {
    return trim_newline(run_ok({"fdtget", "-t", "x", file.string(), node, prop}).out);
}

const std::string sig1 = "/configurations/conf-1/signature-1";

std::vector<std::string> command(const std::string& name, const fs::path& pub) {
    return {"--sign-command", script.string(), "--key-name", name, "--public-key", pub.string()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(signed_by_command)

BOOST_AUTO_TEST_CASE(rsa_pkcs1_5_same_value_as_the_key_file) {
    temp_dir out;
    const fs::path dtb = control_copy(out.path());
    const fs::path by_command = out / "command.fit", by_file = out / "file.fit";
    pack_ok(by_command, command("rel", in().rsa_pub) + std::vector<std::string>{"--key-dtb", dtb.string(), "--required", "conf"},
            in().rsa);
    pack_ok(by_file, {"--key", in().rsa.string(), "--key-name", "rel"});
    BOOST_TEST(fdtget(by_command, sig1, "value") == fdtget(by_file, sig1, "value"));
    BOOST_TEST(fdtget(dtb, "/signature/key-rel", "required") != "");
    expect_verifies(by_command, dtb, "signature-1: sha256,rsa2048:rel+ OK");
}

BOOST_AUTO_TEST_CASE(rsa_pss) {
    temp_dir out;
    const fs::path dtb = control_copy(out.path());
    const fs::path fit = out / "pss.fit";
    pack_ok(fit, command("rel", in().rsa_pub) + std::vector<std::string>{"--padding", "pss", "--key-dtb", dtb.string(),
                                                                          "--required", "conf"},
            in().rsa);
    BOOST_TEST(trim_newline(run_ok({"fdtget", fit.string(), sig1, "padding"}).out) == "pss");
    expect_verifies(fit, dtb, "signature-1: sha256,rsa2048:rel+ OK");
}

BOOST_AUTO_TEST_CASE(ecdsa_p256_from_der) {
    temp_dir out;
    const fs::path dtb = control_copy(out.path());
    const fs::path fit = out / "ec.fit";
    pack_ok(fit, command("ec", in().ec_pub) + std::vector<std::string>{"--key-dtb", dtb.string(), "--required", "conf"},
            in().ec);
    BOOST_TEST(trim_newline(run_ok({"fdtget", fit.string(), sig1, "algo"}).out) == "sha256,ecdsa256");
    expect_verifies(fit, dtb, "signature-1: sha256,ecdsa256:ec+ OK");
}

BOOST_AUTO_TEST_CASE(message_input) {
    temp_dir out;
    const fs::path dtb = control_copy(out.path());
    const fs::path fit = out / "message.fit", by_file = out / "file.fit";
    pack_ok(fit, command("rel", in().rsa_pub) + std::vector<std::string>{"--sign-command-input", "message", "--key-dtb",
                                                                          dtb.string(), "--required", "conf"},
            in().rsa);
    pack_ok(by_file, {"--key", in().rsa.string(), "--key-name", "rel"});
    BOOST_TEST(fdtget(fit, sig1, "value") == fdtget(by_file, sig1, "value"));
    expect_verifies(fit, dtb, "signature-1: sha256,rsa2048:rel+ OK");
}

BOOST_AUTO_TEST_CASE(public_key_from_the_key_dtb_and_image_signatures) {
    temp_dir out;
    const fs::path dtb = control_copy(out.path());
    // The DTB gets the key first (from the key file), required for images.
    pack_ok(out / "first.fit", {"--key", in().rsa.string(), "--key-name", "rel", "--image-signatures", "--key-dtb",
                                dtb.string(), "--required", "image"});
    const std::string before = read_file(dtb);
    const fs::path fit = out / "images.fit";
    pack_ok(fit, {"--sign-command", script.string(), "--key-name", "rel", "--key-dtb", dtb.string(),
                  "--image-signatures", "--required", "image"},
            in().rsa);
    BOOST_TEST(read_file(dtb) == before);  // the same key: nothing to add
    const auto v = verify(fit, dtb);
    BOOST_TEST(v.exit_code == 0, v.out << v.err);
    BOOST_TEST(has(v.out, "/images/kernel/signature-1: sha256,rsa2048:rel+"), v.out);
    if (const auto c = fit_check_sign(fit, dtb)) BOOST_TEST(c->exit_code == 0, c->out << c->err);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(command_failures)

struct failure_row {
    std::string name;
    std::string script;                 ///< body of the command's script (empty: the example script)
    std::vector<std::string> extra;     ///< further options
    std::string why;                    ///< in the message
    int exit_code = 1;
    fs::path key;                       ///< FITPACK_SIGNING_KEY (default: rsa)
};

BOOST_AUTO_TEST_CASE(each_fails_with_one_line_and_writes_nothing) {
    const std::vector<failure_row> rows{
        {"exit status", "cat >/dev/null; exit 3", {}, "exited with status 3", 1, {}},
        {"not found", "cat >/dev/null; exit 127", {}, "exited with status 127 (the shell found no such command)", 1, {}},
        // The shell fitpack starts (sh -c) reports a child's signal as an exit
        // status (143); killed itself, it is a signal.
        {"signal", "kill -TERM $PPID", {}, "killed by SIGTERM", 1, {}},
        {"no output", "cat >/dev/null", {}, "printed no signature", 1, {}},
        {"short output", "cat >/dev/null; printf 'abc'", {}, "printed 3 bytes, but a sha256,rsa2048 signature is 256 bytes",
         1, {}},
        {"too much output", "cat >/dev/null; head -c 100000 /dev/zero", {}, "printed more than 272 bytes", 1, {}},
        {"timeout", "cat >/dev/null; sleep 30", {"--sign-timeout", "0.5"}, "timed out after 500 ms", 1, {}},
        {"wrong key", "", {}, "the signature does not verify with the public key", 1, in().other},
        {"pss with a short salt",
         "openssl pkeyutl -sign -inkey \"$FITPACK_SIGNING_KEY\" -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss "
         "-pkeyopt rsa_pss_saltlen:digest",
         {"--padding", "pss"},
         "rsa_pss_saltlen:max",
         1,
         {}},
        {"public key of the wrong size", "", {"--sign-algo", "sha256,rsa4096"},
         "is RSA-2048, but sha256,rsa4096 needs RSA-4096", 1, {}},
        {"message input and image signatures", "", {"--sign-command-input", "message", "--image-signatures"},
         "--sign-command-input message signs configurations only", 2, {}},
    };
    for (const auto& row : rows) {
        BOOST_TEST_CONTEXT(row.name) {
            temp_dir out;
            const fs::path dtb = control_copy(out.path());
            const std::string dtb_before = read_file(dtb);
            const fs::path fit = out / "out.fit";
            write_file(fit, "previous FIT");
            std::string cmd = script.string();
            if (!row.script.empty()) {
                write_file(out / "signer.sh", row.script + "\n");
                // Arguments after the command's first word may hold secrets:
                // messages never show them.
                cmd = "sh " + (out / "signer.sh").string() + " --token=s3cr3t-t0ken";
            }
            std::vector<std::string> extra{"--sign-command", cmd, "--key-name", "rel", "--public-key",
                                           in().rsa_pub.string(), "--key-dtb", dtb.string(), "--required", "conf"};
            extra.insert(extra.end(), row.extra.begin(), row.extra.end());
            const auto start = std::chrono::steady_clock::now();
            const auto r = pack(fit, extra, row.key.empty() ? in().rsa : row.key);
            const auto took = std::chrono::steady_clock::now() - start;
            BOOST_TEST(r.exit_code == row.exit_code, r.err);
            BOOST_TEST(has(r.err, row.why), "expected '" << row.why << "':\n" << r.err);
            if (row.exit_code == 1) {
                BOOST_TEST(lines_of(r.err).size() == 1u, r.err);
                const std::string named = row.script.empty() ? script.string() : "sh";
                BOOST_TEST(has(r.err, "sign command '" + named + "'"), r.err);
            }
            BOOST_TEST(!has(r.err, "s3cr3t"), r.err);
            BOOST_TEST(read_file(fit) == "previous FIT");
            BOOST_TEST(read_file(dtb) == dtb_before);
            BOOST_TEST(directory_names(out.path()).size() == (row.script.empty() ? 2u : 3u),
                       "a temporary file was left behind");
            BOOST_TEST(std::chrono::duration_cast<std::chrono::seconds>(took).count() < 20);
        }
    }
}

BOOST_AUTO_TEST_CASE(no_public_key) {
    temp_dir out;
    auto r = pack(out / "a.fit", {"--sign-command", script.string(), "--key-name", "rel"}, in().rsa);
    BOOST_TEST(r.exit_code == 2);
    BOOST_TEST(has(r.err, "--sign-command needs --public-key PEM, or --key-dtb holding key-rel"), r.err);
    // A key DTB without that key.
    const fs::path dtb = control_copy(out.path());
    r = pack(out / "a.fit", {"--sign-command", script.string(), "--key-name", "rel", "--key-dtb", dtb.string()}, in().rsa);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(has(r.err, "no /signature/key-rel to check the sign command's signatures with"), r.err);
    // A private key is not a public key.
    r = pack(out / "a.fit", command("rel", in().rsa), in().rsa);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(has(r.err, in().rsa.string() + ": not a PEM public key"), r.err);
    BOOST_TEST(!has(r.err, "PRIVATE"), r.err);
    BOOST_TEST(!fs::exists(out / "a.fit"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(several_keys)

BOOST_AUTO_TEST_CASE(two_keys_two_algos_in_one_fit) {
    temp_dir out;
    const fs::path dtb = control_copy(out.path());
    const fs::path fit = out / "two.fit";
    // A key file (RSA, sha384) and a command (ECDSA), both required, mode any.
    pack_ok(fit,
            {"--key-dir", in().keys.string(), "--key-name", "rsa", "--sign-algo", "sha384,rsa2048", "--required", "conf",
             "--sign-command", script.string(), "--key-name", "ec", "--public-key", in().ec_pub.string(), "--required",
             "conf", "--key-dtb", dtb.string(), "--required-mode", "any"},
            in().ec);
    BOOST_TEST(trim_newline(run_ok({"fdtget", fit.string(), sig1, "algo"}).out) == "sha384,rsa2048");
    BOOST_TEST(trim_newline(run_ok({"fdtget", fit.string(), sig1, "key-name-hint"}).out) == "rsa");
    const std::string sig2 = "/configurations/conf-1/signature-2";
    BOOST_TEST(trim_newline(run_ok({"fdtget", fit.string(), sig2, "algo"}).out) == "sha256,ecdsa256");
    BOOST_TEST(trim_newline(run_ok({"fdtget", fit.string(), sig2, "key-name-hint"}).out) == "ec");
    BOOST_TEST(trim_newline(run_ok({"fdtget", dtb.string(), "/signature", "required-mode"}).out) == "any");
    BOOST_TEST(trim_newline(run_ok({"fdtget", dtb.string(), "/signature/key-rsa", "required"}).out) == "conf");
    BOOST_TEST(trim_newline(run_ok({"fdtget", dtb.string(), "/signature/key-ec", "required"}).out) == "conf");
    expect_verifies(fit, dtb, "signature-2: sha256,ecdsa256:ec+ OK");
    BOOST_TEST(has(verify(fit, dtb).out, "signature-1: sha384,rsa2048:rsa+ OK"));
}

BOOST_AUTO_TEST_CASE(required_mode_all_and_any) {
    temp_dir out;
    const fs::path all = control_copy(out.path(), "all.dtb");
    // old and new both required; the DTB says nothing: mode all.
    pack_ok(out / "both.fit", {"--key-dir", in().keys.string(), "--key-name", "rsa", "--required", "conf", "--key-dir",
                               in().keys.string(), "--key-name", "other", "--required", "conf", "--key-dtb",
                               all.string()});
    const fs::path any = out / "any.dtb";
    fs::copy_file(all, any);
    run_ok({"fdtput", "-t", "s", any.string(), "/signature", "required-mode", "any"});
    const fs::path old_only = out / "old.fit", new_only = out / "new.fit", unknown = out / "unknown.fit";
    pack_ok(old_only, {"--key-dir", in().keys.string(), "--key-name", "rsa"});
    pack_ok(new_only, {"--key", in().other.string()});
    // Signed by a key the DTB does not hold (ec), then by a required one.
    pack_ok(unknown, {"--key", in().ec.string(), "--key", in().other.string()});

    expect_verifies(out / "both.fit", all, "sha256,rsa2048:rsa+ OK");
    expect_refused(old_only, all, "no signature verifies with required key 'other'");
    expect_refused(new_only, all, "no signature verifies with required key 'rsa'");
    expect_verifies(old_only, any, "signature-1: sha256,rsa2048:rsa+ OK");
    expect_verifies(new_only, any, "signature-1: sha256,rsa2048:other+ OK");
    expect_verifies(unknown, any, "signature-2: sha256,rsa2048:other+ OK");
    // The old key removed: only what the new one signed verifies.
    const fs::path rotated = out / "rotated.dtb";
    fs::copy_file(any, rotated);
    run_ok({"fdtput", "-r", rotated.string(), "/signature/key-rsa"});
    expect_refused(old_only, rotated, "no signature verifies with any required key");
    expect_verifies(new_only, rotated, "signature-1: sha256,rsa2048:other+ OK");
}

BOOST_AUTO_TEST_CASE(image_signatures_by_a_key_not_required) {
    temp_dir out;
    const fs::path dtb = control_copy(out.path());
    // rsa required for images, other in the DTB but not required.
    pack_ok(out / "both.fit", {"--key", in().rsa.string(), "--required", "image", "--key", in().other.string(),
                               "--image-signatures", "--key-dtb", dtb.string()});
    const fs::path fit = out / "other.fit";
    pack_ok(fit, {"--key", in().other.string(), "--image-signatures"});
    const auto v = verify(fit, dtb);
    BOOST_TEST(v.exit_code == 1);
    BOOST_TEST(has(v.err, "/images/kernel: no signature verifies with required key 'rsa'"), v.err);
    // U-Boot checks an image signature with the key its key-name-hint names.
    BOOST_TEST(has(v.err, "U-Boot boots it all the same: it checks an image signature with the key its "
                          "key-name-hint names, here signature-1 with 'other'"), v.err);
    if (const auto c = fit_check_sign(fit, dtb))
        BOOST_TEST(c->exit_code == 0, "fit_check_sign 2026.10 now insists on the required key:\n" << c->out);
    BOOST_TEST(verify(out / "both.fit", dtb).exit_code == 0);
}

BOOST_AUTO_TEST_CASE(options_belong_to_the_key_before_them) {
    temp_dir out;
    // One key: its options may come first (every earlier command line works).
    pack_ok(out / "one.fit", {"--key-name", "rsa", "--sign-algo", "sha512,rsa2048", "--key-dir", in().keys.string()});
    BOOST_TEST(trim_newline(run_ok({"fdtget", (out / "one.fit").string(), sig1, "algo"}).out) == "sha512,rsa2048");
    const struct {
        std::vector<std::string> args;
        std::string why;
    } rows[] = {
        {{"--key-name", "rsa", "--key-dir", in().keys.string(), "--key", in().other.string()},
         "--key-name comes before the first key: with several keys, give each key's options after its --key"},
        {{"--key", in().rsa.string(), "--key", in().rsa.string()}, "two keys named 'rsa'"},
        {{"--key", in().rsa.string(), "--key-name", "a", "--key-name", "b"}, "--key-name given twice for the key --key"},
        {{"--key", in().rsa.string(), "--public-key", in().rsa_pub.string()}, "--public-key belongs to a --sign-command"},
        {{"--key", in().rsa.string(), "--required-mode", "any"}, "--required-mode requires --key-dtb"},
        {{"--key", in().rsa.string(), "--sign-timeout", "3"}, "--sign-timeout needs --sign-command"},
        {{"--required-mode", "some", "--key", in().rsa.string()}, "--required-mode: some not in {any,all}"},
    };
    for (const auto& row : rows) {
        BOOST_TEST_CONTEXT(join(row.args)) {
            const auto r = pack(out / "bad.fit", row.args);
            BOOST_TEST(r.exit_code == 2, r.err);
            BOOST_TEST(has(r.err, row.why), "expected '" << row.why << "':\n" << r.err);
            BOOST_TEST(!fs::exists(out / "bad.fit"));
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(secrets_and_inputs)

// A token's PIN is fitpack's: the sign command must not inherit it.
BOOST_AUTO_TEST_CASE(a_sign_command_never_sees_the_token_pin) {
    temp_dir out;
    const fs::path seen = out / "env.txt";
    const fs::path cmd = out / "sign.sh";
    write_file(cmd, "env > '" + seen.string() + "'\nexec '" + script.string() + "'\n");
    fs::permissions(cmd, fs::perms::owner_all);
    std::vector<std::string> args{"-A", "arm64", "-O", "linux", "-n", "signed", "-k", in().kernel.string(),
                                  "-o", (out / "a.fit").string(), "--sign-command", cmd.string(), "--key-name", "rel",
                                  "--public-key", in().rsa_pub.string(), in().board.string()};
    fitpack_run how;
    how.env = {"FITPACK_SIGNING_KEY=" + in().rsa.string(), "FITPACK_PKCS11_PIN=s3cret-pin-4711"};
    const auto r = fitpack(args, how);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const std::string env = read_file(seen);
    BOOST_TEST(has(env, "FITSTREAM_SIGN_ALGO=sha256,rsa2048"), env);  // it did run, with its own variables
    BOOST_TEST(!has(env, "FITPACK_PKCS11_PIN"));
    BOOST_TEST(!has(env, "s3cret-pin-4711"));
}

// A public key file is an input: no output may replace it.
BOOST_AUTO_TEST_CASE(the_output_may_not_be_the_public_key) {
    temp_dir out;
    const fs::path pub = out / "rsa.pub.pem";
    fs::copy_file(in().rsa_pub, pub);
    const std::string before = read_file(pub);
    const auto r = pack(pub, command("rel", pub), in().rsa);
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(has(r.err, "would overwrite an input"), r.err);
    BOOST_TEST((read_file(pub) == before));
}

BOOST_AUTO_TEST_SUITE_END()
