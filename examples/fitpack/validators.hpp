// SPDX-License-Identifier: MIT
#pragma once

// CLI11 validators for values the library would refuse. They fail with a
// fitstream::error naming the option, as the library's own errors do
// (exit 1), where CLI11's own validators fail as usage errors (exit 2).

#include "exit_status.hpp"

#include <fitstream/codec/builtin.hpp>
#include <fitstream/error.hpp>
#include <fitstream/hash/builtin.hpp>

#include <CLI/CLI.hpp>

#include <cerrno>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fitpack {

/// Splits `text` at commas, leaving out empty items.
inline std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> items;
    std::string current;
    for (const char c : text + ",") {
        if (c == ',') {
            if (!current.empty()) items.push_back(current);
            current.clear();
        } else {
            current += c;
        }
    }
    return items;
}


/// A C-style unsigned number (decimal, 0x hex, 0 octal) as strtoull reads
/// it, or nullopt. Unlike strtoull (and CLI11 2.1.2, which turns "-1"
/// into 2^64 - 1), a minus sign is refused.
inline std::optional<std::uint64_t> parse_unsigned(const std::string& text) {
    if (text.empty() || text.find('-') != std::string::npos) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const unsigned long long value = std::strtoull(text.c_str(), &end, 0);
    if (*end != '\0' || errno == ERANGE) return std::nullopt;
    return value;
}

/// The largest -B/--align fitpack takes: 1 GiB, the largest alignment whose
/// padded structure libfdt (and so U-Boot) can still open (2 GiB - 1 is
/// its limit, and -B pads the structure too). Larger than any page, erase
/// block or partition alignment a boot medium uses; the padding is a gap,
/// never held in memory (see the writer). mkimage sets no limit.
inline constexpr std::uint64_t max_alignment = 0x40000000;

/// "0x40000000 (1024 MiB)": a byte count as -B is written, and in MiB.
inline std::string hex_and_mib(std::uint64_t bytes) {
    char text[64];
    std::snprintf(text, sizeof text, "%#llx (%llu MiB)", static_cast<unsigned long long>(bytes),
                  static_cast<unsigned long long>(bytes >> 20));
    return text;
}

/// Throws, naming `option`, when `align` is above max_alignment; checked
/// as the command line is read, before anything is allocated.
inline void check_alignment_limit(std::uint64_t align, const std::string& option) {
    if (align > max_alignment)
        throw fitstream::error(fitstream::errc::invalid_argument, option,
                               "alignment " + hex_and_mib(align) + " is larger than " + hex_and_mib(max_alignment) +
                                   ", the most fitpack aligns to");
}

/// Throws, naming `option`, unless `align` is a power of two from 4 to
/// max_alignment.
inline void check_alignment(std::uint64_t align, const std::string& option) {
    check_alignment_limit(align, option);
    if (align < 4 || (align & (align - 1)) != 0)
        throw fitstream::error(fitstream::errc::invalid_argument, option,
                               "alignment " + std::to_string(align) + " is not a power of two of at least 4");
}

/// Throws, naming `option`, unless `position` is a multiple of 4 that a
/// 32-bit data-position cell holds.
inline void check_data_position(std::uint64_t position, const std::string& option) {
    if (position % 4 != 0)
        throw fitstream::error(fitstream::errc::invalid_argument, option,
                               "data position " + std::to_string(position) + " is not a multiple of 4");
    if (position > fitstream::max_cell_value)
        throw fitstream::error(fitstream::errc::limit_exceeded, option,
                               "data position " + std::to_string(position) + " does not fit 32 bits");
}

/// An unsigned number of at most `max` for `option`; the value is left as
/// written for CLI11 to convert.
inline CLI::Validator unsigned_number(const std::string& option, std::uint64_t max = UINT64_MAX,
                                      const std::string& too_large = "too large") {
    return CLI::Validator(
        [=](std::string& text) {
            const auto value = parse_unsigned(text);
            if (!value)
                throw fitstream::error(fitstream::errc::invalid_argument, option, "'" + text + "' is not a number");
            if (*value > max) throw fitstream::error(fitstream::errc::invalid_argument, option, too_large);
            return std::string();
        },
        "", "unsigned number");
}

/// An unsigned number for an option of fitpack's own (not a FIT value):
/// anything else is a usage error.
inline CLI::Validator unsigned_argument() {
    return CLI::Validator(
        [](std::string& text) { return parse_unsigned(text) ? std::string() : "'" + text + "' is not a number"; }, "",
        "unsigned argument");
}

/// A thread count for -j/--jobs: 1 to `most`. A usage error (exit 2) that
/// names both spellings of the option, which CLI::Range's message does not.
inline CLI::Validator thread_count(std::uint64_t most) {
    return CLI::Validator(
        [most](std::string& text) {
            const auto value = parse_unsigned(text);
            if (!value || *value < 1 || *value > most)
                throw usage_error("-j/--jobs must be a number of threads from 1 to " + std::to_string(most) +
                                  ", not '" + text + "'");
            return std::string();
        },
        "", "thread count");
}

/// A size in bytes: a decimal number, optionally followed by K, M or G
/// (KiB, MiB, GiB; "64M", "64MiB" and "64m" alike), or nullopt when it is
/// not one or does not fit 64 bits.
inline std::optional<std::uint64_t> parse_size(const std::string& text) {
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits > 19) return std::nullopt;
    const std::uint64_t number = std::stoull(text.substr(0, digits));
    std::string unit = text.substr(digits);
    for (auto& c : unit) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    unsigned shift = 0;
    if (unit.empty() || unit == "B") shift = 0;
    else if (unit == "K" || unit == "KIB") shift = 10;
    else if (unit == "M" || unit == "MIB") shift = 20;
    else if (unit == "G" || unit == "GIB") shift = 30;
    else return std::nullopt;
    if (number > (UINT64_MAX >> shift)) return std::nullopt;
    return number << shift;
}

/// --memory-budget: a size of at least 1 byte that fits this machine's
/// size_t, as parse_size() reads it. A usage error (exit 2) on one line.
inline CLI::Validator memory_size(const std::string& option) {
    return CLI::Validator(
        [option](std::string& text) {
            const auto value = parse_size(text);
            if (!value || *value == 0 || *value > SIZE_MAX)
                throw usage_error(option + " must be a size such as 64M (bytes, or a number with K, M or G), not '" +
                                  text + "'");
            return std::string();
        },
        "SIZE", "memory size");
}

/// A codec fitstream knows, by FIT name.
inline void check_codec(const std::string& name, const std::string& option) {
    if (!fitstream::is_codec_name(name))
        throw fitstream::error(fitstream::errc::unsupported, option,
                               "unknown compression '" + name + "' (valid: " + fitstream::codec_names() + ")");
}

inline CLI::Validator codec_name(const std::string& option) {
    return CLI::Validator(
        [=](std::string& name) {
            check_codec(name, option);
            return std::string();
        },
        "", "codec name");
}

/// A hash fitstream knows, by FIT name, or "none" (or nothing: `a,,b`).
inline CLI::Validator hash_name(const std::string& option) {
    return CLI::Validator(
        [=](std::string& name) {
            if (name.empty() || name == "none") return std::string();
            try {
                fitstream::visit_hash(name, [](auto) {});
            } catch (const fitstream::error& e) {
                throw fitstream::error(e.code(), option, "'" + name + "': " + e.reason());
            }
            return std::string();
        },
        "", "hash name");
}

/// Checks every item of a comma-separated list with `item`.
inline CLI::Validator each_comma_item(CLI::Validator item) {
    return CLI::Validator(
        [item](std::string& text) {
            for (std::string part : split_commas(text)) {
                std::string why = item(part);
                if (!why.empty()) return why;
            }
            return std::string();
        },
        "", "comma-separated list");
}

/// A comma-separated list option whose last occurrence wins, as every other
/// option's does (CLI11's delimiter() would add the occurrences up, and an
/// earlier `--hash` in FIT_EXTRA_ARGS must be overridable): `target` gets the
/// items of the last one, each checked by `item`.
inline CLI::Option* add_list_option(CLI::App& app, const std::string& name, std::vector<std::string>& target,
                                    const std::string& help, CLI::Validator item = CLI::Validator()) {
    return app
        .add_option_function<std::string>(
            name, [&target](const std::string& list) { target = split_commas(list); }, help)
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast)
        ->check(each_comma_item(std::move(item)));
}

}  // namespace fitpack
