// SPDX-License-Identifier: MIT
#pragma once

// fitpack's image tree source mode: `fitpack -f image.its [-o] image.fit`
// and `fitpack mkimage ARGS...`, which takes a mkimage FIT command line
// unchanged. Both are parsed with getopt_long, as mkimage parses its own,
// so clustered flags (-Ef), attached values (-B0x1000) and options after
// the output behave alike. The one difference: in `fitpack -f` mode -o is
// the output, as everywhere in fitpack, and the signing algorithm is
// --sign-algo; under `fitpack mkimage` -o is mkimage's algorithm and the
// output is the last argument.
//
// A run: parse -> compile the source with dtc (payloads unread) -> check and
// plan (keys loaded, structure laid out) -> stage the key DTB -> write the
// FIT in one pass -> rename the key DTB into place.

#include "auto_its.hpp"
#include "exit_status.hpp"
#include "outputs.hpp"
#include "validators.hpp"

#include <fitstream/fitstream.hpp>

#include <getopt.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fitpack {

/// What an image tree source command line asks for.
struct its_arguments {
    std::string source;  // -f
    std::string output;  // -o (fitpack -f) or the last argument
    bool external = false;
    std::optional<std::uint64_t> align;     // -B
    std::optional<std::uint64_t> position;  // -p
    std::vector<std::string> include_dirs;  // -I, and -i inside -D
    std::vector<std::string> dtc_args;      // the rest of -D
    fitstream::its::build_options build;
    std::string key_dtb;  // -K
    std::string engine;    // -N: "pkcs11" (keys in a PKCS#11 token)
    std::string pin_file;  // --pin-file: the token's PIN
    unsigned threads = 0;
    std::size_t memory_budget = 0;  // --memory-budget (0: the writer's default)
    bool verbose = false;
    auto_fit_arguments auto_fit;  // -f auto
    bool help = false;
};

/// `fitpack -f --help`.
inline const char* its_help =
    "Usage: fitpack -f IMAGE.its [OPTIONS] -o FIT     (or FIT last, as mkimage)\n"
    "       fitpack mkimage MKIMAGE-ARGS...            (mkimage's FIT command line, unchanged: -o is the algo)\n"
    "Builds the FIT an image tree source describes, as mkimage -f does, in one pass: /incbin/ payloads\n"
    "are streamed, never loaded whole.\n"
    "\n"
    "  -f FILE|auto       the image tree source; auto: mkimage's automatic FIT (options below)\n"
    "  -o, --output FILE  the FIT (fitpack -f only), or - for standard output\n"
    "  -E, --external     place image data after the FIT structure\n"
    "  -B HEX             align external data to HEX bytes, at most 40000000 (fitpack -f: implies -E)\n"
    "  -p HEX             place external data at file offset HEX, data-position (fitpack -f: implies -E)\n"
    "  -k DIR             sign every signature node with DIR/<key-name-hint>.key, and encrypt\n"
    "                     every image with a cipher node with DIR/<key-name-hint>.bin (AES-CBC)\n"
    "  -G FILE            sign with this key file instead\n"
    "  -K DTB             add the public keys to this control DTB (/signature/key-NAME), and the\n"
    "                     cipher keys (/cipher/key-ALGO-NAME[-IV]: secret, keep the DTB private)\n"
    "  -r                 mark those keys required\n"
    "  -N pkcs11          keys in a PKCS#11 token: -k names the token ('token=T', mkimage's spelling), each\n"
    "                     signature's key-name-hint its object; or -G 'pkcs11:token=T;object=O'\n"
    "  --pin-file FILE    the token's PIN: the first line of FILE (default: $FITPACK_PKCS11_PIN)\n"
    "  -c TEXT            a comment in every new signature\n"
    "  --sign-algo ALGO   sign with ALGO, e.g. sha256,rsa2048 (mkimage's -o)\n"
    "  -D \"DTC OPTS\"      dtc options: -i DIR is honoured\n"
    "  -I, --include DIR  search DIR for /include/ and /incbin/ files\n"
    "  -j, --jobs N       worker threads (default: one per core)\n"
    "  --memory-budget SIZE  buffered data and codec state held at once, e.g. 64M (K, M or G; default:\n"
    "                     16 MiB of buffered data and the codec state the encoders need)\n"
    "  --compress-images  compress a plain payload whose node declares a codec, in U-Boot's container\n"
    "  --allow-compression-mismatch  store a payload that does not match its compression anyway\n"
    "  -t, -q             accepted and ignored, as mkimage\n"
    "  -v, --verbose      a summary line on standard error\n"
    "  -h, --help         this help\n"
    "With -f auto (mkimage's automatic FIT: one image, one configuration per DTB):\n"
    "  -d FILE            the image, stored as it is\n"
    "  -T TYPE            its type: kernel (default), kernel_noload, standalone, firmware, ramdisk, script, filesystem\n"
    "  -C COMP            the compression it already has (default: none)\n"
    "  -A ARCH            architecture, e.g. arm64 (required)\n"
    "  -O OS              operating system (default: linux)\n"
    "  -a HEX, -e HEX     load address and entry point (default: 0, and the load address)\n"
    "  -n NAME            the image's description\n"
    "  -b DTB             a devicetree blob: an fdt image and a configuration (repeatable)\n"
    "  -i RAMDISK         a ramdisk, in every configuration\n"
    "  -g NAME            key-name-hint: with -k or -G and -o/--sign-algo, signatures instead of crc32 hashes\n"
    "Not yet: -F (re-sign an existing FIT); -N engines other than pkcs11.\n"
    "SOURCE_DATE_EPOCH sets the timestamps.\n";

/// True when `args` is an image tree source command line: `mkimage ...`, or
/// one with -f (which make_fit.py's command line does not have).
inline bool is_its_mode(const std::vector<std::string>& args) {
    if (!args.empty() && args.front() == "mkimage") return true;
    // -f alone, with its value attached (-fimage.its), or last in a cluster
    // of mkimage's flags (-Ef).
    for (const auto& a : args) {
        if (a == "--") break;
        if (a.size() < 2 || a[0] != '-' || a[1] == '-') continue;
        const auto f = a.find_first_not_of("Etqv", 1);  // not r: make_fit.py's -r takes a value
        if (f != std::string::npos && a[f] == 'f') return true;
    }
    return false;
}

namespace detail {

// mkimage looks image, arch, os and compression names up case-blind.
inline std::string lower(std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

inline std::uint64_t hex_value(const char* text, const std::string& option) {
    // mkimage reads -B and -p as hexadecimal, with or without 0x.
    const std::string s(text);
    std::size_t at = (s.rfind("0x", 0) == 0 || s.rfind("0X", 0) == 0) ? 2 : 0;
    if (at == s.size()) throw usage_error(option + ": '" + s + "' is not a hexadecimal number");
    std::uint64_t value = 0;
    for (; at < s.size(); ++at) {
        const char c = s[at];
        const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (digit < 0) throw usage_error(option + ": '" + s + "' is not a hexadecimal number");
        if (value > (UINT64_MAX >> 4)) throw usage_error(option + ": '" + s + "' is out of range");
        value = value << 4 | static_cast<unsigned>(digit);
    }
    return value;
}

// mkimage's -D: options for dtc. Include directories are fitstream's to
// search (it resolves every /include/ and /incbin/ itself); the input and
// output formats and files are its own; everything else goes to dtc as
// given, so options that change the tree (-@, -A, -H, -L, -s) and padding
// or warning options behave as under mkimage, and dtc refuses what it
// does not know.
inline void apply_dtc_options(const std::string& text, its_arguments& a) {
    std::istringstream words(text);
    std::vector<std::string> w{std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
    for (std::size_t i = 0; i < w.size(); ++i) {
        const std::string& o = w[i];
        const auto value = [&]() -> std::string {
            if (i + 1 >= w.size()) throw usage_error("-D: dtc option " + o + " needs a value");
            return w[++i];
        };
        if (o == "-i" || o == "--include") a.include_dirs.push_back(value());
        else if (o.rfind("-i", 0) == 0 && o.size() > 2) a.include_dirs.push_back(o.substr(2));
        else if (o.rfind("--include=", 0) == 0) a.include_dirs.push_back(o.substr(10));
        else if (o == "-I" || o == "-O" || o == "-o" || o == "-d" || o == "--in-format" || o == "--out-format" ||
                 o == "--out" || o == "--out-dependency")
            (void)value();
        else if ((o.size() > 2 && (o.rfind("-I", 0) == 0 || o.rfind("-O", 0) == 0 || o.rfind("-o", 0) == 0 ||
                                   o.rfind("-d", 0) == 0)) ||
                 o.rfind("--in-format=", 0) == 0 || o.rfind("--out-format=", 0) == 0 || o.rfind("--out=", 0) == 0 ||
                 o.rfind("--out-dependency=", 0) == 0)
            continue;
        else
            a.dtc_args.push_back(o);
    }
}

}  // namespace detail

/// Parses an image tree source command line (`args` without a leading
/// "mkimage", and `mkimage` true for mkimage's own spelling).
/// @throws usage_error for what mkimage would not take, or a mode that does
///         not build a FIT, naming it
inline its_arguments parse_its_arguments(std::vector<std::string> args, bool mkimage) {
    its_arguments a;
    // Help wins wherever it is (even as -f's value: `fitpack -f --help`).
    for (const auto& arg : args)
        if (arg == "--help" || arg == "-h") {
            a.help = true;
            return a;
        }
    enum long_only { sign_algo = 1000, compress_images, allow_mismatch, include_dir, help, output, pin_file, memory_budget };
    static const option long_options[] = {
        // --output is the output in both spellings (mkimage's -o is the algo).
        {"output", required_argument, nullptr, output},
        {"sign-algo", required_argument, nullptr, sign_algo},
        {"compress-images", no_argument, nullptr, compress_images},
        {"memory-budget", required_argument, nullptr, memory_budget},
        {"allow-compression-mismatch", no_argument, nullptr, allow_mismatch},
        {"include", required_argument, nullptr, include_dir},
        {"jobs", required_argument, nullptr, 'j'},
        {"verbose", no_argument, nullptr, 'v'},
        {"external", no_argument, nullptr, 'E'},
        {"help", no_argument, nullptr, help},
        {"pin-file", required_argument, nullptr, pin_file},
        {nullptr, 0, nullptr, 0}};
    // mkimage 2023.01's short options, and fitpack's -I and -j.
    const char* short_options = ":a:A:b:B:c:C:d:D:e:Ef:FG:g:i:I:j:k:K:ln:N:o:O:p:qrR:sStT:vVx";
    std::vector<char*> argv;
    std::string program = mkimage ? "fitpack mkimage" : "fitpack";
    argv.push_back(program.data());
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    opterr = 0;
    optind = 0;  // GNU: start afresh
    bool auto_fit_option = false;
    for (;;) {
        const int c = getopt_long(static_cast<int>(argv.size() - 1), argv.data(), short_options, long_options, nullptr);
        if (c == -1) break;
        const std::string value = optarg ? optarg : "";
        switch (c) {
            case 'f': a.source = value; break;
            case 'E': a.external = true; break;
            // 0 means unset, as in mkimage: U-Boot's own build passes
            // -p $(CONFIG_FIT_EXTERNAL_OFFSET), 0 by default.
            case 'B':
                a.align = detail::hex_value(optarg, "-B");
                if (*a.align == 0) a.align.reset();
                break;
            case 'p':
                a.position = detail::hex_value(optarg, "-p");
                if (*a.position == 0) a.position.reset();
                break;
            case 'k': a.build.key_dir = value; break;
            case 'G': a.build.key_file = value; break;
            case 'K': a.key_dtb = value; break;
            case 'r': a.build.require_keys = true; break;
            case 'c': a.build.comment = value; break;
            case 'o':
                if (mkimage) a.build.algo = value;
                else a.output = value;
                break;
            case output: a.output = value; break;
            case sign_algo: a.build.algo = value; break;
            case compress_images: a.build.compress_images = true; break;
            case memory_budget: {
                const auto n = parse_size(value);
                if (!n || *n == 0 || *n > SIZE_MAX)
                    throw usage_error("--memory-budget must be a size such as 64M (bytes, or a number with K, M or G), not '" +
                                      value + "'");
                a.memory_budget = static_cast<std::size_t>(*n);
                break;
            }
            case allow_mismatch: a.build.allow_compression_mismatch = true; break;
            case 'I':
            case include_dir: a.include_dirs.push_back(value); break;
            case 'D': detail::apply_dtc_options(value, a); break;
            case 'j': {
                const auto n = parse_unsigned(value);
                if (!n || *n > 1024) throw usage_error("-j/--jobs: '" + value + "' is not a thread count (0 to 1024)");
                a.threads = static_cast<unsigned>(*n);
                break;
            }
            case 't': break;  // the timestamp is always set with -f, as mkimage does
            case 'q': break;
            case 'v': a.verbose = true; break;
            case 'g': a.auto_fit.key_name_hint = value; break;  // -f auto only: an .its names its own
            case 'F':
                throw usage_error("-F (re-signing an existing FIT) is not supported yet; sign while building with -k");
            case 'N':
                if (value != "pkcs11")
                    throw usage_error("-N " + value + ": the only signing engine supported is pkcs11 (keys in a PKCS#11 token)");
                a.engine = value;
                break;
            case pin_file: a.pin_file = value; break;
            case 'l': throw usage_error("-l lists an image: that is 'fitpack list FIT'");
            case 'x': throw usage_error("-x (execute in place) makes a legacy image, not a FIT");
            case 's': case 'S': case 'R':
                throw usage_error(std::string("-") + static_cast<char>(c) + " is not a FIT option");
            // -f auto's inputs (mkimage ignores them with an .its).
            case 'a': a.auto_fit.load = detail::hex_value(optarg, "-a"); auto_fit_option = true; break;
            case 'e': a.auto_fit.entry = detail::hex_value(optarg, "-e"); auto_fit_option = true; break;
            case 'A': a.auto_fit.arch = detail::lower(value); auto_fit_option = true; break;
            case 'O': a.auto_fit.os = detail::lower(value); auto_fit_option = true; break;
            case 'T': a.auto_fit.type = detail::lower(value); auto_fit_option = true; break;
            case 'C': a.auto_fit.compression = detail::lower(value); auto_fit_option = true; break;
            case 'n': a.auto_fit.name = value; auto_fit_option = true; break;
            case 'd': a.auto_fit.data = value; auto_fit_option = true; break;
            case 'b': a.auto_fit.dtbs.push_back(value); auto_fit_option = true; break;
            case 'i': a.auto_fit.ramdisk = value; auto_fit_option = true; break;
            case 'V': throw usage_error("-V: use 'fitpack --version'");
            case help: a.help = true; return a;
            case ':': {
                std::string name = std::string("-") + static_cast<char>(optopt);
                for (const option* o = long_options; o->name; ++o)
                    if (o->val == optopt && optopt >= 256) name = std::string("--") + o->name;
                throw usage_error("option " + name + " needs a value");
            }
            default:
                if (optopt) throw usage_error(std::string("unknown option -") + static_cast<char>(optopt));
                throw usage_error("unknown option " + std::string(argv[static_cast<std::size_t>(optind) - 1]));
        }
    }
    std::vector<std::string> rest(argv.begin() + optind, argv.end() - 1);
    if (a.source.empty()) {
        if (auto_fit_option && !mkimage) throw usage_error("no -f: fitpack builds a FIT from an image tree source");
        throw usage_error(auto_fit_option ? "this mkimage command line makes a legacy (uImage) image, not a FIT: "
                                            "fitpack mkimage builds FITs only (-f)"
                                          : "no -f IMAGE.its: nothing to build");
    }
    if (!rest.empty()) {
        if (rest.size() > 1 || !a.output.empty())
            throw usage_error("one output only (got '" + rest.back() + "' and '" +
                              (a.output.empty() ? rest.front() : a.output) + "')");
        a.output = rest.front();
    }
    if (a.output.empty()) throw usage_error("no output FIT named");
    if (a.engine == "pkcs11") {
        // mkimage's spelling: -k names the token (without "pkcs11:", which
        // mkimage adds), the key-name-hint the object; no -k: any token.
        if (!a.build.key_file.empty() && !fitstream::is_token_uri(a.build.key_file))
            throw usage_error("-N pkcs11: -G must be a pkcs11: URI, not a key file");
        if (a.build.key_file.empty())
            a.build.key_dir = fitstream::is_token_uri(a.build.key_dir) ? a.build.key_dir : "pkcs11:" + a.build.key_dir;
    }
    if (!a.pin_file.empty() && !fitstream::is_token_uri(a.build.key_dir) && !fitstream::is_token_uri(a.build.key_file))
        throw usage_error("--pin-file needs a key in a token (-N pkcs11, or -G 'pkcs11:...')");
    if (!a.key_dtb.empty() && a.build.key_dir.empty() && a.build.key_file.empty())
        throw usage_error("-K needs -k KEYDIR or -G KEY (keys to sign with)");
    return a;
}

namespace detail {

// A generated image tree source in a temporary file, removed with it.
class temporary_its {
public:
    explicit temporary_its(const std::string& text) {
        const char* dir = std::getenv("TMPDIR");
        path_ = std::string(dir && *dir ? dir : "/tmp") + "/fitpack-auto-XXXXXX.its";
        const int fd = ::mkstemps(path_.data(), 4);
        if (fd < 0) throw fitstream::error(std::error_code(errno, std::generic_category()), path_, "cannot create");
        const fitstream::detail::unique_fd owned(fd);
        slot_ = fitstream::detail::register_temporary(path_);  // removed on SIGINT/SIGTERM too
        fitstream::detail::pwrite_all(fd, text.data(), text.size(), 0, path_);
    }
    temporary_its(const temporary_its&) = delete;
    temporary_its& operator=(const temporary_its&) = delete;
    ~temporary_its() {
        fitstream::detail::unregister_temporary(slot_);
        ::unlink(path_.c_str());
    }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    int slot_ = -1;
};

}  // namespace detail

/// Builds the FIT `args` describes. @returns the exit status
inline int run_its_mode(std::vector<std::string> args) {
    const bool mkimage = !args.empty() && args.front() == "mkimage";
    if (mkimage) args.erase(args.begin());
    its_arguments a = parse_its_arguments(std::move(args), mkimage);
    if (a.help) {
        std::cout << its_help;
        return exit_ok;
    }

    fitstream::write_options write;
    write.threads = a.threads;
    if (a.memory_budget) write.memory_budget = a.memory_budget;
    // mkimage ignores -B and -p without -E; fitpack's own spelling takes
    // either to mean external data, as its Kbuild command line does.
    if (!mkimage && (a.align || a.position)) a.external = true;
    if (a.external) {
        // Checked before the source is compiled or anything is allocated
        // (as mkimage, both are ignored without -E).
        write.layout.layout = fitstream::data_layout::external;
        if (a.align) {
            check_alignment(*a.align, "-B");
            write.layout.align = static_cast<std::uint32_t>(*a.align);
        }
        if (a.position) check_data_position(*a.position, "-p");
        write.layout.position = a.position;
    }
    a.build.timestamp = fitstream::source_date_epoch();
    // Token keys are opened while the source is planned: their PIN file.
    fitstream::default_token_options().pin_file = a.pin_file;

    fitstream::its::compile_options compile;
    compile.include_dirs = a.include_dirs;
    compile.dtc_args = a.dtc_args;
    fitstream::its::compiled_source source;
    if (a.source == "auto") {
        // mkimage -f auto: the source it would build, built the same way;
        // the generated file lives only while dtc reads it.
        a.auto_fit.signing = !a.build.key_dir.empty() || !a.build.key_file.empty();
        a.auto_fit.algo = a.build.algo;
        // Absolute: the generated source lives in the temporary directory.
        const auto absolute = [](std::string& path) {
            if (!path.empty()) path = std::filesystem::absolute(path).string();
        };
        absolute(a.auto_fit.data);
        absolute(a.auto_fit.ramdisk);
        for (auto& path : a.auto_fit.dtbs) absolute(path);
        const detail::temporary_its generated(
            auto_its_source(a.auto_fit, std::string("fitpack ") + fitstream::version_string()));
        source = fitstream::its::compile_its(generated.path(), compile);
        source.path = "-f auto";  // messages name the command line, not the temporary
        source.files.erase(source.files.begin());
    } else {
        source = fitstream::its::compile_its(a.source, compile);
    }
    fitstream::its::prepared_source prepared(source, a.build, write.layout);

    // The output may be no file read: the source, its /include/s and
    // /incbin/s, the keys, the key DTB.
    if (a.output != "-")
        fitstream::detail::refuse_overwriting_inputs(a.output, [&](const auto& visit) {
            for (const auto& f : source.files) visit(f);
            for (const auto& f : prepared.key_files()) visit(f);
            if (!a.key_dtb.empty()) visit(a.key_dtb);
            if (!a.build.key_file.empty()) visit(a.build.key_file);
            if (!a.pin_file.empty()) visit(a.pin_file);
        });

    // The key DTB is staged before the FIT is written and renamed after it.
    std::optional<fitstream::key_dtb> dtb;
    std::unique_ptr<fitstream::file_sink> dtb_out;
    if (!a.key_dtb.empty()) {
        // It is read and rewritten, so it may be no other file read.
        fitstream::detail::refuse_clashing_files({{"-K", a.key_dtb}}, [&](const auto& visit) {
            for (const auto& f : source.files) visit(f);
            for (const auto& f : prepared.key_files()) visit(f);
            if (!a.build.key_file.empty()) visit(a.build.key_file);
            if (!a.pin_file.empty()) visit(a.pin_file);
        });
        dtb.emplace(a.key_dtb);
        for (const auto& e : prepared.key_dtb_entries()) dtb->check(e);
        for (const auto& k : prepared.cipher_keys()) dtb->add_cipher(*k);  // as mkimage: ciphers first
        for (const auto& e : prepared.key_dtb_entries()) dtb->add(e);
        dtb_out = dtb->stage();
    }

    const fitstream::write_result result =
        write_output(a.output, [&](fitstream::sink& out) { return std::move(prepared).write(out, write); },
                     {&write.layout});
    if (dtb_out) dtb_out->commit(fdt_totalsize(dtb->blob()));
    if (a.verbose)
        std::cerr << "fitpack: " << a.output << ": " << result.images.size() << " images, " << result.total_size
                  << " bytes\n";
    return exit_ok;
}

}  // namespace fitpack
