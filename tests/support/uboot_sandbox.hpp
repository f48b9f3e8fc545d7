// SPDX-License-Identifier: MIT
#pragma once

// Upstream U-Boot v2026.10-rc2 (sandbox build, with its host tools) in
// ../shared/uboot-2026.10 beside the source tree: a second FIT client with
// every codec, PSS, ECDSA and FIT cipher, where Debian's 2023.01 lacks them.
// Absent on a machine without it: the tests that need it say so and skip.

#include "support.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace fitstream_test {

/// The directory holding u-boot, sandbox-ctrl.dtb, mkimage, dumpimage and
/// fit_check_sign, when it is there.
inline std::optional<std::filesystem::path> uboot_2026_dir() {
    const std::filesystem::path source(FITSTREAM_TEST_SOURCE_DIR);
    for (const auto& dir : {source / ".." / "shared" / "uboot-2026.10", source / ".." / ".." / "shared" / "uboot-2026.10"})
        if (std::filesystem::exists(dir / "u-boot") && std::filesystem::exists(dir / "fit_check_sign"))
            return std::filesystem::canonical(dir);
    return std::nullopt;
}

/// Runs sandbox U-Boot non-interactively on `commands` (one line, ';'
/// separated), with `ctrl_dtb` (default: its own control DTB) as the
/// control devicetree, stopped after 120 s. U-Boot's exit code says
/// nothing about the commands: end them with `echo RESULT=$?` and read it.
inline run_result run_uboot_sandbox(const std::filesystem::path& dir, const std::string& commands,
                                    const std::optional<std::filesystem::path>& ctrl_dtb = std::nullopt) {
    return run({"timeout", "120", (dir / "u-boot").string(), "-d",
                (ctrl_dtb ? *ctrl_dtb : dir / "sandbox-ctrl.dtb").string(), "-c", commands});
}

}  // namespace fitstream_test
