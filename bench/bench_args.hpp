// SPDX-License-Identifier: MIT
//
// The one piece bench/codec_limit.cpp and bench/stages.cpp share around
// CLI11: parse the command line, run, and report either kind of error.

#pragma once

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

namespace bench {

/// Reads the command line with `parse(app, argc, argv, arguments)` (which
/// throws CLI::ParseError on a usage error), then returns `run(arguments)`.
/// A usage error is reported as CLI11 reports it, with its exit status (0
/// for --help); any other error as "NAME: what", exit status 1.
template <class Arguments, class Parse, class Run>
int parse_and_run(CLI::App& app, int argc, char** argv, Parse parse, Run run) {
    Arguments arguments;
    try {
        parse(app, argc, argv, arguments);
        return run(arguments);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    } catch (const std::exception& e) {
        std::cerr << app.get_name() << ": " << e.what() << "\n";
        return 1;
    }
}

}  // namespace bench
