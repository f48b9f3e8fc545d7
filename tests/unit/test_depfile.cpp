// SPDX-License-Identifier: MIT
// What a build asks of a FIT tool besides the FIT: a depfile
// (<fitstream/kbuild/depfile.hpp>) and the SOURCE_DATE_EPOCH timestamp
// (<fitstream/kbuild/source_date_epoch.hpp>).
#define BOOST_TEST_MODULE fitstream depfile and SOURCE_DATE_EPOCH
#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <cstdlib>
#include <optional>
#include <string>

namespace {

/// source_date_epoch() with SOURCE_DATE_EPOCH set to `value` (unset for nullopt).
std::optional<std::uint32_t> epoch_with(const std::optional<std::string>& value) {
    if (value)
        ::setenv("SOURCE_DATE_EPOCH", value->c_str(), 1);
    else
        ::unsetenv("SOURCE_DATE_EPOCH");
    return fitstream::source_date_epoch();
}

}  // namespace

BOOST_AUTO_TEST_CASE(depfile_lists_one_input_per_line) {
    BOOST_TEST(fitstream::depfile_text("image.fit", {}) == "image.fit:\n");
    BOOST_TEST(fitstream::depfile_text("image.fit", {"Image", "a.dtb"}) == "image.fit: \\\n  Image \\\n  a.dtb\n");
}

BOOST_AUTO_TEST_CASE(depfile_escapes_as_make_reads) {
    BOOST_TEST(fitstream::depfile_text("a b.fit", {"x$y", "c#d", "t\tab"}) ==
               "a\\ b.fit: \\\n  x$$y \\\n  c\\#d \\\n  t\\\tab\n");
}

BOOST_AUTO_TEST_CASE(depfile_refuses_a_newline) {
    for (const std::string path : {"a\nb", "a\rb"}) {
        try {
            fitstream::depfile_text("image.fit", {path});
            BOOST_FAIL("no error for a path with a newline");
        } catch (const fitstream::error& e) {
            BOOST_TEST(e.code() == make_error_code(fitstream::errc::invalid_argument));
            BOOST_TEST(e.subject() == path);
        }
    }
}

BOOST_AUTO_TEST_CASE(source_date_epoch_unset_or_empty_is_none) {
    BOOST_TEST(!epoch_with(std::nullopt));
    BOOST_TEST(!epoch_with(std::string()));
}

BOOST_AUTO_TEST_CASE(source_date_epoch_reads_decimal_seconds) {
    BOOST_TEST(*epoch_with("0") == 0u);
    BOOST_TEST(*epoch_with("1700000000") == 1700000000u);
    BOOST_TEST(*epoch_with("4294967295") == 4294967295u);
    BOOST_TEST(*epoch_with("007") == 7u);  // decimal, not octal
    ::unsetenv("SOURCE_DATE_EPOCH");
}

BOOST_AUTO_TEST_CASE(source_date_epoch_refuses_what_is_not_seconds) {
    for (const std::string value : {"garbage", "12abc", "-1", "+5", " 12", "1.5", "4294967296",
                                    "99999999999999999999", "0x10"}) {
        BOOST_TEST_CONTEXT("SOURCE_DATE_EPOCH='" << value << "'") {
            try {
                epoch_with(value);
                BOOST_ERROR("accepted");
            } catch (const fitstream::error& e) {
                BOOST_TEST(e.subject() == "SOURCE_DATE_EPOCH");
                BOOST_TEST(e.code() == make_error_code(fitstream::errc::invalid_argument));
                BOOST_TEST(e.reason().find(value) != std::string::npos);
            }
        }
    }
    ::unsetenv("SOURCE_DATE_EPOCH");
}
