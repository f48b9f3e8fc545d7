// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Everything fitstream offers, in the order the data flows:
/// inputs -> codec and hash policies -> the FIT as a value -> layout ->
/// writer (FDT structure, signatures) -> sink; and back: reader, verifier.
///
/// Needs libfdt, zlib, libdeflate, OpenSSL's libcrypto, the Boost headers,
/// threads, and one library per codec beyond none and gzip. Define
/// FITSTREAM_NO_BZIP2, FITSTREAM_NO_LZMA, FITSTREAM_NO_LZO, FITSTREAM_NO_LZ4
/// or FITSTREAM_NO_ZSTD (before the first fitstream include, best on the
/// command line) to leave that codec, its C header and its library out; see
/// <fitstream/codec/builtin.hpp>. The same holds for the single header
/// (single_include/, installed as include/fitstream-single/fitstream/
/// fitstream.hpp; CMake: find_package(fitstream COMPONENTS single ...) and
/// fitstream::single, which defines the macros for the codecs not asked for).

#include <fitstream/version.hpp>
#include <fitstream/error.hpp>

// 1. Inputs
#include <fitstream/input/source.hpp>
#include <fitstream/input/dtb.hpp>

// 2. Codec and hash policies
#include <fitstream/codec/concept.hpp>
#include <fitstream/codec/builtin.hpp>
#include <fitstream/hash/concept.hpp>
#include <fitstream/hash/builtin.hpp>

// 3. The FIT as a value
#include <fitstream/sign/spec.hpp>
#include <fitstream/tree.hpp>
#include <fitstream/builder.hpp>
#include <fitstream/plan.hpp>

// 4. Layout plan
#include <fitstream/layout.hpp>

// 5. Writer and sinks
#include <fitstream/sink.hpp>
#include <fitstream/iostreams_sink.hpp>
#include <fitstream/write_options.hpp>
#include <fitstream/writer.hpp>

// Signing keys
#include <fitstream/sign/token.hpp>
#include <fitstream/sign/cipher.hpp>
#include <fitstream/sign/signer.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/sign/key_dtb.hpp>
#include <fitstream/sign/command_signer.hpp>

// Reading back
#include <fitstream/reader.hpp>
#include <fitstream/sign/verify.hpp>

// Re-signing a FIT, and signing in two steps
#include <fitstream/sign/resign.hpp>
#include <fitstream/sign/two_step.hpp>

// Front ends
#include <fitstream/kbuild/kernel_fit.hpp>
#include <fitstream/kbuild/depfile.hpp>
#include <fitstream/kbuild/source_date_epoch.hpp>
#include <fitstream/kbuild/list_file.hpp>
#include <fitstream/its/source.hpp>
#include <fitstream/its/options.hpp>
#include <fitstream/its/checks.hpp>
#include <fitstream/its/writer.hpp>
