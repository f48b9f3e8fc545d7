// SPDX-License-Identifier: MIT
#pragma once

// The device-tree-compiler's fdtget, run on a FIT or DTB file, for tests
// that read fitpack's output back with the reference tools.

#include "support.hpp"

#include <string>
#include <vector>

namespace fitstream_test {

/// What fdtget() returns for a property the node does not have.
inline const std::string absent = "<absent>";

/// One property as `fdtget [-t TYPE] FILE NODE PROP` prints it (string
/// lists joined by spaces), without the trailing newline, or `absent` when
/// fdtget says FDT_ERR_NOTFOUND; any other failure stops the test case.
inline std::string fdtget(const fs::path& file, const std::string& node, const std::string& prop,
                          const std::string& type = {}) {
    std::vector<std::string> argv{"fdtget"};
    if (!type.empty()) argv.insert(argv.end(), {"-t", type});
    argv.insert(argv.end(), {file.string(), node, prop});
    const run_result r = run(argv);
    if (r.exit_code != 0) {
        BOOST_REQUIRE_MESSAGE(has(r.err, "FDT_ERR_NOTFOUND"), describe(argv, r));
        return absent;
    }
    return trim_newline(r.out);
}

/// The names of a node's subnodes (`fdtget -l`).
inline std::vector<std::string> fdt_subnodes(const fs::path& file, const std::string& node) {
    return lines_of(tool({"fdtget", "-l", file.string(), node}));
}

/// The names of a node's properties (`fdtget -p`).
inline std::vector<std::string> fdt_properties(const fs::path& file, const std::string& node) {
    return lines_of(tool({"fdtget", "-p", file.string(), node}));
}

}  // namespace fitstream_test
