// SPDX-License-Identifier: MIT
#pragma once

// The images the writer's pipeline streams, however the caller holds them:
// a tree's vector of images, or a compact plan (plan.hpp) that keeps no
// image object per image and makes one only for the images in flight.

#include <fitstream/tree.hpp>

#include <cstddef>
#include <memory>
#include <vector>

namespace fitstream {
namespace detail {

class image_list {
public:
    virtual ~image_list() = default;
    virtual std::size_t size() const = 0;
    /// Image `index` with what the pipeline reads of it: its name, data
    /// source, codec, hashes and cipher (other fields may be left empty).
    /// Valid while the returned pointer is held.
    virtual std::shared_ptr<const image> at(std::size_t index) const = 0;
    /// Whether any image's codec cuts it into segments (more workers than
    /// images are useful then).
    virtual bool any_segmented() const {
        for (std::size_t i = 0; i < size(); ++i)
            if (at(i)->codec().segmented()) return true;
        return false;
    }
};

/// A tree's images, referred to, not copied.
class tree_image_list final : public image_list {
public:
    explicit tree_image_list(const std::vector<image>& images) : images_(images) {}
    std::size_t size() const override { return images_.size(); }
    std::shared_ptr<const image> at(std::size_t index) const override {
        // Aliasing constructor: points into the vector and owns nothing.
        return std::shared_ptr<const image>(std::shared_ptr<const image>(), &images_[index]);
    }
    bool any_segmented() const override {
        for (const auto& img : images_)
            if (img.codec().segmented()) return true;
        return false;
    }

private:
    const std::vector<image>& images_;
};

}  // namespace detail
}  // namespace fitstream
