// SPDX-License-Identifier: MIT
#pragma once

// fitpack's one exit path: every error ends here as an exception and
// leaves as a message on standard error and an exit status — 2 for a
// command line that cannot be used, 1 for a failure.

#include <fitstream/detail/read/node_path.hpp>
#include <fitstream/error.hpp>

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>

namespace fitpack {

enum exit_code { exit_ok = 0, exit_failure = 1, exit_usage = 2 };

/// A command line that parses but does not make sense; exits 2 like a parse error.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

/// Untrusted text as fitpack prints it in a message: control characters
/// escaped (\x1b, \x0a: no file, path or name can recolour the terminal or
/// forge a line of output) and cut at `max` bytes (a 10 MB path is not
/// echoed whole).
inline std::string shown(const std::string& text, std::size_t max = 1024) {
    return fitstream::detail::printable(text, max);
}

/// Reports the exception being handled and returns the exit status.
/// `app` is the command line being run (for --help, --version and the
/// usage hint).
inline int exit_status(const CLI::App& app) {
    const auto usage = [&](const char* what) {
        std::cerr << "fitpack: error: " << what << "\nRun '" << app.get_name() << " --help' for the options.\n";
        return exit_usage;
    };
    try {
        throw;
    } catch (const CLI::CallForHelp&) {
        std::cout << app.help();
        return exit_ok;
    } catch (const CLI::CallForVersion& e) {
        std::cout << e.what() << '\n';
        return exit_ok;
    } catch (const CLI::ParseError& e) {
        return usage(shown(e.what(), 4096).c_str());
    } catch (const usage_error& e) {
        return usage(shown(e.what(), 4096).c_str());
    } catch (const fitstream::error& e) {
        // Subject and reason each escaped and capped once, here, for every verb.
        std::cerr << "fitpack: error: " << (e.subject().empty() ? "" : shown(e.subject()) + ": ")
                  << shown(e.reason(), 4096) << '\n';
        return exit_failure;
    } catch (const std::exception& e) {
        std::cerr << "fitpack: error: " << shown(e.what(), 4096) << '\n';
        return exit_failure;
    }
}

}  // namespace fitpack
