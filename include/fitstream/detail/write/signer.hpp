// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The signing stage of the writer: each signature `value` (and
/// `hashed-strings`) placeholder is filled as soon as the images it covers
/// are placed, on threads of its own, overlapping the payloads still being
/// compressed; the structure is written only after the last one. Nothing is
/// read again: a configuration signature covers only structure bytes, and
/// an image signature signs the digest its hash node holds.

#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/error.hpp>
#include <fitstream/detail/lib/openssl.hpp>
#include <fitstream/detail/sign/regions.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/sign/signer.hpp>
#include <fitstream/tree.hpp>
#include <fitstream/detail/write/structure.hpp>

#include <algorithm>
#include <condition_variable>
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

/// The signing stage of the writer (see the file comment). Made before the
/// payloads are processed; told by the placing thread as each image is
/// placed (its digests are in the structure then); makes every signature
/// whose images are all placed on its own threads, while later payloads
/// are still being compressed; finish() waits for the last one.
///
/// Why this works before the structure is final: a configuration
/// signature covers the root, the configuration and its images' nodes
/// without their data properties (U-Boot leaves out `data`, `data-size`,
/// `data-offset` and `data-position`), plus the strings block, which is
/// complete once the structure is built. So its bytes are final once its
/// images' hash values are in, and what is placed later (other images'
/// sizes, offsets and digests) lies outside its regions. An image
/// signature signs its own digest. Nothing moves in the blob meanwhile:
/// embedded payloads are spliced only when the structure is written.
class signing_stage {
public:
    /// Prepares the signatures of `st` (built for `fit`): fills every
    /// `hashed-strings`, finds each signature's regions, and starts no
    /// thread until a signature is ready. Up to `threads` signatures are
    /// made at once; a signer that is not concurrent() (a token) makes its
    /// own one at a time.
    /// @throws fitstream::error when the structure is not a valid FDT.
    signing_stage(structure& st, const tree& fit, unsigned threads)
        : st_(st), threads_(std::max(1u, threads)), waiting_for_(st.signatures.size(), 0) {
        if (st_.signatures.empty()) return;
        // Embedded `data` properties are still empty here (their length is
        // set as each image is placed), so this copy is a valid FDT to walk
        // for regions; the bytes the regions cover are read from st.blob
        // itself, at the same offsets. External data's padding is in the
        // totalsize, not in the blob: the copy says its own size.
        walk_ = st_.blob;
        fdt_set_totalsize(walk_.data(), static_cast<std::uint32_t>(walk_.size()));
        for (const auto& slot : st_.slots)
            if (slot.data_end != 0) fdt32_st(walk_.data() + slot.data_end - 8, 0);
        const int rc = check_fdt(walk_.data(), walk_.size());
        if (rc < 0) throw error(std::error_code(rc, libfdt_category()), "signing", "FIT structure is not valid");

        // hashed-strings first: the strings block is complete now.
        const std::uint32_t strings_size = fdt_size_dt_strings(walk_.data());
        for (auto& sig : st_.signatures) {
            if (!sig.hashed_strings_at) continue;
            // hashed-strings = <0 size>: the first cell is a legacy offset that must stay 0.
            sig.hashed_strings_size =
                sig.hashed_strings_size != 0 ? std::min(sig.hashed_strings_size, strings_size) : strings_size;
            fdt32_st(st_.blob.data() + sig.hashed_strings_at, 0);
            fdt32_st(st_.blob.data() + sig.hashed_strings_at + 4, sig.hashed_strings_size);
        }

        // The structure is walked once for all signatures (a walk per
        // signature made 1,500 signed configurations cost seconds), and each
        // digest is made once: signatures of one configuration by several
        // keys with one checksum sign the same bytes.
        const signed_region_index index(walk_.data());
        std::map<std::string, std::size_t> image_index;
        for (std::size_t i = 0; i < fit.images.size(); ++i) image_index.emplace(fit.images[i].name, i);
        waiting_on_image_.resize(fit.images.size());
        digest_of_.assign(st_.signatures.size(), nullptr);
        std::map<std::pair<std::string, std::vector<std::pair<std::size_t, std::size_t>>>, shared_digest*> seen;
        for (std::size_t i = 0; i < st_.signatures.size(); ++i) {
            const auto& sig = st_.signatures[i];
            if (!sig.key->concurrent()) serial_[sig.key.get()];
            if (!sig.hashed_strings_at) {
                depend(i, sig.image);
                continue;
            }
            auto regions = index.regions(sig.hashed_nodes, sig.node);
            regions.push_back({fdt_off_dt_strings(walk_.data()), sig.hashed_strings_size});
            std::vector<std::pair<std::size_t, std::size_t>> key;
            key.reserve(regions.size());
            for (const auto& r : regions) key.emplace_back(r.offset, r.size);
            auto& entry = seen[{sig.algo.checksum, std::move(key)}];
            if (!entry) {
                entry = &digests_.emplace_back();
                entry->checksum = sig.algo.checksum;
                entry->regions = std::move(regions);
            }
            digest_of_[i] = entry;
            // It waits for every image whose nodes it covers ("/images/NAME").
            for (const auto& path : sig.hashed_nodes) {
                if (path.compare(0, 8, "/images/") != 0 || path.find('/', 8) != std::string::npos) continue;
                if (const auto it = image_index.find(path.substr(8)); it != image_index.end()) depend(i, it->second);
            }
        }
        for (std::size_t i = 0; i < st_.signatures.size(); ++i)
            if (waiting_for_[i] == 0) ready_.push_back(i);
        if (!ready_.empty()) start();
    }

    // start() joins what it started when a thread cannot be had, so a
    // throwing constructor leaves no thread behind.

    signing_stage(const signing_stage&) = delete;
    signing_stage& operator=(const signing_stage&) = delete;

    /// Stops the threads (after the signature each is making) and joins them.
    ~signing_stage() { stop(); }

    /// Image `index` is placed: its digests are in the structure.
    void image_placed(std::size_t index) {
        if (index >= waiting_on_image_.size() || waiting_on_image_[index].empty()) return;
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            for (const std::size_t sig : waiting_on_image_[index])
                if (--waiting_for_[sig] == 0) ready_.push_back(sig);
        }
        start();
        ready_changed_.notify_all();
    }

    /// Waits for every signature. `total_size` is the FDT totalsize the FIT
    /// will have (embedded: with the data spliced in).
    /// @throws fitstream::error: the FIT is too big for U-Boot to check
    ///         (check_signed_fit_size); a signature that could not be made
    ///         or does not verify with its signer's public key (when several
    ///         fail, the first in node order among those attempted).
    void finish(std::uint64_t total_size) {
        if (st_.signatures.empty()) return;
        check_signed_fit_size(total_size, st_.signatures.front().node);
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            // Every image is placed: whatever still waits (an image the
            // writer never reported) is made now rather than never.
            for (std::size_t i = 0; i < waiting_for_.size(); ++i)
                if (waiting_for_[i] != 0) {
                    waiting_for_[i] = 0;
                    ready_.push_back(i);
                }
            all_placed_ = true;
        }
        start();
        ready_changed_.notify_all();
        stop();
        if (first_error_) std::rethrow_exception(first_error_);
    }

private:
    struct shared_digest {
        std::string checksum;
        std::vector<byte_region> regions;
        std::once_flag once;
        std::vector<std::uint8_t> digest;
    };

    void depend(std::size_t signature, std::size_t image) {
        if (image >= waiting_on_image_.size()) return;
        waiting_on_image_[image].push_back(signature);
        ++waiting_for_[signature];
    }

    // Starts the threads, once. When the system has no thread to give,
    // those started are stopped and joined before the error leaves.
    void start() {
        const std::lock_guard<std::mutex> lock(threads_mutex_);
        if (!pool_.empty() || stopped_) return;
        const std::size_t n = std::min<std::size_t>(threads_, st_.signatures.size());
        pool_.reserve(n);
        try {
            for (std::size_t t = 0; t < n; ++t) pool_.emplace_back([this] { work(); });
        } catch (...) {
            {
                const std::lock_guard<std::mutex> state(mutex_);
                failed_ = true;
            }
            ready_changed_.notify_all();
            for (auto& t : pool_) t.join();
            pool_.clear();
            stopped_ = true;
            throw;
        }
    }

    // Lets the threads finish (once all_placed_: the ready queue drained;
    // else at once), and joins them.
    void stop() {
        {
            const std::lock_guard<std::mutex> lock(mutex_);
            if (!all_placed_) failed_ = true;  // abandoned: take no more work
            closing_ = true;
        }
        ready_changed_.notify_all();
        const std::lock_guard<std::mutex> lock(threads_mutex_);
        for (auto& t : pool_) t.join();
        pool_.clear();
        stopped_ = true;
    }

    void work() {
        for (;;) {
            std::size_t i = 0;
            {
                std::unique_lock<std::mutex> lock(mutex_);
                ready_changed_.wait(lock, [&] { return failed_ || closing_ || !ready_.empty(); });
                if (failed_ || ready_.empty()) return;  // closing with nothing left
                i = ready_.front();
                ready_.pop_front();
            }
            try {
                try {
                    sign(i);
                } catch (const error&) {
                    throw;
                } catch (const std::exception& e) {
                    // A caller's own signer may throw anything: name it and the node.
                    throw error(errc::invalid_input, st_.signatures[i].node,
                                st_.signatures[i].key->name() + ": " + e.what());
                }
            } catch (...) {
                const std::lock_guard<std::mutex> lock(mutex_);
                if (i < first_error_at_) {
                    first_error_ = std::current_exception();
                    first_error_at_ = i;
                }
                // The rest would be thrown away: stop. The error kept is the
                // first in node order among the signatures attempted (those
                // whose images were placed before the failure).
                failed_ = true;
                ready_changed_.notify_all();
            }
        }
    }

    void sign(std::size_t i) {
        const auto& sig = st_.signatures[i];
        signing_request request;
        request.node = sig.node;
        request.algo = sig.algo;
        request.padding = sig.padding;
        request.key_name_hint = sig.key_name_hint;
        const char* blob = st_.blob.data();
        if (auto* shared = digest_of_[i]) {
            std::call_once(shared->once,
                           [&] { shared->digest = digest_regions(shared->checksum, blob, shared->regions); });
            request.digest = shared->digest;
            if (sig.key->wants_message())
                for (const auto& r : shared->regions)
                    request.message.insert(request.message.end(), blob + r.offset, blob + r.offset + r.size);
        } else {
            const auto* at = sig.digest_at == image_slots::unstored
                                 ? st_.slots[sig.image].unstored_digests.data() + sig.unstored_digest_at
                                 : reinterpret_cast<const std::uint8_t*>(blob + sig.digest_at);
            request.digest.assign(at, at + static_cast<std::size_t>(EVP_MD_get_size(checksum_md(sig.algo.checksum))));
        }
        std::vector<std::uint8_t> value;
        if (const auto it = serial_.find(sig.key.get()); it != serial_.end()) {
            const std::lock_guard<std::mutex> lock(it->second);
            value = checked_signature(*sig.key, request);
        } else {
            value = checked_signature(*sig.key, request);
        }
        // Each signature owns its `value` bytes, which no region covers.
        std::memcpy(st_.blob.data() + sig.value_at, value.data(), value.size());
    }

    structure& st_;
    unsigned threads_;
    std::vector<char> walk_;
    std::deque<shared_digest> digests_;  // stable addresses for the once_flags
    std::vector<shared_digest*> digest_of_;
    std::map<const signer*, std::mutex> serial_;
    std::vector<std::vector<std::size_t>> waiting_on_image_;  // image -> signatures waiting for it

    std::mutex mutex_;  // guards the members below, up to the threads'
    std::condition_variable ready_changed_;
    std::vector<std::size_t> waiting_for_;  // signature -> images it still waits for
    std::deque<std::size_t> ready_;
    bool all_placed_ = false;
    bool closing_ = false;
    bool failed_ = false;
    std::exception_ptr first_error_;
    std::size_t first_error_at_ = static_cast<std::size_t>(-1);

    std::mutex threads_mutex_;
    std::vector<std::thread> pool_;
    bool stopped_ = false;
};

}  // namespace detail
}  // namespace fitstream
