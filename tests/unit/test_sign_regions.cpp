// SPDX-License-Identifier: MIT
// The port of U-Boot's fdt_find_regions() (boot/fdt_region.c) that decides
// which structure bytes a configuration signature covers, on small trees
// built here with libfdt's sequential writer: no key, no signing. Each
// expectation is what U-Boot's function returns for the same tree and node
// list, as fit_config_check_sig (boot/image-fit-sig.c) calls it: the data
// properties excluded, a 200-byte path buffer, 20 + 7 per node regions.

#define BOOST_TEST_MODULE sign_regions
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <libfdt.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

using fitstream::detail::byte_region;
using fitstream::detail::find_signed_regions;

namespace fitstream::detail {
inline bool operator==(const byte_region& a, const byte_region& b) {
    return a.offset == b.offset && a.size == b.size;
}
inline std::ostream& operator<<(std::ostream& os, const byte_region& r) {
    return os << '[' << r.offset << ", +" << r.size << ')';
}
}  // namespace fitstream::detail

namespace {

// A tree written with libfdt's sequential writer, remembering where each
// tag starts (offsets into the structure block) under a name of the test's
// choosing, so that expected regions can be written as tag offsets.
class tree {
public:
    tree() : buf_(64 * 1024 / 8) {
        check(fdt_create(data(), size()));
        check(fdt_finish_reservemap(data()));
    }

    tree& begin(const std::string& name, const std::string& tag = {}) {
        mark(tag.empty() ? "begin " + name : tag);
        check(fdt_begin_node(data(), name.c_str()));
        return *this;
    }
    tree& end(const std::string& tag = {}) {
        if (!tag.empty()) mark(tag);
        check(fdt_end_node(data()));
        return *this;
    }
    tree& prop(const std::string& name, const std::string& tag = {}, std::uint32_t value = 1) {
        if (!tag.empty()) mark(tag);
        check(fdt_property_u32(data(), name.c_str(), value));
        return *this;
    }
    tree& nop(const std::string& tag = {}) {
        // The sequential writer has no NOP call: a property is written and
        // overwritten with NOP tags after finish(); remember where.
        if (!tag.empty()) mark(tag);
        nops_.push_back(fdt_size_dt_struct(data()));
        check(fdt_property_u32(data(), "nop", 0));
        return *this;
    }
    const void* finish() {
        check(fdt_finish(data()));
        for (const std::size_t at : nops_) {
            // FDT_PROP, len, nameoff, value: four FDT_NOP tags.
            auto* p = reinterpret_cast<unsigned char*>(data()) + fdt_off_dt_struct(data()) + at;
            for (int i = 0; i < 4; ++i) fdt32_st(p + 4 * i, FDT_NOP);
        }
        return data();
    }

    // Absolute offset (from the blob's start) of the tag named `tag`.
    std::size_t at(const std::string& tag) const {
        const auto it = marks_.find(tag);
        if (it == marks_.end()) throw std::logic_error("no tag " + tag);
        return fdt_off_dt_struct(data()) + it->second;
    }
    // The region from tag `from` up to (not including) tag `to`.
    byte_region span(const std::string& from, const std::string& to) const { return {at(from), at(to) - at(from)}; }
    // The region from tag `from` to the end of the structure block.
    byte_region to_end(const std::string& from) const {
        return {at(from), fdt_off_dt_struct(data()) + fdt_size_dt_struct(data()) - at(from)};
    }
    const void* blob() const { return buf_.data(); }

private:
    void* data() { return buf_.data(); }
    const void* data() const { return buf_.data(); }
    int size() const { return static_cast<int>(buf_.size() * 8); }
    void mark(const std::string& tag) { marks_[tag] = fdt_size_dt_struct(data()); }
    static void check(int rc) {
        if (rc < 0) throw std::runtime_error(std::string("libfdt: ") + fdt_strerror(rc));
    }

    std::vector<std::uint64_t> buf_;
    std::map<std::string, std::size_t> marks_;
    std::vector<std::size_t> nops_;
};

bool reason_is(const fitstream::error& e, const std::string& reason) {
    return e.reason() == reason && e.code() == fitstream::errc::bad_image;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_included_node_brings_its_properties_but_not_the_data_ones) {
    tree t;
    t.begin("", "root").prop("timestamp");
    t.begin("images").begin("kernel");
    t.prop("description").prop("data", "data").prop("data-size").prop("data-offset").prop("data-position");
    t.prop("type", "type").prop("compression");
    t.begin("hash-1").prop("value").prop("algo").end();
    t.end().end().end();
    t.finish();
    const auto regions = find_signed_regions(t.blob(), {"/", "/images/kernel", "/images/kernel/hash-1"}, "s");
    // /images is not listed, but a child of "/": its tags come in, and it
    // has no property to leave out, so one region runs on into the kernel.
    const std::vector<byte_region> want{t.span("root", "data"), t.to_end("type")};
    BOOST_TEST(regions == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(subnodes_of_an_included_node_bring_their_tags_only) {
    // U-Boot's want counter: "/" listed (2), its child "a" gets its begin
    // and end tags but no properties (1), a's child nothing (0). The end
    // tag of "a" opens a region again although "a" is not listed.
    tree t;
    t.begin("", "root").prop("p");
    t.begin("a").prop("q", "a prop");
    t.begin("child").prop("r").begin("grandchild").prop("s").end().end();
    t.end("a end");
    t.end().finish();
    const auto regions = find_signed_regions(t.blob(), {"/"}, "s");
    const std::vector<byte_region> want{t.span("root", "a prop"), t.to_end("a end")};
    BOOST_TEST(regions == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_fit_configuration_signature_covers_what_u_boot_hashes) {
    // The shape of a signed FIT: U-Boot's fit_config_get_signed_nodes list
    // for conf-1 (kernel and fdt-1 with their hashes; fdt-2 is not named).
    tree t;
    t.begin("", "root").prop("timestamp").prop("description");
    t.begin("images");
    t.begin("kernel").prop("description").prop("data", "kernel data").prop("type", "kernel type");
    t.begin("hash-1").prop("value").prop("algo").end().end();
    t.begin("fdt-1").prop("description").prop("data-size", "fdt-1 data").prop("data-offset");
    t.prop("type", "fdt-1 type").begin("hash-1").prop("value").prop("algo").end().end();
    t.begin("fdt-2", "fdt-2").prop("description").begin("hash-1").prop("value").end().end();
    t.end("images end");
    t.begin("configurations").prop("default", "default");
    t.begin("conf-1", "conf-1").prop("kernel").prop("fdt");
    t.begin("signature-1").prop("hashed-strings", "sig prop").prop("value").end("sig end");
    t.end().end().end().finish();
    const std::vector<std::string> nodes{"/", "/configurations/conf-1", "/images/kernel", "/images/kernel/hash-1",
                                         "/images/fdt-1", "/images/fdt-1/hash-1"};
    const auto regions = find_signed_regions(t.blob(), nodes, "s");
    const std::vector<byte_region> want{
        t.span("root", "kernel data"),           // /, /images' begin tag, kernel up to its data
        t.span("kernel type", "fdt-1 data"),     // the rest of kernel, fdt-1 up to its data-size
        t.span("fdt-1 type", "fdt-2"),           // the rest of fdt-1; fdt-2 is left out whole
        t.span("images end", "default"),         // /images' end tag, /configurations' begin tag
        t.span("conf-1", "sig prop"),            // conf-1, signature-1's begin tag
        t.to_end("sig end"),                     // the end tags and FDT_END
    };
    BOOST_TEST(regions == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(nops_count_as_properties) {
    // FDT_NOP is included where a property would be: inside a listed node,
    // and it continues that node's region; elsewhere it stops one.
    tree t;
    t.begin("", "root").nop().prop("p");
    t.begin("a").nop("a nop").prop("q");
    t.end("a end").end().finish();
    const auto regions = find_signed_regions(t.blob(), {"/"}, "s");
    const std::vector<byte_region> want{t.span("root", "a nop"), t.to_end("a end")};
    BOOST_TEST(regions == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(nothing_listed_leaves_only_the_end_tag) {
    tree t;
    t.begin("").prop("p").begin("a").prop("q").end().end("root end").finish();
    // No tag is wanted, but U-Boot always closes with a region from the
    // FDT_END tag: that tag alone.
    const auto regions = find_signed_regions(t.blob(), {}, "s");
    BOOST_TEST_REQUIRE(regions.size() == 1u);
    BOOST_TEST(regions[0].offset == t.to_end("root end").offset + 4);
    BOOST_TEST(regions[0].size == 4u);
}

BOOST_AUTO_TEST_CASE(depth_is_limited_as_in_u_boot) {
    // The root is depth 0; reaching FDT_MAX_DEPTH (32) fails.
    const auto nested = [](int levels, tree& t) {
        t.begin("");
        for (int i = 0; i < levels; ++i) t.begin("n" + std::to_string(i));
        t.prop("p");
        for (int i = 0; i < levels; ++i) t.end();
        t.end().finish();
    };
    tree ok, deep;
    nested(31, ok);
    nested(32, deep);
    BOOST_CHECK_NO_THROW(find_signed_regions(ok.blob(), {"/"}, "d31"));
    BOOST_CHECK_EXCEPTION(find_signed_regions(deep.blob(), {"/"}, "d32"), fitstream::error,
                          [](const fitstream::error& e) { return reason_is(e, "nodes nested too deeply for U-Boot"); });
}

BOOST_AUTO_TEST_CASE(paths_are_limited_to_u_boots_200_byte_buffer) {
    // fdt_find_regions fails when "path so far" + 2 + the name's length
    // reaches the buffer's 200 bytes: under "/", a name of 196 bytes fits
    // and one of 197 does not.
    const auto with_name = [](std::size_t length, tree& t) {
        t.begin("").begin(std::string(length, 'x')).prop("p").end().end().finish();
    };
    tree ok, long_name;
    with_name(196, ok);
    with_name(197, long_name);
    BOOST_CHECK_NO_THROW(find_signed_regions(ok.blob(), {"/"}, "ok"));
    BOOST_CHECK_EXCEPTION(
        find_signed_regions(long_name.blob(), {"/"}, "long"), fitstream::error,
        [](const fitstream::error& e) { return reason_is(e, "node path longer than U-Boot's 200-byte limit"); });
}

BOOST_AUTO_TEST_CASE(regions_are_limited_as_fit_config_check_sig_allots_them) {
    // 20 + 7 per listed node, one kept back for the strings: with one node,
    // 25 regions are accepted and 26 refused. Each property followed by an
    // excluded `data` makes a region; the end tags make one more.
    const auto gaps = [](int count, tree& t) {
        t.begin("");
        for (int i = 0; i < count; ++i) t.prop("p" + std::to_string(i)).prop("data");
        t.end().finish();
    };
    tree ok, many;
    gaps(24, ok);
    gaps(25, many);
    BOOST_TEST(find_signed_regions(ok.blob(), {"/"}, "ok").size() == 25u);
    BOOST_CHECK_EXCEPTION(find_signed_regions(many.blob(), {"/"}, "many"), fitstream::error,
                          [](const fitstream::error& e) { return reason_is(e, "too many hash regions for U-Boot"); });
}

BOOST_AUTO_TEST_CASE(a_root_with_a_name_is_refused) {
    tree t;
    t.begin("named").prop("p").end().finish();
    BOOST_CHECK_EXCEPTION(find_signed_regions(t.blob(), {"/"}, "s"), fitstream::error,
                          [](const fitstream::error& e) { return reason_is(e, "root node has a name"); });
}

BOOST_AUTO_TEST_CASE(the_data_properties_are_the_excluded_ones) {
    using fitstream::detail::excluded_from_signature;
    for (const char* name : {"data", "data-size", "data-offset", "data-position"}) BOOST_TEST(excluded_from_signature(name));
    for (const char* name : {"value", "description", "data-size-x", "dat", "hashed-strings"})
        BOOST_TEST(!excluded_from_signature(name));
}

BOOST_AUTO_TEST_CASE(hashed_nodes_are_listed_as_mkimage_lists_them) {
    const auto nodes = fitstream::detail::hashed_node_list(
        "conf-1", {{"kernel", {"hash-1"}}, {"fdt-1", {"hash-1", "hash-2"}}});
    const std::vector<std::string> want{"/",
                                        "/configurations/conf-1",
                                        "/images/kernel",
                                        "/images/kernel/hash-1",
                                        "/images/fdt-1",
                                        "/images/fdt-1/hash-1",
                                        "/images/fdt-1/hash-2"};
    BOOST_TEST(nodes == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_fit_over_256_mib_has_no_signature_u_boot_checks) {
    using fitstream::detail::check_signed_fit_size;
    BOOST_CHECK_NO_THROW(check_signed_fit_size(std::uint64_t(256) << 20, "fit"));
    BOOST_CHECK_EXCEPTION(check_signed_fit_size((std::uint64_t(256) << 20) + 1, "fit"), fitstream::error,
                          [](const fitstream::error& e) { return e.code() == fitstream::errc::invalid_argument; });
}
