#pragma once
// Pathfinder (Long Range Arena; docs/design.md section 6.3): the "snakes" generator of Linsley et al.
// 2018 ("Learning long-range spatial dependencies with horizontal gated recurrent units",
// github.com/drewlinsley/pathfinder snakes2.py) at LRA's pathfinder32 settings, the LRA file layout,
// and its reader.
//
// An image holds two target snakes, distractor snakes and two circles. A snake is a chain of
// paddles (line segments of L = `paddle_length` px); consecutive paddles are joined at a pivot with a
// gap of 2 m px (m = `paddle_margin`): the dashes. Growth (points are whole pixels (row, column),
// rounded up as in the original's translate_coord):
//   pivot_k   = pivot_{k-1} + (L + 2 m) u(theta_{k-1})
//   head_k    ~ the pixels on the circle of radius L + m around pivot_k (one sample per pixel of arc),
//               weighted by max(cos(min(c |theta - theta_{k-1}|, pi/2)), 0)^2 (c = continuity: the
//               larger, the straighter) times (1 - the occupancy mask dilated by a disc of radius m)
//   paddle_k  = the segment from head_k back towards pivot_k, of length L; theta_k its direction
// Each paddle has a mask: the coverage (0..1) of each pixel by the paddle dilated by a disc of radius
// m + thickness/2 (the original: the line dilated by the margin at 2x, Lanczos-downsampled). A paddle
// is accepted when no pixel is covered >= 1.8 by its mask plus the occupancy (every committed paddle,
// not the snake's own previous one): "no overlap beyond the margin". Up to max_paddle_retrial + 1
// draws, else the snake fails. The two targets (contour_length paddles) start from tails
// `seed_distance` px apart (the first uniform in the central (size - 4 seed_distance)^2 box where its
// mask is free) and grow in turn; if one fails the pair is drawn again. Then n_distractor_snakes
// snakes of distractor_length paddles grow from free pixels, all or nothing (max_distractor_retrial
// + 1 tries each, then skipped). The label is drawn first: a circle of radius marker_radius goes on
// the tail of target i and one on the far end of target i (label 1) or of the other target (label 0).
//
// Rendering: paddles are lines of paddle_thickness px with flat ends, antialiased by antialias^2
// supersamples (1: plain pixels, 1 px wide), of intensity snake_contrast x paddle_contrast on targets
// and snake_contrast on distractors (as the original, which hands the snake contrast list to the
// distractors); circles have intensity 1; the image is the pixelwise maximum scaled so its brightest
// pixel is 255 (scipy.misc.imsave's byte scaling).
//
// Choices where the original is silent or relies on PIL/OpenCV/scipy details:
// - masks and coverage are computed exactly by supersampling (4x4) instead of PIL lines, OpenCV
//   dilations and Lanczos resizing; the seed-availability dilation uses the mask's fully covered
//   pixels (the original truncates its float structuring element to uint8, keeping those);
// - the test also counts the other target's newest paddle (the original checks only committed
//   paddles, so its targets could overlap there);
// - separate_targets (default): snakes touch where their undashed paths (the polyline through every
//   paddle and gap) or circles are 8-neighbours, and no chain of touching snakes may join the two
//   targets. So a label is exactly "the circles lie in one connected component of `undashed`".
//   The original does not guarantee it: with separate_targets = false (its behaviour) about 80% of
//   the negatives at 32x32 have the two targets' paths touching somewhere. Cost: ~3.4x more target
//   pairs drawn (61 vs 18 per image), and the kept pairs are those that stay >= 2 px apart.
// Trigonometry is std::sin/cos/atan2; the random draws are SplitMix64, one stream per image index.
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tasks/dataset.hpp"

namespace rmaat::tasks {

// Defaults: LRA pathfinder32, split "hard" (curv_contour_length_14), from the Pathfinder32 builder's
// docstring in lra_benchmarks/data/pathfinder.py.
struct PathfinderOptions {
    int64_t n_images = 2000;
    uint64_t seed = 1;
    int32_t images_per_batch = 1000;  // images per imgs/<b>/ directory and metadata/<b>.npy file
    bool force = false;               // generate_pathfinder: replace an existing split directory

    int32_t image_size = 32;          // px, square
    int32_t padding = 1;              // px of border no paddle enters
    int32_t contour_length = 14;      // paddles per target snake
    int32_t distractor_length = 4;    // paddles per distractor (contour_length / 3)
    int32_t n_distractor_snakes = 5;  // 20 / distractor_length
    int32_t paddle_length = 2;        // px
    double paddle_thickness = 0.5;    // px
    int32_t paddle_margin = 1;        // px; the gap between paddles is 2 margins
    double continuity = 1.0;          // bend penalty c (larger: straighter snakes)
    int32_t seed_distance = 7;        // px between the targets' tails
    double marker_radius = 1.5;       // px
    double snake_contrast = 2.0;
    double paddle_contrast = 0.75;
    int32_t antialias = 4;  // supersamples per axis; 1 = plain pixels
    int32_t max_paddle_retrial = 2;
    int32_t max_distractor_retrial = 4;
    int32_t max_pair_attempts = 10000;  // RunError beyond (settings where two targets never fit)
    // Keep the two targets (and every chain of snakes touching them) apart, so that a negative's
    // circles never lie in one connected component of the undashed image. false: the original's
    // behaviour (snakes only keep the mask margin; at 32x32 most negatives then have touching paths).
    bool separate_targets = true;

    void validate() const;  // InputError naming the option and its valid range
    // "curv_contour_length_<contour_length>" (LRA: 14 hard, 9 intermediate; its easy split is
    // "curv_baseline", contour length 6).
    std::string split_name() const;
};

struct PathfinderSample {
    int32_t label = 0;                              // 1: the circles lie on one snake
    std::vector<uint8_t> image;                     // image_size^2, row-major: the published rendering
    std::vector<uint8_t> undashed;                  // 255 on every snake's gapless path and the circles
    std::array<int32_t, 2> circle_a{}, circle_b{};  // (row, column) of the circles' centres
    int32_t pair_attempts = 0;                      // target pairs drawn until one fitted
    int32_t distractors = 0;                        // distractor snakes placed
};

// The images of the data set `opt.seed`; image n is independent of the others and of their order.
// Keeps per-options caches (paddle shapes), so reuse one for many images; not thread-safe (use one
// per thread).
class PathfinderGenerator {
public:
    explicit PathfinderGenerator(const PathfinderOptions& opt);  // InputError on bad options
    ~PathfinderGenerator();
    PathfinderGenerator(PathfinderGenerator&&) noexcept;
    PathfinderGenerator& operator=(PathfinderGenerator&&) noexcept;
    PathfinderSample sample(int64_t index);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// One image: PathfinderGenerator(opt).sample(index).
PathfinderSample make_pathfinder_sample(const PathfinderOptions& opt, int64_t index);

// Token ids of an image: pixel + 1 (1..256; 0 is padding), row-major, image_size^2 tokens.
std::vector<int32_t> pathfinder_tokens(const std::vector<uint8_t>& pixels);
Vocabulary pathfinder_vocabulary();  // "pixels": "<pad>", "0".."255" (257 symbols)

struct PathfinderReport {
    std::string directory;  // <out_dir>/<split_name()>
    int64_t images = 0, positives = 0;
    double seconds = 0;             // wall time, generation and writing
    double mean_pair_attempts = 0;  // per image
    double mean_distractors = 0;    // per image
};

// Writes LRA's layout (what read_pathfinder and LRA's pathfinder.py read):
//   <out_dir>/<split>/imgs/<b>/sample_<i>.png       8-bit grayscale, i = 0..images_per_batch-1
//   <out_dir>/<split>/metadata/<b>.npy              text despite the name, one line per image:
//       "imgs/<b> sample_<i>.png <i> <label> <continuity> <contour_length> <distractor_length>
//        <paddle_length> <paddle_thickness> <margin> <number of paddle contrasts>"
// Image n is make_pathfinder_sample(opt, n), in batch n / images_per_batch. A metadata file is
// written as <b>.npy.partial and renamed once its images exist. InputError when the split directory
// exists and is not empty (unless opt.force) or cannot be written.
PathfinderReport generate_pathfinder(const PathfinderOptions& opt, const std::string& out_dir, bool progress);

struct PathfinderReadOptions {
    int32_t image_size = 32;   // LRA pathfinder32; 64, 128, 256 for its larger releases
    int64_t max_examples = 0;  // > 0: stop after that many (smoke runs)
};

// Reads LRA's layout: `dir` is a split directory (e.g. lra_release/pathfinder32/curv_contour_length_14)
// holding metadata/*.npy (read in numeric order of their names) and the images they list. Every
// metadata line is "<image dir> <file name> <anything> <label> [more columns]" (whitespace-separated;
// LRA reads columns 0, 1 and 3); the image is <dir>/<image dir>/<file name>, image_size^2 8-bit
// grayscale; the label is 0 or 1. All metadata is validated before any image is read. DataError
// "<file>:<line>: <reason>" for a malformed line or a missing image, "<png>: <reason> (listed at
// <file>:<line>)" for a bad image, "<file>: ..." for an empty metadata file or a missing metadata/.
// The Dataset: task "pathfinder", image_size^2 tokens (pathfinder_tokens), 2 classes.
Dataset read_pathfinder(const std::string& dir, const PathfinderReadOptions& opt = {});

}  // namespace rmaat::tasks
