// A consumer that uses one codec: it includes only <fitstream/codec/lz4.hpp>
// (and the core's hashes) and links fitstream::lz4, which brings liblz4 and
// the core's libraries but no other codec library.
#include <fitstream/codec/lz4.hpp>
#include <fitstream/hash/crc32.hpp>

#include <iostream>
#include <string>
#include <vector>

int main()
{
    const std::string input(100000, 'f');
    std::vector<char> scratch(1 << 16);
    std::string packed;
    fitstream::codec::lz4::encoder encoder({}, input.size());
    fitstream::detail::run_filter(encoder, input.data(), input.size(), true, scratch.data(), scratch.size(),
                                   [&](const char* p, std::size_t n) { packed.append(p, n); });
    std::string unpacked;
    fitstream::codec::lz4::decoder decoder;
    fitstream::detail::run_filter(decoder, packed.data(), packed.size(), true, scratch.data(), scratch.size(),
                                  [&](const char* p, std::size_t n) { unpacked.append(p, n); });
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
