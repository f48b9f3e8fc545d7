// SPDX-License-Identifier: MIT
#pragma once

// A FIT read for re-signing without its payloads: the devicetree with every
// image's embedded `data` property emptied (its bytes stay in the file and
// are streamed through when the result is written), opened with room so
// that libfdt's read-write calls can add nodes and properties exactly as
// mkimage -F does. U-Boot leaves `data` out of every signed region, so the
// regions hold the same bytes with or without the payloads; `hashed-strings`
// does not depend on them either.
//
// Written back (write_skeleton()), the structure gets each payload again at
// its `data` property, and external data (`data-offset`, `data-position`)
// is copied from the input byte for byte: the payloads never pass through
// memory whole, only in steps of io_step.

#include <fitstream/detail/io/file.hpp>
#include <fitstream/detail/lib/libfdt.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/builtin.hpp>
#include <fitstream/sink.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace fitstream {
namespace detail {

// The most structure (without payloads) and strings a re-signed FIT may
// have: far beyond any real FIT, small enough to hold in memory.
inline constexpr std::uint64_t max_skeleton_size = 256u << 20;
// Room added for the nodes and properties re-signing writes, per node of
// the tree (signatures, hash nodes) and once.
inline constexpr std::size_t skeleton_room = 64u << 10;

struct fit_skeleton {
    std::string path;               // the input, for messages and payloads
    unique_fd fd;                   // kept open: payloads are read from it
    std::uint64_t file_size = 0;
    std::uint64_t old_totalsize = 0;
    std::vector<char> blob;         // the devicetree, data emptied, with room
    // Embedded payloads by image node name: where the bytes are in the input.
    struct payload {
        std::uint64_t offset = 0;
        std::uint32_t size = 0;
    };
    std::map<std::string, payload> embedded;
    bool has_external = false;      // some image has data-offset or data-position

    // Where an image's stored bytes are in the input, or nullopt when it has
    // none. Throws errc::bad_image when its data lies outside the file.
    std::optional<payload> image_data(int node, const std::string& name) const {
        if (const auto it = embedded.find(name); it != embedded.end()) return it->second;
        const auto* off = static_cast<const fdt32_t*>(fdt_getprop(blob.data(), node, "data-offset", nullptr));
        const auto* pos = static_cast<const fdt32_t*>(fdt_getprop(blob.data(), node, "data-position", nullptr));
        const auto* size = static_cast<const fdt32_t*>(fdt_getprop(blob.data(), node, "data-size", nullptr));
        if ((!off && !pos) || !size) return std::nullopt;
        payload p;
        p.size = fdt32_to_cpu(*size);
        p.offset = pos ? fdt32_to_cpu(*pos) : external_base() + fdt32_to_cpu(*off);
        if (p.offset + p.size > file_size)
            throw error(errc::bad_image, path, "image " + name + ": data lies past the end of the file");
        return p;
    }

    // Where data-offset counts from in the input.
    std::uint64_t external_base() const { return (old_totalsize + 3) & ~std::uint64_t{3}; }

    // Streams `p` to `consume(const char*, size_t)` in steps of io_step.
    template <class Consume>
    void read_payload(const payload& p, Consume&& consume) const {
        std::vector<char> buffer(static_cast<std::size_t>(std::min<std::uint64_t>(p.size, io_step)));
        for (std::uint64_t done = 0; done < p.size;) {
            const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(p.size - done, buffer.size()));
            pread_exact(fd.get(), buffer.data(), n, p.offset + done, path);
            consume(buffer.data(), n);
            done += n;
        }
    }

    void check(int rc, const std::string& subject, const char* what) const {
        if (rc < 0) throw error(std::error_code(rc, libfdt_category()), subject, what);
    }

    // Makes sure `extra` more bytes fit into the blob: libfdt's writes fail
    // with -FDT_ERR_NOSPACE rather than grow it.
    void reserve(std::size_t extra) {
        const std::size_t used = fdt_off_dt_strings(blob.data()) + fdt_size_dt_strings(blob.data());
        if (used + extra <= blob.size()) return;
        std::vector<char> bigger(used + extra + skeleton_room);
        check(fdt_open_into(blob.data(), bigger.data(), static_cast<int>(bigger.size())), path, "cannot grow the structure");
        blob.swap(bigger);
    }
};

// A window over a file for reading a structure block tag by tag.
class window_reader {
public:
    window_reader(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    // `n` bytes at `offset`, valid until the next call.
    const char* get(std::uint64_t offset, std::size_t n) {
        if (offset < start_ || offset + n > start_ + data_.size()) {
            data_.resize(std::max<std::size_t>(n, 1u << 20));
            data_.resize(pread_up_to(fd_, data_.data(), data_.size(), offset, path_));
            start_ = offset;
            if (data_.size() < n) throw error(errc::invalid_input, path_, "unexpected end of file in the FIT structure");
        }
        return data_.data() + (offset - start_);
    }

private:
    int fd_;
    std::string path_;
    std::vector<char> data_;
    std::uint64_t start_ = 0;
};


// Reads the FIT at `path` as a skeleton (see the file comment).
// Throws errc::invalid_input / bad_image naming `path` for what is not a FIT
// libfdt accepts, errc::limit_exceeded when its structure without the
// payloads passes max_skeleton_size.
inline fit_skeleton load_skeleton(const std::string& path) {
    fit_skeleton sk;
    sk.path = path;
    sk.fd = open_for_reading(path);
    sk.file_size = file_size(sk.fd.get(), path);
    fdt_header h{};
    if (sk.file_size < sizeof h) throw error(errc::invalid_input, path, "too short for a FIT");
    pread_exact(sk.fd.get(), &h, sizeof h, 0, path);
    if (fdt_magic(&h) != FDT_MAGIC) throw error(errc::invalid_input, path, "not a FIT (no devicetree magic)");
    if (fdt_version(&h) < 17) throw error(errc::invalid_input, path, "devicetree version before 17");
    sk.old_totalsize = fdt_totalsize(&h);
    const std::uint64_t struct_off = fdt_off_dt_struct(&h), struct_size = fdt_size_dt_struct(&h);
    const std::uint64_t strings_off = fdt_off_dt_strings(&h), strings_size = fdt_size_dt_strings(&h);
    const std::uint64_t rsv_off = fdt_off_mem_rsvmap(&h);
    if (sk.old_totalsize > sk.file_size || struct_off + struct_size > sk.old_totalsize ||
        strings_off + strings_size > sk.old_totalsize || rsv_off < sizeof h || rsv_off % 8 || rsv_off > struct_off)
        throw error(errc::invalid_input, path, "FIT header does not fit the file");
    if (strings_size > max_skeleton_size)
        throw error(errc::limit_exceeded, path, "strings block too large to re-sign");

    std::vector<char> strings(static_cast<std::size_t>(strings_size));
    pread_exact(sk.fd.get(), strings.data(), strings.size(), strings_off, path);
    std::vector<char> rsv(static_cast<std::size_t>(struct_off - rsv_off));
    pread_exact(sk.fd.get(), rsv.data(), rsv.size(), rsv_off, path);

    // The structure, tag by tag, with the payloads of /images/*/data left out.
    std::vector<char> st;
    window_reader in(sk.fd.get(), path);
    std::vector<std::string> names;  // open nodes
    std::uint64_t at = 0;
    const auto bad = [&](const char* why) { return error(errc::bad_image, path, why); };
    for (;;) {
        if (at + 4 > struct_size) throw bad("structure block ends without FDT_END");
        const std::uint32_t tag = fdt32_ld(reinterpret_cast<const fdt32_t*>(in.get(struct_off + at, 4)));
        const std::uint64_t start = at;
        at += 4;
        if (tag == FDT_BEGIN_NODE) {
            std::string name;
            for (;;) {
                if (at >= struct_size || name.size() > 4096) throw bad("node name without an end");
                const char c = *in.get(struct_off + at, 1);
                ++at;
                if (!c) break;
                name += c;
            }
            at = (at + 3) & ~std::uint64_t{3};
            names.push_back(name);
        } else if (tag == FDT_PROP) {
            if (at + 8 > struct_size) throw bad("property header past the structure block");
            const char* hdr = in.get(struct_off + at, 8);
            const std::uint32_t len = fdt32_ld(reinterpret_cast<const fdt32_t*>(hdr)), nameoff = fdt32_ld(reinterpret_cast<const fdt32_t*>(hdr + 4));
            at += 8;
            if (at + len > struct_size) throw bad("property value past the structure block");
            if (nameoff >= strings_size) throw bad("property name outside the strings block");
            const char* pname = strings.data() + nameoff;
            if (!std::memchr(pname, 0, strings.size() - nameoff)) throw bad("property name without an end");
            const bool payload = names.size() == 3 && names[1] == "images" && std::strcmp(pname, "data") == 0;
            if (payload) {
                if (!sk.embedded.emplace(names[2], fit_skeleton::payload{struct_off + at, len}).second)
                    throw bad("an image with two data properties");
                const fdt32_t words[3] = {cpu_to_fdt32(FDT_PROP), cpu_to_fdt32(0), cpu_to_fdt32(nameoff)};
                const char* w = reinterpret_cast<const char*>(words);
                st.insert(st.end(), w, w + sizeof words);
                at = (at + len + 3) & ~std::uint64_t{3};
                continue;
            }
            if (std::strcmp(pname, "data-offset") == 0 || std::strcmp(pname, "data-position") == 0)
                sk.has_external = true;
            at = (at + len + 3) & ~std::uint64_t{3};
        } else if (tag == FDT_END_NODE) {
            if (names.empty()) throw bad("unbalanced end of node");
            names.pop_back();
        } else if (tag == FDT_NOP) {
        } else if (tag == FDT_END) {
            const char* p = in.get(struct_off + start, 4);
            st.insert(st.end(), p, p + 4);
            break;
        } else {
            throw bad("unknown structure tag");
        }
        if (at > struct_size) throw bad("structure runs past its block");
        if (st.size() + (at - start) > max_skeleton_size)
            throw error(errc::limit_exceeded, path, "structure too large to re-sign (besides the image data)");
        const char* p = in.get(struct_off + start, static_cast<std::size_t>(at - start));
        st.insert(st.end(), p, p + (at - start));
    }

    // Assemble a plain devicetree and let libfdt check it and give it room.
    std::vector<char> raw(sizeof h + rsv.size() + st.size() + strings.size() + 8);
    fdt_header nh = h;
    const std::size_t rsv_at = sizeof h;  // 40: 8-aligned
    const std::size_t st_at = rsv_at + rsv.size();
    const std::size_t str_at = st_at + st.size();
    std::memcpy(raw.data() + rsv_at, rsv.data(), rsv.size());
    std::memcpy(raw.data() + st_at, st.data(), st.size());
    std::memcpy(raw.data() + str_at, strings.data(), strings.size());
    std::memcpy(raw.data(), &nh, sizeof nh);
    fdt_set_off_mem_rsvmap(raw.data(), static_cast<std::uint32_t>(rsv_at));
    fdt_set_off_dt_struct(raw.data(), static_cast<std::uint32_t>(st_at));
    fdt_set_size_dt_struct(raw.data(), static_cast<std::uint32_t>(st.size()));
    fdt_set_off_dt_strings(raw.data(), static_cast<std::uint32_t>(str_at));
    fdt_set_totalsize(raw.data(), static_cast<std::uint32_t>(str_at + strings.size()));
    const int rc = check_fdt(raw.data(), str_at + strings.size());
    if (rc < 0) throw error(std::error_code(rc, libfdt_category()), path, "FIT structure is not valid");
    sk.blob.resize(raw.size() + skeleton_room);
    sk.check(fdt_open_into(raw.data(), sk.blob.data(), static_cast<int>(sk.blob.size())), path, "cannot open the structure");
    return sk;
}

// The digests, with each of `algos` (FIT hash names), of an image's stored
// bytes, read once.
inline std::vector<std::vector<std::uint8_t>> digest_payload(const fit_skeleton& sk, const fit_skeleton::payload& p,
                                                             const std::vector<std::string>& algos) {
    std::vector<std::function<void(const char*, std::size_t)>> updates;
    std::vector<std::function<std::vector<std::uint8_t>()>> finals;
    for (const auto& algo : algos) {
        visit_hash(algo, [&](auto tag) {
            using H = typename decltype(tag)::type;
            auto h = std::make_shared<H>();
            updates.push_back([h](const char* d, std::size_t n) { h->update(d, n); });
            finals.push_back([h] {
                const auto d = h->final();
                return std::vector<std::uint8_t>(d.begin(), d.end());
            });
        });
    }
    sk.read_payload(p, [&](const char* d, std::size_t n) {
        for (auto& u : updates) u(d, n);
    });
    std::vector<std::vector<std::uint8_t>> out;
    for (auto& f : finals) out.push_back(f());
    return out;
}

inline std::uint64_t largest_alignment(std::uint64_t offset) {
    std::uint64_t align = 4;
    while (align < (64u << 10) && offset % (align * 2) == 0) align *= 2;
    return align;
}

// Writes the skeleton to `out` with its payloads (see the file comment)
// and returns the size to commit `out` with (the caller commits, so that a
// key DTB can be staged first). External data keeps its offsets: the area after the
// structure moves only when the new structure does not fit before it, and
// then by a multiple of its alignment (up to 64 KiB), so aligned payloads
// stay aligned. Data at absolute `data-position`s stays where it is; a
// structure grown past the first of them fails (errc::limit_exceeded).
inline std::uint64_t write_skeleton(fit_skeleton& sk, sink& out) {
    char* fdt = sk.blob.data();
    sk.check(fdt_pack(fdt), sk.path, "cannot pack the structure");
    const std::uint64_t struct_off = fdt_off_dt_struct(fdt);
    // The new structure size: the skeleton's plus each payload, 4-aligned.
    std::uint64_t grown = 0;
    for (const auto& [name, p] : sk.embedded) {
        (void)name;
        grown += (p.size + 3u) & ~3u;
    }
    const std::uint64_t new_struct_size = fdt_size_dt_struct(fdt) + grown;
    const std::uint64_t strings_at = struct_off + new_struct_size;
    const std::uint64_t fdt_end = strings_at + fdt_size_dt_strings(fdt);

    // External data: where it goes.
    std::uint64_t copy_from = 0, copy_to = 0, copy_size = 0, totalsize = fdt_end;
    if (sk.has_external) {
        std::uint64_t min_position = UINT64_MAX;
        bool offsets = false;
        const int images = fdt_path_offset(fdt, "/images");
        int node = -1;
        if (images >= 0)
            fdt_for_each_subnode(node, fdt, images) {
                if (const auto* pos = static_cast<const fdt32_t*>(fdt_getprop(fdt, node, "data-position", nullptr)))
                    min_position = std::min<std::uint64_t>(min_position, fdt32_to_cpu(*pos));
                else if (fdt_getprop(fdt, node, "data-offset", nullptr))
                    offsets = true;
            }
        const std::uint64_t old_base = sk.external_base();
        const std::uint64_t needed = (fdt_end + 3) & ~std::uint64_t{3};
        if (min_position != UINT64_MAX) {
            if (offsets)
                throw error(errc::unsupported, sk.path, "re-signing a FIT with both data-offset and data-position");
            if (needed > min_position)
                throw error(errc::limit_exceeded, sk.path,
                            "the re-signed structure (" + std::to_string(fdt_end) + " bytes) would overlap the data at "
                            "data-position " + std::to_string(min_position) + " (pack it with a larger -p)");
            copy_from = copy_to = min_position;
        } else {
            std::uint64_t base = old_base;
            if (needed > old_base) {
                const std::uint64_t align = largest_alignment(old_base);
                base = old_base + (needed - old_base + align - 1) / align * align;
            }
            copy_from = old_base;
            copy_to = base;
            totalsize = base;  // data-offset counts from ALIGN(totalsize, 4)
        }
        copy_size = sk.file_size > copy_from ? sk.file_size - copy_from : 0;
    }
    if (totalsize > 0xffffffffu || new_struct_size > 0xffffffffu)
        throw error(errc::limit_exceeded, sk.path, "re-signed FIT structure passes 4 GiB");

    // Header and memory reservations.
    std::vector<char> head(fdt, fdt + struct_off);
    fdt_set_size_dt_struct(head.data(), static_cast<std::uint32_t>(new_struct_size));
    fdt_set_off_dt_strings(head.data(), static_cast<std::uint32_t>(strings_at));
    fdt_set_totalsize(head.data(), static_cast<std::uint32_t>(totalsize));
    out.write_at(0, head.data(), head.size());

    // The structure, each emptied data property given its payload again.
    std::uint64_t at = struct_off;
    std::vector<std::string> names;
    int offset = 0, next = 0;
    std::uint32_t tag = 0;
    std::size_t run_start = 0;  // start of the bytes not yet written (blob offset from the struct)
    const char* base = fdt + struct_off;
    const auto flush = [&](std::size_t upto) {
        if (upto > run_start) {
            out.write_at(at, base + run_start, upto - run_start);
            at += upto - run_start;
        }
        run_start = upto;
    };
    do {
        tag = fdt_next_tag(fdt, offset, &next);
        if (next < 0) throw error(errc::bad_image, sk.path, "corrupt structure while writing");
        if (tag == FDT_BEGIN_NODE) {
            names.emplace_back(fdt_get_name(fdt, offset, nullptr));
        } else if (tag == FDT_END_NODE) {
            names.pop_back();
        } else if (tag == FDT_PROP && names.size() == 3 && names[1] == "images") {
            int len = 0;
            const auto* prop = fdt_get_property_by_offset(fdt, offset, &len);
            const char* pname = fdt_string(fdt, static_cast<int>(fdt32_ld(&prop->nameoff)));
            const auto it = sk.embedded.find(names[2]);
            if (pname && std::strcmp(pname, "data") == 0 && it != sk.embedded.end() && len == 0) {
                flush(static_cast<std::size_t>(offset));
                char hdr[12];
                const fdt32_t words[3] = {cpu_to_fdt32(FDT_PROP), cpu_to_fdt32(it->second.size), prop->nameoff};
                std::memcpy(hdr, words, sizeof hdr);
                out.write_at(at, hdr, sizeof hdr);
                at += sizeof hdr;
                sk.read_payload(it->second, [&](const char* d, std::size_t n) {
                    out.write_at(at, d, n);
                    at += n;
                });
                const std::uint32_t pad = ((it->second.size + 3u) & ~3u) - it->second.size;
                if (pad) {
                    const char zeros[4] = {};
                    out.write_at(at, zeros, pad);
                    at += pad;
                }
                run_start = static_cast<std::size_t>(next);
            }
        }
        offset = next;
    } while (tag != FDT_END);
    flush(static_cast<std::size_t>(offset));
    out.write_at(at, fdt + fdt_off_dt_strings(fdt), fdt_size_dt_strings(fdt));

    // External data, byte for byte.
    std::vector<char> buffer(static_cast<std::size_t>(std::min<std::uint64_t>(copy_size, io_step)));
    for (std::uint64_t done = 0; done < copy_size;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(copy_size - done, buffer.size()));
        pread_exact(sk.fd.get(), buffer.data(), n, copy_from + done, sk.path);
        out.write_at(copy_to + done, buffer.data(), n);
        done += n;
    }
    return copy_size ? copy_to + copy_size : totalsize;
}

}  // namespace detail
}  // namespace fitstream
