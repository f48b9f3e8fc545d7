// SPDX-License-Identifier: MIT
// libFuzzer target: a U-Boot control DTB as `fitpack verify --key-dtb`
// reads it.
//
// The input is the key DTB (written to a memfd, since fitstream::key_dtb
// reads a file); its keys are read and a small signed FIT, made once, is
// checked with them. fitstream::error is the one acceptable failure; any
// other exception, a crash, a sanitizer report, a leak, a hang (a 4 MiB
// rsa,modulus once cost a minute of RSA constants) or a broken promise
// (__builtin_trap: every problem names its subject on one line of bounded
// length) is a finding.

#include <fitstream/reader.hpp>
#include <fitstream/sign/key_dtb.hpp>
#include <fitstream/sign/verify.hpp>

#include <libfdt.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace {

#define FUZZ_CHECK(cond)               \
    do {                               \
        if (!(cond)) __builtin_trap(); \
    } while (0)

// A FIT with one image (hash-1) and one configuration with two signatures
// (RSA and ECDSA, values that verify with no key): what the keys are
// checked against.
const fitstream::reader& signed_fit() {
    static const fitstream::reader fit = [] {
        std::vector<std::uint64_t> buffer(1u << 13);
        void* b = buffer.data();
        const std::string zeros(512, '\0');
        fdt_create(b, static_cast<int>(buffer.size() * 8));
        fdt_finish_reservemap(b);
        fdt_begin_node(b, "");
        fdt_property_string(b, "description", "fuzz");
        fdt_begin_node(b, "images");
        fdt_begin_node(b, "kernel");
        fdt_property_string(b, "description", "k");
        fdt_property_string(b, "type", "kernel");
        fdt_property_string(b, "compression", "none");
        fdt_property(b, "data", "", 0);
        fdt_begin_node(b, "hash-1");
        fdt_property_string(b, "algo", "crc32");
        fdt_property_u32(b, "value", 0);
        fdt_end_node(b);
        fdt_end_node(b);
        fdt_end_node(b);
        fdt_begin_node(b, "configurations");
        fdt_property_string(b, "default", "conf-1");
        fdt_begin_node(b, "conf-1");
        fdt_property_string(b, "kernel", "kernel");
        fdt_begin_node(b, "signature-1");
        fdt_property_string(b, "algo", "sha256,rsa2048");
        fdt_property_string(b, "key-name-hint", "dev");
        fdt_property(b, "value", zeros.data(), 256);
        fdt_end_node(b);
        fdt_begin_node(b, "signature-2");
        fdt_property_string(b, "algo", "sha256,ecdsa256");
        fdt_property(b, "value", zeros.data(), 64);
        fdt_end_node(b);
        fdt_end_node(b);
        fdt_end_node(b);
        fdt_end_node(b);
        fdt_finish(b);
        return fitstream::reader(b, fdt_totalsize(b), "fuzz.fit");
    }();
    return fit;
}

void check(const std::vector<fitstream::problem>& problems) {
    for (const auto& p : problems) {
        FUZZ_CHECK(!p.subject.empty() && !p.message.empty());
        FUZZ_CHECK(p.message.find('\n') == std::string::npos && p.subject.find('\n') == std::string::npos);
        FUZZ_CHECK(p.message.size() < (64u << 10));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const int fd = memfd_create("key-dtb", MFD_CLOEXEC);
    if (fd < 0) __builtin_trap();
    static const std::string path = "/proc/self/fd/" + std::to_string(fd);
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != static_cast<ssize_t>(size))) __builtin_trap();
    const auto& fit = signed_fit();
    try {
        const fitstream::key_dtb keys(path);
        (void)keys.required_mode();
        const auto result = fitstream::verify_signatures(fit, keys);
        check(result.problems);
        // Nothing can verify a signature whose value is zeros.
        FUZZ_CHECK(result.verified.empty());
    } catch (const fitstream::error& e) {
        FUZZ_CHECK(!e.reason().empty());
    }
    return 0;
}
