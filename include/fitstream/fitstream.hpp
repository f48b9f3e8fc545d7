// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Everything fitstream offers, in the order the data flows:
/// inputs -> codec and hash policies -> layout -> FDT structure -> sink,
/// tied together by the writer.

#include <fitstream/version.hpp>
#include <fitstream/error.hpp>
#include <fitstream/input.hpp>
#include <fitstream/codec.hpp>
#include <fitstream/codecs.hpp>
#include <fitstream/hash.hpp>
#include <fitstream/hashes.hpp>
#include <fitstream/signature_spec.hpp>
#include <fitstream/tree.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/signature.hpp>
#include <fitstream/structure.hpp>
#include <fitstream/signer.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/writer.hpp>
#include <fitstream/iostreams_sink.hpp>
#include <fitstream/kernel_fit.hpp>
#include <fitstream/builder.hpp>
#include <fitstream/reader.hpp>
#include <fitstream/key_dtb.hpp>
#include <fitstream/verify_signatures.hpp>
