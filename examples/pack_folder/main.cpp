// SPDX-License-Identifier: MIT
//
// pack_folder: packs a kernel and every .dtb found under a folder into one
// FIT, the way a distribution or a board-support build might:
//
//     pack_folder Image arch/arm64/boot/dts image.fit [arch]
//
// - the folder is searched recursively, and the DTBs are sorted by their
//   path (byte order, not the locale's), so the same tree always gives the
//   same FIT, whatever order the file system lists it in;
// - the root timestamp is SOURCE_DATE_EPOCH when it is set (reproducible
//   builds), the current time otherwise;
// - the kernel is stored as it is (an arm64 `Image.gz` is compressed
//   already), each DTB is gzip-compressed, every image carries a sha256;
// - the data goes after the structure (`mkimage -E`), so a loader can read
//   the small structure first and then only the images it boots.
//
// Only the public API is used: fitstream::tree, image, configuration,
// inspect_dtb_file, source_date_epoch and write_fit.

#include <fitstream/fitstream.hpp>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

int main(int argc, char** argv) {
    if (argc < 4 || argc > 5) {
        std::cerr << "usage: " << argv[0] << " KERNEL DTB_FOLDER OUTPUT.fit [ARCH]\n";
        return 2;
    }
    const std::string kernel_path = argv[1];
    const fs::path folder = argv[2];
    const std::string output = argv[3];
    const std::string arch = argc == 5 ? argv[4] : "arm64";

    try {
        // 1. Every regular file ending in ".dtb" (overlays, ".dtbo", are not
        //    boards and are left out), sorted by path relative to the folder.
        std::vector<fs::path> dtbs;
        for (const auto& entry : fs::recursive_directory_iterator(folder)) {
            if (entry.is_regular_file() && entry.path().extension() == ".dtb")
                dtbs.push_back(entry.path().lexically_relative(folder));
        }
        std::sort(dtbs.begin(), dtbs.end(),
                  [](const fs::path& a, const fs::path& b) { return a.generic_string() < b.generic_string(); });
        if (dtbs.empty()) {
            std::cerr << "pack_folder: no .dtb files under " << folder << "\n";
            return 1;
        }

        // 2. The tree: root properties first.
        fitstream::tree fit;
        fit.description = "Linux with " + std::to_string(dtbs.size()) + " devicetrees";
        fit.timestamp = fitstream::source_date_epoch();  // throws if it is set but malformed
        if (!fit.timestamp) fit.timestamp = static_cast<std::uint32_t>(std::time(nullptr));

        // 3. The kernel: `kernel_noload` runs wherever U-Boot put it.
        auto& kernel = fit.images.emplace_back("kernel", "kernel_noload", fitstream::source::file(kernel_path));
        kernel.description = "Linux kernel";
        kernel.arch = arch;
        kernel.os = "linux";
        kernel.load = 0;
        kernel.entry = 0;
        kernel.add_hash<fitstream::hash::sha256>();  // stored as is: codec::none is the default

        // 4. One gzip-compressed fdt image and one configuration per DTB.
        for (std::size_t i = 0; i < dtbs.size(); ++i) {
            const std::string path = (folder / dtbs[i]).string();
            const std::string n = std::to_string(i + 1);

            auto& fdt = fit.images.emplace_back("fdt-" + n, "flat_dt", fitstream::source::file(path));
            fdt.description = dtbs[i].generic_string();  // the relative path: unique, and says where it came from
            fdt.arch = arch;
            fdt.compress_with<fitstream::codec::gzip>({9}).add_hash<fitstream::hash::sha256>();

            // The board's model and root compatible, read (and checked) now.
            const fitstream::dtb_info info = fitstream::inspect_dtb_file(path);
            fitstream::configuration conf;
            conf.name = "conf-" + n;
            conf.description = info.model.value_or(fdt.description);
            conf.compatible = info.compatible;  // what U-Boot matches the board against
            conf.kernel = "kernel";
            conf.fdt = {fdt.name};
            fit.configurations.push_back(std::move(conf));
        }
        fit.default_configuration = "conf-1";

        // 5. Write it: external data, each payload aligned to 4 KiB so a
        //    block-based loader can read it in place. write_fit() writes a
        //    temporary file and renames it over `output` only on success.
        fitstream::write_options options;
        options.layout.layout = fitstream::data_layout::external;
        options.layout.align = 0x1000;
        options.on_image = [](const fitstream::image& img, const fitstream::image_result& r) {
            std::cerr << img.name << ": " << img.description << ", " << r.input_size << " -> " << r.stored_size
                      << " bytes (" << img.compression() << ")\n";
        };
        const fitstream::write_result result = fitstream::write_fit(fit, output, options);
        std::cerr << output << ": " << result.total_size << " bytes, " << dtbs.size() << " configurations\n";
        return 0;
    } catch (const std::exception& e) {
        // fitstream::error's message already names the file or node.
        std::cerr << "pack_folder: " << e.what() << "\n";
        return 1;
    }
}
