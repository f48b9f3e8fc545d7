// SPDX-License-Identifier: MIT
//
// Signing in two steps, offline: `fitpack sign --prepare` in a build
// directory writes the FIT with zero values and a request file; a signer
// directory gets only the request (never the FIT) and signs each digest
// with `openssl pkeyutl`; `fitpack sign --complete` back in the build
// directory inserts the values after checking them.
//
//  - the completed FIT passes fitpack verify --key-dtb and fit_check_sign
//    (2026.10, when ../shared/uboot-2026.10 is present); image signatures
//    too (--image-signatures), a FIT whose signature nodes came from an
//    .its (mkimage -f) without --key-name, and RSASSA-PSS.
//  - bad input: a tampered response, a value made with another key, a node
//    the FIT lacks, a signature left out, a malformed line, a wrong size:
//    exit 1, one line naming the node or file, nothing written.

#define BOOST_TEST_MODULE fitpack sign --prepare / --complete
#include <boost/test/unit_test.hpp>

#include "support.hpp"
#include "tools.hpp"
#include "uboot_sandbox.hpp"

#include <fitstream/fitstream.hpp>

#include <sstream>
#include <string>
#include <vector>

using namespace fitstream_test;

namespace {

struct setup {
    temp_dir root;
    fs::path build, signer, kernel, dtb, control;
    setup() {
        build = root / "build";
        signer = root / "signer";
        fs::create_directories(build);
        fs::create_directories(signer);
        // The private key lives only in the signer's directory.
        run_ok({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                (signer / "release.key").string()});
        run_ok({"openssl", "pkey", "-in", (signer / "release.key").string(), "-pubout", "-out",
                (build / "release.pub").string()});
        run_ok({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                (signer / "other.key").string()});
        kernel = build / "Image";
        write_file(kernel, kernel_like_payload(100003, 7));
        dtb = compile_dts(data_dir / "boards" / "acme-rk3399-sbc.dts", build / "a.dtb");
        compile_dts(data_dir / "boards" / "initech-a64-tablet.dts", build / "b.dtb");
    }
};

/// The signer's side: reads only the request file in `dir`, signs every
/// digest with `key` through `openssl pkeyutl` and writes response.txt.
void sign_offline(const fs::path& dir, const std::string& key) {
    std::istringstream request(read_file(dir / "request.txt"));
    std::string response = "# answered by openssl pkeyutl\n";
    for (std::string line; std::getline(request, line);) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream fields(line);
        std::string node, algo, padding, hint, digest;
        fields >> node >> algo >> padding >> hint >> digest;
        BOOST_TEST_REQUIRE(algo == "sha256,rsa2048");
        BOOST_TEST_REQUIRE((padding == "pkcs-1.5" || padding == "pss"));
        std::string raw;
        for (std::size_t i = 0; i + 1 < digest.size(); i += 2)
            raw += static_cast<char>(std::stoi(digest.substr(i, 2), nullptr, 16));
        write_file(dir / "digest.bin", raw);
        std::vector<std::string> argv{"openssl", "pkeyutl", "-sign", "-inkey", (dir / key).string(), "-pkeyopt",
                                      "digest:sha256", "-in", (dir / "digest.bin").string(), "-out",
                                      (dir / "sig.bin").string()};
        // RSASSA-PSS with the longest salt the key allows, as mkimage signs.
        if (padding == "pss")
            argv.insert(argv.end(), {"-pkeyopt", "rsa_padding_mode:pss", "-pkeyopt", "rsa_pss_saltlen:max"});
        run_ok(argv);
        const std::string sig = read_file(dir / "sig.bin");
        std::string hexed;
        char two[3];
        for (const unsigned char c : sig) {
            std::snprintf(two, sizeof two, "%02x", c);
            hexed += two;
        }
        response += node + " " + hexed + "\n";
    }
    write_file(dir / "response.txt", response);
}

/// A control DTB holding the release key (written by a normal signing run
/// of a throwaway FIT, from the signer's side).
fs::path control_with_key(const setup& s) {
    write_file(s.signer / "c.dts", "/dts-v1/;\n/ { model = \"c\"; };\n");
    const fs::path control = compile_dts(s.signer / "c.dts", s.signer / "control.dtb");
    fitpack_ok({"-o", (s.signer / "throwaway.itb").string(), "--name", "t", "--arch", "arm64", "--os", "linux", "-k",
                s.kernel.string(), s.dtb.string(), "--key", (s.signer / "release.key").string(), "--key-dtb",
                control.string(), "--required", "conf"});
    fs::copy_file(control, s.build / "control.dtb");
    return s.build / "control.dtb";
}

void check_accepted(const fs::path& fit, const fs::path& control) {
    fitpack_ok({"verify", fit.string(), "--key-dtb", control.string()});
    if (const auto u = uboot_2026_dir()) {
        for (const auto& conf : fdt_subnodes(fit, "/configurations")) {
            const auto r = run({(*u / "fit_check_sign").string(), "-f", fit.string(), "-k", control.string(), "-c", conf});
            BOOST_TEST(r.exit_code == 0, "fit_check_sign " << conf << ": " << r.out << r.err);
        }
    } else {
        BOOST_TEST_MESSAGE("../shared/uboot-2026.10 absent: fit_check_sign not run");
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(prepare_sign_offline_complete) {
    for (const bool external : {false, true}) {
        BOOST_TEST_CONTEXT((external ? "external" : "embedded")) {
            setup s;
            const fs::path control = control_with_key(s);
            std::vector<std::string> pack{"-o", (s.build / "unsigned.itb").string(), "--name", "t", "--arch", "arm64",
                                          "--os", "linux", "-k", s.kernel.string(), (s.build / "a.dtb").string(),
                                          (s.build / "b.dtb").string()};
            if (external) pack.push_back("-E");
            fitpack_ok(pack);
            fitpack_ok({"sign", "--prepare", "unsigned.itb", "-o", "prepared.itb", "--request", "request.txt",
                        "--key-name", "release", "--image-signatures"},
                       {{epoch_env}, s.build});
            // Only the request crosses to the signer.
            fs::copy_file(s.build / "request.txt", s.signer / "request.txt");
            const std::string request = read_file(s.signer / "request.txt");
            BOOST_TEST(has(request, "/configurations/conf-1/signature-1 sha256,rsa2048 pkcs-1.5 release "));
            BOOST_TEST(has(request, "/images/kernel/signature-1 "));
            sign_offline(s.signer, "release.key");
            fs::copy_file(s.signer / "response.txt", s.build / "response.txt");
            fitpack_ok({"sign", "--complete", "prepared.itb", "--signatures", "response.txt", "-o", "signed.itb",
                        "--public-key", "release.pub"},
                       {{epoch_env}, s.build});
            check_accepted(s.build / "signed.itb", control);
            // --key-dtb checks as well, and completing in place works.
            fitpack_ok({"sign", "--complete", "prepared.itb", "--signatures", "response.txt", "--key-dtb",
                        "control.dtb"},
                       {{epoch_env}, s.build});
            BOOST_TEST(read_file(s.build / "prepared.itb") == read_file(s.build / "signed.itb"));
        }
    }
}

BOOST_AUTO_TEST_CASE(its_signature_nodes_without_key_name) {
    setup s;
    const fs::path control = control_with_key(s);
    write_file(s.build / "fit.its",
               "/dts-v1/;\n/ { description = \"d\"; #address-cells = <1>; images { kernel { description = \"k\"; "
               "data = /incbin/(\"Image\"); type = \"kernel\"; arch = \"arm64\"; os = \"linux\"; compression = "
               "\"none\"; load = <0x40400000>; entry = <0x40400000>; hash-1 { algo = \"sha256\"; }; }; fdt-1 { "
               "description = \"f\"; data = /incbin/(\"a.dtb\"); type = \"flat_dt\"; arch = \"arm64\"; compression = "
               "\"none\"; hash-1 { algo = \"sha256\"; }; }; }; configurations { default = \"conf-1\"; conf-1 { "
               "description = \"c\"; kernel = \"kernel\"; fdt = \"fdt-1\"; signature-1 { algo = \"sha256,rsa2048\"; "
               "key-name-hint = \"release\"; sign-images = \"fdt\", \"kernel\"; }; }; }; };\n");
    run_ok({"env", "-C", s.build.string(), "mkimage", "-f", "fit.its", "fit.itb"});
    fitpack_ok({"sign", "--prepare", "fit.itb", "-o", "prepared.itb", "--request", "request.txt"}, {{epoch_env}, s.build});
    fs::copy_file(s.build / "request.txt", s.signer / "request.txt");
    sign_offline(s.signer, "release.key");
    fitpack_ok({"sign", "--complete", "prepared.itb", "--signatures", (s.signer / "response.txt").string(), "-o",
                "signed.itb", "--key-dtb", "control.dtb"},
               {{epoch_env}, s.build});
    check_accepted(s.build / "signed.itb", control);
}

BOOST_AUTO_TEST_CASE(bad_responses_fail_cleanly) {
    setup s;
    control_with_key(s);
    fitpack_ok({"-o", (s.build / "unsigned.itb").string(), "--name", "t", "--arch", "arm64", "--os", "linux", "-k",
                s.kernel.string(), (s.build / "a.dtb").string(), (s.build / "b.dtb").string()});
    fitpack_ok({"sign", "--prepare", "unsigned.itb", "-o", "prepared.itb", "--request", "request.txt", "--key-name",
                "release"},
               {{epoch_env}, s.build});
    fs::copy_file(s.build / "request.txt", s.signer / "request.txt");
    sign_offline(s.signer, "release.key");
    const std::string good = read_file(s.signer / "response.txt");
    sign_offline(s.signer, "other.key");
    const std::string wrong_key = read_file(s.signer / "response.txt");
    const std::string prepared = read_file(s.build / "prepared.itb");

    const auto line_of = [&](const std::string& text, const std::string& node) {
        for (const auto& l : lines_of(text))
            if (l.rfind(node + " ", 0) == 0) return l;
        return std::string();
    };
    const std::string conf1 = line_of(good, "/configurations/conf-1/signature-1");
    const std::string conf2 = line_of(good, "/configurations/conf-2/signature-1");
    BOOST_TEST_REQUIRE(!conf1.empty());
    BOOST_TEST_REQUIRE(!conf2.empty());
    std::string tampered = conf1;
    tampered.back() = tampered.back() == '0' ? '1' : '0';
    struct row {
        std::string name, response, message;
        std::vector<std::string> check{"--public-key", "release.pub"};
    };
    const std::vector<row> rows{
        {"tampered value", tampered + "\n" + conf2 + "\n", "/configurations/conf-1/signature-1: the value does not verify"},
        {"wrong key", wrong_key, "does not verify with release.pub"},
        {"wrong key, key DTB", wrong_key, "does not verify with", {"--key-dtb", "control.dtb"}},
        {"missing node", good + "/configurations/conf-9/signature-1 00ff\n", "/configurations/conf-9/signature-1: no such signature node"},
        {"not a signature", "/images/kernel " + conf1.substr(conf1.find(' ') + 1) + "\n" + good, "/images/kernel: no such signature node"},
        {"left out", conf1 + "\n", "/configurations/conf-2/signature-1: prepared signature has no value"},
        {"malformed", "this is not hex\n", "response.txt:1: not a response line"},
        {"short value", "/configurations/conf-1/signature-1 00ff\n" + conf2 + "\n", "value of 2 bytes"},
        {"twice", good + conf1 + "\n", "answered twice"},
        {"no check key", good, "needs --key-dtb", {}},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.name) {
            write_file(s.build / "response.txt", r.response);
            std::vector<std::string> args{"sign", "--complete", "prepared.itb", "--signatures", "response.txt", "-o",
                                          "signed.itb"};
            args.insert(args.end(), r.check.begin(), r.check.end());
            const auto result = fitpack(args, {{epoch_env}, s.build});
            BOOST_TEST(result.exit_code != 0);
            BOOST_TEST(has(result.err, r.message), result.err);
            BOOST_TEST(lines_of(result.err).size() <= 2u, result.err);
            BOOST_TEST(!fs::exists(s.build / "signed.itb"));
            BOOST_TEST(read_file(s.build / "prepared.itb") == prepared);
        }
    }
    // In place with a bad response: the prepared FIT stays as it was.
    write_file(s.build / "response.txt", wrong_key);
    const auto in_place = fitpack({"sign", "--complete", "prepared.itb", "--signatures", "response.txt", "--public-key",
                                   "release.pub"},
                                  {{epoch_env}, s.build});
    BOOST_TEST(in_place.exit_code == 1);
    BOOST_TEST(read_file(s.build / "prepared.itb") == prepared);
    // --prepare refuses a key (it signs nothing) and needs its outputs.
    const auto with_key = fitpack({"sign", "--prepare", "unsigned.itb", "-o", "p2.itb", "--request", "r2.txt",
                                   "--key", (s.signer / "release.key").string(), "--key-name", "release"},
                                  {{epoch_env}, s.build});
    BOOST_TEST(with_key.exit_code != 0);
    BOOST_TEST(has(with_key.err, "--prepare signs nothing"), with_key.err);
    const auto no_request = fitpack({"sign", "--prepare", "unsigned.itb", "-o", "p2.itb", "--key-name", "release"},
                                    {{epoch_env}, s.build});
    BOOST_TEST(no_request.exit_code != 0);
    BOOST_TEST(!fs::exists(s.build / "p2.itb"));
}

BOOST_AUTO_TEST_CASE(pss_padding) {
    // The request says pss; the signer adds the padding options; the value
    // is checked as U-Boot checks PSS (2026.10's fit_check_sign: Debian's
    // U-Boot has no RSASSA-PSS).
    setup s;
    const fs::path control = control_with_key(s);
    fitpack_ok({"-o", (s.build / "unsigned.itb").string(), "--name", "t", "--arch", "arm64", "--os", "linux", "-k",
                s.kernel.string(), (s.build / "a.dtb").string()});
    fitpack_ok({"sign", "--prepare", "unsigned.itb", "-o", "prepared.itb", "--request", "request.txt", "--key-name",
                "release", "--padding", "pss"},
               {{epoch_env}, s.build});
    fs::copy_file(s.build / "request.txt", s.signer / "request.txt");
    BOOST_TEST(has(read_file(s.signer / "request.txt"), " sha256,rsa2048 pss release "));
    sign_offline(s.signer, "release.key");
    fitpack_ok({"sign", "--complete", "prepared.itb", "--signatures", (s.signer / "response.txt").string(), "-o",
                "signed.itb", "--public-key", "release.pub"},
               {{epoch_env}, s.build});
    BOOST_TEST(fdtget(s.build / "signed.itb", "/configurations/conf-1/signature-1", "padding") == "pss");
    if (const auto u = uboot_2026_dir()) {
        const auto r = run({(*u / "fit_check_sign").string(), "-f", (s.build / "signed.itb").string(), "-k",
                            control.string(), "-c", "conf-1"});
        BOOST_TEST(r.exit_code == 0, r.out << r.err);
    }
}
