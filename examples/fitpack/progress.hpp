// SPDX-License-Identifier: MIT
//
// fitpack's progress line: bytes done of the total, the rate and the time
// left, redrawn in place on standard error a few times a second. Only for
// a terminal (a build log must not fill with carriage returns) and only
// once a run has lasted long enough to be worth watching.

#pragma once

#include <fitstream/writer.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace fitpack {

class progress_line {
public:
    using clock = std::chrono::steady_clock;

    /// Shows nothing unless standard error is a terminal.
    progress_line() : enabled_(::isatty(STDERR_FILENO) == 1), start_(clock::now()), last_(start_) {}

    bool enabled() const noexcept { return enabled_; }

    /// Redraws the line, at most every `interval`, once `delay` has passed.
    void update(const fitstream::write_progress& p) {
        if (!enabled_) return;
        last_progress_ = p;
        const auto now = clock::now();
        if (now - start_ < delay || (shown_ && now - last_ < interval)) return;
        last_ = now;
        draw(now, false);
    }

    /// Removes the line so another message can be printed on its own line;
    /// the next update() draws it again.
    void clear() {
        if (!shown_) return;
        std::fputs("\r\033[K", stderr);
        shown_ = false;
    }

    /// The final state, ended with a newline (only if the line was shown).
    void finish() {
        if (!enabled_ || !shown_) return;
        draw(clock::now(), true);
        std::fputc('\n', stderr);
        std::fflush(stderr);
        shown_ = false;
    }

    static constexpr std::chrono::milliseconds delay{300};
    static constexpr std::chrono::milliseconds interval{250};

private:
    static std::string mb(std::uint64_t bytes) {
        char text[32];
        std::snprintf(text, sizeof text, "%.1f", static_cast<double>(bytes) / 1e6);
        return text;
    }

    void draw(clock::time_point now, bool final) {
        const auto& p = last_progress_;
        const double seconds = std::chrono::duration<double>(now - start_).count();
        const double rate = seconds > 0 ? static_cast<double>(p.input_done) / seconds : 0;
        char eta[32] = "--:--";
        if (final) {
            std::snprintf(eta, sizeof eta, "%.1f s", seconds);
        } else if (rate > 0 && p.input_total >= p.input_done) {
            const auto left = static_cast<unsigned long>(static_cast<double>(p.input_total - p.input_done) / rate);
            std::snprintf(eta, sizeof eta, "ETA %lu:%02lu", left / 60, left % 60);
        }
        const int percent =
            p.input_total ? static_cast<int>(100.0 * static_cast<double>(p.input_done) / static_cast<double>(p.input_total))
                          : 100;
        std::fprintf(stderr, "\r\033[Kfitpack: %s/%s MB (%d%%), %zu/%zu images, %.1f MB/s, %s",
                     mb(p.input_done).c_str(), mb(p.input_total).c_str(), percent, p.images_done, p.images_total,
                     rate / 1e6, eta);
        std::fflush(stderr);
        shown_ = true;
    }

    bool enabled_;
    bool shown_ = false;
    clock::time_point start_;
    clock::time_point last_;
    fitstream::write_progress last_progress_;
};

}  // namespace fitpack
