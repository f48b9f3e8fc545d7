// SPDX-License-Identifier: MIT
// The sinks (<fitstream/sink.hpp>, <fitstream/iostreams_sink.hpp>): file_sink
// replaces its target by rename only on commit and leaves nothing behind
// otherwise; fd_sink delivers the whole FIT, structure first, through a
// pipe; iostreams_sink hands it to a Boost.Iostreams device. Gaps left
// unwritten read as zero in every sink.
#define BOOST_TEST_MODULE fitstream sinks
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include "support.hpp"

#include <boost/iostreams/device/back_inserter.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

using namespace fitstream_test;

namespace {

// The names in `dir`, sorted.
std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> out;
    for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

// A small FIT with a payload large enough to need several chunks.
fitstream::tree small_fit(const std::string& kernel) {
    fitstream::fit_builder fit("sink test");
    fit.arch("arm64").timestamp(0);
    fit.hash_every_image<fitstream::hash::sha256>();
    fit.add_kernel(fitstream::source::memory_view(kernel.data(), kernel.size(), "kernel"));
    return fit.build();
}

}  // namespace

BOOST_AUTO_TEST_CASE(file_sink_renames_over_the_target_only_on_commit) {
    temp_dir dir;
    const auto target = dir / "out.fit";
    write_file(target, "previous");
    {
        fitstream::file_sink out(target.string());
        BOOST_TEST(out.name() == target.string());
        // Unnamed (O_TMPFILE) where the filesystem allows, else named beside the target.
        const fs::path temp = out.temporary_path();
        if (!temp.empty()) {
            BOOST_TEST(temp.parent_path() == dir.path(), "the temporary is beside the target: " << temp);
            BOOST_TEST(fs::exists(temp));
        } else {
            BOOST_TEST(names_in(dir.path()) == std::vector<std::string>{"out.fit"}, "an unnamed temporary has no name");
        }
        out.write_at(4, "5678", 4);
        out.write_at(0, "1234", 4);
        out.write_at(12, "end", 3);  // leaves a gap at 8..11
        BOOST_TEST(read_file(target) == "previous", "the target is untouched before commit");
        out.commit(15);
        BOOST_TEST((temp.empty() || !fs::exists(temp)), "renamed, not copied");
    }
    BOOST_TEST(read_file(target) == std::string("12345678\0\0\0\0end", 15));
    BOOST_TEST(names_in(dir.path()) == std::vector<std::string>{"out.fit"});
}

BOOST_AUTO_TEST_CASE(file_sink_commit_truncates_to_the_total_size) {
    temp_dir dir;
    const auto target = dir / "out.fit";
    {
        fitstream::file_sink out(target.string());
        out.write_at(0, "0123456789", 10);
        out.commit(4);
    }
    BOOST_TEST(read_file(target) == "0123");
    {
        fitstream::file_sink out(target.string());
        out.write_at(0, "ab", 2);
        out.commit(6);  // past what was written: zeros
    }
    BOOST_TEST(read_file(target) == std::string("ab\0\0\0\0", 6));
}

BOOST_AUTO_TEST_CASE(file_sink_without_commit_leaves_nothing_and_keeps_the_target) {
    temp_dir dir;
    const auto target = dir / "out.fit";
    write_file(target, "previous");
    {
        fitstream::file_sink out(target.string());
        out.write_at(0, "new bytes", 9);
    }
    BOOST_TEST(read_file(target) == "previous");
    BOOST_TEST(names_in(dir.path()) == std::vector<std::string>{"out.fit"});

    const auto fresh = dir / "fresh.fit";
    { fitstream::file_sink out(fresh.string()); }
    BOOST_TEST(!fs::exists(fresh));
    BOOST_TEST(names_in(dir.path()) == std::vector<std::string>{"out.fit"});
}

BOOST_AUTO_TEST_CASE(a_failed_write_fit_leaves_nothing) {
    temp_dir dir;
    const auto target = dir / "out.fit";
    write_file(target, "previous");
    fitstream::tree fit = small_fit(std::string(1000, 'k'));
    fit.images[0].data = fitstream::source::file((dir / "missing.bin").string());
    try {
        fitstream::write_fit(fit, target.string());
        BOOST_ERROR("a missing input was accepted");
    } catch (const fitstream::error& e) {
        BOOST_TEST((e.code() == std::errc::no_such_file_or_directory), e.what());
    }
    BOOST_TEST(read_file(target) == "previous");
    BOOST_TEST(names_in(dir.path()) == std::vector<std::string>{"out.fit"});
}

BOOST_AUTO_TEST_CASE(file_sink_in_a_missing_directory_throws_an_os_error) {
    temp_dir dir;
    try {
        fitstream::file_sink out((dir / "no" / "such" / "out.fit").string());
        BOOST_ERROR("a sink in a missing directory was created");
    } catch (const fitstream::error& e) {
        BOOST_TEST((e.code() == std::errc::no_such_file_or_directory), e.what());
        BOOST_TEST(e.subject() == (dir / "no" / "such" / "out.fit").string());
    }
    BOOST_TEST(names_in(dir.path()).empty());
}

BOOST_AUTO_TEST_CASE(fd_sink_sends_the_whole_fit_through_a_pipe) {
    temp_dir dir;
    const std::string kernel = kernel_like_payload(3 * 1024 * 1024 + 17, 3);
    const fitstream::tree fit = small_fit(kernel);

    const auto path = dir / "reference.fit";
    fitstream::write_fit(fit, path.string());
    const std::string reference = read_file(path);

    int fds[2];
    BOOST_TEST_REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::string piped;
    // A pipe holds 64 KiB: read it while the sink writes.
    std::thread reader([&] {
        char buffer[65536];
        for (;;) {
            const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
            if (n <= 0) break;
            piped.append(buffer, static_cast<std::size_t>(n));
        }
    });
    {
        fitstream::fd_sink out(fds[1], "pipe");
        BOOST_TEST(out.name() == "pipe");
        const auto result = fitstream::write_fit(fit, out);
        BOOST_TEST(result.total_size == reference.size());
    }
    ::close(fds[1]);
    reader.join();
    ::close(fds[0]);
    BOOST_TEST(piped.size() == reference.size());
    BOOST_TEST((piped == reference), "the piped FIT differs from the one written to a file");
}

BOOST_AUTO_TEST_CASE(fd_sink_without_commit_writes_nothing) {
    temp_dir dir;
    const auto path = dir / "target";
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    BOOST_TEST_REQUIRE(fd >= 0);
    {
        fitstream::fd_sink out(fd, "target");
        out.write_at(0, "spooled", 7);
    }
    ::close(fd);
    BOOST_TEST(read_file(path).empty(), "bytes reach the descriptor only in commit()");
    {
        const int again = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
        BOOST_TEST_REQUIRE(again >= 0);
        fitstream::fd_sink out(again, "target");
        out.write_at(3, "def", 3);
        out.write_at(0, "abc", 3);
        out.commit(8);
        ::close(again);
    }
    BOOST_TEST(read_file(path) == std::string("abcdef\0\0", 8));
}

BOOST_AUTO_TEST_CASE(iostreams_sink_hands_the_fit_to_a_device) {
    temp_dir dir;
    const std::string kernel = kernel_like_payload(2 * 1024 * 1024 + 5, 4);
    const fitstream::tree fit = small_fit(kernel);
    fitstream::write_options options;
    options.layout.layout = fitstream::data_layout::external;
    options.layout.align = 0x1000;  // the file ends in padding never written

    const auto path = dir / "reference.fit";
    fitstream::write_fit(fit, path.string(), options);
    const std::string reference = read_file(path);

    std::string bytes;
    boost::iostreams::back_insert_device<std::string> device(bytes);
    fitstream::iostreams_sink<decltype(device)> out(device, "memory");
    BOOST_TEST(out.name() == "memory");
    const auto result = fitstream::write_fit(fit, out, options);
    BOOST_TEST(result.total_size == reference.size());
    BOOST_TEST(bytes.size() == reference.size());
    BOOST_TEST((bytes == reference), "the device got other bytes than the file");
}

BOOST_AUTO_TEST_CASE(iostreams_sink_gaps_read_as_zero) {
    std::string bytes;
    boost::iostreams::back_insert_device<std::string> device(bytes);
    {
        fitstream::iostreams_sink<decltype(device)> out(device, "memory");
        out.write_at(2, "xy", 2);
        BOOST_TEST(bytes.empty(), "nothing reaches the device before commit()");
        out.commit(7);
    }
    BOOST_TEST(bytes == std::string("\0\0xy\0\0\0", 7));
}

// --- issue 14: what file_sink replaces, and what it never does ---

namespace {

// Whether `dir`'s filesystem makes unnamed files (O_TMPFILE); where it
// does not, file_sink falls back to a named temporary file.
bool unnamed_files_in(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    ::close(fd);
    return true;
}

}  // namespace

BOOST_AUTO_TEST_CASE(file_sink_writes_a_device_or_fifo_as_a_stream_and_keeps_it) {
    temp_dir dir;
    const fs::path fifo = dir / "fit.fifo";
    BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::string got;
    std::thread reader([&] {
        const int fd = ::open(fifo.c_str(), O_RDONLY | O_CLOEXEC);
        char buffer[4096];
        for (ssize_t n; fd >= 0 && (n = ::read(fd, buffer, sizeof buffer)) > 0;)
            got.append(buffer, static_cast<std::size_t>(n));
        if (fd >= 0) ::close(fd);
    });
    {
        fitstream::file_sink out(fifo.string());  // waits here for the reader
        BOOST_TEST(out.temporary_path().empty());
        out.write_at(6, "world", 5);  // out of order: the stream still gets them in order
        out.write_at(0, "hello", 5);
        out.commit(13);
    }
    reader.join();
    BOOST_TEST(got == std::string("hello\0world\0\0", 13));
    struct stat st {};
    BOOST_TEST_REQUIRE(::lstat(fifo.c_str(), &st) == 0);
    BOOST_TEST(S_ISFIFO(st.st_mode), "the FIFO was replaced");
    BOOST_TEST(names_in(dir.path()) == std::vector<std::string>{"fit.fifo"});

    // A character device: /dev/null's twin, where mknod is allowed.
    const fs::path node = dir / "null";
    if (::mknod(node.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) {
        fitstream::write_fit(small_fit(std::string(100000, 'k')), node.string());
        BOOST_TEST_REQUIRE(::lstat(node.c_str(), &st) == 0);
        BOOST_TEST(S_ISCHR(st.st_mode), "the device was replaced");
        BOOST_TEST(st.st_rdev == makedev(1, 3));
    } else {
        BOOST_TEST_MESSAGE("mknod: " << std::strerror(errno) << ": device case skipped");
    }
}

BOOST_AUTO_TEST_CASE(file_sink_writes_through_a_symlink) {
    temp_dir dir;
    fs::create_directory(dir / "real");
    write_file(dir / "real" / "target.fit", "previous");
    fs::create_symlink("hop", dir / "link");
    fs::create_symlink("real/target.fit", dir / "hop");
    {
        fitstream::file_sink out((dir / "link").string());
        BOOST_TEST(out.name() == (dir / "link").string(), "messages name the path as given");
        out.write_at(0, "new", 3);
        out.commit(3);
    }
    BOOST_TEST(fs::is_symlink(dir / "link"));
    BOOST_TEST(fs::is_symlink(dir / "hop"));
    BOOST_TEST(read_file(dir / "real" / "target.fit") == "new");
    BOOST_TEST(names_in(dir / "real") == std::vector<std::string>{"target.fit"});
    // Dangling: the file it names is created.
    fs::create_symlink("real/fresh.fit", dir / "dangling");
    {
        fitstream::file_sink out((dir / "dangling").string(), fitstream::file_sync::unsynced);
        out.write_at(0, "fresh", 5);
        out.commit(5);
    }
    BOOST_TEST(fs::is_symlink(dir / "dangling"));
    BOOST_TEST(read_file(dir / "real" / "fresh.fit") == "fresh");
}

BOOST_AUTO_TEST_CASE(file_sink_refuses_a_directory_and_names_nothing_while_writing) {
    temp_dir dir;
    fs::create_directory(dir / "sub");
    try {
        fitstream::file_sink out((dir / "sub").string());
        BOOST_ERROR("a directory was taken as the output");
    } catch (const fitstream::error& e) {
        BOOST_TEST((e.code() == std::errc::is_a_directory), e.what());
        BOOST_TEST(e.subject() == (dir / "sub").string());
    }
    if (!unnamed_files_in(dir.path())) {
        BOOST_TEST_MESSAGE("no O_TMPFILE under " << dir.path() << ": the named temporary is used");
        return;
    }
    for (const bool existing : {false, true}) {
        if (existing) write_file(dir / "out.fit", "previous");
        const auto before = names_in(dir.path());
        fitstream::file_sink out((dir / "out.fit").string());
        BOOST_TEST(out.temporary_path().empty());
        out.write_at(0, "payload", 7);
        BOOST_TEST(names_in(dir.path()) == before, "the file being written has a name");
        out.commit(7);
        BOOST_TEST(read_file(dir / "out.fit") == "payload");
        BOOST_TEST(names_in(dir.path()) == (std::vector<std::string>{"out.fit", "sub"}));
    }
}

BOOST_AUTO_TEST_CASE(large_alignment_padding_is_neither_allocated_nor_written) {
    // 1 GiB of padding after the structure and after the kernel. The peak
    // RSS may not grow by anything near it, the file is sparse, and its
    // structure says the padded size.
    temp_dir dir;
    const auto target = dir / "big.fit";
    fitstream::write_options options;
    options.layout.layout = fitstream::data_layout::external;
    options.layout.align = 0x40000000;
    rusage before{};
    ::getrusage(RUSAGE_SELF, &before);
    const auto result = fitstream::write_fit(small_fit(std::string(100000, 'k')), target.string(), options);
    rusage after{};
    ::getrusage(RUSAGE_SELF, &after);
    BOOST_TEST(after.ru_maxrss - before.ru_maxrss < 128 * 1024, "peak RSS grew by " << after.ru_maxrss - before.ru_maxrss
                                                                                    << " KiB");
    BOOST_TEST(result.structure_size == 0x40000000u);
    BOOST_TEST(result.total_size == 0x80000000u);
    struct stat st {};
    BOOST_TEST_REQUIRE(::stat(target.c_str(), &st) == 0);
    BOOST_TEST(static_cast<std::uint64_t>(st.st_size) == 0x80000000u);
    BOOST_TEST(static_cast<std::uint64_t>(st.st_blocks) * 512 < (16u << 20), "the padding is on disk");
    std::string header(8, '\0');
    const int fd = ::open(target.c_str(), O_RDONLY | O_CLOEXEC);
    BOOST_TEST_REQUIRE(fd >= 0);
    BOOST_TEST(::pread(fd, header.data(), 8, 0) == 8);
    ::close(fd);
    BOOST_TEST(be32(header, 4) == 0x40000000u, "totalsize");

    // 2 GiB: past what libfdt reads; refused before anything is written.
    options.layout.align = 0x80000000u;
    try {
        fitstream::write_fit(small_fit("k"), (dir / "too-big.fit").string(), options);
        BOOST_ERROR("a 2 GiB structure was written");
    } catch (const fitstream::error& e) {
        BOOST_TEST((e.code() == fitstream::errc::limit_exceeded), e.what());
        BOOST_TEST(e.subject() == "align");
    }
    BOOST_TEST(!fs::exists(dir / "too-big.fit"));
}
