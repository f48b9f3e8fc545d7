// SPDX-License-Identifier: MIT
#pragma once

// How many cores this process may run on: the CPUs of its affinity mask
// (taskset, cpusets), else std::thread::hardware_concurrency(). Threads
// beyond that only take turns.

#include <thread>

#if defined(__linux__)
#include <sched.h>
#endif

namespace fitstream {
namespace detail {

inline unsigned available_cores() noexcept {
#if defined(__linux__) && defined(CPU_COUNT)
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return static_cast<unsigned>(n);
    }
#endif
    const unsigned n = std::thread::hardware_concurrency();
    return n > 0 ? n : 1;
}

}  // namespace detail
}  // namespace fitstream
