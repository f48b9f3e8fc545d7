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
#include <unistd.h>

#include <algorithm>
#include <cstdint>
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
        const fs::path temp = out.temporary_path();
        BOOST_TEST(temp.parent_path() == dir.path(), "the temporary is beside the target: " << temp);
        BOOST_TEST(fs::exists(temp));
        out.write_at(4, "5678", 4);
        out.write_at(0, "1234", 4);
        out.write_at(12, "end", 3);  // leaves a gap at 8..11
        BOOST_TEST(read_file(target) == "previous", "the target is untouched before commit");
        out.commit(15);
        BOOST_TEST(!fs::exists(temp), "renamed, not copied");
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
