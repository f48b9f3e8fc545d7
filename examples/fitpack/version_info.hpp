// SPDX-License-Identifier: MIT
#pragma once

// `fitpack --version`: fitpack's version, then each library it was built
// with, one a line, so that a bug report says everything.
//
// A library that reports its own version at run time is asked (the shared
// object actually loaded can be newer than the header compiled against);
// where the two differ, the header's version follows in parentheses.
// libfdt has neither a version function nor a version macro: its version
// is read off the file name of the loaded shared object (Debian installs
// libfdt-1.6.1.so), else "unknown".

#include <fitstream/version.hpp>

#include <CLI/Version.hpp>
#include <boost/version.hpp>
#include <nlohmann/json.hpp>

#include <bzlib.h>
#include <libdeflate.h>
#include <link.h>  // dl_iterate_phdr
#include <lz4.h>
#include <lzma.h>
#include <lzo/lzoconf.h>
#include <openssl/crypto.h>
#include <openssl/opensslv.h>
#include <zlib.h>
#include <zstd.h>

#include <cstdlib>
#include <string>

namespace fitpack {

namespace detail {

/// "1.6.1" from the path of the loaded libfdt (".../libfdt-1.6.1.so"), or
/// "" when it is not loaded as a shared object with a versioned name.
inline std::string loaded_libfdt_version() {
    std::string version;
    ::dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* out) {
            if (info->dlpi_name == nullptr || std::string(info->dlpi_name).find("libfdt") == std::string::npos)
                return 0;
            char* resolved = ::realpath(info->dlpi_name, nullptr);  // libfdt.so.1 -> libfdt-1.6.1.so
            if (resolved == nullptr) return 0;
            const std::string path(resolved);
            std::free(resolved);
            const auto base = path.substr(path.rfind('/') + 1);
            const std::string prefix = "libfdt-";
            const std::string suffix = ".so";
            if (base.size() > prefix.size() + suffix.size() && base.compare(0, prefix.size(), prefix) == 0 &&
                base.compare(base.size() - suffix.size(), suffix.size(), suffix) == 0)
                *static_cast<std::string*>(out) =
                    base.substr(prefix.size(), base.size() - prefix.size() - suffix.size());
            return 1;
        },
        &version);
    return version;
}

/// The run-time version, and the compile-time one in parentheses when it
/// differs.
inline std::string loaded_and_built(const std::string& loaded, const std::string& built) {
    return loaded == built ? loaded : loaded + " (built with " + built + ")";
}

}  // namespace detail

/// What `fitpack --version` prints, without the final newline.
inline std::string version_text() {
    std::string bzip2 = BZ2_bzlibVersion();  // "1.0.8, 13-Jul-2019"
    bzip2 = bzip2.substr(0, bzip2.find(','));
    std::string libfdt = detail::loaded_libfdt_version();
    if (libfdt.empty()) libfdt = "unknown";
    std::string boost = BOOST_LIB_VERSION;  // "1_74"
    for (char& c : boost)
        if (c == '_') c = '.';

    std::string text = std::string("fitpack ") + fitstream::version_string() + "\n";
    text += "fitstream " + std::string(fitstream::version_string()) + " (header-only, C++" +
            std::to_string(__cplusplus / 100 % 100) + ")\n";
    text += "libfdt " + libfdt + "\n";
    text += "zlib " + detail::loaded_and_built(zlibVersion(), ZLIB_VERSION) + "\n";
    text += "libdeflate " LIBDEFLATE_VERSION_STRING "\n";
    text += "zstd " + detail::loaded_and_built(ZSTD_versionString(), ZSTD_VERSION_STRING) + "\n";
    text += "lz4 " + detail::loaded_and_built(LZ4_versionString(), LZ4_VERSION_STRING) + "\n";
    text += "liblzma " + detail::loaded_and_built(lzma_version_string(), LZMA_VERSION_STRING) + "\n";
    text += "bzip2 " + bzip2 + "\n";
    text += "lzo " + detail::loaded_and_built(lzo_version_string(), LZO_VERSION_STRING) + "\n";
    text += detail::loaded_and_built(OpenSSL_version(OPENSSL_VERSION), OPENSSL_VERSION_TEXT) + "\n";
    text += "Boost " + boost + ", CLI11 " CLI11_VERSION ", nlohmann/json " +
            std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
            std::to_string(NLOHMANN_JSON_VERSION_PATCH) + " (headers)\n";
#if defined(__clang__)
    text += "compiler: clang " __clang_version__;
#elif defined(__GNUC__)
    text += "compiler: GCC " __VERSION__;
#else
    text += "compiler: unknown";
#endif
    return text;
}

}  // namespace fitpack
