// A consumer that uses one codec: it includes only <fitstream/codec/lz4.hpp>
// (and the core's hashes) and links fitstream::lz4, which brings liblz4 and
// the core's libraries but no other codec library. It drives the codec's
// encoder and decoder through the public SymmetricFilter interface
// (codec/concept.hpp), as any filter chain would.
#include <fitstream/codec/lz4.hpp>
#include <fitstream/hash/crc32.hpp>

#include <iostream>
#include <string>
#include <vector>

namespace {

// Runs `filter` over all of `input` (no more will come) until it reports
// the stream complete.
template <class Filter>
std::string run(Filter& filter, const std::string& input) {
    std::vector<char> buffer(1 << 16);
    std::string output;
    const char* in = input.data();
    for (bool more = true; more;) {
        char* out = buffer.data();
        more = filter.filter(in, input.data() + input.size(), out, buffer.data() + buffer.size(), true);
        output.append(buffer.data(), static_cast<std::size_t>(out - buffer.data()));
    }
    return output;
}

}  // namespace

int main()
{
    const std::string input(100000, 'f');
    fitstream::codec::lz4::encoder encoder({}, input.size());
    const std::string packed = run(encoder, input);
    fitstream::codec::lz4::decoder decoder;
    const std::string unpacked = run(decoder, packed);
    fitstream::hash::crc32 crc;
    crc.update(packed.data(), packed.size());
    const auto digest = crc.final();
    const unsigned value = unsigned(digest[0]) << 24 | unsigned(digest[1]) << 16 | unsigned(digest[2]) << 8 | digest[3];
    std::cout << "consumer_lz4: " << input.size() << " -> " << packed.size() << " bytes, crc32 " << std::hex << value
              << '\n';
    if (unpacked != input || packed.size() >= input.size()) {
        std::cerr << "consumer_lz4: round trip failed\n";
        return 1;
    }
    return 0;
}
