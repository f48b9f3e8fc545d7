// SPDX-License-Identifier: MIT
#pragma once

// fitpack's one exit path: every error ends here as an exception and
// leaves as a message on standard error and an exit status — 2 for a
// command line that cannot be used, 1 for a failure.

#include <fitstream/error.hpp>

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <stdexcept>

namespace fitpack {

enum exit_code { exit_ok = 0, exit_failure = 1, exit_usage = 2 };

/// A command line that parses but does not make sense; exits 2 like a parse error.
struct usage_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

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
        return usage(e.what());
    } catch (const usage_error& e) {
        return usage(e.what());
    } catch (const fitstream::error& e) {
        std::cerr << "fitpack: error: " << (e.subject().empty() ? "" : e.subject() + ": ") << e.reason() << '\n';
        return exit_failure;
    } catch (const std::exception& e) {
        std::cerr << "fitpack: error: " << e.what() << '\n';
        return exit_failure;
    }
}

}  // namespace fitpack
