// SPDX-License-Identifier: MIT
#pragma once

// The FIT structure of an image tree source, made the way mkimage makes it,
// so that the result has the same nodes, properties, order and values:
// mkimage (tools/fit_image.c, fit_handle_file) compiles the source with dtc
// and then edits the blob with libfdt: the root `timestamp`; per image, in
// order, each hash node's `value` and each image signature; then each
// configuration signature; then, with -E, every `data` replaced by
// `data-offset` (or `data-position`) and `data-size`. A property libfdt adds
// goes first in its node, one it replaces keeps its place. Replaying the same
// edits on dtc's blob, with zero placeholders where mkimage has digests,
// sizes and signatures, gives the same tree; the writer's pipeline then
// streams the payloads and fills the placeholders as for any FIT.
//
// Nothing here reads a payload, except the first bytes of each (to check
// its container against `compression`) and /incbin/ data that cannot be
// streamed (bounded by build_options::max_inline_payload).

#include <fitstream/codec/builtin.hpp>
#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/detail/read/properties.hpp>
#include <fitstream/detail/text.hpp>
#include <fitstream/detail/sign/regions.hpp>
#include <fitstream/detail/write/structure.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/builtin.hpp>
#include <fitstream/its/checks.hpp>
#include <fitstream/its/options.hpp>
#include <fitstream/its/source.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/sign/key_dtb.hpp>
#include <fitstream/tree.hpp>
#include <fitstream/version.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace fitstream {
namespace detail {

// A devicetree edited in place with libfdt's read-write functions, grown
// whenever an edit needs room. Nodes are named by path: offsets move with
// every edit.
class fdt_editor {
public:
    fdt_editor(const std::vector<char>& blob, std::string subject) : subject_(std::move(subject)) {
        resize(blob.data(), blob.size() + blob.size() / 4 + 4096);
    }

    const void* fdt() const { return buffer_.data(); }

    int node(const std::string& path) const {
        const int at = fdt_path_offset(fdt(), path.c_str());
        fdt_check(at, subject_, path.c_str());
        return at;
    }

    void setprop(const std::string& path, const char* name, const void* value, std::size_t size) {
        edit([&] { return fdt_setprop(data(), node(path), name, value, static_cast<int>(size)); }, path, name);
    }
    void setprop_u32(const std::string& path, const char* name, std::uint32_t value) {
        char be[4];
        fdt32_st(be, value);
        setprop(path, name, be, 4);
    }
    void setprop_string(const std::string& path, const char* name, const std::string& value) {
        setprop(path, name, value.c_str(), value.size() + 1);
    }
    void setprop_zeros(const std::string& path, const char* name, std::size_t size) {
        setprop(path, name, std::vector<char>(size, '\0').data(), size);
    }
    void delprop(const std::string& path, const char* name) {
        edit([&] { return fdt_delprop(data(), node(path), name); }, path, name);
    }
    std::uint32_t strings_size() const { return fdt_size_dt_strings(fdt()); }

    // The finished blob, packed (no free space inside).
    std::vector<char> packed() && {
        fdt_check(fdt_pack(data()), subject_, "fdt_pack");
        const auto* bytes = reinterpret_cast<const char*>(buffer_.data());
        return std::vector<char>(bytes, bytes + fdt_totalsize(fdt()));
    }

private:
    void* data() { return buffer_.data(); }

    void resize(const void* from, std::size_t size) {
        if (size > static_cast<std::size_t>(INT32_MAX / 2))
            throw error(errc::limit_exceeded, subject_, "FIT structure too large");
        std::vector<std::uint64_t> bigger((size + 7) / 8);
        fdt_check(fdt_open_into(from, bigger.data(), static_cast<int>(bigger.size() * 8)), subject_,
                  "cannot open the compiled source");
        buffer_.swap(bigger);
    }

    template <class Op>
    void edit(Op&& op, const std::string& path, const char* name) {
        for (;;) {
            const int rc = op();
            if (rc != -FDT_ERR_NOSPACE) {
                fdt_check(rc, subject_, (path + "/" + name).c_str());
                return;
            }
            const std::vector<std::uint64_t> old = buffer_;
            resize(old.data(), old.size() * 8 * 2);
        }
    }

    std::string subject_;
    std::vector<std::uint64_t> buffer_;  // 8-byte aligned, as libfdt wants
};

// Subnode names of `path`, in order.
inline std::vector<std::string> subnode_names(const void* fdt, int node) {
    std::vector<std::string> out;
    int sub;
    fdt_for_each_subnode(sub, fdt, node) out.emplace_back(fdt_get_name(fdt, sub, nullptr));
    return out;
}

// Runs `f`; an error it throws that does not name the source yet is
// rethrown naming the source and `node`, its own subject kept in the reason.
template <class F>
void at_node(const std::string& source, const std::string& node, F&& f) {
    try {
        f();
    } catch (const error& e) {
        if (e.subject().rfind(source + ": ", 0) == 0) throw;
        // The reason without the code's message, which the new error adds.
        std::string reason = e.reason();
        const std::string tail = e.code().message();
        if (e.code().category() != fitstream_category() && reason.size() >= tail.size() &&
            reason.compare(reason.size() - tail.size(), tail.size(), tail) == 0) {
            reason.erase(reason.size() - tail.size());
            if (reason.size() >= 2 && reason.compare(reason.size() - 2, 2, ": ") == 0) reason.erase(reason.size() - 2);
        }
        throw error(e.code(), source + ": " + node, (e.subject().empty() ? "" : e.subject() + ": ") + reason);
    }
}

inline std::string join_names(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

// The bytes of a value made of literal pieces and /incbin/ ranges, read
// whole: for the few values that cannot be streamed.
inline std::vector<char> materialize(const its::payload_property& p, std::uint64_t& budget) {
    std::vector<char> out;
    for (const auto& piece : p.pieces) {
        if (!piece.file) {
            out.insert(out.end(), piece.bytes.begin(), piece.bytes.end());
            continue;
        }
        const its::incbin& f = *piece.file;
        if (f.length > budget)
            throw error(errc::limit_exceeded, p.property,
                        "/incbin/(\"" + f.written + "\") at " + f.origin +
                            " is read into memory here (only an image's whole `data` is streamed), and " +
                            std::to_string(f.length) + " bytes exceed the limit");
        budget -= f.length;
        if (f.length == 0) continue;
        const auto fd = open_for_reading(f.path);
        const std::size_t at = out.size();
        out.resize(at + static_cast<std::size_t>(f.length));
        pread_exact(fd.get(), out.data() + at, static_cast<std::size_t>(f.length), f.offset, f.path);
    }
    return out;
}

// The first bytes of a source, to tell its format.
inline std::vector<std::uint8_t> payload_head(const source& data) {
    std::vector<std::uint8_t> head;
    if (!data.is_file()) {
        const auto n = std::min<std::size_t>(data.memory_size(), its::payload_head_size);
        head.assign(data.data(), data.data() + n);
        return head;
    }
    const auto fd = open_for_reading(data.name());
    const std::uint64_t size = file_source_size(data, fd.get());
    head.resize(static_cast<std::size_t>(std::min<std::uint64_t>(size, its::payload_head_size)));
    if (!head.empty()) pread_exact(fd.get(), head.data(), head.size(), data.offset(), data.name());
    return head;
}

// What an image tree source becomes before the payloads stream: the images
// to stream (in /images order), the structure with its placeholders, and
// the keys to write to a key DTB (mkimage -K).
struct its_plan {
    tree fit;  // images only: name, source, codec, hashes
    structure st;
    std::vector<key_dtb_entry> key_dtb_entries;
    std::vector<std::string> key_files;  // every key file read
    std::vector<std::shared_ptr<const cipher_key>> cipher_keys;  // for the key DTB, in image order
};

// What one image node holds, as the replay finds it.
struct its_image_node {
    std::string path;
    std::vector<std::string> hash_nodes;  // hash* subnodes, in order
    std::vector<std::string> hash_algos;
    // image::hashes() in order: a hash node's name, or "" for a digest
    // only an image signature needs (mkimage signs the data itself).
    std::vector<std::string> digests;
    std::vector<std::pair<std::string, std::size_t>> unstored;  // algo, offset in unstored_digests
    std::size_t unstored_size = 0;
};

inline its_plan plan_its(const its::compiled_source& src, const its::build_options& options,
                         const layout_options& layout) {
    check_layout_options(layout);
    const std::string& subject = src.path;
    its::check_tree(src.blob.data(), subject);
    fdt_editor tree_edit(src.blob, subject);
    its_plan plan;
    const bool signing = !options.key_dir.empty() || !options.key_file.empty();
    const bool embedded = layout.layout == data_layout::embedded;
    const std::uint32_t timestamp =
        options.timestamp ? *options.timestamp : static_cast<std::uint32_t>(std::time(nullptr));

    // Payloads: an image's whole `data` from one /incbin/ streams; any other
    // /incbin/ value is read now and set, as dtc would have.
    std::map<std::string, const its::payload_property*> streamed;  // image path -> its data
    std::uint64_t inline_budget = options.max_inline_payload;
    for (const auto& p : src.payloads) {
        const bool image_data = p.property == "data" && p.node.rfind("/images/", 0) == 0 &&
                                p.node.find('/', 8) == std::string::npos;
        if (image_data && p.pieces.size() == 1 && p.pieces.front().file) {
            streamed[p.node] = &p;
            continue;
        }
        std::vector<char> bytes;
        at_node(subject, p.node, [&] { bytes = materialize(p, inline_budget); });
        tree_edit.setprop(p.node, p.property.c_str(), bytes.data(), bytes.size());
    }

    // mkimage's first edit: the root timestamp.
    tree_edit.setprop_u32("/", "timestamp", timestamp);

    // Then every image's cipher node, as fit_cipher_data: the key read, a
    // random IV into the cipher node (mkimage: only with -K, else it is
    // lost), `data` replaced by the encrypted bytes (in place: streamed
    // later) and data-size-unciphered added. An image that already has
    // data-size-unciphered is taken as encrypted, as mkimage does.
    std::map<std::string, std::shared_ptr<const cipher_key>> ciphers;  // image path -> key
    std::map<std::string, bool> has_cipher;                            // image path -> has a cipher node
    for (const auto& name : subnode_names(tree_edit.fdt(), tree_edit.node("/images"))) {
        const std::string path = "/images/" + name;
        const std::string cipher_path = path + "/cipher";
        const int node = fdt_path_offset(tree_edit.fdt(), cipher_path.c_str());
        if (node == -FDT_ERR_NOTFOUND) continue;
        fdt_check(node, subject, cipher_path.c_str());
        has_cipher[path] = true;
        if (fdt_getprop(tree_edit.fdt(), tree_edit.node(path), "data-size-unciphered", nullptr)) continue;
        at_node(subject, cipher_path, [&] {
            cipher_spec spec;
            spec.algo = fdt_first_string_prop(tree_edit.fdt(), node, "algo");
            spec.key_name_hint = fdt_first_string_prop(tree_edit.fdt(), node, "key-name-hint");
            spec.iv_name_hint = fdt_first_string_prop(tree_edit.fdt(), node, "iv-name-hint");
            spec.key_dir = options.key_dir;
            if (spec.algo.empty()) throw error(errc::invalid_argument, subject + ": " + cipher_path, "no algo");
            if (spec.key_name_hint.empty())
                throw error(errc::invalid_argument, subject + ": " + cipher_path, "no key-name-hint");
            // mkimage without -k stores such an image in the clear, its
            // cipher node a lie: refused.
            if (spec.key_dir.empty())
                throw error(errc::invalid_argument, subject + ": " + cipher_path,
                            "an encrypted image needs -k KEYDIR (the key is KEYDIR/" + spec.key_name_hint + ".bin)");
            auto key = cipher_key::load(spec, subject + ": " + cipher_path);
            plan.key_files.push_back(spec.key_dir + "/" + spec.key_name_hint + ".bin");
            if (!spec.iv_name_hint.empty()) plan.key_files.push_back(spec.key_dir + "/" + spec.iv_name_hint + ".bin");
            if (key->iv_in_fit()) tree_edit.setprop(cipher_path, "iv", key->iv().data(), key->iv().size());
            tree_edit.setprop_zeros(path, "data-size-unciphered", 4);
            plan.cipher_keys.push_back(key);
            ciphers[path] = std::move(key);
        });
    }

    key_cache keys;
    std::vector<its_image_node> image_nodes;
    std::vector<std::string> signature_paths;  // in the order they are made
    const auto sign_spec = [&](const std::string& path) {
        const int node = tree_edit.node(path);
        signature_spec spec;
        spec.algo = options.algo.empty() ? fdt_first_string_prop(tree_edit.fdt(), node, "algo") : options.algo;
        if (spec.algo.empty()) throw error(errc::invalid_argument, subject + ": " + path, "signature node has no algo");
        spec.key_name_hint = fdt_first_string_prop(tree_edit.fdt(), node, "key-name-hint");
        spec.key_dir = options.key_dir;
        spec.key_file = options.key_file;
        const std::string padding = fdt_first_string_prop(tree_edit.fdt(), node, "padding");
        if (padding == "pss") spec.padding = signature_padding::pss;
        else if (!padding.empty() && padding != "pkcs-1.5")
            throw error(errc::unsupported, subject + ": " + path, "padding \"" + padding + "\" is not pkcs-1.5 or pss");
        return spec;
    };
    // fit_image_write_sig's properties, each added (so first) or replaced.
    const auto write_signature = [&](const std::string& path, const signature_slot& slot) {
        tree_edit.setprop_zeros(path, "value", slot.algo.signature_size);
        tree_edit.setprop_string(path, "signer-name", options.signer_name);
        tree_edit.setprop_string(path, "signer-version",
                                 options.signer_version.empty() ? version_string() : options.signer_version);
        if (!options.comment.empty()) tree_edit.setprop_string(path, "comment", options.comment);
        tree_edit.setprop_u32(path, "timestamp", timestamp);
    };

    // Images, in order: data, hashes, image signatures.
    const std::vector<std::string> image_names = subnode_names(tree_edit.fdt(), tree_edit.node("/images"));
    std::vector<signature_slot> signatures;
    for (const auto& name : image_names) at_node(subject, "/images/" + name, [&] {
        its_image_node node;
        node.path = "/images/" + name;
        int at = tree_edit.node(node.path);
        source data = source::memory({}, node.path);
        if (auto s = streamed.find(node.path); s != streamed.end()) {
            const its::incbin& f = *s->second->pieces.front().file;
            // An empty payload (/dev/null, or a range of length 0) needs no file.
            data = f.length == 0 ? source::memory({}, f.path) : source::file_range(f.path, f.offset, f.length);
        } else {
            int len = 0;
            const void* value = fdt_getprop(tree_edit.fdt(), at, "data", &len);
            if (!value)
                throw error(errc::invalid_argument, subject + ": " + node.path,
                            "image has no data (mkimage: \"Can't get image data/size\")");
            const auto* bytes = static_cast<const char*>(value);
            data = source::memory(std::vector<char>(bytes, bytes + len), node.path + "/data");
            tree_edit.setprop(node.path, "data", nullptr, 0);
            at = tree_edit.node(node.path);
        }
        image img(name, fdt_first_string_prop(tree_edit.fdt(), at, "type"), std::move(data));
        if (auto c = ciphers.find(node.path); c != ciphers.end()) img.encrypt_with(c->second);

        // The payload against its declared container.
        std::string compression = fdt_first_string_prop(tree_edit.fdt(), at, "compression");
        if (compression.empty()) compression = "none";
        if (!is_codec_name(compression) && !options.allow_compression_mismatch)
            throw error(errc::unsupported, subject + ": " + node.path,
                        "compression \"" + compression + "\" is not one U-Boot decodes (" +
                            codec_names(builtin_codecs{}) + ")");
        const auto head = payload_head(img.data);
        const std::string kind = its::identify_payload(head.data(), head.size());
        if (!its::payload_matches(compression, kind)) {
            const std::string what = "compression = \"" + compression + "\", but the payload (" + img.data.name() +
                                     ") is " + its::describe_payload(kind);
            if (options.compress_images && !its::payload_is_compressed(kind) && is_codec_name(compression)) {
                visit_codec(compression, [&](auto tag) { img.compress_with<typename decltype(tag)::type>(); });
            } else if (!options.allow_compression_mismatch) {
                throw error(errc::invalid_input, subject + ": " + node.path,
                            what + (its::payload_is_compressed(kind)
                                        ? std::string("; U-Boot would fail to decompress it")
                                        : std::string("; --compress-images has fitpack compress it")) +
                                " (--allow-compression-mismatch stores it anyway)");
            }
        }

        for (const auto& sub : subnode_names(tree_edit.fdt(), at)) {
            const std::string path = node.path + "/" + sub;
            if (has_prefix(sub, "hash")) {
                const std::string algo = fdt_first_string_prop(tree_edit.fdt(), tree_edit.node(path), "algo");
                if (algo.empty())
                    throw error(errc::invalid_argument, subject + ": " + path, "hash node has no algo");
                std::size_t size = 0;
                visit_hash(algo, [&](auto tag) {
                    using hash_type = typename decltype(tag)::type;
                    img.add_hash<hash_type>();
                    size = hash_type::digest_size;
                });
                tree_edit.setprop_zeros(path, "value", size);
                node.hash_nodes.push_back(sub);
                node.hash_algos.push_back(algo);
                node.digests.push_back(sub);
            } else if (signing && has_prefix(sub, "signature")) {
                const auto spec = sign_spec(path);
                auto slot = prepare_signature(spec, path, keys);
                // The signature signs the digest of the data: a hash node's
                // value when one has its algorithm, else a digest computed
                // alongside and stored nowhere.
                const auto h = std::find(node.hash_algos.begin(), node.hash_algos.end(), slot.algo.checksum);
                if (h != node.hash_algos.end()) {
                    slot.hashed_nodes = {node.hash_nodes[static_cast<std::size_t>(h - node.hash_algos.begin())]};
                } else {
                    auto u = std::find_if(node.unstored.begin(), node.unstored.end(),
                                          [&](const auto& e) { return e.first == slot.algo.checksum; });
                    if (u == node.unstored.end()) {
                        std::size_t size = 0;
                        visit_hash(slot.algo.checksum, [&](auto tag) {
                            using hash_type = typename decltype(tag)::type;
                            img.add_hash<hash_type>();
                            size = hash_type::digest_size;
                        });
                        node.digests.emplace_back();
                        node.unstored.emplace_back(slot.algo.checksum, node.unstored_size);
                        node.unstored_size += size;
                        u = node.unstored.end() - 1;
                    }
                    slot.digest_at = image_slots::unstored;
                    slot.unstored_digest_at = u->second;
                }
                write_signature(path, slot);
                if (!options.algo.empty()) tree_edit.setprop_string(path, "algo", options.algo);
                slot.image = plan.fit.images.size();
                plan.key_dtb_entries.push_back({slot.key, spec.key_name_hint, slot.algo.name,
                                                options.require_keys ? "image" : ""});
                signatures.push_back(std::move(slot));
                signature_paths.push_back(path);
            }
        }
        image_nodes.push_back(std::move(node));
        plan.fit.images.push_back(std::move(img));
    });

    // Configuration signatures, as fit_config_process_sig makes them.
    if (signing && fdt_path_offset(tree_edit.fdt(), "/configurations") >= 0) {
        for (const auto& conf : subnode_names(tree_edit.fdt(), tree_edit.node("/configurations"))) {
            const std::string conf_path = "/configurations/" + conf;
            for (const auto& sub : subnode_names(tree_edit.fdt(), tree_edit.node(conf_path))) {
                if (!has_prefix(sub, "signature")) continue;
                const std::string path = conf_path + "/" + sub;
                at_node(subject, path, [&] {
                const auto spec = sign_spec(path);
                auto slot = prepare_signature(spec, path, keys);
                // The images to cover: sign-images, else mkimage's default.
                const int sig_node = tree_edit.node(path);
                std::vector<std::string> props = fdt_strings_prop(tree_edit.fdt(), sig_node, "sign-images");
                const bool allow_missing = !fdt_getprop(tree_edit.fdt(), sig_node, "sign-images", nullptr);
                if (allow_missing) props = {"kernel", "fdt"};
                // As mkimage's fit_config_get_hash_list: a property the
                // configuration lacks names nothing; an image that does not
                // exist is an error (skipped under the default list); an
                // image without a hash node, or no image at all, would leave
                // the payloads unprotected and is refused.
                std::vector<hashed_image> covered;
                for (const auto& prop : props) {
                    for (const auto& image_name :
                         fdt_strings_prop(tree_edit.fdt(), tree_edit.node(conf_path), prop.c_str())) {
                        const auto n = std::find(image_names.begin(), image_names.end(), image_name);
                        if (n == image_names.end()) {
                            if (allow_missing) continue;
                            throw error(errc::invalid_argument, subject + ": " + path,
                                        "sign-images names '" + prop + "', whose image '" + image_name +
                                            "' is not in /images");
                        }
                        const auto& hashes = image_nodes[static_cast<std::size_t>(n - image_names.begin())].hash_nodes;
                        if (hashes.empty())
                            throw error(errc::invalid_argument, subject + ": " + path,
                                        "image '" + image_name + "' has no hash node, so the signature cannot "
                                        "protect its data (mkimage refuses this too)");
                        covered.push_back({image_name, hashes, has_cipher.count("/images/" + image_name) != 0});
                    }
                }
                if (covered.empty())
                    throw error(errc::invalid_argument, subject + ": " + path,
                                "signs no image: none of sign-images (" +
                                    (allow_missing ? std::string("by default kernel, fdt") : join_names(props)) +
                                    ") names an image of the configuration");
                slot.hashed_nodes = hashed_node_list(conf, covered);
                if (slot.hashed_nodes.size() > max_hashed_nodes)
                    throw error(errc::invalid_argument, subject + ": " + path,
                                "signs " + std::to_string(slot.hashed_nodes.size()) + " nodes, but U-Boot verifies at most " +
                                    std::to_string(max_hashed_nodes) + " per configuration");
                // mkimage covers the strings block as it is before this
                // signature's own properties join it.
                slot.hashed_strings_size = tree_edit.strings_size();
                write_signature(path, slot);
                std::string joined;
                for (const auto& n : slot.hashed_nodes) joined.append(n).push_back('\0');
                tree_edit.setprop(path, "hashed-nodes", joined.data(), joined.size());
                tree_edit.setprop_zeros(path, "hashed-strings", 8);
                if (!options.algo.empty()) tree_edit.setprop_string(path, "algo", options.algo);
                plan.key_dtb_entries.push_back({slot.key, spec.key_name_hint, slot.algo.name,
                                                options.require_keys ? "conf" : ""});
                signatures.push_back(std::move(slot));
                signature_paths.push_back(path);
                });
            }
        }
    }

    for (const auto& k : keys) plan.key_files.push_back(k.first);

    // External data, as fit_extract_data: `data` out, offset and size in.
    if (!embedded) {
        for (const auto& node : image_nodes) {
            tree_edit.delprop(node.path, "data");
            tree_edit.setprop_zeros(node.path, layout.position ? "data-position" : "data-offset", 4);
            tree_edit.setprop_zeros(node.path, "data-size", 4);
        }
    }

    // The final blob, and where its placeholders are.
    plan.st.blob = std::move(tree_edit).packed();
    const void* fdt = plan.st.blob.data();
    const auto value_at = [&](const std::string& path, const char* name) {
        const int node = fdt_path_offset(fdt, path.c_str());
        fdt_check(node, subject, path.c_str());
        int len = 0;
        const void* value = fdt_getprop(fdt, node, name, &len);
        if (!value) fdt_check(len, subject, (path + "/" + name).c_str());
        return static_cast<std::size_t>(static_cast<const char*>(value) - plan.st.blob.data());
    };
    plan.st.slots.resize(image_nodes.size());
    for (std::size_t i = 0; i < image_nodes.size(); ++i) {
        const auto& node = image_nodes[i];
        auto& slots = plan.st.slots[i];
        if (embedded) {
            slots.data_end = value_at(node.path, "data");
        } else {
            slots.data_size_at = value_at(node.path, "data-size");
            slots.data_offset_at = value_at(node.path, layout.position ? "data-position" : "data-offset");
        }
        for (const auto& h : node.digests)
            slots.hash_value_at.push_back(h.empty() ? image_slots::unstored : value_at(node.path + "/" + h, "value"));
        if (ciphers.count(node.path)) slots.unciphered_size_at = value_at(node.path, "data-size-unciphered");
    }
    for (std::size_t k = 0; k < signatures.size(); ++k) {
        auto& slot = signatures[k];
        slot.value_at = value_at(signature_paths[k], "value");
        if (slot.hashed_strings_size != 0) {
            slot.hashed_strings_at = value_at(signature_paths[k], "hashed-strings");
        } else if (slot.digest_at != image_slots::unstored) {
            const auto& node = image_nodes[slot.image];
            slot.digest_at = value_at(node.path + "/" + slot.hashed_nodes.front(), "value");
            slot.hashed_nodes.clear();
        }
    }
    plan.st.signatures = std::move(signatures);
    return plan;
}

}  // namespace detail
}  // namespace fitstream
