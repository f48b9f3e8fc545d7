// SPDX-License-Identifier: MIT
//
// Encrypted images (sign/cipher.hpp): mkimage's `cipher` nodes.
//
//  - An image tree source with aes128, aes192 and aes256 images (named keys
//    and IVs, one payload gzip-compressed) built by `mkimage -f ITS -k KEYS
//    [-E] -K CTRL.dtb` (Debian's 2023.01, and 2026.10-rc2's from
//    ../shared/uboot-2026.10 when present) and by `fitpack mkimage` with
//    the same command line: the trees are equal, ciphertext included (under
//    -E the payload bytes too), and so are the two key DTBs' /cipher nodes.
//    Independently of mkimage: `openssl enc -d` with the key and IV gives the
//    payload back, data-size-unciphered is its size, and the sha256 hash
//    node is the digest of the ciphertext (what U-Boot checks before it
//    decrypts).
//  - Without iv-name-hint the random IV is stored in the cipher node (as
//    mkimage does under -K), and decrypts the data.
//  - The library (tree + write_fit): an image compressed with gzip and then
//    encrypted; decrypting and gunzipping gives the input; -j 1 and -j 2
//    give the same bytes.
//  - Sandbox U-Boot v2026.10 (CONFIG_FIT_CIPHER; skipped, saying why, where
//    ../shared/uboot-2026.10 is absent) verifies a configuration signature
//    covering the cipher nodes, decrypts the kernel and the fdt, decompresses
//    the kernel to its load address, and that equals the input; with a
//    control DTB lacking the key it refuses the image.
//  - Bad inputs: a missing key file, a key of the wrong length, an unknown
//    algo, no -k: exit 1, one line naming the file or node, no output
//    written, an existing output and key DTB untouched.

#define BOOST_TEST_MODULE encrypted images
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "fdt_compare.hpp"
#include "support.hpp"
#include "tools.hpp"
#include "uboot_sandbox.hpp"

#include <libfdt.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <vector>

using namespace fitstream_test;

namespace {

std::string hex_of(const std::string& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// A property's bytes, or nullopt when it is absent.
std::optional<std::string> prop(const std::string& blob, const std::string& node, const char* name) {
    std::vector<std::uint64_t> aligned((blob.size() + 7) / 8);
    std::memcpy(aligned.data(), blob.data(), blob.size());
    const int at = fdt_path_offset(aligned.data(), node.c_str());
    if (at < 0) return std::nullopt;
    int len = 0;
    const void* value = fdt_getprop(aligned.data(), at, name, &len);
    if (!value) return std::nullopt;
    return std::string(static_cast<const char*>(value), static_cast<std::size_t>(len));
}

// An image's stored bytes, embedded or external (-E: after the FDT,
// 4-byte aligned, at data-offset).
std::string stored(const std::string& fit, const std::string& image) {
    const std::string node = "/images/" + image;
    if (const auto data = prop(fit, node, "data")) return *data;
    const auto offset = prop(fit, node, "data-offset");
    const auto size = prop(fit, node, "data-size");
    BOOST_REQUIRE(offset && size);
    const std::uint64_t base = align_up(be32(fit, 4), 4);
    return fit.substr(static_cast<std::size_t>(base + be32(*offset, 0)), be32(*size, 0));
}

std::string decrypt(const std::string& algo, const std::string& key, const std::string& iv,
                    const std::string& ciphertext, const temp_dir& dir) {
    write_file(dir / "ct.bin", ciphertext);
    return tool({"openssl", "enc", "-d", "-aes-" + algo.substr(3) + "-cbc", "-K", hex_of(key), "-iv", hex_of(iv),
                 "-in", (dir / "ct.bin").string()});
}

std::string sha256_of(const std::string& bytes) {
    // openssl dgst -binary: an independent digest.
    return tool({"openssl", "dgst", "-sha256", "-binary"}, bytes);
}

struct image_case {
    const char* name;
    const char* algo;
    std::size_t key_size;
    const char* compression;
};
const image_case cases[] = {
    {"kernel", "aes256", 32, "gzip"},
    {"fdt-1", "aes128", 16, "none"},
    {"ramdisk", "aes192", 24, "none"},
};

// A key directory and payloads for `cases`; the .its names IVs only when
// `named_iv`.
struct workspace {
    temp_dir dir;
    std::string plain_kernel;

    explicit workspace(bool named_iv = true, bool sign = false) {
        fs::create_directories(dir / "keys");
        for (const auto& c : cases)
            write_file(dir / "keys" / (std::string("key-") + c.algo + ".bin"), random_bytes(c.key_size, c.key_size));
        write_file(dir / "keys" / "iv.bin", random_bytes(16, 99));
        plain_kernel = kernel_like_payload(70001, 7);
        write_file(dir / "kernel.bin", plain_kernel);
        tool({"gzip", "-n", "-9", "-k", (dir / "kernel.bin").string()});
        // A control DTB to give -K (sandbox U-Boot's own when present), and
        // a DTB payload.
        if (const auto u = uboot_2026_dir())
            write_file(dir / "base.dtb", read_file(*u / "sandbox-ctrl.dtb"));
        else
            run_ok({"dtc", "-I", "dts", "-O", "dtb", "-o", (dir / "base.dtb").string(), "-"},
                   "/dts-v1/;\n/ { model = \"test\"; compatible = \"test\"; };\n");
        write_file(dir / "fdt.dtb", read_file(dir / "base.dtb"));
        write_file(dir / "ramdisk.bin", random_bytes(12345, 5));
        if (sign) {
            tool({"openssl", "genrsa", "-out", (dir / "keys" / "dev.key").string(), "2048"});
            tool({"openssl", "req", "-batch", "-new", "-x509", "-key", (dir / "keys" / "dev.key").string(), "-out",
                  (dir / "keys" / "dev.crt").string(), "-subj", "/CN=dev"});
        }
        std::string its = "/dts-v1/;\n/ {\n\tdescription = \"encrypted\";\n\t#address-cells = <1>;\n\timages {\n";
        const char* files[] = {"kernel.bin.gz", "fdt.dtb", "ramdisk.bin"};
        const char* types[] = {"kernel", "flat_dt", "ramdisk"};
        for (std::size_t i = 0; i < 3; ++i) {
            const auto& c = cases[i];
            its += std::string("\t\t") + c.name + " {\n\t\t\tdescription = \"" + c.name + "\";\n\t\t\tdata = /incbin/(\"" +
                   files[i] + "\");\n\t\t\ttype = \"" + types[i] + "\";\n\t\t\tarch = \"sandbox\";\n";
            if (i != 1) its += "\t\t\tos = \"linux\";\n";
            if (i == 0) its += "\t\t\tload = <0x4000000>;\n\t\t\tentry = <0x4000000>;\n";
            its += std::string("\t\t\tcompression = \"") + c.compression + "\";\n" +
                   "\t\t\thash-1 { algo = \"sha256\"; };\n" + "\t\t\tcipher {\n\t\t\t\talgo = \"" + c.algo +
                   "\";\n\t\t\t\tkey-name-hint = \"key-" + c.algo + "\";\n" +
                   (named_iv ? "\t\t\t\tiv-name-hint = \"iv\";\n" : "") + "\t\t\t};\n\t\t};\n";
        }
        its += "\t};\n\tconfigurations {\n\t\tdefault = \"conf-1\";\n\t\tconf-1 {\n\t\t\tdescription = \"c\";\n"
               "\t\t\tkernel = \"kernel\";\n\t\t\tfdt = \"fdt-1\";\n\t\t\tramdisk = \"ramdisk\";\n";
        if (sign)
            its += "\t\t\tsignature-1 {\n\t\t\t\talgo = \"sha256,rsa2048\";\n\t\t\t\tkey-name-hint = \"dev\";\n"
                   "\t\t\t\tsign-images = \"kernel\", \"fdt\", \"ramdisk\";\n\t\t\t};\n";
        its += "\t\t};\n\t};\n};\n";
        write_file(dir / "image.its", its);
    }

    std::string key(const image_case& c) const {
        return read_file(dir / "keys" / (std::string("key-") + c.algo + ".bin"));
    }
    std::string payload(std::size_t i) const {
        const char* files[] = {"kernel.bin.gz", "fdt.dtb", "ramdisk.bin"};
        return read_file(dir / files[i]);
    }
    fs::path ctrl_copy(const std::string& name) const {
        const fs::path to = dir / name;
        write_file(to, read_file(dir / "base.dtb"));
        return to;
    }
};

std::vector<std::string> mkimages() {
    std::vector<std::string> out{"mkimage"};
    if (const auto u = uboot_2026_dir()) out.push_back((*u / "mkimage").string());
    return out;
}

// The checks that need no other tool's output: each image decrypts to its
// payload, data-size-unciphered is its size, its hash is the ciphertext's.
void check_images(const workspace& w, const std::string& fit, const temp_dir& scratch, bool iv_in_fit) {
    for (std::size_t i = 0; i < 3; ++i) {
        const auto& c = cases[i];
        BOOST_TEST_CONTEXT("image " << c.name) {
            const std::string node = std::string("/images/") + c.name;
            const std::string ct = stored(fit, c.name);
            const std::string plain = w.payload(i);
            BOOST_TEST(ct.size() == (plain.size() / 16 + 1) * 16);
            const auto iv = iv_in_fit ? prop(fit, node + "/cipher", "iv") : std::optional<std::string>(read_file(w.dir / "keys" / "iv.bin"));
            BOOST_REQUIRE(iv);
            BOOST_TEST(iv->size() == 16u);
            BOOST_TEST((decrypt(c.algo, w.key(c), *iv, ct, scratch) == plain));
            const auto unciphered = prop(fit, node, "data-size-unciphered");
            BOOST_REQUIRE(unciphered);
            BOOST_TEST(be32(*unciphered, 0) == plain.size());
            BOOST_TEST((prop(fit, node + "/hash-1", "value") == sha256_of(ct)));
            BOOST_TEST((prop(fit, node + "/cipher", "algo") == std::string(c.algo) + '\0'));
        }
    }
}

}  // namespace

BOOST_AUTO_TEST_CASE(same_fit_and_key_dtb_as_mkimage) {
    for (const auto& mkimage : mkimages()) {
        for (const bool external : {false, true}) {
            BOOST_TEST_CONTEXT(mkimage << (external ? " -E" : "")) {
                workspace w;
                const std::vector<std::string> layout = external ? std::vector<std::string>{"-E"} : std::vector<std::string>{};
                const fs::path ref_dtb = w.ctrl_copy("ref.dtb"), our_dtb = w.ctrl_copy("our.dtb");
                // Both run in the workspace: the .its names its files relative to it.
                run_ok(std::vector<std::string>{"env", "-C", w.dir.path().string(), mkimage} + layout +
                           std::vector<std::string>{"-f", "image.its", "-k", "keys", "-K", ref_dtb.string(), "ref.fit"},
                       {}, {epoch_env});
                fitpack_run how;
                how.cwd = w.dir.path();
                fitpack_ok(std::vector<std::string>{"mkimage"} + layout +
                               std::vector<std::string>{"-f", "image.its", "-k", "keys", "-K", our_dtb.string(), "our.fit"},
                           how);
                const std::string ref = read_file(w.dir / "ref.fit"), ours = read_file(w.dir / "our.fit");
                BOOST_TEST(fdt_first_difference(ref, ours, fit_tool_properties, "/", "mkimage", "fitpack") == "");
                for (const auto& c : cases) BOOST_TEST((stored(ref, c.name) == stored(ours, c.name)));
                BOOST_TEST(fdt_first_difference(read_file(ref_dtb), read_file(our_dtb), {}, "/cipher", "mkimage -K",
                                                "fitpack -K") == "");
                check_images(w, ours, w.dir, false);
                // The key node as U-Boot looks it up.
                BOOST_TEST((prop(read_file(our_dtb), "/cipher/key-aes256-key-aes256-iv", "key") == w.key(cases[0])));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(random_iv_is_stored_in_the_cipher_node) {
    workspace w(false);
    const fs::path ref_dtb = w.ctrl_copy("ref.dtb"), our_dtb = w.ctrl_copy("our.dtb");
    // mkimage stores the random IV only under -K; fitpack always does.
    run_ok({"env", "-C", w.dir.path().string(), "mkimage", "-f", "image.its", "-k", "keys", "-K", ref_dtb.string(),
            "ref.fit"},
           {}, {epoch_env});
    fitpack_run how;
    how.cwd = w.dir.path();
    fitpack_ok({"mkimage", "-f", "image.its", "-k", "keys", "-K", our_dtb.string(), "our.fit"}, how);
    fitpack_ok({"mkimage", "-f", "image.its", "-k", "keys", "nodtb.fit"}, how);
    const auto iv_differs = [](const std::string& path, const std::string& name) {
        return name == "iv" || fit_tool_properties(path, name) || name == "data" || name == "value";
    };
    BOOST_TEST(fdt_first_difference(read_file(w.dir / "ref.fit"), read_file(w.dir / "our.fit"), iv_differs, "/",
                                    "mkimage", "fitpack") == "");
    BOOST_TEST(fdt_first_difference(read_file(ref_dtb), read_file(our_dtb), {}, "/cipher") == "");
    const std::string ours = read_file(w.dir / "our.fit"), nodtb = read_file(w.dir / "nodtb.fit");
    check_images(w, ours, w.dir, true);
    check_images(w, nodtb, w.dir, true);
    BOOST_TEST((prop(ours, "/images/kernel/cipher", "iv") != prop(nodtb, "/images/kernel/cipher", "iv")));
}

BOOST_AUTO_TEST_CASE(library_compresses_then_encrypts) {
    workspace w;
    fitstream::tree fit;
    fit.description = "library";
    auto& kernel = fit.images.emplace_back("kernel", "kernel", fitstream::source::file((w.dir / "kernel.bin").string()));
    kernel.arch = "sandbox";
    kernel.os = "linux";
    kernel.load = 0x4000000;
    kernel.entry = 0x4000000;
    kernel.compress_with<fitstream::codec::gzip>();
    kernel.add_hash<fitstream::hash::sha256>();
    kernel.encrypt_with(fitstream::cipher_spec{"aes256", "key-aes256", "", (w.dir / "keys").string()});
    fit.configurations.push_back({"conf-1", "c", {}, "kernel", {}, "", {}, {}});
    fit.default_configuration = "conf-1";
    for (const unsigned threads : {1u, 2u}) {
        fitstream::write_options options;
        options.threads = threads;
        fitstream::write_fit(fit, (w.dir / ("lib" + std::to_string(threads) + ".fit")).string(), options);
    }
    const std::string one = read_file(w.dir / "lib1.fit");
    BOOST_TEST((one == read_file(w.dir / "lib2.fit")));
    const std::string ct = stored(one, "kernel");
    const auto iv = prop(one, "/images/kernel/cipher", "iv");
    BOOST_REQUIRE(iv);
    const std::string gz = decrypt("aes256", w.key(cases[0]), *iv, ct, w.dir);
    BOOST_TEST(be32(*prop(one, "/images/kernel", "data-size-unciphered"), 0) == gz.size());
    BOOST_TEST((tool({"gzip", "-dc"}, gz) == w.plain_kernel));
    BOOST_TEST((prop(one, "/images/kernel/hash-1", "value") == sha256_of(ct)));
    // fitpack verify checks the hashes over the ciphertext and says the
    // image is encrypted where it would decode it.
    BOOST_TEST(fitpack({"verify", (w.dir / "lib1.fit").string()}).exit_code == 0);
    const auto extract = fitpack({"extract", (w.dir / "lib1.fit").string(), "kernel", "-o", (w.dir / "k.out").string()});
    BOOST_TEST(extract.exit_code != 0);
    BOOST_TEST(has(extract.err, "encrypted (aes256"), extract.err);
}

BOOST_AUTO_TEST_CASE(sandbox_uboot_decrypts_and_boots) {
    const auto u = uboot_2026_dir();
    if (!u) {
        BOOST_TEST_MESSAGE("skipped: ../shared/uboot-2026.10 (sandbox U-Boot with CONFIG_FIT_CIPHER) is absent");
        return;
    }
    workspace w(false, true);
    const fs::path ctrl = w.ctrl_copy("ctrl.dtb");
    fitpack_run how;
    how.cwd = w.dir.path();
    fitpack_ok({"mkimage", "-f", "image.its", "-k", "keys", "-K", ctrl.string(), "-r", "boot.fit"}, how);
    BOOST_TEST(has(fdtget(w.dir / "boot.fit", "/configurations/conf-1/signature-1", "hashed-nodes"),
                   "/images/kernel/hash-1 /images/kernel/cipher"));
    // fitpack's own verifier accepts the signature over the cipher nodes.
    BOOST_TEST(fitpack({"verify", "--key-dtb", ctrl.string(), (w.dir / "boot.fit").string()}).exit_code == 0);
    const std::string commands = "load hostfs - 0x1000000 " + (w.dir / "boot.fit").string() +
                                 "; load hostfs - 0x8000000 " + (w.dir / "kernel.bin").string() +
                                 "; bootm start 0x1000000#conf-1; echo START=$?; bootm loados; echo LOADOS=$?; "
                                 "cmp.b 0x4000000 0x8000000 $filesize; echo CMP=$?";
    const auto r = run_uboot_sandbox(*u, commands, ctrl);
    BOOST_TEST(has(r.out, "sha256,rsa2048:dev+"), r.out);
    BOOST_TEST(has(r.out, "Decrypting Data ... OK"), r.out);
    BOOST_TEST(has(r.out, "START=0"), r.out);
    BOOST_TEST(has(r.out, "LOADOS=0"), r.out);
    BOOST_TEST(has(r.out, "CMP=0"), r.out);
    // The same FIT with U-Boot's own control DTB, which has no cipher key:
    // it cannot decrypt it.
    const fs::path no_key = w.ctrl_copy("nokey.dtb");
    const auto bad = run_uboot_sandbox(*u, "load hostfs - 0x1000000 " + (w.dir / "boot.fit").string() +
                                               "; bootm start 0x1000000#conf-1; echo START=$?", no_key);
    BOOST_TEST(!has(bad.out, "START=0"), bad.out);
}

BOOST_AUTO_TEST_CASE(bad_inputs_fail_with_one_line_and_write_nothing) {
    struct bad {
        const char* what;
        std::function<void(workspace&)> spoil;
        std::vector<std::string> extra;  // arguments instead of -k keys
        const char* names;               // the message names this
    };
    const std::vector<bad> rows = {
        {"missing key file", [](workspace& w) { fs::remove(w.dir / "keys" / "key-aes192.bin"); }, {"-k", "keys"},
         "keys/key-aes192.bin"},
        {"key of the wrong length", [](workspace& w) { write_file(w.dir / "keys" / "key-aes128.bin", std::string(17, 'k')); },
         {"-k", "keys"}, "keys/key-aes128.bin"},
        {"IV of the wrong length", [](workspace& w) { write_file(w.dir / "keys" / "iv.bin", std::string(15, 'i')); },
         {"-k", "keys"}, "keys/iv.bin"},
        {"unknown algo",
         [](workspace& w) {
             std::string its = read_file(w.dir / "image.its");
             its.replace(its.find("\"aes192\""), 8, "\"aes512\"");
             write_file(w.dir / "image.its", its);
         },
         {"-k", "keys"}, "aes512"},
        {"no key directory", [](workspace&) {}, {}, "/images/kernel/cipher"},
    };
    for (const auto& row : rows) {
        BOOST_TEST_CONTEXT(row.what) {
            workspace w;
            row.spoil(w);
            const fs::path ctrl = w.ctrl_copy("ctrl.dtb");
            const std::string dtb_before = read_file(ctrl);
            write_file(w.dir / "old.fit", "previous FIT");
            fitpack_run how;
            how.cwd = w.dir.path();
            const auto r = fitpack(std::vector<std::string>{"mkimage", "-f", "image.its"} + row.extra +
                                       (row.extra.empty() ? std::vector<std::string>{} : std::vector<std::string>{"-K", ctrl.string()}) +
                                       std::vector<std::string>{"new.fit"},
                                   how);
            BOOST_TEST(r.exit_code == 1, r.err);
            BOOST_TEST(lines_of(r.err).size() == 1u, r.err);
            BOOST_TEST(has(r.err, row.names), r.err);
            BOOST_TEST(!fs::exists(w.dir / "new.fit"));
            BOOST_TEST(read_file(ctrl) == dtb_before);
            // The same into an existing output: it stays as it was.
            const auto again = fitpack(std::vector<std::string>{"mkimage", "-f", "image.its"} + row.extra +
                                           std::vector<std::string>{"old.fit"},
                                       how);
            BOOST_TEST(again.exit_code == 1);
            BOOST_TEST(read_file(w.dir / "old.fit") == "previous FIT");
            // No key material in what is said.
            for (const auto& c : cases)
                if (fs::exists(w.dir / "keys" / (std::string("key-") + c.algo + ".bin")))
                    BOOST_TEST(!has(r.err, hex_of(w.key(c))));
        }
    }
}
