// SPDX-License-Identifier: MIT
// libFuzzer target: each codec's streaming decoder on arbitrary bytes.
//
// The first byte picks the codec (byte % 7: none, gzip, bzip2, lzma, lzo,
// lz4, zstd, the order of fitstream::builtin_codecs) and seeds the chunking
// (byte / 7); the rest is the compressed stream. It is decoded three times,
// each stopping after 4 MiB of output:
//   A  one shot: all input at once, flush set, 1 MiB output windows;
//   B  a fresh decoder fed in chunks of 1 byte .. 64 KiB with output
//      windows of 1 byte .. 256 KiB, flush only with the last chunk;
//   C  B's decoder after close(), one shot again.
// A, B and C must agree (same outcome, same bytes), and each call must keep
// the SymmetricFilter contract: pointers stay inside their windows, a
// finished decoder stays finished and takes no more input, and a decoder
// with flush set and no input left either progresses, finishes or throws.
// fitstream::error is the one acceptable failure.

#include <fitstream/codec/builtin.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

#define FUZZ_CHECK(cond)               \
    do {                               \
        if (!(cond)) __builtin_trap(); \
    } while (0)

constexpr std::size_t output_limit = 4u << 20;
// Bounds the number of filter() calls of the chunked run (1-byte windows
// over 4 MiB would otherwise take millions).
constexpr std::size_t call_limit = 100000;

// xorshift64*: a deterministic chunking from a seed.
class chunker {
public:
    explicit chunker(std::uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ull + 1) {}
    std::size_t input() { return pick(65536); }
    std::size_t window() { return pick(262144); }

private:
    // 1..max, mostly tiny, sometimes large.
    std::size_t pick(std::size_t max) {
        const std::uint64_t r = next();
        switch (r & 3) {
            case 0: return 1 + (r >> 8) % 4;
            case 1: return 1 + (r >> 8) % 64;
            case 2: return 1 + (r >> 8) % 4096;
            default: return 1 + (r >> 8) % max;
        }
    }
    std::uint64_t next() {
        state_ ^= state_ >> 12;
        state_ ^= state_ << 25;
        state_ ^= state_ >> 27;
        return state_ * 0x2545f4914f6cdd1dull;
    }
    std::uint64_t state_;
};

struct outcome {
    bool finished = false;  // the decoder reported the end of its stream
    bool bounded = false;   // stopped at output_limit or call_limit
    bool failed = false;    // threw fitstream::error
    std::vector<char> out;
};

template <class Decoder>
outcome decode(Decoder& decoder, const char* data, std::size_t size, chunker* chunks) {
    outcome result;
    std::vector<char> window(chunks ? 262144 : 1u << 20);
    const char* in = data;
    const char* const end = data + size;
    int idle = 0;
    try {
        for (std::size_t calls = 0;; ++calls) {
            const std::size_t chunk = chunks ? chunks->input() : size;
            const char* const step_end = static_cast<std::size_t>(end - in) > chunk ? in + chunk : end;
            const bool flush = step_end == end;
            const std::size_t room = chunks ? chunks->window() : window.size();
            const char* const in_before = in;
            char* out = window.data();
            const bool more = decoder.filter(in, step_end, out, window.data() + room, flush);
            FUZZ_CHECK(in >= in_before && in <= step_end);
            FUZZ_CHECK(out >= window.data() && out <= window.data() + room);
            result.out.insert(result.out.end(), window.data(), out);
            if (!more) {
                // Finished: it stays so, and reads nothing more.
                const char* const in_after = in;
                char* again = window.data();
                FUZZ_CHECK(!decoder.filter(in, end, again, window.data() + window.size(), true));
                FUZZ_CHECK(in == in_after && again == window.data());
                result.finished = true;
                break;
            }
            const bool progress = in != in_before || out != window.data();
            if (flush && in == end && !progress) {
                // Truncated input must be reported, not waited on forever.
                FUZZ_CHECK(++idle <= 2);
            } else {
                idle = 0;
            }
            if (result.out.size() >= output_limit || calls >= call_limit) {
                result.bounded = true;
                break;
            }
        }
    } catch (const fitstream::error&) {
        result.failed = true;
    }
    return result;
}

bool same_prefix(const outcome& a, const outcome& b) {
    const std::size_t n = std::min(a.out.size(), b.out.size());
    return n == 0 || std::memcmp(a.out.data(), b.out.data(), n) == 0;
}

void compare(const outcome& a, const outcome& b) {
    if (a.bounded || b.bounded) {
        // One stopped early: what both produced must still agree.
        FUZZ_CHECK(same_prefix(a, b));
        return;
    }
    FUZZ_CHECK(a.finished == b.finished && a.failed == b.failed);
    if (a.finished) FUZZ_CHECK(a.out == b.out);
    else FUZZ_CHECK(same_prefix(a, b));
}

template <class Codec>
void run(const char* data, std::size_t size, std::uint64_t seed) {
    typename Codec::decoder one_shot;
    const outcome a = decode(one_shot, data, size, nullptr);
    typename Codec::decoder chunked;
    chunker chunks(seed);
    const outcome b = decode(chunked, data, size, &chunks);
    compare(a, b);
    chunked.close();
    const outcome c = decode(chunked, data, size, nullptr);
    compare(a, c);
    FUZZ_CHECK(a.bounded || (a.finished == c.finished && a.failed == c.failed && a.out == c.out));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned selector = data[0];
    const char* stream = reinterpret_cast<const char*>(data + 1);
    const std::size_t stream_size = size - 1;
    const std::uint64_t seed = selector / 7;
    switch (selector % 7) {
        case 0: run<fitstream::codec::none>(stream, stream_size, seed); break;
        case 1: run<fitstream::codec::gzip>(stream, stream_size, seed); break;
        case 2: run<fitstream::codec::bzip2>(stream, stream_size, seed); break;
        case 3: run<fitstream::codec::lzma>(stream, stream_size, seed); break;
        case 4: run<fitstream::codec::lzo>(stream, stream_size, seed); break;
        case 5: run<fitstream::codec::lz4>(stream, stream_size, seed); break;
        default: run<fitstream::codec::zstd>(stream, stream_size, seed); break;
    }
    return 0;
}
