// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Signing in the writer's final phase: once every image's digests, sizes
/// and offsets are in the structure blob, and before the blob is written,
/// each signature `value` (and `hashed-strings`) placeholder is filled.
/// Nothing is read again: a configuration signature covers only structure
/// bytes, and an image signature signs the digest its hash node holds.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/error.hpp>
#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/detail/sign/regions.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/detail/write/structure.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

namespace fitstream {
namespace detail {

/// Fills every signature placeholder of `st` (see the file comment). Call
/// it after each image's hashes, `data-size` and `data-offset` (or the
/// embedded `data` length) are set, and before the blob goes to the sink.
/// `total_size` is the FDT totalsize the FIT will have (embedded: with the
/// data spliced in).
/// @throws fitstream::error when signing fails (OpenSSL's error), the
///         signature does not check against the key's own public half, or
///         the FIT is too big for U-Boot to check (check_signed_fit_size).
inline void sign_structure(structure& st, std::uint64_t total_size) {
    if (st.signatures.empty()) return;
    check_signed_fit_size(total_size, st.signatures.front().node);
    // Embedded data is spliced in later: the blob's `data` properties carry
    // their final length but not the bytes yet. Walk a copy where they are
    // empty again; U-Boot leaves `data` out of the signed regions anyway, so
    // the regions hold the same bytes either way.
    // External data's padding is in the totalsize, not in the blob: the
    // copy says its own size (the header is no part of any signed region).
    std::vector<char> walk(st.blob);
    fdt_set_totalsize(walk.data(), static_cast<std::uint32_t>(walk.size()));
    for (const auto& slot : st.slots)
        if (slot.data_end != 0) fdt32_st(walk.data() + slot.data_end - 8, 0);
    const int rc = check_fdt(walk.data(), walk.size());
    if (rc < 0) throw error(std::error_code(rc, libfdt_category()), "signing", "FIT structure is not valid");

    const std::uint32_t strings_size = fdt_size_dt_strings(walk.data());
    for (auto& sig : st.signatures) {
        std::vector<std::uint8_t> digest, message;
        if (sig.hashed_strings_at) {
            // hashed-strings = <0 size>: the first cell is a legacy offset
            // that must stay 0; every string is in the block by now.
            const std::uint32_t covered =
                sig.hashed_strings_size != 0 ? std::min(sig.hashed_strings_size, strings_size) : strings_size;
            for (auto* blob : {&st.blob, &walk}) {
                fdt32_st(blob->data() + sig.hashed_strings_at, 0);
                fdt32_st(blob->data() + sig.hashed_strings_at + 4, covered);
            }
            auto regions = find_signed_regions(walk.data(), sig.hashed_nodes, sig.node);
            regions.push_back({fdt_off_dt_strings(walk.data()), covered});
            digest = digest_regions(sig.algo.checksum, walk.data(), regions);
            // A signer that signs the bytes themselves (a command with
            // message input) gets them: a few KiB of structure and strings.
            if (sig.key->wants_message())
                for (const auto& r : regions)
                    message.insert(message.end(), walk.data() + r.offset, walk.data() + r.offset + r.size);
        } else {
            const auto* at = sig.digest_at == image_slots::unstored
                                 ? st.slots[sig.image].unstored_digests.data() + sig.unstored_digest_at
                                 : reinterpret_cast<const std::uint8_t*>(walk.data() + sig.digest_at);
            digest.assign(at, at + static_cast<std::size_t>(EVP_MD_get_size(checksum_md(sig.algo.checksum))));
        }
        signing_request request;
        request.node = sig.node;
        request.algo = sig.algo;
        request.padding = sig.padding;
        request.key_name_hint = sig.key_name_hint;
        request.digest = digest;
        request.message = std::move(message);
        const auto value = sig.key->sign(request);
        // A signature that does not check would only fail at boot: check it here.
        const auto pub = sig.key->public_half();
        if (pub && !pub->verify_digest(sig.algo, sig.padding, digest, value.data(), value.size()))
            throw error(errc::bad_image, sig.node, "the new signature does not verify with its own key");
        std::memcpy(st.blob.data() + sig.value_at, value.data(), value.size());
    }
}

}  // namespace detail
}  // namespace fitstream
