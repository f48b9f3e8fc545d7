// SPDX-License-Identifier: MIT
//
// fitpack sign: re-signing a FIT that exists, against mkimage -F.
//
//  - mkimage -F -k KEYDIR (Debian's 2023.01, and 2026.10 from
//    ../shared/uboot-2026.10 when present) and `fitpack sign FIT --key-dir
//    KEYDIR` on the same input, with the same SOURCE_DATE_EPOCH, write the
//    same hashed-nodes, hashed-strings, timestamp and (PKCS#1 v1.5) value in
//    every configuration signature (and value in the kernel's image
//    signature, signed first): inputs from mkimage -f (.its with
//    signature nodes, two configurations so the second's hashed-strings
//    counts the names the first one added) and from fitpack, embedded and
//    external (-E, given to mkimage -F again). A data-position FIT (-E -p)
//    is re-signed too, which mkimage -F cannot do.
//  - make_fit.py's FITs (no hashes, no signatures): --add-hashes and
//    --key-name add them; the payload bytes are kept (extracted and
//    compared) and fit_check_sign (2026.10) and fitpack verify accept them.
//  - fitpack's external layout (-E -B 0x1000) is kept: the same offsets.
//  - in place (no -o) with --key-dtb --required conf, as mkimage -F -K -r.
//  - bad input: a payload that no longer matches its hash, a missing key,
//    a structure that would grow into data at a data-position,
//    a file that is no FIT, nothing to sign, an output that is an input:
//    exit 1, one line naming the file or node, nothing written.

#define BOOST_TEST_MODULE fitpack sign against mkimage -F
#include <boost/test/unit_test.hpp>

#include "support.hpp"
#include "tools.hpp"
#include "uboot_sandbox.hpp"

#include <fitstream/fitstream.hpp>

#include <string>
#include <vector>

using namespace fitstream_test;
using fitstream_test::operator+;

namespace {

const std::string debian_mkimage = "/usr/bin/mkimage";

struct keys_and_payloads {
    temp_dir dir;
    fs::path keys, kernel, dtb1, dtb2, ramdisk;
    keys_and_payloads() {
        keys = dir / "keys";
        fs::create_directories(keys);
        run_ok({"openssl", "genpkey", "-quiet", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
                (keys / "dev.key").string()});
        run_ok({"openssl", "req", "-batch", "-new", "-x509", "-key", (keys / "dev.key").string(), "-subj", "/CN=dev",
                "-out", (keys / "dev.crt").string()});
        kernel = dir / "Image";
        write_file(kernel, kernel_like_payload(200001, 5));
        ramdisk = dir / "initrd";
        write_file(ramdisk, kernel_like_payload(30003, 6));
        dtb1 = compile_dts(data_dir / "boards" / "acme-rk3399-sbc.dts", dir / "a.dtb");
        dtb2 = compile_dts(data_dir / "boards" / "initech-a64-tablet.dts", dir / "b.dtb");
    }
};

const keys_and_payloads& inputs() {
    static const keys_and_payloads instance;
    return instance;
}

/// An .its with signature nodes for mkimage -f: two configurations.
std::string its_text() {
    const auto& in = inputs();
    const auto image = [](const std::string& name, const std::string& type, const fs::path& file, const std::string& extra) {
        return "  " + name + " { description = \"" + name + "\"; data = /incbin/(\"" + file.string() + "\"); type = \"" +
               type + "\"; arch = \"arm64\"; compression = \"none\"; " + extra + " hash-1 { algo = \"sha256\"; }; };\n";
    };
    const auto conf = [](const std::string& name, const std::string& fdt) {
        return "  " + name + " { description = \"" + name + "\"; kernel = \"kernel\"; fdt = \"" + fdt +
               "\"; ramdisk = \"ramdisk\"; signature-1 { algo = \"sha256,rsa2048\"; key-name-hint = \"dev\"; "
               "sign-images = \"fdt\", \"kernel\", \"ramdisk\"; }; };\n";
    };
    return "/dts-v1/;\n/ { description = \"resign test\"; #address-cells = <1>;\n images {\n" +
           image("kernel", "kernel", in.kernel,
                 "os = \"linux\"; load = <0x40400000>; entry = <0x40400000>; signature-1 { algo = "
                 "\"sha256,rsa2048\"; key-name-hint = \"dev\"; };") +
           image("ramdisk", "ramdisk", in.ramdisk, "os = \"linux\";") + image("fdt-1", "flat_dt", in.dtb1, "") +
           image("fdt-2", "flat_dt", in.dtb2, "") + " };\n configurations { default = \"conf-1\";\n" +
           conf("conf-1", "fdt-1") + conf("conf-2", "fdt-2") + " };\n};\n";
}

std::vector<std::string> mkimages() {
    std::vector<std::string> out{debian_mkimage};
    if (const auto dir = uboot_2026_dir()) out.push_back((*dir / "mkimage").string());
    return out;
}

/// The signature properties mkimage and fitpack must agree on.
void check_same_signatures(const fs::path& got, const fs::path& want, const std::vector<std::string>& nodes,
                           const std::string& what) {
    for (const auto& node : nodes)
        for (const char* prop : {"hashed-nodes", "hashed-strings", "value", "timestamp", "algo", "key-name-hint"}) {
            const std::string type = std::string(prop) == "hashed-nodes" || std::string(prop) == "algo" ||
                                             std::string(prop) == "key-name-hint"
                                         ? "s"
                                         : "x";
            const auto g = fdtget(got, node, prop, type), w = fdtget(want, node, prop, type);
            BOOST_TEST(g != absent, what << ": " << node << " has no " << prop);
            BOOST_TEST(g == w, what << ": " << node << " " << prop << ": fitpack " << g << ", mkimage " << w);
        }
}

/// fit_check_sign from 2026.10 (when present) and fitpack verify accept `fit`
/// with the key written into a copy of `control`.
void check_verifies(const fs::path& fit, const fs::path& dir) {
    const auto& in = inputs();
    const fs::path control = dir / "control.dtb";
    write_file(dir / "control.dts", "/dts-v1/;\n/ { model = \"control\"; };\n");
    compile_dts(dir / "control.dts", control);
    // The key DTB, as mkimage -K writes it.
    write_file(dir / "k.its", "/dts-v1/;\n/ { description = \"k\"; #address-cells = <1>; images { k { data = /incbin/(\"" +
                                  in.kernel.string() + "\"); type = \"kernel\"; arch = \"arm64\"; os = \"linux\"; "
                                  "compression = \"none\"; load = <0>; entry = <0>; hash-1 { algo = \"sha256\"; }; }; }; "
                                  "configurations { default = \"c\"; c { kernel = \"k\"; signature-1 { algo = "
                                  "\"sha256,rsa2048\"; key-name-hint = \"dev\"; }; }; }; };\n");
    run_ok({debian_mkimage, "-f", (dir / "k.its").string(), "-k", in.keys.string(), "-K", control.string(), "-r",
            (dir / "k.itb").string()});
    fitpack_ok({"verify", fit.string(), "--key-dtb", control.string()});
    if (const auto u = uboot_2026_dir()) {
        // Each configuration by name: fit_check_sign (2026.10-rc2) crashes
        // on a FIT without /configurations/default, as make_fit.py writes.
        for (const auto& conf : fdt_subnodes(fit, "/configurations")) {
            const auto r = run({(*u / "fit_check_sign").string(), "-f", fit.string(), "-k", control.string(), "-c", conf});
            BOOST_TEST(r.exit_code == 0, "fit_check_sign " << fit << " " << conf << ": " << r.out << r.err);
        }
    } else {
        BOOST_TEST_MESSAGE("../shared/uboot-2026.10 absent: fit_check_sign not run");
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(same_as_mkimage_F_on_mkimage_fits) {
    const auto& in = inputs();
    for (const auto& mkimage : mkimages())
        for (const auto& e : std::vector<std::vector<std::string>>{{}, {"-E"}, {"-E", "-p", "0x2000"}}) {
            const std::string what = mkimage + " " + join(e);
            BOOST_TEST_CONTEXT(what) {
                temp_dir dir;
                write_file(dir / "fit.its", its_text());
                run_ok(std::vector<std::string>{mkimage, "-f", (dir / "fit.its").string()} + e + std::vector<std::string>{(dir / "in.itb").string()}, {}, {epoch_env});
                fs::copy_file(dir / "in.itb", dir / "ref.itb");
                // mkimage -F cannot re-sign data-position FITs ("Can't get
                // image data/size": its fit_import_data reads data-offset
                // only); fitpack sign can, checked by the verifiers below.
                const bool position = e.size() > 1;
                if (!position)
                    run_ok(std::vector<std::string>{mkimage, "-F", "-k", in.keys.string()} + e +
                               std::vector<std::string>{(dir / "ref.itb").string()},
                           {}, {"SOURCE_DATE_EPOCH=1700001234"});
                const std::string before = read_file(dir / "in.itb");
                fitpack_ok({"sign", (dir / "in.itb").string(), "-o", (dir / "out.itb").string(), "--key-dir", in.keys.string()},
                           {{"SOURCE_DATE_EPOCH=1700001234"}});
                BOOST_TEST(read_file(dir / "in.itb") == before, "the input was changed");
                if (!position) {
                    check_same_signatures(dir / "out.itb", dir / "ref.itb",
                                          {"/configurations/conf-1/signature-1", "/configurations/conf-2/signature-1"},
                                          what);
                    // The kernel's image signature: over its data.
                    for (const char* prop : {"value", "timestamp"})
                        BOOST_TEST(fdtget(dir / "out.itb", "/images/kernel/signature-1", prop) ==
                                       fdtget(dir / "ref.itb", "/images/kernel/signature-1", prop),
                                   what << ": image signature " << prop);
                }
                else
                    BOOST_TEST(fdtget(dir / "out.itb", "/images/kernel", "data-position") ==
                               fdtget(dir / "in.itb", "/images/kernel", "data-position"));
                // The payloads are the input's.
                for (const char* img : {"kernel", "ramdisk", "fdt-1", "fdt-2"}) {
                    fitpack_ok({"extract", (dir / "out.itb").string(), img, "-o", (dir / "a.bin").string(), "--raw"});
                    fitpack_ok({"extract", (dir / "in.itb").string(), img, "-o", (dir / "b.bin").string(), "--raw"});
                    BOOST_TEST((read_file(dir / "a.bin") == read_file(dir / "b.bin")), what << ": " << img);
                }
                check_verifies(dir / "out.itb", dir.path());
            }
        }
}

BOOST_AUTO_TEST_CASE(same_as_mkimage_F_on_fitpack_fits) {
    const auto& in = inputs();
    for (const auto& mkimage : mkimages())
        for (const bool external : {false, true}) {
            const std::string what = mkimage + (external ? " -E" : "");
            BOOST_TEST_CONTEXT(what) {
                temp_dir dir;
                std::vector<std::string> pack{"-o", (dir / "in.itb").string(), "--name", "t", "--arch", "arm64", "--os",
                                              "linux", "-k", in.kernel.string(), "--key-dir", in.keys.string(),
                                              "--key-name", "dev", in.dtb1.string(), in.dtb2.string()};
                if (external) pack.push_back("-E");
                fitpack_ok(pack);
                fs::copy_file(dir / "in.itb", dir / "ref.itb");
                const std::vector<std::string> e = external ? std::vector<std::string>{"-E"} : std::vector<std::string>{};
                run_ok(std::vector<std::string>{mkimage, "-F", "-k", in.keys.string()} + e + std::vector<std::string>{(dir / "ref.itb").string()},
                       {}, {"SOURCE_DATE_EPOCH=1700005678"});
                fitpack_ok({"sign", (dir / "in.itb").string(), "-o", (dir / "out.itb").string(), "--key-dir", in.keys.string()},
                           {{"SOURCE_DATE_EPOCH=1700005678"}});
                check_same_signatures(dir / "out.itb", dir / "ref.itb",
                                      {"/configurations/conf-1/signature-1", "/configurations/conf-2/signature-1"}, what);
                check_verifies(dir / "out.itb", dir.path());
            }
        }
}

BOOST_AUTO_TEST_CASE(make_fit_py_fits_get_hashes_and_signatures) {
    const auto& in = inputs();
    const fs::path tarball = "/usr/src/linux-source-6.12.tar.xz";
    if (!fs::exists(tarball) || run({"/usr/bin/python3", "-c", "import libfdt"}).exit_code != 0) {
        BOOST_TEST_MESSAGE("make_fit.py needs " << tarball << " and python3-libfdt: skipped");
        return;
    }
    temp_dir dir;
    run_ok({"tar", "-xJf", tarball.string(), "-C", dir.path().string(), "--wildcards", "*/scripts/make_fit.py"});
    const fs::path script = dir / "linux-source-6.12/scripts/make_fit.py";
    for (const bool external : {false, true}) {
        BOOST_TEST_CONTEXT((external ? "make_fit.py -E" : "make_fit.py")) {
            std::vector<std::string> argv{"/usr/bin/python3", script.string(), "-o", (dir / "in.itb").string(), "-A", "arm64", "-O",
                                          "linux", "-n", "t", "-k", in.kernel.string(), in.dtb1.string(), in.dtb2.string()};
            if (external) argv.push_back("-E");
            run_ok(argv);
            // No hash nodes: refused without --add-hashes, naming the image.
            const auto refused = fitpack({"sign", (dir / "in.itb").string(), "-o", (dir / "out.itb").string(),
                                          "--key-dir", in.keys.string(), "--key-name", "dev"});
            BOOST_TEST(refused.exit_code == 1);
            BOOST_TEST(has(refused.err, "no hash node"), refused.err);
            BOOST_TEST(!fs::exists(dir / "out.itb"));
            fitpack_ok({"sign", (dir / "in.itb").string(), "-o", (dir / "out.itb").string(), "--key-dir",
                        in.keys.string(), "--key-name", "dev", "--add-hashes", "sha256"});
            for (const auto& img : fdt_subnodes(dir / "in.itb", "/images")) {
                fitpack_ok({"extract", (dir / "out.itb").string(), img, "-o", (dir / "a.bin").string(), "--raw"});
                fitpack_ok({"extract", (dir / "in.itb").string(), img, "-o", (dir / "b.bin").string(), "--raw"});
                BOOST_TEST((read_file(dir / "a.bin") == read_file(dir / "b.bin")), img);
                BOOST_TEST(fdtget(dir / "out.itb", "/images/" + img + "/hash-1", "algo") == "sha256");
            }
            check_verifies(dir / "out.itb", dir.path());
            fs::remove(dir / "out.itb");
        }
    }
}

BOOST_AUTO_TEST_CASE(external_layout_is_kept) {
    const auto& in = inputs();
    temp_dir dir;
    fitpack_ok({"-o", (dir / "in.itb").string(), "--name", "t", "--arch", "arm64", "--os", "linux", "-k",
                in.kernel.string(), "-E", "-B", "0x1000", in.dtb1.string(), in.dtb2.string()});
    fitpack_ok({"sign", (dir / "in.itb").string(), "-o", (dir / "out.itb").string(), "--key-dir", in.keys.string(),
                "--key-name", "dev", "--image-signatures"});
    const auto before = fitpack_ok({"list", "--json", (dir / "in.itb").string()}).out;
    const auto after = fitpack_ok({"list", "--json", (dir / "out.itb").string()}).out;
    for (const auto& img : fdt_subnodes(dir / "in.itb", "/images")) {
        BOOST_TEST(fdtget(dir / "out.itb", "/images/" + img, "data-offset") ==
                   fdtget(dir / "in.itb", "/images/" + img, "data-offset"));
        BOOST_TEST(fdtget(dir / "out.itb", "/images/" + img + "/signature-1", "key-name-hint") == "dev");
    }
    const std::string a = read_file(dir / "in.itb"), b = read_file(dir / "out.itb");
    BOOST_TEST(a.size() == b.size(), "the structure fits before the first 4 KiB payload: same size");
    BOOST_TEST((a.substr(0x1000) == b.substr(0x1000)), "payload area byte for byte");
    check_verifies(dir / "out.itb", dir.path());
}

BOOST_AUTO_TEST_CASE(in_place_with_key_dtb_as_mkimage_K_r) {
    const auto& in = inputs();
    temp_dir dir;
    write_file(dir / "fit.its", its_text());
    run_ok({debian_mkimage, "-f", (dir / "fit.its").string(), (dir / "fit.itb").string()});
    write_file(dir / "c.dts", "/dts-v1/;\n/ { model = \"c\"; };\n");
    compile_dts(dir / "c.dts", dir / "c.dtb");
    fitpack_ok({"sign", (dir / "fit.itb").string(), "--key-dir", in.keys.string(), "--key-dtb",
                (dir / "c.dtb").string(), "--required", "conf"});
    BOOST_TEST(fdtget(dir / "c.dtb", "/signature/key-dev", "required") == "conf");
    BOOST_TEST(fdtget(dir / "fit.itb", "/configurations/conf-1/signature-1", "signer-name") == "fitstream");
    fitpack_ok({"verify", (dir / "fit.itb").string(), "--key-dtb", (dir / "c.dtb").string()});
    BOOST_TEST(directory_names(dir.path()) == (std::set<std::string>{"c.dtb", "c.dts", "fit.itb", "fit.its"}),
               "no temporary file left");
}

// The keys that fill the FIT's own signature nodes are found while signing
// (by each node's key-name-hint): the output may not be one of them either.
BOOST_AUTO_TEST_CASE(the_output_may_not_be_a_key_found_in_the_key_dir) {
    const auto& in = inputs();
    temp_dir dir;
    write_file(dir / "fit.its", its_text());
    run_ok({debian_mkimage, "-f", (dir / "fit.its").string(), (dir / "fit.itb").string()});
    fs::create_directories(dir / "keys");
    fs::copy_file(in.keys / "dev.key", dir / "keys" / "dev.key");
    const std::string key_before = read_file(dir / "keys" / "dev.key");
    const std::string fit_before = read_file(dir / "fit.itb");
    const auto r = fitpack({"sign", (dir / "fit.itb").string(), "--key-dir", (dir / "keys").string(), "-o",
                            (dir / "keys" / "dev.key").string()});
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(has(r.err, "would overwrite an input"), r.err);
    BOOST_TEST((read_file(dir / "keys" / "dev.key") == key_before));
    BOOST_TEST((read_file(dir / "fit.itb") == fit_before));
    BOOST_TEST(directory_names(dir / "keys") == (std::set<std::string>{"dev.key"}), "no temporary file left");
}

BOOST_AUTO_TEST_CASE(bad_input_fails_cleanly) {
    const auto& in = inputs();
    temp_dir dir;
    write_file(dir / "fit.its", its_text());
    run_ok({debian_mkimage, "-f", (dir / "fit.its").string(), (dir / "fit.itb").string()});
    const std::string good = read_file(dir / "fit.itb");
    struct row {
        std::string name;
        std::vector<std::string> args;
        std::string message;
    };
    // A FIT whose kernel no longer matches its hash: flip a payload byte.
    std::string damaged = good;
    const auto at = damaged.find(read_file(in.kernel).substr(1000, 64));
    BOOST_TEST_REQUIRE(at != std::string::npos);
    damaged[at] = static_cast<char>(damaged[at] ^ 1);
    write_file(dir / "damaged.itb", damaged);
    run_ok({debian_mkimage, "-f", (dir / "fit.its").string(), "-E", "-p", "0x800", (dir / "p.itb").string()});
    write_file(dir / "truncated.itb", good.substr(0, 4096));
    write_file(dir / "notfit.itb", "hello, not a FIT at all, just text");
    fs::create_directories(dir / "nokeys");
    const std::string out = (dir / "out.itb").string();
    const std::vector<row> rows{
        {"damaged payload", {"sign", (dir / "damaged.itb").string(), "-o", out, "--key-dir", in.keys.string()},
         "/images/kernel/hash-1: the sha256 hash does not match"},
        {"missing key", {"sign", (dir / "fit.itb").string(), "-o", out, "--key-dir", (dir / "nokeys").string()},
         "nokeys/dev.key: cannot"},
        {"data-position too close", {"sign", (dir / "p.itb").string(), "-o", out, "--key-dir", in.keys.string()},
         "would overlap the data at data-position 2048"},
        {"truncated FIT", {"sign", (dir / "truncated.itb").string(), "-o", out, "--key-dir", in.keys.string()},
         "truncated.itb: FIT header does not fit the file"},
        {"not a FIT", {"sign", (dir / "notfit.itb").string(), "-o", out, "--key-dir", in.keys.string()}, "notfit.itb"},
        {"no key at all", {"sign", (dir / "fit.itb").string(), "-o", out}, "needs --key-dir"},
        {"output is the key", {"sign", (dir / "fit.itb").string(), "-o", (in.keys / "dev.key").string(), "--key",
                               (in.keys / "dev.key").string()}, "dev.key"},
        {"unknown hash", {"sign", (dir / "fit.itb").string(), "-o", out, "--key-dir", in.keys.string(), "--add-hashes",
                          "sha3"}, "sha3"},
        {"options without a name", {"sign", (dir / "fit.itb").string(), "-o", out, "--key-dir", in.keys.string(),
                                     "--sign-algo", "sha256,rsa2048"}, "--key-name"},
    };
    for (const auto& r : rows) {
        BOOST_TEST_CONTEXT(r.name) {
            const auto result = fitpack(r.args);
            BOOST_TEST(result.exit_code != 0);
            BOOST_TEST(has(result.err, r.message), result.err);
            BOOST_TEST(lines_of(result.err).size() <= 2u, result.err);
            BOOST_TEST(!has(result.err, "PRIVATE KEY"));
            BOOST_TEST(!fs::exists(out));
            BOOST_TEST(read_file(dir / "fit.itb") == good);
        }
    }
    // Nothing to sign: no signature node and no --key-name.
    temp_dir d2;
    fitpack_ok({"-o", (d2 / "plain.itb").string(), "--name", "t", "--arch", "arm64", "--os", "linux", "-k",
                in.kernel.string(), in.dtb1.string()});
    const auto nothing = fitpack({"sign", (d2 / "plain.itb").string(), "-o", (d2 / "o.itb").string(), "--key-dir",
                                  in.keys.string()});
    BOOST_TEST(nothing.exit_code == 1);
    BOOST_TEST(has(nothing.err, "nothing to sign"), nothing.err);
    BOOST_TEST(!fs::exists(d2 / "o.itb"));
}

BOOST_AUTO_TEST_CASE(payloads_stream_through) {
    // A 96 MiB embedded kernel is re-signed in a few MiB: the payload is
    // copied through in steps, never held (mkimage -F maps the whole FIT).
    const auto& in = inputs();
    temp_dir dir;
    write_file(dir / "big", random_bytes(96u << 20, 11));
    fitpack_ok({"-o", (dir / "in.itb").string(), "--name", "t", "--arch", "arm64", "--os", "linux", "-k",
                (dir / "big").string(), in.dtb1.string(), "--key-dir", in.keys.string(), "--key-name", "dev"});
    fs::remove(dir / "big");
    const auto r = run_ok({"/usr/bin/time", "-f", "maxrss=%M", fitpack_path, "sign", (dir / "in.itb").string(), "-o",
                           (dir / "out.itb").string(), "--key-dir", in.keys.string()});
    const auto at = r.err.rfind("maxrss=");
    BOOST_TEST_REQUIRE(at != std::string::npos, r.err);
    const long kib = std::stol(r.err.substr(at + 7));
#if defined(__SANITIZE_ADDRESS__)
    // ASan's shadow memory and quarantine make RSS no measure of fitpack's own.
    BOOST_TEST_MESSAGE("RSS bound not checked under AddressSanitizer: " << kib << " KiB");
#else
    BOOST_TEST(kib < 48 * 1024, "fitpack sign used " << kib << " KiB for a 96 MiB FIT");
#endif
    fitpack_ok({"verify", (dir / "out.itb").string()});
}

BOOST_AUTO_TEST_CASE(ecdsa_key_from_pem_as_mkimage) {
    // An ECDSA signature node finds KEYDIR/<hint>.pem, as mkimage -k does;
    // 2026.10's fit_check_sign verifies it (Debian's U-Boot has no ECDSA).
    const auto u = uboot_2026_dir();
    if (!u) {
        BOOST_TEST_MESSAGE("../shared/uboot-2026.10 absent: skipped");
        return;
    }
    temp_dir dir;
    fs::create_directories(dir / "k");
    run_ok({"openssl", "genpkey", "-quiet", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-out",
            (dir / "k" / "ec.pem").string()});
    std::string its = its_text();
    for (std::size_t at; (at = its.find("\"sha256,rsa2048\"; key-name-hint = \"dev\"")) != std::string::npos;)
        its.replace(at, 39, "\"sha256,ecdsa256\"; key-name-hint = \"ec\"");
    write_file(dir / "fit.its", its);
    run_ok({debian_mkimage, "-f", (dir / "fit.its").string(), (dir / "fit.itb").string()});
    write_file(dir / "c.dts", "/dts-v1/;\n/ { model = \"c\"; signature { }; };\n");
    compile_dts(dir / "c.dts", dir / "c.dtb");
    fitpack_ok({"sign", (dir / "fit.itb").string(), "--key-dir", (dir / "k").string(), "--key-dtb",
                (dir / "c.dtb").string(), "--required", "conf"});
    for (const auto& conf : {"conf-1", "conf-2"}) {
        const auto r = run({(*u / "fit_check_sign").string(), "-f", (dir / "fit.itb").string(), "-k",
                            (dir / "c.dtb").string(), "-c", conf});
        BOOST_TEST(r.exit_code == 0, conf << ": " << r.out << r.err);
    }
    fitpack_ok({"verify", (dir / "fit.itb").string(), "--key-dtb", (dir / "c.dtb").string()});
}
