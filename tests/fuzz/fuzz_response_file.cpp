// SPDX-License-Identifier: MIT
// libFuzzer target: fitpack's `@FILE` expansion and `--files-from` lists
// (examples/fitpack/response_files.hpp) on arbitrary files.
//
// The input is cut at 0xff bytes into up to four files, r0 to r3, in a
// private directory D; `@D/r0` is expanded (r0 may name r1..r3 — the
// harness writes "@rN" as "@D/rN", since the working directory is
// libFuzzer's — itself, or anything else by path: a missing file, a
// directory, /dev/zero) with
// small limits so that a run stays fast, and r0 is read as a file list.
// Checked: fitstream::error is the only failure; a result respects every
// limit, holds no `@FILE` left to expand, and equals what a plain
// recursive model of argparse's expansion (with the same limits, checked
// in the same order) gives; when the expander fails, so does the model.

#include "../../examples/fitpack/response_files.hpp"

#include <fitstream/error.hpp>

#include <sys/stat.h>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

#define FUZZ_CHECK(cond)               \
    do {                               \
        if (!(cond)) __builtin_trap(); \
    } while (0)

fitpack::response_file_limits small_limits() {
    fitpack::response_file_limits l;
    l.max_depth = 8;
    l.max_files = 64;
    l.max_bytes = 1u << 20;
    l.max_arguments = 10000;
    l.max_argument_size = 4096;
    return l;
}

struct model_failed {};

// argparse's _read_args_from_files, recursive, with the expander's limits.
struct model {
    fitpack::response_file_limits limits = small_limits();
    std::vector<std::pair<dev_t, ino_t>> open;
    std::size_t files = 0;
    std::uint64_t bytes = 0;
    std::vector<std::string> out;

    void add(const std::string& arg) {
        if (arg.size() < 2 || arg[0] != '@') {
            if (out.size() >= limits.max_arguments) throw model_failed();
            out.push_back(arg);
            return;
        }
        const std::string name = arg.substr(1);
        if (open.size() >= limits.max_depth || files >= limits.max_files) throw model_failed();
        if (name.find('\0') != std::string::npos) throw model_failed();  // open() would cut it short
        ++files;
        struct stat st {};
        if (::stat(name.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) throw model_failed();
        for (const auto& o : open)
            if (o.first == st.st_dev && o.second == st.st_ino) throw model_failed();
        std::ifstream in(name, std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        const std::string t = text.str();
        if (!in || bytes + t.size() > limits.max_bytes) throw model_failed();
        bytes += t.size();
        // Python's universal newlines, then str.splitlines() (on \n only here).
        std::vector<std::string> lines;
        std::string line;
        for (std::size_t i = 0; i < t.size(); ++i) {
            if (t[i] == '\r' || t[i] == '\n') {
                lines.push_back(line);
                line.clear();
                if (t[i] == '\r' && i + 1 < t.size() && t[i + 1] == '\n') ++i;
            } else {
                line += t[i];
            }
        }
        if (!line.empty()) lines.push_back(line);
        open.emplace_back(st.st_dev, st.st_ino);
        for (const auto& l : lines) {
            if (l.size() > limits.max_argument_size) throw model_failed();
            add(l);
        }
        open.pop_back();
    }
};

void write_part(const std::string& name, const std::string& bytes) {
    std::ofstream out(name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    FUZZ_CHECK(static_cast<bool>(out));
}

std::string g_dir;  // D, made once

// `text` with every "@r" written "@D/r".
std::string in_dir(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '@' && i + 1 < text.size() && text[i + 1] == 'r') out += "@" + g_dir + "/";
        else out += text[i];
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    char dir[] = "/tmp/fuzz-response-file-XXXXXX";
    FUZZ_CHECK(::mkdtemp(dir) != nullptr);
    g_dir = dir;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string input(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> parts(1);
    for (const char c : input) {
        if (c == '\xff' && parts.size() < 4) parts.emplace_back();
        else parts.back() += c;
    }
    for (std::size_t i = 0; i < 4; ++i)
        write_part(g_dir + "/r" + std::to_string(i), i < parts.size() ? in_dir(parts[i]) : "");
    const std::string r0 = g_dir + "/r0";

    const auto limits = small_limits();
    bool expanded = false;
    std::vector<std::string> args;
    try {
        args = fitpack::expand_response_files({"-o", "x.fit", "@" + r0}, nullptr, limits);
        expanded = true;
    } catch (const fitstream::error&) {
    }
    model m;
    bool modelled = false;
    try {
        m.add("-o");
        m.add("x.fit");
        m.add("@" + r0);
        modelled = true;
    } catch (const model_failed&) {
    }
    FUZZ_CHECK(expanded == modelled);
    if (expanded) {
        FUZZ_CHECK(args == m.out);
        FUZZ_CHECK(args.size() <= limits.max_arguments);
        for (const auto& a : args) {
            FUZZ_CHECK(a.size() <= limits.max_argument_size);
            FUZZ_CHECK(a.size() < 2 || a[0] != '@');
        }
    }

    std::vector<std::string> list;
    try {
        fitpack::read_file_list(r0, list);
        for (const auto& path : list) FUZZ_CHECK(!path.empty() && path.find('\n') == std::string::npos);
    } catch (const fitstream::error&) {
    }
    return 0;
}
