// A consumer of the fitstream package: includes the umbrella header, links
// through fitstream::fitstream alone, and checks the version it was given.
#include <fitstream/fitstream.hpp>

#include <iostream>
#include <string_view>

int main()
{
    const std::string_view version = fitstream::version_string();
    std::cout << "consumer: fitstream::version_string() = " << version << '\n';
    if (version.find(FITSTREAM_EXPECTED_VERSION) == std::string_view::npos) {
        std::cerr << "consumer: expected version " << FITSTREAM_EXPECTED_VERSION << '\n';
        return 1;
    }
    return 0;
}
