// SPDX-License-Identifier: MIT
// libFuzzer target: what `fitpack list`, `fitpack list --json` and
// `fitpack extract` do with an arbitrary file.
//
// list runs in-process: examples/fitpack/read_modes.hpp is included and its
// list() is called on the input, written to a memfd and opened by path
// (so the reader's mmap path is the one exercised), with std::cout sent
// nowhere. extract writes through a file sink, so it is replayed here with
// the same reader calls: find_image() by name and by index, then
// read_stored() (--raw) and read_decoded() of every image, into sinks that
// only count. fitstream::error is the one acceptable failure: fitpack's
// main() reports anything else as an internal error.

#include "read_modes.hpp"

#include <fitstream/reader.hpp>

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <streambuf>
#include <string>

namespace {

#define FUZZ_CHECK(cond)               \
    do {                               \
        if (!(cond)) __builtin_trap(); \
    } while (0)

// Accepts and drops everything, as fast as possible.
class null_buffer : public std::streambuf {
protected:
    int_type overflow(int_type c) override { return traits_type::not_eof(c); }
    std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

null_buffer g_null;
int g_fd = -1;
std::string g_path;

// A bound on what extract is allowed to decode here: list() already decodes
// every image with fitpack's own 1 GiB limit.
constexpr std::uint64_t extract_limit = 16u << 20;

void extract_all(const std::string& path) {
    const fitstream::reader fit(path);
    const auto& images = fit.images();
    for (std::size_t i = 0; i < images.size(); ++i) {
        // fitpack extract FIT NAME, and FIT INDEX.
        const fitstream::image_info* by_name = fit.find_image(images[i].name);
        FUZZ_CHECK(by_name != nullptr);
        const fitstream::image_info& img = images[i];
        std::uint64_t stored = 0;
        try {
            fit.read_stored(img, [&](const char* p, std::size_t n) {
                FUZZ_CHECK(p != nullptr || n == 0);
                stored += n;
            });
            FUZZ_CHECK(stored == img.size);
        } catch (const fitstream::error&) {
            FUZZ_CHECK(img.location == fitstream::data_location::missing || !img.data_problem.empty());
        }
        try {
            std::uint64_t decoded = 0;
            const std::uint64_t total = fit.read_decoded(
                img, [&](const char*, std::size_t n) { decoded += n; }, extract_limit);
            FUZZ_CHECK(total == decoded && total <= extract_limit);
        } catch (const fitstream::error&) {
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    g_fd = ::memfd_create("fuzz.fit", 0);
    if (g_fd < 0) {
        std::perror("memfd_create");
        std::abort();
    }
    g_path = "/proc/self/fd/" + std::to_string(g_fd);
    std::cout.rdbuf(&g_null);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (::ftruncate(g_fd, 0) != 0) std::abort();
    for (std::size_t done = 0; done < size;) {
        const ssize_t n = ::pwrite(g_fd, data + done, size - done, static_cast<off_t>(done));
        if (n <= 0) std::abort();
        done += static_cast<std::size_t>(n);
    }
    try {
        fitpack::verbs::list(g_path, true);
    } catch (const fitstream::error&) {
    }
    try {
        fitpack::verbs::list(g_path, false);
    } catch (const fitstream::error&) {
    }
    try {
        extract_all(g_path);
    } catch (const fitstream::error&) {
    }
    return 0;
}
