// SPDX-License-Identifier: MIT
#pragma once

// The writer for a plan without signatures: the structure is produced in
// order and written out as it is produced, so memory holds neither the
// plan's records nor the structure whole, however many images there are.
//
// A measuring pass over the plan gives the structure's size (where the
// external data area starts) and its strings block. Then, as the pipeline
// hands over each image in tree order, its node is produced with every
// value known (size, offset, digests), and written: for external data to
// its place in the structure, for embedded data around the payload, which
// went straight to its final place while it streamed (only the `data`
// property's length is filled in once the size is known). The
// configurations, the strings block and the header come last. The bytes
// are those the held-structure writer makes (build_structure()) for the
// same tree.
//
// Signatures need the structure held (their regions are hashed from it):
// a plan with signatures goes through the tree writer (see writer.hpp).

#include <fitstream/detail/write/fdt_stream.hpp>
#include <fitstream/detail/write/image_list.hpp>
#include <fitstream/detail/write/layout_plan.hpp>
#include <fitstream/detail/write/pipeline.hpp>
#include <fitstream/detail/write/structure.hpp>
#include <fitstream/error.hpp>
#include <fitstream/layout.hpp>
#include <fitstream/plan.hpp>
#include <fitstream/sink.hpp>
#include <fitstream/write_options.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace fitstream {
namespace detail {

// The measuring pass and the emitting one make the same calls in the same
// order (the sizes measured are the sizes written): these three are them.

// Opens the root (with its properties) and /images.
inline void open_images(fdt_stream& fdt, const fit_plan& plan) {
    fdt.begin_node("");
    write_root_properties(fdt, plan.description, plan.timestamp, plan.address_cells);
    fdt.begin_node("images");
}

// One image's node, whole; `slots` gets its placeholders.
inline void write_plan_image(fdt_stream& fdt, const fit_plan& plan, const layout_options& layout, const image& img,
                             image_slots& slots) {
    slots = image_slots{};
    fdt.begin_node(img.name);
    write_image_body(fdt, img, plan.address_cells, layout.layout, layout.position.has_value(), slots);
    fdt.end_node();
}

// Closes /images and produces /configurations and the end of the tree;
// `between(fdt)` after each configuration node.
template <class Between>
void write_configurations(fdt_stream& fdt, const fit_plan& plan, Between&& between) {
    fdt.end_node();  // images
    fdt.begin_node("configurations");
    if (!plan.default_configuration.empty()) fdt.property_string("default", plan.default_configuration);
    for (fit_plan::configuration_cursor c(plan); !c.done();) {
        const configuration conf = c.next();
        plan.check_references(conf);  // in the measuring pass, before anything is written
        fdt.begin_node(conf.name);
        write_configuration_properties(fdt, conf);
        fdt.end_node();
        between(fdt);
    }
    fdt.end_node();
    fdt.end_node();
    fdt.end();
}

// A plan's images for the pipeline, made one at a time as it asks for them
// (in order: a cursor reads on from the last).
class plan_image_list final : public image_list {
public:
    explicit plan_image_list(const fit_plan& plan) : plan_(plan), cursor_(plan) {}
    std::size_t size() const override { return plan_.image_count(); }
    std::shared_ptr<const image> at(std::size_t index) const override {
        std::lock_guard<std::mutex> lock(mutex_);
        if (index < cursor_.index()) cursor_ = fit_plan::image_cursor(plan_, index);
        while (cursor_.index() < index) cursor_.next();
        return std::make_shared<const image>(cursor_.next());
    }
    bool any_segmented() const override { return plan_.any_segmented(); }

private:
    const fit_plan& plan_;
    mutable std::mutex mutex_;
    mutable fit_plan::image_cursor cursor_;
};

// The measuring pass: the same calls the streaming_consumer makes, in the
// same order, into a measuring fdt_stream.
inline fdt_stream measure_structure(const fit_plan& plan, const layout_options& layout) {
    fdt_stream fdt;
    open_images(fdt, plan);
    image_slots slots;
    for (fit_plan::image_cursor c(plan); !c.done();) write_plan_image(fdt, plan, layout, c.next(), slots);
    write_configurations(fdt, plan, [](fdt_stream&) {});
    return fdt;
}

// Takes each image from the pipeline to its place, produces its node and
// writes it; reports results, on_image and on_progress. Runs on the
// calling thread, in tree order.
class streaming_consumer final : public pipeline_consumer {
public:
    streaming_consumer(const fit_plan& plan, sink& out, const layout_plan& layout, const layout_options& options,
                       std::string strings, std::uint64_t structure_size, const write_options& write)
        : plan_(plan), out_(out), layout_(layout), options_(options), write_(write), fdt_(std::move(strings)),
          cursor_(plan), structure_size_(structure_size) {
        if (write.image_results) result.images.reserve(plan.image_count());
        progress_.input_total = layout.input_total();
        progress_.images_total = plan.image_count();
        open_images(fdt_, plan);
    }

    write_result result;

    void begin_image(std::size_t index) override {
        img_ = cursor_.next();
        (void)index;
        write_plan_image(fdt_, plan_, options_, img_, slots_);
        // Embedded: the payload goes where the `data` value starts, in the
        // file as it will be, with every earlier payload spliced in.
        at_ = layout_.place(img_, layout_.embedded() ? slots_.data_end - shift_ : 0, structure_size_, shift_);
        stored_ = 0;
    }

    void stored(const char* data, std::size_t size, std::uint64_t input_done) override {
        at_.check_room(stored_, size);
        out_.write_at(at_.file_offset + stored_, data, size);
        stored_ += size;
        progress_.stored_done += size;
        if (write_.on_progress) {
            write_progress now = progress_;
            now.input_done += input_done;
            write_.on_progress(now);
        }
    }

    void end_image(std::size_t, const std::uint8_t* digests, std::uint64_t input_size) override {
        std::size_t at = 0;
        for (std::size_t k = 0; k < slots_.hash_value_at.size(); ++k) {
            const std::size_t size = img_.hashes()[k].digest_size;
            fdt_.patch(slots_.hash_value_at[k], digests + at, size);
            at += size;
        }
        if (slots_.unciphered_size_at != 0) fdt_.patch(slots_.unciphered_size_at, digests + at, 4);
        char be[4];
        fdt32_st(be, static_cast<std::uint32_t>(stored_));  // store() keeps it within a cell
        if (layout_.embedded()) {
            fdt_.patch(slots_.data_end - 8, be, 4);  // the `data` property's length
            // The node up to the data, the payload (written), the rest.
            const std::string_view node = fdt_.pending();
            const std::size_t head = static_cast<std::size_t>(slots_.data_end - fdt_.pending_position());
            out_.write_at(fdt_.pending_position(), node.data(), head);
            const std::uint64_t padded = align_up(stored_, 4);
            out_.write_at(slots_.data_end + padded, node.data() + head, node.size() - head);
            fdt_.take();
            fdt_.splice(padded);
        } else {
            fdt_.patch(slots_.data_size_at, be, 4);
            fdt32_st(be, static_cast<std::uint32_t>(layout_.data_offset(shift_)));
            fdt_.patch(slots_.data_offset_at, be, 4);
            write_pending();
        }
        const image_result done{input_size, stored_, at_.file_offset};
        shift_ += layout_.advance(stored_);
        if (write_.image_results) result.images.push_back(done);
        progress_.input_done += input_size;
        ++progress_.images_done;
        if (write_.on_image) write_.on_image(img_, done);
        if (write_.on_progress) write_.on_progress(progress_);
    }

    // After the last image: the configurations, the strings block and the
    // header, whose totalsize is `totalsize` when given (external data: the
    // structure padded to the data area) or the FDT's own size. Returns the
    // FDT's own size.
    std::uint64_t finish(std::optional<std::uint64_t> totalsize) {
        write_configurations(fdt_, plan_, [this](fdt_stream&) {
            if (fdt_.pending().size() >= flush_size) write_pending();
        });
        write_pending();
        const std::string& strings = fdt_.strings();
        out_.write_at(fdt_.position(), strings.data(), strings.size());
        std::vector<char> header = fdt_stream::header(fdt_.struct_size(), strings.size());
        if (totalsize) fdt_set_totalsize(header.data(), static_cast<std::uint32_t>(*totalsize));
        out_.write_at(0, header.data(), header.size());
        return fdt_.position() + strings.size();
    }

    std::uint64_t shift() const noexcept { return shift_; }

private:
    static constexpr std::size_t flush_size = 64 * 1024;

    void write_pending() {
        const std::string_view bytes = fdt_.pending();
        out_.write_at(fdt_.pending_position(), bytes.data(), bytes.size());
        fdt_.take();
    }
    const fit_plan& plan_;
    sink& out_;
    const layout_plan& layout_;
    const layout_options& options_;
    const write_options& write_;
    fdt_stream fdt_;
    fit_plan::image_cursor cursor_;
    image img_{"", "none", source::memory_view(nullptr, 0, "")};
    image_slots slots_;
    image_place at_;
    std::uint64_t stored_ = 0;
    std::uint64_t shift_ = 0;  // embedded: payload bytes spliced so far; external: data area used
    const std::uint64_t structure_size_;  // without payloads
    write_progress progress_;
};

// Writes `plan` (which has no signatures) to `out`, streaming the structure.
inline write_result write_streamed(const fit_plan& plan, sink& out, const write_options& options, unsigned threads) {
    plan.validate();
    check_layout_options(options.layout);

    // Measure: the structure's size without payloads, and its strings.
    const fdt_stream measure = measure_structure(plan, options.layout);
    const std::uint64_t structure_size = fdt_stream::struct_begin() + measure.struct_size() + measure.strings().size();

    layout_plan layout(options.layout);
    layout.place_data_area(structure_size);
    layout.plan_sizes(plan.image_count(), [&](const auto& visit) {
        for (fit_plan::image_cursor c(plan); !c.done();) visit(c.next());
    }, structure_size, out.name());

    streaming_consumer consumer(plan, out, layout, options.layout, measure.strings(), structure_size, options);
    {
        const plan_image_list images(plan);
        pipeline work(images, layout.sizes(), threads, options.memory_budget, options.chunk_size);
        work.run(consumer);
        consumer.result.peak_buffered = work.peak_in_flight();
    }
    const std::uint64_t fdt_size =
        consumer.finish(layout.embedded() ? std::nullopt : std::optional<std::uint64_t>(layout.padded_structure_size()));
    write_result result = std::move(consumer.result);
    if (layout.embedded()) {
        if (fdt_size != structure_size + consumer.shift())
            throw std::logic_error("fitstream: the structure written differs in size from the one measured");
        result.structure_size = fdt_size;
        result.total_size = fdt_size;
    } else {
        if (fdt_size != structure_size)
            throw std::logic_error("fitstream: the structure written differs in size from the one measured");
        result.structure_size = layout.padded_structure_size();
        result.total_size = layout.data_base() + consumer.shift();
    }
    out.commit(result.total_size);
    return result;
}

}  // namespace detail
}  // namespace fitstream
