// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The one exception type fitstream throws, and the error categories behind it.
///
/// Every failure is a `fitstream::error`, a `std::system_error` whose
/// category says which layer failed: fitstream itself, libfdt, a codec
/// library (zlib, zstd, ...), OpenSSL, or the operating system. Its message
/// reads `fitstream: <file or node>: <reason>`; `subject()` and `reason()`
/// give the two parts separately, so a tool can print them its own way.

#include <string>
#include <system_error>
#include <utility>

namespace fitstream {

/// fitstream's own error conditions.
enum class errc {
    invalid_argument = 1,  ///< a caller passed a value the FIT format cannot hold
    invalid_input,         ///< an input file is malformed (not a DTB, truncated, ...)
    limit_exceeded,        ///< a size or offset does not fit a 32-bit FIT cell, or a size limit (max_decoded_size) is passed
    input_changed,         ///< an input changed size while it was being read
    unsupported,           ///< a codec or hash name fitstream does not know
    bad_image,             ///< a FIT being read is malformed or fails verification
};

namespace detail {

class fitstream_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return "fitstream"; }
    std::string message(int ev) const override {
        switch (static_cast<errc>(ev)) {
            case errc::invalid_argument: return "invalid argument";
            case errc::invalid_input: return "invalid input";
            case errc::limit_exceeded: return "exceeds a limit (what a 32-bit FIT cell can hold, or a size limit)";
            case errc::input_changed: return "input changed while being read";
            case errc::unsupported: return "not supported";
            case errc::bad_image: return "bad FIT image";
        }
        return "unknown fitstream error";
    }
};

/// A category for a C library whose error text comes from a function of its
/// own (fdt_strerror, zError, ZSTD_getErrorName, ...). The code is stored
/// as the library reported it.
template <class Traits>
class library_category_impl final : public std::error_category {
public:
    const char* name() const noexcept override { return Traits::name; }
    std::string message(int ev) const override { return Traits::message(ev); }
};

}  // namespace detail

/// The category of fitstream's own `errc` values.
inline const std::error_category& fitstream_category() noexcept {
    static const detail::fitstream_category_impl instance;
    return instance;
}

inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), fitstream_category()};
}

/// The exception fitstream throws. See the file comment.
class error : public std::system_error {
public:
    /// @param code    what failed, in its category
    /// @param subject the file, node or option the failure concerns
    /// @param detail  optional words put before the category's message
    error(std::error_code code, std::string subject, std::string detail = {})
        : std::system_error(code),
          subject_(std::move(subject)),
          // Our own codes are generic ("invalid input"); the detail says it better.
          reason_(code.category() == fitstream_category() && !detail.empty() ? detail
                                                                               : join(detail, code.message())),
          message_("fitstream: " + (subject_.empty() ? reason_ : subject_ + ": " + reason_)) {}

    error(errc code, std::string subject, std::string detail = {})
        : error(make_error_code(code), std::move(subject), std::move(detail)) {}

    /// "fitstream: <subject>: <reason>".
    const char* what() const noexcept override { return message_.c_str(); }
    /// The file, node or option named by the error.
    const std::string& subject() const noexcept { return subject_; }
    /// Why it failed, without the subject.
    const std::string& reason() const noexcept { return reason_; }

private:
    static std::string join(const std::string& detail, const std::string& message) {
        if (detail.empty()) return message;
        if (message.empty()) return detail;
        return detail + ": " + message;
    }

    std::string subject_;
    std::string reason_;
    std::string message_;
};

namespace detail {

/// Throws an OS error for `errno_value` about `subject`.
[[noreturn]] inline void throw_os_error(int errno_value, std::string subject, std::string detail = {}) {
    throw error(std::error_code(errno_value, std::generic_category()), std::move(subject), std::move(detail));
}

}  // namespace detail
}  // namespace fitstream

namespace std {
template <>
struct is_error_code_enum<fitstream::errc> : true_type {};
}  // namespace std
