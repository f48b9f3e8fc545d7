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
#include <fitstream/sign/signer.hpp>
#include <fitstream/detail/write/structure.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

/// Runs `task(i)` for every i < count on up to `threads` threads (the
/// calling one among them). An exception stops the others taking more
/// work; once all have stopped, the one of the lowest i is rethrown. Work
/// is taken in order, so that is the error a sequential loop would give.
template <class Task>
void for_each_index_parallel(std::size_t count, unsigned threads, Task&& task) {
    const std::size_t workers = std::min<std::size_t>(std::max(1u, threads), count);
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr first_error;
    std::size_t first_error_at = count;
    std::mutex error_mutex;
    const auto run = [&] {
        for (std::size_t i = next++; i < count && !failed; i = next++) {
            try {
                task(i);
            } catch (...) {
                const std::lock_guard<std::mutex> lock(error_mutex);
                if (i < first_error_at) {
                    first_error = std::current_exception();
                    first_error_at = i;
                }
                failed = true;
            }
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(workers > 0 ? workers - 1 : 0);
    try {
        for (std::size_t t = 1; t < workers; ++t) pool.emplace_back(run);
    } catch (...) {
        failed = true;  // no thread to be had: stop those started, then report
        for (auto& th : pool) th.join();
        throw;
    }
    run();
    for (auto& th : pool) th.join();
    if (first_error) std::rethrow_exception(first_error);
}

/// Fills every signature placeholder of `st` (see the file comment). Call
/// it after each image's hashes, `data-size` and `data-offset` (or the
/// embedded `data` length) are set, and before the blob goes to the sink.
/// `total_size` is the FDT totalsize the FIT will have (embedded: with the
/// data spliced in). Signatures are made on up to `threads` threads; a
/// signer that is not concurrent() (a token) makes its own one at a time.
/// @throws fitstream::error when signing fails (the signer's error), the
///         signature does not check against the signer's public key, or
///         the FIT is too big for U-Boot to check (check_signed_fit_size).
inline void sign_structure(structure& st, std::uint64_t total_size, unsigned threads = 1) {
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

    // hashed-strings first, in both blobs: every string is in the block by
    // now, and the regions of every signature read the strings block.
    const std::uint32_t strings_size = fdt_size_dt_strings(walk.data());
    for (auto& sig : st.signatures) {
        if (!sig.hashed_strings_at) continue;
        // hashed-strings = <0 size>: the first cell is a legacy offset that must stay 0.
        const std::uint32_t covered =
            sig.hashed_strings_size != 0 ? std::min(sig.hashed_strings_size, strings_size) : strings_size;
        sig.hashed_strings_size = covered;
        for (auto* blob : {&st.blob, &walk}) {
            fdt32_st(blob->data() + sig.hashed_strings_at, 0);
            fdt32_st(blob->data() + sig.hashed_strings_at + 4, covered);
        }
    }

    // The structure is walked once for all of them (a walk per signature
    // made 1,500 signed configurations cost seconds), and each digest is
    // made once: signatures of one configuration by several keys with one
    // checksum sign the same bytes.
    const signed_region_index index(walk.data());
    struct shared_digest {
        std::string checksum;
        std::vector<byte_region> regions;
        std::once_flag once;
        std::vector<std::uint8_t> digest;
    };
    std::deque<shared_digest> digests;               // stable addresses for once_flag
    std::vector<shared_digest*> digest_of(st.signatures.size(), nullptr);
    {
        std::map<std::pair<std::string, std::vector<std::pair<std::size_t, std::size_t>>>, shared_digest*> seen;
        for (std::size_t i = 0; i < st.signatures.size(); ++i) {
            const auto& sig = st.signatures[i];
            if (!sig.hashed_strings_at) continue;
            auto regions = index.regions(sig.hashed_nodes, sig.node);
            regions.push_back({fdt_off_dt_strings(walk.data()), sig.hashed_strings_size});
            std::vector<std::pair<std::size_t, std::size_t>> key;
            key.reserve(regions.size());
            for (const auto& r : regions) key.emplace_back(r.offset, r.size);
            auto& entry = seen[{sig.algo.checksum, std::move(key)}];
            if (!entry) {
                entry = &digests.emplace_back();
                entry->checksum = sig.algo.checksum;
                entry->regions = std::move(regions);
            }
            digest_of[i] = entry;
        }
    }
    // A signer that cannot sign on two threads at once (a PKCS#11 session)
    // takes its signatures one at a time.
    std::map<const signer*, std::mutex> serial;
    for (const auto& sig : st.signatures)
        if (!sig.key->concurrent()) serial[sig.key.get()];

    for_each_index_parallel(st.signatures.size(), threads, [&](std::size_t i) {
        const auto& sig = st.signatures[i];
        signing_request request;
        request.node = sig.node;
        request.algo = sig.algo;
        request.padding = sig.padding;
        request.key_name_hint = sig.key_name_hint;
        if (auto* shared = digest_of[i]) {
            std::call_once(shared->once, [&] {
                shared->digest = digest_regions(shared->checksum, walk.data(), shared->regions);
            });
            request.digest = shared->digest;
            if (sig.key->wants_message())
                for (const auto& r : shared->regions)
                    request.message.insert(request.message.end(), walk.data() + r.offset,
                                           walk.data() + r.offset + r.size);
        } else {
            const auto* at = sig.digest_at == image_slots::unstored
                                 ? st.slots[sig.image].unstored_digests.data() + sig.unstored_digest_at
                                 : reinterpret_cast<const std::uint8_t*>(walk.data() + sig.digest_at);
            request.digest.assign(at, at + static_cast<std::size_t>(EVP_MD_get_size(checksum_md(sig.algo.checksum))));
        }
        std::vector<std::uint8_t> value;
        if (const auto it = serial.find(sig.key.get()); it != serial.end()) {
            const std::lock_guard<std::mutex> lock(it->second);
            value = sig.key->sign(request);
        } else {
            value = sig.key->sign(request);
        }
        if (value.size() != sig.algo.signature_size)
            throw error(errc::bad_image, sig.node,
                        sig.key->name() + " gave a " + std::to_string(value.size()) + "-byte signature; " +
                            sig.algo.name + " needs " + std::to_string(sig.algo.signature_size));
        // A signature that does not check would only fail at boot: check it
        // here. Only a value made later (two-step signing) has no key yet.
        const auto pub = sig.key->public_half();
        if (pub && !pub->verify_digest(sig.algo, sig.padding, request.digest, value.data(), value.size()))
            throw error(errc::bad_image, sig.node,
                        "the signature from " + sig.key->name() + " does not verify with its public key");
        // Each signature owns its own bytes of the blob: no lock needed.
        std::memcpy(st.blob.data() + sig.value_at, value.data(), value.size());
    });
}

}  // namespace detail
}  // namespace fitstream
