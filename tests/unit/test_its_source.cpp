// SPDX-License-Identifier: MIT
// fitstream::its::compile_its: image tree sources compiled by the real dtc
// with every /incbin/ taken out as a file range, never read. Sources and
// payload files are written at test time; the blobs are read back with
// libfdt and fdtget.

#define BOOST_TEST_MODULE its_source
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <libfdt.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support.hpp"
#include "tools.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

using namespace fitstream_test;
using fitstream::its::compile_its;
using fitstream::its::compile_options;
using fitstream::its::compiled_source;

namespace {

// A FIT source with one image whose `data` is `data` (the text after '='),
// the /incbin/ on line 7.
std::string its_with(const std::string& data, const std::string& extra = {}) {
    return "/dts-v1/;\n"                    // 1
           "/ {\n"                          // 2
           "\tdescription = \"test\";\n"    // 3
           "\timages {\n"                   // 4
           "\t\tkernel {\n"                 // 5
           "\t\t\tdescription = \"k\";\n"   // 6
           "\t\t\tdata = " + data + ";\n"   // 7
           "\t\t\ttype = \"kernel\";\n"     // 8
           "\t\t};\n"                       // 9
           "\t};\n" +                       // 10
           extra +
           "};\n";
}

// The property `name` of `node` in `blob`; nullopt when absent.
std::optional<std::string> prop(const std::vector<char>& blob, const std::string& node, const std::string& name) {
    std::vector<std::uint64_t> aligned((blob.size() + 7) / 8);
    std::memcpy(aligned.data(), blob.data(), blob.size());
    BOOST_TEST_REQUIRE(fdt_check_full(aligned.data(), blob.size()) == 0);
    const int offset = fdt_path_offset(aligned.data(), node.c_str());
    if (offset < 0) return std::nullopt;
    int len = 0;
    const auto* p = static_cast<const char*>(fdt_getprop(aligned.data(), offset, name.c_str(), &len));
    if (!p) return std::nullopt;
    return std::string(p, static_cast<std::size_t>(len));
}

// Runs `f`, which must throw a fitstream::error whose reason contains each
// of `texts`; returns it for more checks.
template <class F>
std::optional<fitstream::error> refused(F&& f, const std::vector<std::string>& texts) {
    try {
        f();
        BOOST_ERROR("not refused: " + join(texts, " | "));
    } catch (const fitstream::error& e) {
        for (const auto& t : texts) BOOST_TEST(has(e.reason(), t), e.what() << " (wanted: " << t << ")");
        return e;
    }
    return std::nullopt;
}

// Sets an environment variable for the scope.
class scoped_env {
public:
    scoped_env(const char* name, const std::string& value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        ::setenv(name, value.c_str(), 1);
    }
    scoped_env(const scoped_env&) = delete;
    scoped_env& operator=(const scoped_env&) = delete;
    ~scoped_env() {
        if (old_) ::setenv(name_, old_->c_str(), 1);
        else ::unsetenv(name_);
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

// Changes the current directory for the scope.
class scoped_cwd {
public:
    explicit scoped_cwd(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
    scoped_cwd(const scoped_cwd&) = delete;
    scoped_cwd& operator=(const scoped_cwd&) = delete;
    ~scoped_cwd() {
        std::error_code ec;
        fs::current_path(old_, ec);
    }

private:
    fs::path old_;
};

const fitstream::its::incbin& file_piece(const compiled_source& its, std::size_t payload = 0, std::size_t piece = 0) {
    BOOST_TEST_REQUIRE(its.payloads.size() > payload);
    BOOST_TEST_REQUIRE(its.payloads[payload].pieces.size() > piece);
    BOOST_TEST_REQUIRE(its.payloads[payload].pieces[piece].file.has_value());
    return *its.payloads[payload].pieces[piece].file;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_plain_incbin_becomes_a_file_range_and_an_empty_property) {
    temp_dir dir;
    write_file(dir / "Image", random_bytes(1000, 1));
    write_file(dir / "image.its", its_with("/incbin/(\"Image\")"));
    const std::string its_path = (dir / "image.its").string();

    const auto its = compile_its(its_path);
    BOOST_TEST(its.path == its_path);
    BOOST_TEST_REQUIRE(its.payloads.size() == 1u);
    BOOST_TEST(its.payloads[0].node == "/images/kernel");
    BOOST_TEST(its.payloads[0].property == "data");
    BOOST_TEST_REQUIRE(its.payloads[0].pieces.size() == 1u);
    const auto& f = file_piece(its);
    BOOST_TEST(f.path == (dir / "Image").string());
    BOOST_TEST(f.written == "Image");
    BOOST_TEST(f.offset == 0u);
    BOOST_TEST(f.length == 1000u);
    BOOST_TEST(f.origin == its_path + ":7");

    // The payload's property is empty and keeps its place; the rest is intact.
    BOOST_TEST((prop(its.blob, "/images/kernel", "data") == std::string()));
    BOOST_TEST((prop(its.blob, "/images/kernel", "description") == std::string("k", 2)));
    BOOST_TEST((prop(its.blob, "/", "description") == std::string("test", 5)));
    write_file(dir / "out.dtb", std::string(its.blob.begin(), its.blob.end()));
    BOOST_TEST(join(fdt_properties(dir / "out.dtb", "/images/kernel")) == "description data type");
    BOOST_TEST(fdtget(dir / "out.dtb", "/images/kernel", "type") == "kernel");
}

BOOST_AUTO_TEST_CASE(offset_and_length_as_literals_expressions_and_character_literals) {
    temp_dir dir;
    write_file(dir / "blob.bin", random_bytes(4096, 2));
    write_file(dir / "image.its",
               its_with("/incbin/(\"blob.bin\", (0x10 + 2), 'c'), /incbin/(\"blob.bin\", 0x20UL, 16), "
                        "/incbin/ /* a comment */ ( \"blob.bin\" , 4 , // another\n 8 ), "
                        "/incbin/(\"blob.bin\", ((1 << 10) + ')'), 0xffffffffffffffff)"));
    const auto its = compile_its((dir / "image.its").string());
    BOOST_TEST_REQUIRE(its.payloads.size() == 1u);
    BOOST_TEST_REQUIRE(its.payloads[0].pieces.size() == 4u);
    BOOST_TEST(file_piece(its, 0, 0).offset == 18u);
    BOOST_TEST(file_piece(its, 0, 0).length == std::uint64_t{'c'});
    BOOST_TEST(file_piece(its, 0, 1).offset == 32u);
    BOOST_TEST(file_piece(its, 0, 1).length == 16u);
    BOOST_TEST(file_piece(its, 0, 2).offset == 4u);
    BOOST_TEST(file_piece(its, 0, 2).length == 8u);
    // All ones is "to the end", as dtc reads it.
    BOOST_TEST(file_piece(its, 0, 3).offset == 1024u + ')');
    BOOST_TEST(file_piece(its, 0, 3).length == 4096u - 1024u - ')');
    // Each where its /incbin/ starts: the last after the line comment.
    for (std::size_t i = 0; i < 4; ++i)
        BOOST_TEST(file_piece(its, 0, i).origin == (dir / "image.its").string() + (i < 3 ? ":7" : ":8"));
}

BOOST_AUTO_TEST_CASE(lines_after_a_multi_line_directive_keep_their_numbers) {
    temp_dir dir;
    write_file(dir / "a.bin", "abcd");
    // The directive spans lines 6-9; the syntax error is on line 11.
    write_file(dir / "image.its",
               "/dts-v1/;\n/ {\n\timages {\n\t\tkernel {\n\t\t\tdescription = \"k\";\n"
               "\t\t\tdata = /incbin/(\n\"a.bin\",\n1,\n2);\n\t\t};\n\t\tbroken = <1 2;\n\t};\n};\n");
    const auto e = refused([&] { compile_its((dir / "image.its").string()); },
                           {(dir / "image.its").string() + ":11."});
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST((e->code() == fitstream::errc::invalid_input));
    BOOST_TEST(e->subject() == (dir / "image.its").string());
}

BOOST_AUTO_TEST_CASE(an_included_dtsi_resolves_its_incbin_from_its_own_folder) {
    temp_dir dir;
    fs::create_directories(dir / "sub");
    write_file(dir / "fw.bin", std::string(10, 'x'));  // not this one
    write_file(dir / "sub" / "fw.bin", std::string(77, 'y'));
    write_file(dir / "sub" / "common.dtsi",
               "/ {\n"
               "\timages {\n"
               "\t\tfirmware {\n"
               "\t\t\tdata = /incbin/(\"fw.bin\");\n"
               "\t\t};\n"
               "\t};\n"
               "};\n");
    write_file(dir / "image.its", its_with("/incbin/(\"fw.bin\")", "") + "/include/ \"sub/common.dtsi\"\n");
    const auto its = compile_its((dir / "image.its").string());
    BOOST_TEST_REQUIRE(its.payloads.size() == 2u);
    BOOST_TEST(its.payloads[0].node == "/images/kernel");
    BOOST_TEST(file_piece(its, 0).length == 10u);
    BOOST_TEST(its.payloads[1].node == "/images/firmware");
    const auto& f = file_piece(its, 1);
    BOOST_TEST(f.path == (dir / "sub" / "fw.bin").string());
    BOOST_TEST(f.length == 77u);
    BOOST_TEST(f.origin == (dir / "sub" / "common.dtsi").string() + ":4");
    BOOST_TEST((prop(its.blob, "/images/firmware", "data") == std::string()));
}

BOOST_AUTO_TEST_CASE(include_dirs_are_searched_in_order_after_the_files_own_folder) {
    temp_dir dir;
    fs::create_directories(dir / "its");
    fs::create_directories(dir / "inc1");
    fs::create_directories(dir / "inc2");
    write_file(dir / "inc1" / "kernel.bin", std::string(11, 'a'));
    write_file(dir / "inc2" / "kernel.bin", std::string(22, 'b'));
    write_file(dir / "inc2" / "ramdisk.bin", std::string(33, 'c'));
    write_file(dir / "inc2" / "extra.dtsi", "/ { images { ramdisk { data = /incbin/(\"ramdisk.bin\"); }; }; };\n");
    write_file(dir / "its" / "image.its", its_with("/incbin/(\"kernel.bin\")") + "/include/ \"extra.dtsi\"\n");
    compile_options options;
    options.include_dirs = {(dir / "inc1").string(), (dir / "inc2").string()};
    options.search_current_directory = false;
    const auto its = compile_its((dir / "its" / "image.its").string(), options);
    BOOST_TEST_REQUIRE(its.payloads.size() == 2u);
    BOOST_TEST(file_piece(its, 0).path == (dir / "inc1" / "kernel.bin").string());
    BOOST_TEST(file_piece(its, 0).length == 11u);
    BOOST_TEST(its.payloads[1].node == "/images/ramdisk");
    BOOST_TEST(file_piece(its, 1).path == (dir / "inc2" / "ramdisk.bin").string());
    BOOST_TEST(file_piece(its, 1).length == 33u);

    // Without the include directories neither is found.
    refused([&] { compile_its((dir / "its" / "image.its").string()); }, {"/include/ \"extra.dtsi\""});
}

BOOST_AUTO_TEST_CASE(the_current_directory_is_searched_last_when_asked) {
    temp_dir dir;
    fs::create_directories(dir / "its");
    fs::create_directories(dir / "work");
    write_file(dir / "work" / "Image", std::string(5, 'z'));
    write_file(dir / "its" / "image.its", its_with("/incbin/(\"Image\")"));
    const scoped_cwd cwd(dir / "work");
    const auto its = compile_its((dir / "its" / "image.its").string());
    BOOST_TEST(file_piece(its).path == "Image");
    BOOST_TEST(file_piece(its).length == 5u);

    compile_options dtc_only;
    dtc_only.search_current_directory = false;
    const auto e = refused([&] { compile_its((dir / "its" / "image.its").string(), dtc_only); },
                           {"/images/kernel: data: /incbin/(\"Image\")", "No such file or directory"});
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST((e->code() == std::errc::no_such_file_or_directory));

    // A relative .its: its folder is the current directory's "its".
    const scoped_cwd up(dir.path());
    write_file(dir / "its" / "Image", std::string(6, 'w'));
    const auto relative = compile_its("its/image.its");
    BOOST_TEST(file_piece(relative).path == "its/Image");
    BOOST_TEST(file_piece(relative).origin == "its/image.its:7");
}

BOOST_AUTO_TEST_CASE(literal_bytes_and_incbins_mix_in_one_value) {
    temp_dir dir;
    write_file(dir / "x", std::string(9, 'x'));
    write_file(dir / "image.its", its_with("[01 02], /incbin/(\"x\"), \"s\", <0x03040506>, /incbin/(\"x\", 1, 2)"));
    const auto its = compile_its((dir / "image.its").string());
    BOOST_TEST_REQUIRE(its.payloads.size() == 1u);
    const auto& pieces = its.payloads[0].pieces;
    BOOST_TEST_REQUIRE(pieces.size() == 4u);
    BOOST_TEST(!pieces[0].file.has_value());
    BOOST_TEST((std::string(pieces[0].bytes.begin(), pieces[0].bytes.end()) == std::string("\x01\x02", 2)));
    BOOST_TEST(pieces[1].file.has_value());
    BOOST_TEST(pieces[1].bytes.empty());
    BOOST_TEST(file_piece(its, 0, 1).length == 9u);
    BOOST_TEST(!pieces[2].file.has_value());
    BOOST_TEST((std::string(pieces[2].bytes.begin(), pieces[2].bytes.end()) == std::string("s\0\x03\x04\x05\x06", 6)));
    BOOST_TEST(file_piece(its, 0, 3).offset == 1u);
    BOOST_TEST(file_piece(its, 0, 3).length == 2u);
}

BOOST_AUTO_TEST_CASE(directives_in_comments_and_strings_are_left_alone) {
    temp_dir dir;
    write_file(dir / "real.bin", "real");
    const std::string its = "/dts-v1/;\n"
                            "// /incbin/(\"nope-1\") and /include/ \"nope-2\"\n"
                            "/* /incbin/(\"nope-3\")\n   /include/ \"nope-4\" */\n"
                            "/ {\n"
                            "\ttext = \"/incbin/(\\\"nope-5\\\") /include/ \\\"nope-6\\\"\";\n"
                            "\tquote = <'\"'>;\n"
                            "\tdata = /incbin/(\"real.bin\"); // /incbin/(\"nope-7\")\n"
                            "};\n";
    write_file(dir / "image.its", its);
    const auto out = compile_its((dir / "image.its").string());
    BOOST_TEST_REQUIRE(out.payloads.size() == 1u);
    BOOST_TEST(out.payloads[0].node == "/");
    BOOST_TEST(file_piece(out).written == "real.bin");
    BOOST_TEST(file_piece(out).origin == (dir / "image.its").string() + ":8");
    BOOST_TEST((prop(out.blob, "/", "text") == std::string("/incbin/(\"nope-5\") /include/ \"nope-6\"", 38)));
    BOOST_TEST((prop(out.blob, "/", "quote") == std::string("\0\0\0\"", 4)));
}

BOOST_AUTO_TEST_CASE(labels_and_references_still_compile) {
    temp_dir dir;
    write_file(dir / "Image", "kernel");
    write_file(dir / "image.its",
               "/dts-v1/;\n"
               "/ {\n"
               "\timages {\n"
               "\t\tk: kernel {\n"
               "\t\t\tdata = blob: /incbin/(\"Image\") end:;\n"
               "\t\t};\n"
               "\t};\n"
               "\tconfigurations {\n"
               "\t\tconf {\n"
               "\t\t\tphandles = <&k &{/images/kernel}>;\n"
               "\t\t\tpath = &k;\n"
               "\t\t};\n"
               "\t};\n"
               "};\n"
               "&k { type = \"kernel\"; };\n");
    const auto its = compile_its((dir / "image.its").string());
    BOOST_TEST_REQUIRE(its.payloads.size() == 1u);
    BOOST_TEST(file_piece(its).length == 6u);
    const auto phandle = prop(its.blob, "/images/kernel", "phandle");
    BOOST_TEST_REQUIRE(phandle.has_value());
    BOOST_TEST_REQUIRE(phandle->size() == 4u);
    BOOST_TEST((prop(its.blob, "/configurations/conf", "phandles") == *phandle + *phandle));
    BOOST_TEST((prop(its.blob, "/configurations/conf", "path") == std::string("/images/kernel", 15)));
    BOOST_TEST((prop(its.blob, "/images/kernel", "type") == std::string("kernel", 7)));
}

BOOST_AUTO_TEST_CASE(escapes_in_the_path_are_read_as_dtc_reads_them) {
    temp_dir dir;
    write_file(dir / "weird name.bin", "123");
    write_file(dir / "image.its", its_with("/incbin/(\"we\\x69rd\\040name.bin\")"));
    const auto its = compile_its((dir / "image.its").string());
    BOOST_TEST(file_piece(its).path == (dir / "weird name.bin").string());
    BOOST_TEST(file_piece(its).written == "we\\x69rd\\040name.bin");
    BOOST_TEST(file_piece(its).length == 3u);
}

BOOST_AUTO_TEST_CASE(include_names_are_raw_and_incbin_escapes_dtcs_own) {
    temp_dir dir;
    // dtc takes an /include/ name as written: two backslashes stay two.
    write_file(dir / "odd\\\\name.dtsi", "/ { odd = <7>; };\n");
    write_file(dir / "image.its", "/dts-v1/;\n/ { };\n/include/ \"odd\\\\name.dtsi\"\n");
    const auto its = compile_its((dir / "image.its").string());
    BOOST_TEST((prop(its.blob, "/", "odd") == std::string("\0\0\0\7", 4)));

    // An escape dtc refuses is dtc's error.
    write_file(dir / "image.its", its_with("/incbin/(\"bad\\x\")"));
    refused([&] { compile_its((dir / "image.its").string()); }, {"\\x used with no following hex digits"});
}

BOOST_AUTO_TEST_CASE(payloads_come_in_node_order) {
    temp_dir dir;
    for (const char* name : {"a", "b", "c"}) write_file(dir / name, name);
    write_file(dir / "image.its",
               "/dts-v1/;\n/ { images {\n"
               "\tone { data = /incbin/(\"c\"); };\n"
               "\ttwo { data = /incbin/(\"a\"); sub { blob = /incbin/(\"b\"); }; };\n"
               "\tthree { data = \"plain\"; };\n"
               "}; };\n"
               "/ { images { one { extra = /incbin/(\"a\"); }; }; };\n");
    const auto its = compile_its((dir / "image.its").string());
    BOOST_TEST_REQUIRE(its.payloads.size() == 4u);
    BOOST_TEST(its.payloads[0].node + ":" + its.payloads[0].property == "/images/one:data");
    BOOST_TEST(its.payloads[1].node + ":" + its.payloads[1].property == "/images/one:extra");
    BOOST_TEST(its.payloads[2].node + ":" + its.payloads[2].property == "/images/two:data");
    BOOST_TEST(its.payloads[3].node + ":" + its.payloads[3].property == "/images/two/sub:blob");
    BOOST_TEST(file_piece(its, 1).origin == (dir / "image.its").string() + ":7");
    BOOST_TEST((prop(its.blob, "/images/three", "data") == std::string("plain", 6)));
}

BOOST_AUTO_TEST_CASE(payload_files_are_never_read) {
    temp_dir dir;
    // 64 GiB of holes: dtc would read them all into memory.
    const std::uint64_t huge = std::uint64_t{1} << 36;
    {
        std::ofstream create(dir / "huge.img");
    }
    fs::resize_file(dir / "huge.img", huge);
    write_file(dir / "image.its", its_with("/incbin/(\"huge.img\"), /incbin/(\"huge.img\", 0x100000000, 0x10)"));
    const auto its = compile_its((dir / "image.its").string());
    BOOST_TEST(file_piece(its, 0, 0).length == huge);
    BOOST_TEST(file_piece(its, 0, 1).offset == 0x100000000u);
    BOOST_TEST(file_piece(its, 0, 1).length == 0x10u);
}

BOOST_AUTO_TEST_CASE(a_syntax_error_names_the_users_file_and_line) {
    temp_dir dir;
    fs::create_directories(dir / "sub");
    write_file(dir / "Image", "k");
    write_file(dir / "sub" / "bad.dtsi", "/ {\n\tok = <1>;\n\tbad = <1 2;\n};\n");
    write_file(dir / "image.its", its_with("/incbin/(\"Image\")", "\tx = <1 2;\n"));
    const auto e = refused([&] { compile_its((dir / "image.its").string()); },
                           {"Error: " + (dir / "image.its").string() + ":11.", "syntax error"});
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST(!has(e->what(), "fitstream-its-"));

    write_file(dir / "image.its", its_with("/incbin/(\"Image\")") + "/include/ \"sub/bad.dtsi\"\n");
    refused([&] { compile_its((dir / "image.its").string()); }, {(dir / "sub" / "bad.dtsi").string() + ":3."});

    // dtc's checks fail too, with dtc's words.
    write_file(dir / "image.its", its_with("/incbin/(\"Image\")", "\timages { };\n"));
    refused([&] { compile_its((dir / "image.its").string()); },
            {(dir / "image.its").string(), "ERROR (duplicate_node_names)"});
}

BOOST_AUTO_TEST_CASE(a_missing_or_unusable_incbin_file_names_the_file_and_the_node) {
    temp_dir dir;
    write_file(dir / "image.its", its_with("/incbin/(\"missing.bin\")"));
    const std::string its_path = (dir / "image.its").string();
    const auto e = refused([&] { compile_its(its_path); },
                           {"/images/kernel: data: /incbin/(\"missing.bin\") at " + its_path + ":7",
                            "No such file or directory"});
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST((e->code() == std::errc::no_such_file_or_directory));
    BOOST_TEST(e->subject() == its_path);

    fs::create_directories(dir / "missing.bin");
    const auto d = refused([&] { compile_its(its_path); },
                           {"/images/kernel: data: /incbin/(\"missing.bin\")", "not a regular file"});
    BOOST_TEST_REQUIRE(d.has_value());
    BOOST_TEST((d->code() == fitstream::errc::invalid_input));
}

BOOST_AUTO_TEST_CASE(a_range_beyond_the_file_is_refused) {
    temp_dir dir;
    write_file(dir / "f.bin", std::string(100, 'f'));
    for (const std::string args : {"90, 11", "101, 0", "0, 0x10000000000000000"}) {
        write_file(dir / "image.its", its_with("/incbin/(\"f.bin\", " + args + ")"));
        if (args == "0, 0x10000000000000000") {
            // Out of range for dtc itself.
            refused([&] { compile_its((dir / "image.its").string()); },
                    {"Lexical error: " + (dir / "image.its").string() + ":7.", "out of range"});
            continue;
        }
        refused([&] { compile_its((dir / "image.its").string()); },
                {"/images/kernel: data: /incbin/(\"f.bin\")", "beyond the end of " + (dir / "f.bin").string(),
                 "(100 bytes)"});
    }
    // Up to the end exactly is fine, an empty rest too.
    write_file(dir / "image.its", its_with("/incbin/(\"f.bin\", 90, 10), /incbin/(\"f.bin\", 100, 0), "
                                           "/incbin/(\"f.bin\", 100, 0xffffffffffffffff)"));
    const auto its = compile_its((dir / "image.its").string());
    BOOST_TEST(file_piece(its, 0, 0).length == 10u);
    BOOST_TEST(file_piece(its, 0, 1).length == 0u);
    BOOST_TEST(file_piece(its, 0, 2).length == 0u);
}

BOOST_AUTO_TEST_CASE(an_incbin_the_front_end_cannot_parse_is_refused_before_dtc) {
    temp_dir dir;
    write_file(dir / "f.bin", "f");
    for (const std::string bad : {"/incbin/(\"f.bin\", 1)", "/incbin/(\"f.bin\", 1 + 2, 3)", "/incbin/ \"f.bin\""}) {
        write_file(dir / "image.its", its_with(bad));
        refused([&] { compile_its((dir / "image.its").string()); },
                {(dir / "image.its").string() + ":7: /incbin/ not understood"});
        // dtc refuses it too.
        const auto r = run({"dtc", "-I", "dts", "-O", "dtb", "-o", "/dev/null", (dir / "image.its").string()});
        BOOST_TEST(r.exit_code != 0);
    }
}

BOOST_AUTO_TEST_CASE(include_cycles_are_refused) {
    temp_dir dir;
    write_file(dir / "a.dtsi", "/include/ \"b.dtsi\"\n");
    write_file(dir / "b.dtsi", "/ { };\n/include/ \"a.dtsi\"\n");
    write_file(dir / "image.its", "/dts-v1/;\n/include/ \"a.dtsi\"\n/ { };\n");
    refused([&] { compile_its((dir / "image.its").string()); }, {"/include/ cycle", "a.dtsi -> "});

    // The same file twice, one after the other, is no cycle.
    write_file(dir / "b.dtsi", "/ { n { data = /incbin/(\"image.its\"); }; };\n");
    write_file(dir / "a.dtsi", "/include/ \"b.dtsi\"\n/include/ \"b.dtsi\"\n");
    const auto its = compile_its((dir / "image.its").string());
    BOOST_TEST_REQUIRE(its.payloads.size() == 1u);
    BOOST_TEST(file_piece(its).origin == (dir / "b.dtsi").string() + ":1");
}

BOOST_AUTO_TEST_CASE(the_temporary_directory_is_removed_after_success_and_failure) {
    temp_dir dir;
    const fs::path tmp = dir / "tmp";
    fs::create_directories(tmp);
    const scoped_env env("TMPDIR", tmp.string());
    write_file(dir / "Image", "k");
    write_file(dir / "inc.dtsi", "/ { n { data = /incbin/(\"Image\"); }; };\n");
    write_file(dir / "image.its", its_with("/incbin/(\"Image\")") + "/include/ \"inc.dtsi\"\n");
    BOOST_TEST(compile_its((dir / "image.its").string()).payloads.size() == 2u);
    BOOST_TEST(directory_names(tmp).empty());

    // dtc fails.
    write_file(dir / "inc.dtsi", "/ { n { data = <1; }; };\n");
    refused([&] { compile_its((dir / "image.its").string()); }, {"syntax error"});
    BOOST_TEST(directory_names(tmp).empty());

    // A check after dtc fails.
    write_file(dir / "inc.dtsi", "/ { n { data = /incbin/(\"gone\"); }; };\n");
    refused([&] { compile_its((dir / "image.its").string()); }, {"/n: data: /incbin/(\"gone\")"});
    BOOST_TEST(directory_names(tmp).empty());
}

BOOST_AUTO_TEST_CASE(without_dtc_the_error_says_what_to_install) {
    temp_dir dir;
    write_file(dir / "image.its", "/dts-v1/;\n/ { };\n");
    compile_options options;
    options.dtc = (dir / "no-such-dtc").string();
    const auto e = refused([&] { compile_its((dir / "image.its").string(), options); }, {"device-tree-compiler"});
    BOOST_TEST_REQUIRE(e.has_value());
    BOOST_TEST((e->code() == std::errc::no_such_file_or_directory));
    BOOST_TEST(e->subject() == options.dtc);

    // A missing .its is the OS's error about it.
    const auto m = refused([&] { compile_its((dir / "none.its").string()); }, {});
    BOOST_TEST_REQUIRE(m.has_value());
    BOOST_TEST((m->code() == std::errc::no_such_file_or_directory));
    BOOST_TEST(m->subject() == (dir / "none.its").string());
}
