// SPDX-License-Identifier: MIT
//
// Signing, checked against mkimage (Debian's u-boot-tools 2023.01) and
// OpenSSL's command line, without QEMU (test_uboot_signing has U-Boot):
//
//  - mkimage -F -k re-signs fitpack's FIT: with embedded data the
//    signature node's hashed-nodes, hashed-strings and even value (PKCS#1
//    v1.5 is deterministic) equal fitpack's, so both signed the same bytes;
//    with external data hashed-nodes and value's validity agree, and
//    hashed-strings differs by exactly the "data" name mkimage's round trip
//    through embedded data adds to the strings block.
//  - fitpack verify --key-dtb accepts FITs mkimage signed from an .its
//    (RSA pkcs-1.5 and pss, ECDSA: more than this U-Boot can check) and
//    rejects them once a signed property, the signature or the key differs.
//  - --key-dtb writes the rsa,* values mkimage -K writes, byte for byte.
//  - Errors: a missing, unreadable, non-key, passphrase-protected,
//    wrong-type, wrong-size or DTB-mismatched key fails with one line
//    naming the file (never key material), exit 1, and leaves no FIT and
//    an unchanged DTB behind.
//  - The library API: several signatures per configuration, sign-images,
//    image signatures, checked by verify_signatures().

#define BOOST_TEST_MODULE signing FITs as mkimage and U-Boot do
#include <boost/test/unit_test.hpp>

#include "support.hpp"

#include <fitstream/fitstream.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace fitstream_test;

namespace {

/// Runs a tool (with the fixed SOURCE_DATE_EPOCH, for mkimage) that must succeed.
void tool_ok(const std::vector<std::string>& argv) { fitstream_test::run_ok(argv, {}, {epoch_env}); }

/// One property, which must exist, as `fdtget -t TYPE` prints it.
std::string fdtget(const fs::path& file, const std::string& node, const std::string& prop, const char* type = "x") {
    return trim_newline(tool({"fdtget", "-t", type, file.string(), node, prop}));
}

/// Keys (dev: RSA-2048 with its certificate for mkimage -K; big: RSA-4096;
/// ec: P-256 as ec.pem, mkimage's ECDSA name), boards and payloads.
struct inputs {
    temp_dir dir;
    fs::path keys, kernel, ramdisk, dtb1, dtb2, control;
    inputs() {
        keys = dir / "keys";
        fs::create_directories(keys);
        tool_ok({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                 (keys / "dev.key").string()});
        tool_ok({"openssl", "req", "-batch", "-new", "-x509", "-key", (keys / "dev.key").string(), "-subj", "/CN=dev",
                 "-out", (keys / "dev.crt").string()});
        tool_ok({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", "-out",
                 (keys / "other.key").string()});
        tool_ok({"openssl", "genpkey", "-quiet", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-out", (keys / "ec.pem").string()});
        kernel = dir / "Image";
        write_file(kernel, fitstream_test::kernel_like_payload(300000, 3));
        ramdisk = dir / "initrd";
        write_file(ramdisk, fitstream_test::kernel_like_payload(50001, 4));
        dtb1 = fitstream_test::compile_dts(fitstream_test::data_dir / "boards" / "acme-rk3399-sbc.dts", dir / "a.dtb");
        dtb2 = fitstream_test::compile_dts(fitstream_test::data_dir / "boards" / "initech-a64-tablet.dts",
                                           dir / "b.dtb");
        control = dir / "control.dtb";
        write_file(dir / "control.dts", "/dts-v1/;\n/ { model = \"control\"; compatible = \"test,control\"; };\n");
        fitstream_test::compile_dts(dir / "control.dts", control);
    }
};

const inputs& in() {
    static const inputs instance;
    return instance;
}

std::vector<std::string> pack_args(const fs::path& out, std::vector<std::string> extra) {
    std::vector<std::string> a{"-A", "arm64", "-O", "linux", "-n", "signed", "-k", in().kernel.string(),
                               "-r", in().ramdisk.string(), "-c", "gzip", "-o", out.string()};
    a.insert(a.end(), extra.begin(), extra.end());
    a.push_back(in().dtb1.string());
    a.push_back(in().dtb2.string());
    return a;
}

void pack_ok(const fs::path& out, const std::vector<std::string>& extra) {
    const auto args = pack_args(out, extra);
    const auto r = fitpack(args);
    BOOST_REQUIRE_MESSAGE(r.exit_code == 0, describe(args, r));
}

fs::path control_copy(const fs::path& dir) {
    const fs::path out = dir / "u-boot.dtb";
    fs::copy_file(in().control, out);
    return out;
}

/// `fitpack verify FIT --key-dtb DTB`.
run_result verify(const fs::path& fit, const fs::path& dtb) {
    return fitpack({"verify", fit.string(), "--key-dtb", dtb.string()});
}

/// A key DTB with dev's public key, required for configurations, by mkimage -K.
fs::path mkimage_key_dtb(const fs::path& dir, const fs::path& some_fit) {
    fs::create_directories(dir);
    const fs::path dtb = control_copy(dir);
    const fs::path scratch = dir / "scratch.fit";
    fs::copy_file(some_fit, scratch);
    tool_ok({"mkimage", "-F", "-k", in().keys.string(), "-K", dtb.string(), "-r", scratch.string()});
    return dtb;
}


/// A property's bytes, read with fdtget (independent of fitstream's reader).
std::string fdt_bytes(const fs::path& file, const std::string& node, const std::string& prop) {
    std::istringstream hex(fdtget(file, node, prop, "bx"));
    std::string out;
    for (unsigned v = 0; hex >> std::hex >> v;) out.push_back(static_cast<char>(v));
    return out;
}

/// Overwrites a property with `bytes`, with fdtput.
void fdt_put_bytes(const fs::path& file, const std::string& node, const std::string& prop, const std::string& bytes) {
    std::vector<std::string> argv{"fdtput", "-t", "bx", file.string(), node, prop};
    for (const unsigned char c : bytes) {
        char b[4];
        std::snprintf(b, sizeof b, "%02x", c);
        argv.emplace_back(b);
    }
    tool_ok(argv);
}

/// The hash-N node of `image` with `algo`, by fdtget.
std::string hash_node(const fs::path& fit, const std::string& image, const std::string& algo) {
    for (int n = 1; n <= 4; ++n) {
        const std::string node = "/images/" + image + "/hash-" + std::to_string(n);
        const run_result r = run({"fdtget", "-t", "s", fit.string(), node, "algo"});
        if (r.exit_code == 0 && trim_newline(r.out) == algo) return node;
    }
    BOOST_FAIL("no " + algo + " hash node in /images/" + image);
    return {};
}

/// DER for ECDSA-Sig-Value { r INTEGER, s INTEGER } from U-Boot's raw
/// r || s, written here (not with fitstream's helper) to stay independent.
std::string ecdsa_der(const std::string& raw) {
    const auto integer = [](std::string v) {
        v.erase(0, std::min(v.find_first_not_of('\0'), v.size() - 1));
        if (static_cast<unsigned char>(v[0]) & 0x80) v.insert(v.begin(), '\0');
        return std::string{'\x02', static_cast<char>(v.size())} + v;
    };
    const std::string body = integer(raw.substr(0, raw.size() / 2)) + integer(raw.substr(raw.size() / 2));
    return std::string{'\x30', static_cast<char>(body.size())} + body;  // < 128 bytes for P-256 and P-384
}

}  // namespace

BOOST_AUTO_TEST_CASE(mkimage_resigns_the_same_regions) {
    temp_dir out;
    for (const bool external : {false, true}) {
        BOOST_TEST_CONTEXT((external ? "-E" : "embedded")) {
            const fs::path fit = out / (external ? "ext.fit" : "emb.fit");
            const fs::path resigned = out / (external ? "ext-mkimage.fit" : "emb-mkimage.fit");
            std::vector<std::string> extra{"--key-dir", in().keys.string(), "--key-name", "dev"};
            if (external) extra.push_back("-E");
            pack_ok(fit, extra);
            fs::copy_file(fit, resigned);
            // mkimage -F takes external data in and must be told -E to put
            // it out again (without, it writes a broken FIT).
            std::vector<std::string> resign{"mkimage", "-F", "-k", in().keys.string(), "-r", resigned.string()};
            if (external) resign.insert(resign.end() - 1, "-E");
            tool_ok(resign);
            BOOST_TEST(fdtget(resigned, "/configurations/conf-1/signature-1", "signer-name", "s") == "mkimage");
            for (const std::string conf : {"conf-1", "conf-2"}) {
                const std::string node = "/configurations/" + conf + "/signature-1";
                // Every image the configuration names, each with its hash.
                const std::string nodes = fdtget(fit, node, "hashed-nodes", "s");
                BOOST_TEST(nodes == "/ /configurations/" + conf + " /images/kernel /images/kernel/hash-1 /images/fdt-" +
                                        conf.substr(5) + " /images/fdt-" + conf.substr(5) +
                                        "/hash-1 /images/ramdisk /images/ramdisk/hash-1");
                BOOST_TEST(fdtget(resigned, node, "hashed-nodes", "s") == nodes);
                BOOST_TEST(fdtget(fit, node, "sign-images", "s") == "kernel fdt ramdisk");
                const std::string strings = fdtget(fit, node, "hashed-strings");
                const std::string theirs = fdtget(resigned, node, "hashed-strings");
                if (!external) {
                    BOOST_TEST(theirs == strings);
                    // Deterministic padding: the same regions give the same bytes.
                    BOOST_TEST(fdtget(resigned, node, "value") == fdtget(fit, node, "value"));
                } else {
                    // mkimage -F imports the data (adding "data" to the strings)
                    // before it signs, and exports it again afterwards.
                    const auto size = [](const std::string& cells) {
                        return std::stoul(cells.substr(cells.find(' ') + 1), nullptr, 16);
                    };
                    BOOST_TEST(size(theirs) == size(strings) + 5);
                }
            }
            const fs::path dtb = mkimage_key_dtb(out.path() / (external ? "e" : "m"), fit);
            for (const auto& f : {fit, resigned}) {
                const auto r = verify(f, dtb);
                BOOST_TEST(r.exit_code == 0, describe({"verify", f.string()}, r));
                BOOST_TEST(r.out.find("/configurations/conf-2/signature-1: sha256,rsa2048:dev+ OK") != std::string::npos,
                           r.out);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(key_dtb_matches_mkimage_k) {
    temp_dir out;
    const fs::path fit = out / "a.fit";
    fs::create_directories(out / "m");
    const fs::path ours = control_copy(out.path());
    pack_ok(fit, {"--key-dir", in().keys.string(), "--key-name", "dev", "--key-dtb", ours.string(), "--required", "conf"});
    const fs::path theirs = mkimage_key_dtb(out.path() / "m", fit);
    for (const std::string prop : {"rsa,num-bits", "rsa,n0-inverse", "rsa,exponent", "rsa,modulus", "rsa,r-squared"})
        BOOST_TEST(fdtget(ours, "/signature/key-dev", prop) == fdtget(theirs, "/signature/key-dev", prop), prop);
    for (const std::string prop : {"algo", "key-name-hint", "required"})
        BOOST_TEST(fdtget(ours, "/signature/key-dev", prop, "s") == fdtget(theirs, "/signature/key-dev", prop, "s"), prop);
    // The rest of the control DTB is untouched.
    BOOST_TEST(fdtget(ours, "/", "model", "s") == "control");
    // Adding the same key again is fine (nothing changes).
    const auto before = read_file(ours);
    pack_ok(out / "b.fit", {"--key-dir", in().keys.string(), "--key-name", "dev", "--key-dtb", ours.string(),
                            "--required", "conf"});
    BOOST_TEST(read_file(ours) == before);
}

BOOST_AUTO_TEST_CASE(verify_accepts_mkimage_signatures_and_rejects_tampering) {
    temp_dir out;
    const auto& k = in();
    fs::copy_file(k.kernel, out / "Image");
    fs::copy_file(k.dtb1, out / "a.dtb");
    struct variant {
        std::string name, algo, hint, padding;
    };
    for (const auto& v : {variant{"rsa", "sha256,rsa2048", "dev", ""}, variant{"pss", "sha384,rsa2048", "dev", "pss"},
                          variant{"ecdsa", "sha256,ecdsa256", "ec", ""}}) {
        BOOST_TEST_CONTEXT(v.name) {
            const std::string its = "/dts-v1/;\n/ { description = \"mkimage\"; #address-cells = <1>;\n"
                                    " images { kernel { description = \"k\"; data = /incbin/(\"Image\"); type = \"kernel\";"
                                    " arch = \"arm64\"; os = \"linux\"; compression = \"none\"; load = <0x40400000>;"
                                    " entry = <0x40400000>; hash-1 { algo = \"sha256\"; }; };\n"
                                    "  fdt-1 { description = \"f\"; data = /incbin/(\"a.dtb\"); type = \"flat_dt\";"
                                    " arch = \"arm64\"; compression = \"none\"; hash-1 { algo = \"sha1\"; }; }; };\n"
                                    " configurations { default = \"conf-1\"; conf-1 { description = \"c\";"
                                    " kernel = \"kernel\"; fdt = \"fdt-1\"; signature-1 { algo = \"" + v.algo +
                                    "\"; key-name-hint = \"" + v.hint + "\";" +
                                    (v.padding.empty() ? "" : " padding = \"" + v.padding + "\";") +
                                    " sign-images = \"kernel\", \"fdt\"; }; }; }; };\n";
            const fs::path its_path = out / (v.name + ".its"), fit = out / (v.name + ".fit");
            write_file(its_path, its);
            // mkimage 2023.01 writes an ECDSA key only into an existing
            // /signature node, and without 'required' or 'algo'.
            const fs::path dtb = out / (v.name + ".dtb");
            fs::copy_file(k.control, dtb);
            if (v.name == "ecdsa") tool_ok({"fdtput", "-c", dtb.string(), "/signature"});
            tool_ok({"mkimage", "-f", its_path.string(), "-k", k.keys.string(), "-K", dtb.string(), "-r", fit.string()});
            // Without a required key U-Boot checks nothing (and verify only
            // warns): mark it required, as mkimage -r does for RSA.
            if (v.name == "ecdsa") {
                tool_ok({"fdtput", "-t", "s", dtb.string(), "/signature/ec", "required", "conf"});
            }
            const auto good = verify(fit, dtb);
            BOOST_TEST(good.exit_code == 0, describe({"verify", fit.string()}, good));
            BOOST_TEST(good.out.find("signature-1: " + v.algo + ":" + v.hint + "+ OK") != std::string::npos, good.out);

            // A signed property changed: the kernel's load address.
            fs::copy_file(fit, out / "tampered.fit", fs::copy_options::overwrite_existing);
            tool_ok({"fdtput", "-t", "x", (out / "tampered.fit").string(), "/images/kernel", "load", "0x41400000"});
            const auto bad = verify(out / "tampered.fit", dtb);
            BOOST_TEST(bad.exit_code == 1, describe({"verify tampered"}, bad));
            BOOST_TEST(bad.err.find("/configurations/conf-1: no signature verifies with") != std::string::npos, bad.err);

            // The signature itself changed: one bit of its first cell.
            fs::copy_file(fit, out / "badsig.fit", fs::copy_options::overwrite_existing);
            std::vector<std::string> cells{"fdtput", "-t", "x", (out / "badsig.fit").string(),
                                           "/configurations/conf-1/signature-1", "value"};
            std::istringstream words(fdtget(fit, "/configurations/conf-1/signature-1", "value"));
            for (std::string w; words >> w;) cells.push_back(w);
            BOOST_REQUIRE(cells.size() > 7);
            cells[6] = std::to_string(std::stoul(cells[6], nullptr, 16) ^ 0x100);
            tool_ok(cells);
            const auto badsig = verify(out / "badsig.fit", dtb);
            BOOST_TEST(badsig.exit_code == 1, describe({"verify badsig"}, badsig));
            BOOST_TEST(badsig.err.find("verification failed") != std::string::npos, badsig.err);

            // Another key of the same name.
            const fs::path other = out / (v.name + "-other.dtb");
            fs::copy_file(k.control, other);
            const auto add = fitpack(pack_args(out / "x.fit", {"--key", (k.keys / "other.key").string(), "--key-name",
                                                                v.hint, "--key-dtb", other.string(), "--required", "conf"}));
            BOOST_REQUIRE_MESSAGE(add.exit_code == 0, add.err);
            BOOST_TEST(verify(fit, other).exit_code == 1);
        }
    }
}

BOOST_AUTO_TEST_CASE(fitpack_signs_every_algorithm_it_offers) {
    temp_dir out;
    // fitpack's own signatures for what U-Boot cannot check here (PSS,
    // ECDSA): fitpack verify checks them (test
    // image_signatures_check_with_openssl_and_pss_salt_is_u_boots checks
    // PSS and ECDSA against OpenSSL's command line instead).
    struct variant {
        std::vector<std::string> args;
        std::string expect;
    };
    const std::string keys = in().keys.string();
    for (const auto& v : std::vector<variant>{
             {{"--key-dir", keys, "--key-name", "dev", "--sign-algo", "sha512,rsa2048", "--padding", "pss"},
              "sha512,rsa2048:dev+"},
             {{"--key-dir", keys, "--key-name", "ec", "--sign-algo", "sha256,ecdsa256"}, "sha256,ecdsa256:ec+"},
             // No algo: NAME.key, else NAME.pem (mkimage's ECDSA name).
             {{"--key-dir", keys, "--key-name", "ec"}, "sha256,ecdsa256:ec+"},
             {{"--key-dir", keys, "--key-name", "dev"}, "sha256,rsa2048:dev+"},
             {{"--key", keys + "/ec.pem"}, "sha256,ecdsa256:ec+"},
             {{"--key", keys + "/other.key"}, "sha256,rsa3072:other+"},
             {{"--key", keys + "/dev.key", "--sign-algo", "sha1,rsa2048"}, "sha1,rsa2048:dev+"}}) {
        BOOST_TEST_CONTEXT(fitstream_test::join(v.args)) {
            const fs::path fit = out / "s.fit";
            const fs::path dtb = control_copy(out.path());
            auto args = v.args;
            args.insert(args.end(), {"--key-dtb", dtb.string(), "--required", "conf", "-E"});
            pack_ok(fit, args);
            const auto r = verify(fit, dtb);
            BOOST_TEST(r.exit_code == 0, describe({"verify"}, r));
            BOOST_TEST(r.out.find("conf-2/signature-1: " + v.expect + " OK") != std::string::npos, r.out);
            fs::remove(fit);
            fs::remove(dtb);
        }
    }
}

BOOST_AUTO_TEST_CASE(image_signatures_check_with_openssl_and_pss_salt_is_u_boots) {
    temp_dir out;
    const std::string keys = in().keys.string();
    // Image signatures sign the image's digest, which fdtget reads: OpenSSL's
    // command line checks them without fitstream. PSS must use the maximum
    // salt, the only length U-Boot's padding_pss_verify() accepts.
    struct variant {
        std::vector<std::string> args;
        std::vector<std::string> check;  // pkeyutl -pkeyopt values
        std::string key;
        bool rsa;
    };
    for (const auto& v : std::vector<variant>{
             {{"--key-dir", keys, "--key-name", "dev", "--padding", "pss"},
              {"digest:sha256", "rsa_padding_mode:pss", "rsa_pss_saltlen:max"}, keys + "/dev.key", true},
             {{"--key", keys + "/dev.key"}, {"digest:sha256", "rsa_padding_mode:pkcs1"}, keys + "/dev.key", true},
             {{"--key", keys + "/ec.pem"}, {}, keys + "/ec.pem", false}}) {
        BOOST_TEST_CONTEXT(fitstream_test::join(v.args)) {
            const fs::path fit = out / "img.fit";
            const fs::path dtb = control_copy(out.path());
            auto args = v.args;
            args.insert(args.end(), {"--image-signatures", "--key-dtb", dtb.string(), "--required", "image"});
            pack_ok(fit, args);
            BOOST_TEST(verify(fit, dtb).exit_code == 0);
            const std::string sig_node = "/images/kernel/signature-1";
            write_file(out / "digest", fdt_bytes(fit, hash_node(fit, "kernel", "sha256"), "value"));
            const std::string value = fdt_bytes(fit, sig_node, "value");
            write_file(out / "sig", v.rsa ? value : ecdsa_der(value));
            const auto pkeyutl = [&](const std::string& sig, const std::vector<std::string>& opts) {
                std::vector<std::string> argv{"openssl", "pkeyutl", "-verify", "-inkey", v.key, "-in",
                                              (out / "digest").string(), "-sigfile", sig};
                for (const auto& o : opts) argv.insert(argv.end(), {"-pkeyopt", o});
                return run(argv);
            };
            const auto checked = pkeyutl((out / "sig").string(), v.check);
            BOOST_TEST(checked.exit_code == 0, describe({"openssl pkeyutl -verify"}, checked));
            if (v.check.size() == 3) {
                // Not the digest-length salt: the maximum, as U-Boot needs.
                BOOST_TEST(pkeyutl((out / "sig").string(),
                                   {"digest:sha256", "rsa_padding_mode:pss", "rsa_pss_saltlen:digest"})
                               .exit_code != 0);
                // A valid PSS signature with a digest-length salt, which
                // U-Boot's padding_pss_verify() refuses: verify must too.
                tool_ok({"openssl", "pkeyutl", "-sign", "-inkey", v.key, "-in", (out / "digest").string(), "-out",
                         (out / "short-salt").string(), "-pkeyopt", "digest:sha256", "-pkeyopt",
                         "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:digest"});
                BOOST_TEST(pkeyutl((out / "short-salt").string(),
                                   {"digest:sha256", "rsa_padding_mode:pss", "rsa_pss_saltlen:digest"})
                               .exit_code == 0);
                fdt_put_bytes(fit, sig_node, "value", read_file(out / "short-salt"));
                const auto r = verify(fit, dtb);
                BOOST_TEST(r.exit_code == 1, describe({"verify"}, r));
                BOOST_TEST(r.err.find("/images/kernel: no signature verifies with required key 'dev'; "
                                      "signature-1: verification failed") != std::string::npos,
                           r.err);
            }
            fs::remove(fit);
            fs::remove(dtb);
        }
    }
}

BOOST_AUTO_TEST_CASE(key_errors_leave_nothing_behind) {
    temp_dir out;
    const auto& k = in();
    const fs::path protected_key = out / "protected.key";
    tool_ok({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes256",
             "-pass", "pass:secret", "-out", protected_key.string()});
    const fs::path unreadable = out / "unreadable.key";
    fs::copy_file(k.keys / "dev.key", unreadable);
    fs::permissions(unreadable, fs::perms::none);
    const bool can_read_anyway = ::access(unreadable.c_str(), R_OK) == 0;  // root

    const fs::path dtb = control_copy(out.path());
    pack_ok(out / "first.fit", {"--key", (k.keys / "dev.key").string(), "--key-dtb", dtb.string(), "--required", "conf"});
    fs::remove(out / "first.fit");
    const std::string dtb_before = read_file(dtb);
    const std::string key_text = read_file(k.keys / "dev.key");
    const std::string key_line = fitstream_test::lines_of(key_text).at(1);  // base64, not the header

    struct failing {
        std::vector<std::string> args;
        std::string file, reason;
    };
    std::vector<failing> cases{
        {{"--key", (out / "missing.key").string()}, (out / "missing.key").string(), "cannot read key"},
        {{"--key", k.dtb1.string()}, k.dtb1.string(), "not a PEM private key"},
        {{"--key", protected_key.string()}, protected_key.string(), "passphrase"},
        {{"--key", (k.keys / "ec.pem").string(), "--sign-algo", "sha256,rsa2048"}, (k.keys / "ec.pem").string(),
         "key is EC prime256v1, but sha256,rsa2048 needs RSA-2048"},
        {{"--key", (k.keys / "dev.key").string(), "--sign-algo", "sha256,rsa4096"}, (k.keys / "dev.key").string(),
         "key is RSA-2048, but sha256,rsa4096 needs RSA-4096"},
        {{"--key", (k.keys / "other.key").string(), "--key-name", "dev", "--key-dtb", dtb.string()}, dtb.string(),
         "/signature/key-dev holds a different public key"},
        {{"--key-dir", k.keys.string(), "--key-name", "nosuch"}, (k.keys / "nosuch.key").string(), "cannot read key"},
        {{"--key", (k.keys / "dev.key").string(), "--sign-algo", "sha256,rsa1024"}, "sha256,rsa1024",
         "unknown signature algorithm"},
        // Bounded reads: not a key, and no waiting to fill memory.
        {{"--key", "/dev/zero"}, "/dev/zero", "larger than 1048576 bytes: not a key"},
        {{"--key", (k.keys / "dev.key").string(), "--key-dtb", "/dev/zero"}, "/dev/zero",
         "larger than 67108864 bytes: not a DTB"},
        // U-Boot looks the key up as /signature/key-NAME.
        {{"--key", (k.keys / "dev.key").string(), "--key-name", "a@b"}, "--key-name",
         "key name 'a@b' is not a devicetree node name part"},
        {{"--key", (k.keys / "dev.key").string(), "--key-name", "a/b"}, "--key-name",
         "key name 'a/b' is not a devicetree node name part"},
    };
    if (!can_read_anyway)
        cases.push_back({{"--key", unreadable.string()}, unreadable.string(), "Permission denied"});
    for (const auto& c : cases) {
        BOOST_TEST_CONTEXT(fitstream_test::join(c.args)) {
            const fs::path fit = out / "out.fit";
            const auto r = fitpack(pack_args(fit, c.args));
            BOOST_TEST(r.exit_code == 1, describe(c.args, r));
            const auto lines = fitstream_test::lines_of(r.err);
            BOOST_TEST(lines.size() == 1, r.err);
            BOOST_TEST(r.err.find("fitpack: error: " + c.file + ": ") == 0, r.err);
            BOOST_TEST(r.err.find(c.reason) != std::string::npos, r.err);
            BOOST_TEST(r.err.find(key_line) == std::string::npos, "key material in the message");
            BOOST_TEST(r.err.find("PRIVATE") == std::string::npos, r.err);
            BOOST_TEST(!fs::exists(fit));
            for (const auto& e : fs::directory_iterator(out.path()))
                BOOST_TEST(e.path().filename().string().find("out.fit") == std::string::npos, e.path());
            BOOST_TEST(read_file(dtb) == dtb_before);
        }
    }
    // Options that make no sense are usage errors (exit 2).
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"--key-name", "dev"},
             {"--key", (k.keys / "dev.key").string(), "--required", "conf"},
             {"--key", (k.keys / "dev.key").string(), "--padding", "oaep"},
             {"--key", (k.keys / "dev.key").string(), "--key-dtb", dtb.string(), "--required", "image"}}) {
        const auto r = fitpack(pack_args(out / "out.fit", args));
        BOOST_TEST(r.exit_code == 2, describe(args, r));
        BOOST_TEST(!fs::exists(out / "out.fit"));
    }
}

BOOST_AUTO_TEST_CASE(verify_refuses_what_u_boot_refuses) {
    temp_dir out;
    const fs::path dtb = control_copy(out.path());
    const fs::path signed_fit = out / "signed.fit", plain = out / "plain.fit";
    pack_ok(signed_fit, {"--key-dir", in().keys.string(), "--key-name", "dev", "--key-dtb", dtb.string(), "--required",
                         "conf"});
    pack_ok(plain, {});
    BOOST_TEST(verify(signed_fit, dtb).exit_code == 0);
    const auto r = verify(plain, dtb);
    BOOST_TEST(r.exit_code == 1);
    BOOST_TEST(r.err.find("no signature node, but key 'dev' is required") != std::string::npos, r.err);
    // A signature that covers only the kernel leaves fdt and ramdisk open:
    // U-Boot (test_uboot_signing) refuses it, and so does verify.
    const fs::path partial = out / "partial.fit";
    pack_ok(partial, {"--key-dir", in().keys.string(), "--key-name", "dev", "--sign-images", "kernel"});
    const auto p = verify(partial, dtb);
    BOOST_TEST(p.exit_code == 1, p.err);
    BOOST_TEST(p.err.find("verification failed (its hashed-nodes leave out fdt 'fdt-1', ramdisk 'ramdisk', but "
                          "U-Boot covers every image the configuration names)") != std::string::npos,
               p.err);
    BOOST_TEST(fdtget(partial, "/configurations/conf-1/signature-1", "hashed-nodes", "s") ==
               "/ /configurations/conf-1 /images/kernel /images/kernel/hash-1");
    // No key DTB, or one without keys: a clear error.
    const auto none = verify(signed_fit, in().control);
    BOOST_TEST(none.exit_code == 1);
    BOOST_TEST(none.err.find("no public keys under /signature") != std::string::npos, none.err);
}

BOOST_AUTO_TEST_CASE(library_api) {
    temp_dir out;
    const auto& k = in();
    fitstream::tree fit;
    fit.description = "library";
    fit.timestamp = 1700000000;
    auto& kernel = fit.images.emplace_back("kernel", "kernel", fitstream::source::file(k.kernel.string()));
    kernel.arch = "arm64";
    kernel.os = "linux";
    kernel.load = kernel.entry = 0x40400000;
    kernel.add_hash<fitstream::hash::sha256>().add_hash<fitstream::hash::crc32>();
    auto& fdt = fit.images.emplace_back("fdt-1", "flat_dt", fitstream::source::file(k.dtb1.string()));
    fdt.arch = "arm64";
    fdt.add_hash<fitstream::hash::sha1>().add_hash<fitstream::hash::sha256>();
    fitstream::signature_spec img_sig;
    img_sig.algo = "sha256,rsa3072";
    img_sig.key_file = (k.keys / "other.key").string();
    img_sig.key_name_hint = "other";
    // A key required for images must verify every image U-Boot loads.
    for (auto& img : fit.images) img.signatures.push_back(img_sig);
    fitstream::configuration conf;
    conf.name = "conf-1";
    conf.kernel = "kernel";
    conf.fdt = {"fdt-1"};
    fitstream::signature_spec rsa;
    rsa.key_dir = k.keys.string();
    rsa.key_name_hint = "dev";
    rsa.comment = "release";
    fitstream::signature_spec ec = rsa;
    ec.algo = "sha384,ecdsa256";
    ec.key_name_hint = "ec";
    conf.signatures = {rsa, ec};
    fit.configurations.push_back(conf);

    const fs::path dtb = control_copy(out.path());
    fitstream::key_dtb keys(dtb.string());
    keys.add({fitstream::signing_key::load((k.keys / "dev.key").string()), "dev", "sha256,rsa2048", "conf"});
    keys.add({fitstream::signing_key::load((k.keys / "ec.pem").string()), "ec", "sha384,ecdsa256", "conf"});
    keys.add({fitstream::signing_key::load((k.keys / "other.key").string()), "other", "sha256,rsa3072", "image"});
    keys.save();

    for (const auto layout : {fitstream::data_layout::embedded, fitstream::data_layout::external}) {
        const fs::path path = out / "lib.fit";
        fitstream::write_options options;
        options.layout.layout = layout;
        fitstream::write_fit(fit, path.string(), options);
        BOOST_TEST(fdtget(path, "/configurations/conf-1/signature-2", "algo", "s") == "sha384,ecdsa256");
        BOOST_TEST(fdtget(path, "/configurations/conf-1/signature-1", "comment", "s") == "release");
        const fitstream::reader reader(path.string());
        const auto result = fitstream::verify_signatures(reader, fitstream::key_dtb(dtb.string()));
        for (const auto& p : result.problems) BOOST_ERROR(p.subject << ": " << p.message);
        BOOST_TEST(result.verified.size() == 4u);  // dev and ec on conf-1, other on each image
        const auto r = verify(path, dtb);
        BOOST_TEST(r.exit_code == 0, r.err);
        BOOST_TEST(r.out.find("/images/kernel/signature-1: sha256,rsa3072:other+ OK") != std::string::npos, r.out);
    }

    // An image signature needs a hash of its own algorithm.
    fit.images[1].clear_hashes().add_hash<fitstream::hash::sha1>();
    BOOST_CHECK_EXCEPTION(fitstream::write_fit(fit, (out / "no.fit").string()), fitstream::error,
                          [](const fitstream::error& e) {
                              return e.subject() == "/images/fdt-1/signature-1" &&
                                     e.reason().find("needs a sha256 hash node") != std::string::npos;
                          });
    BOOST_TEST(!fs::exists(out / "no.fit"));
}

BOOST_AUTO_TEST_CASE(signer_refuses_more_nodes_than_u_boot_hashes) {
    temp_dir out;
    // kernel + 33 fdts, each with two hashes: "/", the configuration and
    // 34 * 3 nodes = 104 > U-Boot's IMAGE_MAX_HASHED_NODES (100).
    const auto build = [&](std::size_t fdts) {
        fitstream::tree fit;
        fit.description = "many";
        auto& kernel = fit.images.emplace_back("kernel", "kernel", fitstream::source::file(in().kernel.string()));
        kernel.arch = "arm64";
        kernel.os = "linux";
        kernel.add_hash<fitstream::hash::sha256>().add_hash<fitstream::hash::crc32>();
        fitstream::configuration conf;
        conf.name = "conf-1";
        conf.kernel = "kernel";
        for (std::size_t i = 0; i < fdts; ++i) {
            auto& fdt = fit.images.emplace_back("fdt-" + std::to_string(i + 1), "flat_dt",
                                                fitstream::source::file(in().dtb1.string()));
            fdt.add_hash<fitstream::hash::sha256>().add_hash<fitstream::hash::crc32>();
            conf.fdt.push_back(fdt.name);
        }
        fitstream::signature_spec spec;
        spec.key_dir = in().keys.string();
        spec.key_name_hint = "dev";
        spec.algo = "sha256,rsa2048";
        conf.signatures = {spec};
        fit.configurations.push_back(conf);
        return fit;
    };
    const fs::path path = out / "many.fit";
    BOOST_CHECK_EXCEPTION(fitstream::write_fit(build(33), path.string()), fitstream::error,
                          [](const fitstream::error& e) {
                              return e.subject() == "/configurations/conf-1/signature-1" &&
                                     e.reason().find("signing 104 nodes") != std::string::npos &&
                                     e.reason().find("at most 100") != std::string::npos;
                          });
    BOOST_TEST(!fs::exists(path));
    for (const auto& e : fs::directory_iterator(out.path())) BOOST_ERROR("left behind: " << e.path());
    // Also when sign-images covers fewer: U-Boot hashes every image named.
    auto fewer = build(33);
    fewer.configurations[0].signatures[0].sign_images = {"kernel"};
    BOOST_CHECK_THROW(fitstream::write_fit(fewer, path.string()), fitstream::error);
    BOOST_TEST(!fs::exists(path));
    // 32 fdts: 2 + 33 * 3 = 101 nodes, still too many; 31: 98, signed.
    BOOST_CHECK_THROW(fitstream::write_fit(build(32), path.string()), fitstream::error);
    fitstream::write_fit(build(31), path.string());
    const fs::path dtb = control_copy(out.path());
    fitstream::key_dtb keys(dtb.string());
    keys.add({fitstream::signing_key::load((in().keys / "dev.key").string()), "dev", "sha256,rsa2048", "conf"});
    keys.save();
    const auto r = verify(path, dtb);
    BOOST_TEST(r.exit_code == 0, r.err);
}

BOOST_AUTO_TEST_CASE(signer_refuses_a_fit_too_big_for_u_boot_to_check) {
    // U-Boot's fit_image_setup_verify(): "Total size too large" past
    // CONFIG_FIT_SIGNATURE_MAX_SIZE (256 MiB by default), checked with `>`.
    using fitstream::detail::check_signed_fit_size;
    BOOST_CHECK_NO_THROW(check_signed_fit_size(0x10000000, "fit"));
    BOOST_CHECK_EXCEPTION(check_signed_fit_size(0x10000001, "fit"), fitstream::error, [](const fitstream::error& e) {
        return e.subject() == "fit" && e.reason().find("FIT_SIGNATURE_MAX_SIZE") != std::string::npos;
    });
    // The writer: a 256 MiB image (sparse, stored as is) embedded makes the
    // structure itself larger than that; refused, and nothing is left.
    temp_dir out;
    const fs::path big = out / "big.bin";
    { std::ofstream(big.string()).put('\0'); }
    fs::resize_file(big, 0x10000000);
    fitstream::tree fit;
    fit.description = "big";
    auto& img = fit.images.emplace_back("kernel", "kernel", fitstream::source::file(big.string()));
    img.arch = "arm64";
    img.os = "linux";
    img.add_hash<fitstream::hash::sha256>();
    fitstream::configuration conf;
    conf.name = "conf-1";
    conf.kernel = "kernel";
    fitstream::signature_spec spec;
    spec.key_file = (in().keys / "dev.key").string();
    spec.key_name_hint = "dev";
    spec.algo = "sha256,rsa2048";
    conf.signatures = {spec};
    fit.configurations.push_back(conf);
    const fs::path path = out / "big.fit";
    BOOST_CHECK_EXCEPTION(fitstream::write_fit(fit, path.string()), fitstream::error, [](const fitstream::error& e) {
        return e.subject() == "/configurations/conf-1/signature-1" &&
               e.reason().find("U-Boot checks no signature of a FIT over 268435456 bytes") != std::string::npos;
    });
    BOOST_TEST(!fs::exists(path));
    for (const auto& e : fs::directory_iterator(out.path()))
        BOOST_TEST(e.path() == big, "left behind: " << e.path());
}

BOOST_AUTO_TEST_CASE(unwritable_key_dtb_leaves_neither_file_changed) {
    // A --key-dtb in a read-only directory: the DTB is staged before the
    // FIT is committed, so fitpack fails with no FIT and the DTB unchanged.
    // As root, run without the capabilities that bypass file permissions
    // (as test_bad_input does).
    temp_dir out;
    const fs::path ro = out / "ro";
    fs::create_directories(ro);
    const fs::path dtb = ro / "u-boot.dtb";
    fs::copy_file(in().control, dtb);
    const std::string before = read_file(dtb);
    fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                            fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
    std::vector<std::string> wrapper;
    if (::geteuid() == 0) wrapper = {"setpriv", "--bounding-set=-dac_override,-dac_read_search"};
    auto probe = wrapper;
    probe.insert(probe.end(), {"touch", (ro / "probe").string()});
    if (run(probe).exit_code == 0) {
        BOOST_TEST_MESSAGE("skipped: permissions do not apply here");
        return;
    }
    const fs::path fit = out / "s.fit";
    auto argv = wrapper;
    argv.push_back(fitstream_test::fitpack_path);
    const auto args = pack_args(fit, {"--key", (in().keys / "dev.key").string(), "--key-dtb", dtb.string()});
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = run(argv, {}, {epoch_env});
    BOOST_TEST(r.exit_code == 1, describe(argv, r));
    BOOST_TEST(r.err.find("fitpack: error: " + dtb.string() + ": ") == 0, r.err);
    BOOST_TEST(fitstream_test::lines_of(r.err).size() == 1u, r.err);
    BOOST_TEST(!fs::exists(fit));
    for (const auto& e : fs::directory_iterator(out.path())) BOOST_TEST(e.path() == ro, "left behind: " << e.path());
    BOOST_TEST(read_file(dtb) == before);
    for (const auto& e : fs::directory_iterator(ro)) BOOST_TEST(e.path() == dtb, "left behind: " << e.path());
}

BOOST_AUTO_TEST_CASE(verify_checks_the_rsa_constants_u_boot_uses) {
    // U-Boot's rsa_mod_exp_sw() uses rsa,num-bits, rsa,n0-inverse and
    // rsa,r-squared from the key node, not the modulus alone: a key node
    // where one is missing or wrong fails every signature there.
    temp_dir out;
    const fs::path good = control_copy(out.path());
    const fs::path fit = out / "s.fit";
    pack_ok(fit, {"--key", (in().keys / "dev.key").string(), "--key-dtb", good.string(), "--required", "conf"});
    BOOST_TEST(verify(fit, good).exit_code == 0);
    const std::string node = "/signature/key-dev";
    const auto n0 = fdtget(good, node, "rsa,n0-inverse", "u");
    std::string rr = fdt_bytes(good, node, "rsa,r-squared");
    rr[10] = static_cast<char>(rr[10] ^ 1);
    struct tamper {
        std::vector<std::string> fdtput;
        std::string expect;
    };
    for (const auto& t : std::vector<tamper>{
             {{"-t", "u", node, "rsa,n0-inverse", std::to_string(std::stoul(n0) ^ 4)}, "rsa,n0-inverse is missing or wrong"},
             {{"-d", node, "rsa,n0-inverse"}, "rsa,n0-inverse is missing or wrong"},
             {{"-d", node, "rsa,r-squared"}, "rsa,r-squared is missing or wrong"},
             {{}, "rsa,r-squared is missing or wrong"},
             {{"-t", "u", node, "rsa,num-bits", "2040"}, "rsa,num-bits (2040) does not match"},
             {{"-d", node, "rsa,num-bits"}, "no 32-bit rsa,num-bits"}}) {
        BOOST_TEST_CONTEXT(fitstream_test::join(t.fdtput)) {
            const fs::path dtb = out / "tampered.dtb";
            fs::copy_file(good, dtb, fs::copy_options::overwrite_existing);
            if (t.fdtput.empty()) {
                fdt_put_bytes(dtb, node, "rsa,r-squared", rr);
            } else {
                // fdtput [-t u | -d] DTB NODE PROP [VALUE]
                const std::size_t opts = t.fdtput[0] == "-d" ? 1 : 2;
                std::vector<std::string> argv{"fdtput"};
                argv.insert(argv.end(), t.fdtput.begin(), t.fdtput.begin() + static_cast<long>(opts));
                argv.push_back(dtb.string());
                argv.insert(argv.end(), t.fdtput.begin() + static_cast<long>(opts), t.fdtput.end());
                tool_ok(argv);
            }
            const auto r = verify(fit, dtb);
            BOOST_TEST(r.exit_code == 1, describe({"verify"}, r));
            BOOST_TEST(r.err.find(node) != std::string::npos, r.err);
            BOOST_TEST(r.err.find(t.expect) != std::string::npos, r.err);
        }
    }
}

BOOST_AUTO_TEST_CASE(key_dtb_refuses_an_exponent_past_64_bits) {
    // rsa,exponent is 64 bits in U-Boot: a 66-bit exponent (2^65 + 1) was
    // written truncated; now --key-dtb refuses the key before any output.
    temp_dir out;
    const fs::path key = out / "bige.key";
    tool_ok({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-pkeyopt",
             "rsa_keygen_pubexp:36893488147419103233", "-out", key.string()});
    const fs::path dtb = control_copy(out.path());
    const std::string before = read_file(dtb);
    const fs::path fit = out / "s.fit";
    const auto args = pack_args(fit, {"--key", key.string(), "--key-dtb", dtb.string()});
    const auto r = fitpack(args);
    BOOST_TEST(r.exit_code == 1, describe(args, r));
    BOOST_TEST(r.err == "fitpack: error: " + key.string() +
                            ": RSA public exponent has 66 bits; U-Boot's rsa,exponent holds 64\n",
               r.err);
    BOOST_TEST(!fs::exists(fit));
    BOOST_TEST(read_file(dtb) == before);
    // A 64-bit one (2^63 + 1) is written whole, and verifies.
    const fs::path key64 = out / "e64.key";
    tool_ok({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-pkeyopt",
             "rsa_keygen_pubexp:9223372036854775809", "-out", key64.string()});
    pack_ok(fit, {"--key", key64.string(), "--key-dtb", dtb.string(), "--required", "conf"});
    BOOST_TEST(fdtget(dtb, "/signature/key-e64", "rsa,exponent", "bx") == "80 0 0 0 0 0 0 1");
    BOOST_TEST(verify(fit, dtb).exit_code == 0);
}

BOOST_AUTO_TEST_CASE(region_depth_limit_is_u_boots) {
    // fdt_find_regions() counts the root as depth 0 and fails on reaching
    // FDT_MAX_DEPTH (32): nodes 31 levels below the root are fine, 32 not.
    temp_dir out;
    const auto nested = [&](int levels) {
        std::string dts = "/dts-v1/;\n/ {\n";
        for (int i = 0; i < levels; ++i) dts += "n" + std::to_string(i) + " {\n";
        dts += "p = <1>;\n";
        for (int i = 0; i < levels; ++i) dts += "};\n";
        dts += "};\n";
        const fs::path src = out / ("d" + std::to_string(levels) + ".dts");
        write_file(src, dts);
        const fs::path dtb = fitstream_test::compile_dts(src, out / ("d" + std::to_string(levels) + ".dtb"));
        std::string blob = read_file(dtb);
        std::vector<std::uint64_t> aligned((blob.size() + 7) / 8);
        std::memcpy(aligned.data(), blob.data(), blob.size());
        return aligned;
    };
    const auto ok = nested(31);
    BOOST_CHECK_NO_THROW(fitstream::detail::find_signed_regions(ok.data(), {"/"}, "d31"));
    const auto deep = nested(32);
    BOOST_CHECK_EXCEPTION(fitstream::detail::find_signed_regions(deep.data(), {"/"}, "d32"), fitstream::error,
                          [](const fitstream::error& e) { return e.reason() == "nodes nested too deeply for U-Boot"; });
}

BOOST_AUTO_TEST_CASE(no_required_key_warns_as_u_boot_boots_anyway) {
    // With no key marked required, U-Boot's fit_config_verify_required_keys()
    // checks nothing and boots the FIT: verify warns, and does not fail.
    temp_dir out;
    const fs::path dtb = control_copy(out.path());
    const fs::path signed_fit = out / "signed.fit", plain = out / "plain.fit";
    pack_ok(signed_fit, {"--key", (in().keys / "dev.key").string(), "--key-dtb", dtb.string()});
    pack_ok(plain, {});
    BOOST_TEST(run({"fdtget", dtb.string(), "/signature/key-dev", "required"}).exit_code != 0);
    const auto s = verify(signed_fit, dtb);
    BOOST_TEST(s.exit_code == 0, s.err);
    BOOST_TEST(s.out.find("/configurations/conf-1/signature-1: sha256,rsa2048:dev+ OK") != std::string::npos, s.out);
    const auto p = verify(plain, dtb);
    BOOST_TEST(p.exit_code == 0, p.err);
    BOOST_TEST(p.err.find("no key is marked required, so U-Boot checks no signature") != std::string::npos, p.err);
    BOOST_TEST(p.err.find("no signature node, but key 'dev' is required") != std::string::npos, p.err);
    BOOST_TEST(p.err.find("warning") != std::string::npos, p.err);
}
