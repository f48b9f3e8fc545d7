// SPDX-License-Identifier: MIT
#pragma once

// Reading a FIT back through fitstream::reader, for the tests that check
// what the library wrote.

#include <boost/test/unit_test.hpp>

#include <fitstream/fitstream.hpp>

#include <cstddef>
#include <string>

namespace fitstream_test {

/// Image `image` of `fit`, decoded; the image must exist.
inline std::string decoded(const fitstream::reader& fit, const std::string& image) {
    std::string out;
    const auto* img = fit.find_image(image);
    BOOST_TEST_REQUIRE(img != nullptr, image);
    fit.read_decoded(*img, [&](const char* p, std::size_t n) { out.append(p, n); });
    return out;
}

}  // namespace fitstream_test
