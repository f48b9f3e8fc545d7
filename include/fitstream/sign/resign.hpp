// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Re-signing a FIT that already exists, made by fitpack, mkimage or
/// make_fit.py, with embedded or external data: what `mkimage -F -k KEYDIR`
/// does, and adding or replacing a signature in every configuration (and
/// image). The structure is changed as mkimage changes it (libfdt's
/// read-write calls, in mkimage's order), so for the same input, key and
/// timestamp mkimage -F writes the same `hashed-nodes`, `hashed-strings`
/// and (PKCS#1 v1.5) `value`. The payload bytes and the external layout are
/// kept; the payloads are streamed through, never held whole, and every
/// image hash is checked against them on the way.
///
/// @code
/// fitstream::resign_options o;
/// o.key_for = [](const fitstream::signing_request& r) {
///     return fitstream::signing_key::load("keys/" + r.key_name_hint + ".key");
/// };
/// fitstream::file_sink out("signed.itb");
/// const auto result = fitstream::resign_fit("unsigned.itb", out, o);
/// out.commit(result.size);
/// @endcode

#include <fitstream/detail/sign/fit_skeleton.hpp>
#include <fitstream/detail/sign/regions.hpp>
#include <fitstream/detail/read/properties.hpp>
#include <fitstream/error.hpp>
#include <fitstream/sign/algorithm.hpp>
#include <fitstream/sign/key.hpp>
#include <fitstream/sign/signer.hpp>
#include <fitstream/sign/spec.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/version.hpp>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fitstream {

/// What resign_fit() does.
struct resign_options {
    /// The signer of a signature node already in the FIT (mkimage -F fills
    /// them all), asked once per node with the node's path, algo, padding
    /// and key-name-hint in `about` (digest still empty). Null: a FIT with
    /// such a node fails (errc::invalid_argument).
    std::function<std::shared_ptr<const signer>(const signing_request& about)> key_for;
    /// A signature to add to every configuration, replacing one with the
    /// same key-name-hint. `key_signer` must be set; sign_images empty:
    /// kernel, fdt, ramdisk, loadables, script, each when present.
    std::vector<signature_spec> configuration_signatures;
    /// A signature to add to every image (replacing one with the same hint).
    std::vector<signature_spec> image_signatures;
    /// A hash algo ("sha256") to add to every image that has none of it.
    std::string add_hashes;
    /// `timestamp` of each signature; empty: SOURCE_DATE_EPOCH, else now.
    std::optional<std::uint32_t> timestamp;
    /// `signer-name` and `signer-version` (empty: fitstream's version).
    std::string signer_name = "fitstream";
    std::string signer_version;
    /// `comment`, omitted when empty.
    std::string comment;
};

/// One signature resign_fit() made.
struct resigned_signature {
    std::string node;
    std::string key_name_hint;
    signature_algorithm algo;
    signature_padding padding = signature_padding::pkcs1_5;
    std::vector<std::uint8_t> digest;
    std::shared_ptr<const signer> key;
};

namespace detail {

inline std::vector<std::string> rs_subnodes(const void* fdt, int parent) {
    std::vector<std::string> out;
    int node = -1;
    fdt_for_each_subnode(node, fdt, parent) out.emplace_back(fdt_get_name(fdt, node, nullptr));
    return out;
}

inline bool rs_starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// The first free "<prefix>N" below `parent`, from 1.
inline std::string free_node_name(const void* fdt, int parent, const std::string& prefix) {
    for (int n = 1;; ++n) {
        const std::string name = prefix + std::to_string(n);
        if (fdt_subnode_offset(fdt, parent, name.c_str()) == -FDT_ERR_NOTFOUND) return name;
    }
}

// The nodes a configuration signature covers, as mkimage lists them
// (tools/image-host.c, fit_config_get_hash_list): "/", the configuration,
// then for each sign-images entry (default kernel, fdt, script, each when
// present) each image the configuration names there with its hash* and
// cipher subnodes.
inline std::vector<std::string> mkimage_hashed_nodes(const void* fdt, int conf, const std::string& conf_name, int sig,
                                                     const std::string& subject,
                                                     const std::function<int(const std::string&)>& image_offset) {
    std::vector<std::string> nodes{"/", "/configurations/" + conf_name};
    std::vector<std::string> wanted = fdt_strings_prop(fdt, sig, "sign-images");
    const bool allow_missing = fdt_getprop(fdt, sig, "sign-images", nullptr) == nullptr;
    if (allow_missing) wanted = {"kernel", "fdt", "script"};
    std::size_t count = 0;
    for (const auto& property : wanted) {
        const auto names = fdt_strings_prop(fdt, conf, property.c_str());
        if (names.empty() && !allow_missing)
            throw error(errc::bad_image, subject, "sign-images names '" + property + "', which the configuration lacks");
        for (const auto& name : names) {
            const int img = image_offset(name);
            if (img < 0) {
                if (allow_missing) continue;
                throw error(errc::bad_image, subject, "no image '" + name + "' for '" + property + "'");
            }
            nodes.push_back("/images/" + name);
            std::size_t hashes = 0;
            for (const auto& sub : rs_subnodes(fdt, img))
                if (rs_starts_with(sub, "hash")) {
                    nodes.push_back("/images/" + name + "/" + sub);
                    ++hashes;
                }
            if (!hashes)
                throw error(errc::bad_image, subject,
                            "image '" + name + "' has no hash node (add one with --add-hashes): U-Boot could not check it");
            if (fdt_subnode_offset(fdt, img, "cipher") >= 0) nodes.push_back("/images/" + name + "/cipher");
            ++count;
        }
    }
    if (!count) throw error(errc::bad_image, subject, "the signature covers no image");
    if (nodes.size() > max_hashed_nodes) throw error(errc::bad_image, subject, "more nodes to hash than U-Boot takes");
    return nodes;
}

inline std::uint32_t resign_timestamp(const resign_options& o) {
    if (o.timestamp) return *o.timestamp;
    if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch && *epoch) {
        char* end = nullptr;
        const unsigned long long v = std::strtoull(epoch, &end, 10);
        if (*end || v > 0xffffffffu) throw error(errc::invalid_argument, "SOURCE_DATE_EPOCH", "not a 32-bit count of seconds");
        return static_cast<std::uint32_t>(v);
    }
    return static_cast<std::uint32_t>(std::time(nullptr));
}

// Sets a property of the node at `node` (named `node_path` in errors),
// growing the blob first when needed (node offsets count from the
// structure block: growing keeps them).
inline void set_prop_at(fit_skeleton& sk, int node, const std::string& node_path, const char* name, const void* value,
                        std::size_t len) {
    sk.reserve(len + 64 + std::strlen(name));
    sk.check(fdt_setprop(sk.blob.data(), node, name, value, static_cast<int>(len)), node_path, name);
}
inline void set_prop(fit_skeleton& sk, const std::string& node_path, const char* name, const void* value, std::size_t len) {
    const int node = fdt_path_offset(sk.blob.data(), node_path.c_str());
    sk.check(node, node_path, "node vanished");
    set_prop_at(sk, node, node_path, name, value, len);
}
inline void set_string(fit_skeleton& sk, const std::string& node_path, const char* name, const std::string& v) {
    set_prop(sk, node_path, name, v.c_str(), v.size() + 1);
}

// Adds (replacing one with the same key-name-hint) a signature node under
// `parent_path` for `spec`, its properties in the order algo,
// key-name-hint, padding, sign-images (libfdt puts each new one first).
inline void add_signature_node(fit_skeleton& sk, const std::string& parent_path, const signature_spec& spec,
                               bool configuration) {
    sk.reserve(1024);
    int parent = fdt_path_offset(sk.blob.data(), parent_path.c_str());
    sk.check(parent, parent_path, "node vanished");
    std::string name;
    for (const auto& sub : rs_subnodes(sk.blob.data(), parent)) {
        if (!rs_starts_with(sub, "signature")) continue;
        const int node = fdt_subnode_offset(sk.blob.data(), parent, sub.c_str());
        if (fdt_string_prop(sk.blob.data(), node, "key-name-hint") == spec.key_name_hint) {
            name = sub;
            sk.check(fdt_del_node(sk.blob.data(), node), parent_path + "/" + sub, "cannot replace");
            break;
        }
    }
    parent = fdt_path_offset(sk.blob.data(), parent_path.c_str());
    if (name.empty()) name = free_node_name(sk.blob.data(), parent, "signature-");
    sk.check(fdt_add_subnode(sk.blob.data(), parent, name.c_str()), parent_path + "/" + name, "cannot add");
    const std::string path = parent_path + "/" + name;
    if (configuration) {
        std::vector<std::string> images = spec.sign_images;
        if (images.empty()) {
            const int conf = fdt_path_offset(sk.blob.data(), parent_path.c_str());
            for (const char* p : {"kernel", "fdt", "ramdisk", "loadables", "script"})
                if (fdt_getprop(sk.blob.data(), conf, p, nullptr)) images.emplace_back(p);
        }
        std::string list;
        for (const auto& i : images) list.append(i).push_back('\0');
        set_prop(sk, path, "sign-images", list.data(), list.size());
    }
    if (const char* padding = padding_name(spec.padding)) set_string(sk, path, "padding", padding);
    set_string(sk, path, "key-name-hint", spec.key_name_hint);
    set_string(sk, path, "algo", spec.algo);
}

// Writes a signature's properties as mkimage's fit_image_write_sig does, in
// its order: value, signer-name, signer-version, comment, timestamp, then
// for a configuration hashed-nodes and hashed-strings (the strings size
// before any of these was added).
inline void write_signature(fit_skeleton& sk, const std::string& path, int node, const std::vector<std::uint8_t>& value,
                            const resign_options& o, std::uint32_t timestamp, const std::vector<std::string>* nodes,
                            std::uint32_t strings_size) {
    const auto str = [&](const char* name, const std::string& v) { set_prop_at(sk, node, path, name, v.c_str(), v.size() + 1); };
    set_prop_at(sk, node, path, "value", value.data(), value.size());
    if (!o.signer_name.empty()) {
        str("signer-name", o.signer_name);
        str("signer-version", o.signer_version.empty() ? std::string(FITSTREAM_VERSION_STRING) : o.signer_version);
    }
    if (!o.comment.empty()) str("comment", o.comment);
    const fdt32_t t = cpu_to_fdt32(timestamp);
    set_prop_at(sk, node, path, "timestamp", &t, sizeof t);
    if (nodes) {
        std::string list;
        for (const auto& n : *nodes) list.append(n).push_back('\0');
        set_prop_at(sk, node, path, "hashed-nodes", list.data(), list.size());
        const fdt32_t cells[2] = {cpu_to_fdt32(0), cpu_to_fdt32(strings_size)};
        set_prop_at(sk, node, path, "hashed-strings", cells, sizeof cells);
    }
}

// Reads a signature node's algo, padding and hint into a request.
inline signing_request describe_signature(const void* fdt, int node, const std::string& path) {
    signing_request r;
    r.node = path;
    const std::string algo = fdt_string_prop(fdt, node, "algo");
    if (algo.empty()) throw error(errc::bad_image, path, "signature node without an algo");
    r.algo = parse_signature_algorithm(algo);
    const std::string padding = fdt_string_prop(fdt, node, "padding");
    if (!padding.empty() && padding != "pkcs-1.5" && padding != "pss")
        throw error(errc::unsupported, path, "unknown padding '" + padding + "'");
    r.padding = padding == "pss" ? signature_padding::pss : signature_padding::pkcs1_5;
    r.key_name_hint = fdt_string_prop(fdt, node, "key-name-hint");
    return r;
}

// Signs `request` with `key`, checking the value's size and, when the key
// has a public half, the value against it.
inline std::vector<std::uint8_t> sign_checked(const signer& key, const signing_request& request) {
    key.check_for(request.algo, request.padding);
    return checked_signature(key, request);
}

}  // namespace detail

/// What resign_fit() did.
struct resign_result {
    /// Every signature made, in order.
    std::vector<resigned_signature> signatures;
    /// The size to commit the sink with.
    std::uint64_t size = 0;
};

/// Re-signs the FIT at `input` into `out` (see the file comment), leaving
/// the commit to the caller (out.commit(result.size)), so that it can stage
/// a key DTB first: image hashes checked (and added, o.add_hashes), image
/// signatures made, then configuration signatures, in mkimage's order.
/// `out` may be a file_sink on `input` itself (written beside it, renamed
/// over it by commit).
/// @throws fitstream::error: errc::bad_image naming the image when a hash
///         does not match its data or the FIT is malformed; errc::invalid_argument
///         when a signature node has no signer or there is nothing to sign;
///         the signer's error; the sink's.
inline resign_result resign_fit(const std::string& input, sink& out, const resign_options& o) {
    using namespace detail;
    fit_skeleton sk = load_skeleton(input);
    const std::uint32_t timestamp = resign_timestamp(o);
    std::vector<resigned_signature> made;
    const auto blob = [&] { return sk.blob.data(); };

    const int images0 = fdt_path_offset(blob(), "/images");
    if (images0 < 0) throw error(errc::bad_image, input, "no /images node: not a FIT");
    const auto image_names = rs_subnodes(blob(), images0);

    // mkimage -F first moves external data into the FIT (fit_import_data),
    // which adds "data" to the strings block when it is not there yet: do
    // the same, for the same hashed-strings.
    if (sk.embedded.empty())
        for (const auto& name : image_names) {
            const std::string path = "/images/" + name;
            const int node = fdt_path_offset(blob(), path.c_str());
            if (fdt_getprop(blob(), node, "data-offset", nullptr) && fdt_getprop(blob(), node, "data-size", nullptr)) {
                set_prop(sk, path, "data", nullptr, 0);
                sk.check(fdt_delprop(blob(), fdt_path_offset(blob(), path.c_str()), "data"), path, "data");
                break;
            }
        }

    const auto signer_of = [&](const signing_request& about, const std::shared_ptr<const signer>& given) {
        if (given) return given;
        if (!o.key_for) throw error(errc::invalid_argument, about.node, "no key given for this signature");
        auto key = o.key_for(about);
        if (!key) throw error(errc::invalid_argument, about.node, "no key for key-name-hint '" + about.key_name_hint + "'");
        return key;
    };

    for (const auto& name : image_names) {
        const std::string path = "/images/" + name;
        for (const auto& spec : o.image_signatures) add_signature_node(sk, path, spec, false);
        int node = fdt_path_offset(blob(), path.c_str());
        const auto data = sk.image_data(node, name);
        // Every algo this image's bytes are needed for, read once.
        std::vector<std::string> algos;
        const auto want = [&](const std::string& a) {
            if (std::find(algos.begin(), algos.end(), a) == algos.end()) algos.push_back(a);
        };
        bool has_added_algo = o.add_hashes.empty();
        for (const auto& sub : rs_subnodes(blob(), node)) {
            const int s = fdt_subnode_offset(blob(), node, sub.c_str());
            if (rs_starts_with(sub, "hash")) {
                const std::string algo = fdt_string_prop(blob(), s, "algo");
                if (algo.empty()) throw error(errc::bad_image, path + "/" + sub, "hash node without an algo");
                want(algo);
                has_added_algo = has_added_algo || algo == o.add_hashes;
            } else if (rs_starts_with(sub, "signature")) {
                want(describe_signature(blob(), s, path + "/" + sub).algo.checksum);
            }
        }
        if (!has_added_algo) want(o.add_hashes);
        if (algos.empty()) continue;
        if (!data) throw error(errc::bad_image, path, "image has no data to hash");
        const auto digests = digest_payload(sk, *data, algos);
        const auto digest_of = [&](const std::string& a) {
            return digests[static_cast<std::size_t>(std::find(algos.begin(), algos.end(), a) - algos.begin())];
        };
        if (!has_added_algo) {
            const std::string hash = path + "/" + free_node_name(blob(), node, "hash-");
            sk.reserve(1024);
            sk.check(fdt_add_subnode(blob(), fdt_path_offset(blob(), path.c_str()), hash.substr(path.size() + 1).c_str()),
                     hash, "cannot add");
            const auto d = digest_of(o.add_hashes);
            set_prop(sk, hash, "value", d.data(), d.size());
            set_string(sk, hash, "algo", o.add_hashes);
        }
        node = fdt_path_offset(blob(), path.c_str());
        for (const auto& sub : rs_subnodes(blob(), node)) {
            const std::string sub_path = path + "/" + sub;
            const int s = fdt_path_offset(blob(), sub_path.c_str());
            if (rs_starts_with(sub, "hash")) {
                const std::string algo = fdt_string_prop(blob(), s, "algo");
                const auto d = digest_of(algo);
                int len = 0;
                const auto* value = static_cast<const std::uint8_t*>(fdt_getprop(blob(), s, "value", &len));
                if (!value) {
                    set_prop(sk, sub_path, "value", d.data(), d.size());  // as mkimage fills it
                } else if (static_cast<std::size_t>(len) != d.size() || !std::equal(d.begin(), d.end(), value)) {
                    throw error(errc::bad_image, sub_path,
                                "the " + algo + " hash does not match the image's data: refusing to sign a damaged FIT");
                }
            } else if (rs_starts_with(sub, "signature")) {
                signing_request r = describe_signature(blob(), s, sub_path);
                std::shared_ptr<const signer> given;
                for (const auto& spec : o.image_signatures)
                    if (spec.key_name_hint == r.key_name_hint) given = spec.key_signer;
                const auto key = signer_of(r, given);
                r.digest = digest_of(r.algo.checksum);
                const auto value = sign_checked(*key, r);
                write_signature(sk, sub_path, fdt_path_offset(blob(), sub_path.c_str()), value, o, timestamp, nullptr, 0);
                made.push_back({r.node, r.key_name_hint, r.algo, r.padding, r.digest, key});
            }
        }
    }

    // Configurations are walked by node offset, not path: a write inside
    // one signature node moves only what follows it, and looking every
    // node up by path would make a FIT of many configurations quadratic.
    const int confs = fdt_path_offset(blob(), "/configurations");
    // The added signature nodes first: a configuration's signed regions
    // hold its signature nodes' tags, never their properties, so adding
    // them all now changes no digest mkimage's one-by-one order would give.
    if (confs >= 0 && !o.configuration_signatures.empty()) {
        for (const auto& name : rs_subnodes(blob(), confs))
            for (const auto& spec : o.configuration_signatures) {
                if (!spec.key_signer) throw error(errc::invalid_argument, name, "an added signature needs a signer");
                add_signature_node(sk, "/configurations/" + name, spec, true);
            }
    }
    // Image node offsets, found once: they hold while /images comes
    // before /configurations (the writes are all below /configurations).
    std::map<std::string, int> image_offsets;
    const int images = fdt_path_offset(blob(), "/images");
    const bool images_first = images >= 0 && confs >= 0 && images < confs;
    if (images_first) {
        int img = -1;
        fdt_for_each_subnode(img, blob(), images) image_offsets.emplace(fdt_get_name(blob(), img, nullptr), img);
    }
    const std::function<int(const std::string&)> image_offset = [&](const std::string& name) {
        if (images_first) {
            const auto it = image_offsets.find(name);
            return it == image_offsets.end() ? -FDT_ERR_NOTFOUND : it->second;
        }
        const int parent = fdt_path_offset(blob(), "/images");
        return parent < 0 ? parent : fdt_subnode_offset(blob(), parent, name.c_str());
    };
    // mkimage signs one after the other, each over the structure as the
    // ones before left it. Writing a signature changes no other one's
    // regions, only (the first time) the strings block, whose size each
    // signature records: the regions are found with one walk of the
    // structure per strings-block size, over a snapshot (writes move what
    // follows them), not one walk per signature.
    std::vector<char> snapshot;
    std::optional<signed_region_index> index;  // over snapshot
    std::uint32_t indexed_strings = 0;
    for (int conf = confs < 0 ? -1 : fdt_first_subnode(blob(), confs); conf >= 0; conf = fdt_next_subnode(blob(), conf)) {
        const std::string conf_name = fdt_get_name(blob(), conf, nullptr);
        const std::string conf_path = "/configurations/" + conf_name;
        for (int s = fdt_first_subnode(blob(), conf); s >= 0; s = fdt_next_subnode(blob(), s)) {
            const std::string sub = fdt_get_name(blob(), s, nullptr);
            if (!rs_starts_with(sub, "signature")) continue;
            const std::string path = conf_path + "/" + sub;
            signing_request r = describe_signature(blob(), s, path);
            std::shared_ptr<const signer> given;
            for (const auto& spec : o.configuration_signatures)
                if (spec.key_name_hint == r.key_name_hint) given = spec.key_signer;
            const auto key = signer_of(r, given);
            const auto nodes = mkimage_hashed_nodes(blob(), conf, conf_name, s, path, image_offset);
            const std::uint32_t strings_size = fdt_size_dt_strings(blob());
            if (!index || indexed_strings != strings_size) {
                index.reset();
                snapshot.assign(sk.blob.begin(), sk.blob.end());
                index.emplace(snapshot.data());
                indexed_strings = strings_size;
            }
            auto regions = index->regions(nodes, path);
            regions.push_back({fdt_off_dt_strings(snapshot.data()), strings_size});
            r.digest = digest_regions(r.algo.checksum, snapshot.data(), regions);
            if (key->wants_message())
                for (const auto& region : regions)
                    r.message.insert(r.message.end(), snapshot.data() + region.offset,
                                     snapshot.data() + region.offset + region.size);
            const auto value = sign_checked(*key, r);
            write_signature(sk, path, s, value, o, timestamp, &nodes, strings_size);
            made.push_back({r.node, r.key_name_hint, r.algo, r.padding, r.digest, key});
        }
    }
    if (made.empty())
        throw error(errc::invalid_argument, input,
                    "nothing to sign: the FIT has no signature node (add one to every configuration with a key name)");
    resign_result result;
    result.size = write_skeleton(sk, out);
    result.signatures = std::move(made);
    return result;
}

}  // namespace fitstream
