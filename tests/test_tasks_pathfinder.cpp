// tasks/pathfinder: the snakes generator (labels checked by flood fill, determinism), LRA's layout
// written and read back, and the reader's refusals on malformed fixtures (tests/data/pathfinder/).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tasks/pathfinder.hpp"
#include "tasks/png_io.hpp"
#include "tests/catch.hpp"

using namespace rmaat::tasks;
namespace fs = std::filesystem;

namespace {

const std::string fixtures = RMAAT_SOURCE_DIR "/tests/data/pathfinder/";

// A fresh directory under the build tree.
std::string scratch(const std::string& name) {
    const fs::path p = fs::path(RMAAT_BINARY_DIR) / "test_tasks_pathfinder" / name;
    fs::remove_all(p);
    fs::create_directories(p);
    return p.string();
}

// Pixels reachable from (row, col) through lit pixels (> 0), 8-neighbourhood.
std::vector<uint8_t> flood(const std::vector<uint8_t>& img, int n, int row, int col) {
    std::vector<uint8_t> seen(img.size(), 0);
    std::vector<int> stack{row * n + col};
    seen[row * n + col] = img[row * n + col] > 0;
    while (!stack.empty()) {
        const int p = stack.back();
        stack.pop_back();
        for (int dy = -1; dy <= 1; ++dy)
            for (int dx = -1; dx <= 1; ++dx) {
                const int y = p / n + dy, x = p % n + dx;
                if (y < 0 || x < 0 || y >= n || x >= n) continue;
                const int q = y * n + x;
                if (!seen[q] && img[q] > 0) {
                    seen[q] = 1;
                    stack.push_back(q);
                }
            }
    }
    return seen;
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

std::string error_of(const std::string& dir) {
    try {
        read_pathfinder(dir);
    } catch (const DataError& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("pathfinder labels: the circles lie on one connected path exactly in positive examples", "[tasks]") {
    PathfinderOptions opt;
    const int n = opt.image_size;
    int positives = 0, dashed_connected = 0;
    for (int64_t i = 0; i < 300; ++i) {
        const PathfinderSample s = make_pathfinder_sample(opt, i);
        REQUIRE(s.image.size() == size_t(n * n));
        REQUIRE(s.undashed.size() == size_t(n * n));
        // Both circles are drawn, and on lit path pixels.
        for (auto c : {s.circle_a, s.circle_b}) {
            CHECK(s.undashed[c[0] * n + c[1]] == 255);
            CHECK(s.image[c[0] * n + c[1]] >= 128);
        }
        // The flood fill of the undashed rendering decides the label.
        const std::vector<uint8_t> reach = flood(s.undashed, n, s.circle_a[0], s.circle_a[1]);
        INFO("image " << i << " label " << s.label);
        CHECK(bool(reach[s.circle_b[0] * n + s.circle_b[1]]) == (s.label == 1));
        positives += s.label;
        // The published image is drawn on those paths: every lit pixel is next to one.
        for (int p = 0; p < n * n; ++p)
            if (s.image[p] > 0) {
                bool near = false;
                for (int dy = -1; dy <= 1; ++dy)
                    for (int dx = -1; dx <= 1; ++dx) {
                        const int y = p / n + dy, x = p % n + dx;
                        near = near || (y >= 0 && x >= 0 && y < n && x < n && s.undashed[y * n + x]);
                    }
                CHECK(near);
            }
        // Dashed: in the published image the circles of a positive are rarely joined by lit pixels.
        if (s.label == 1)
            dashed_connected += flood(s.image, n, s.circle_a[0], s.circle_a[1])[s.circle_b[0] * n + s.circle_b[1]];
    }
    CHECK(positives > 120);  // label ~ Bernoulli(1/2): 150 +- 8.7
    CHECK(positives < 180);
    CHECK(dashed_connected < positives / 4);
}

TEST_CASE("pathfinder images have two targets of contour_length paddles and distractors", "[tasks]") {
    PathfinderOptions opt;
    double distractors = 0;
    for (int64_t i = 0; i < 100; ++i) {
        const PathfinderSample s = make_pathfinder_sample(opt, i);
        CHECK(s.pair_attempts >= 1);
        CHECK(s.distractors <= opt.n_distractor_snakes);
        distractors += s.distractors;
        // The undashed target path is long: 14 paddles of 2 px with gaps of 2 px -> > 28 pixels each.
        const auto reach = flood(s.undashed, opt.image_size, s.circle_a[0], s.circle_a[1]);
        CHECK(std::count(reach.begin(), reach.end(), 1) > 28);
        // The circles of a negative start a target each: seed_distance apart or more, well apart.
        const int dy = s.circle_a[0] - s.circle_b[0], dx = s.circle_a[1] - s.circle_b[1];
        CHECK(dy * dy + dx * dx >= 4);
    }
    CHECK(distractors / 100 > 2.0);  // most of the 5 distractors fit a 32x32 image
}

TEST_CASE("pathfinder generator: the same seed and index give the same image; another seed another", "[tasks]") {
    PathfinderOptions opt;
    for (int64_t i : {0, 7, 123}) {
        const PathfinderSample a = make_pathfinder_sample(opt, i), b = make_pathfinder_sample(opt, i);
        CHECK(a.image == b.image);
        CHECK(a.undashed == b.undashed);
        CHECK(a.label == b.label);
        CHECK(a.circle_a == b.circle_a);
    }
    PathfinderOptions other = opt;
    other.seed = 2;
    CHECK(make_pathfinder_sample(opt, 3).image != make_pathfinder_sample(other, 3).image);
    CHECK(make_pathfinder_sample(opt, 3).image != make_pathfinder_sample(opt, 4).image);
    // Plain rendering: only the pixel values change, not the snakes.
    PathfinderOptions plain = opt;
    plain.antialias = 1;
    CHECK(make_pathfinder_sample(plain, 3).undashed == make_pathfinder_sample(opt, 3).undashed);
}

TEST_CASE("pathfinder with separate_targets = false keeps the original's crowding; labels by snake", "[tasks]") {
    PathfinderOptions opt;
    opt.separate_targets = false;
    PathfinderGenerator gen(opt);
    int touching_negatives = 0;
    for (int64_t i = 0; i < 100; ++i) {
        const PathfinderSample s = gen.sample(i);
        CHECK(s.image == gen.sample(i).image);
        const bool joined = flood(s.undashed, 32, s.circle_a[0], s.circle_a[1])[s.circle_b[0] * 32 + s.circle_b[1]];
        if (s.label == 1)
            CHECK(joined);  // a positive's circles are the two ends of one snake
        else
            touching_negatives += joined;
    }
    CHECK(touching_negatives > 0);  // the separation is what makes flood-fill labels exact
}

TEST_CASE("pathfinder options out of range are refused naming the option", "[tasks]") {
    PathfinderOptions opt;
    opt.seed_distance = 8;  // 4 * 8 = 32: no central box left
    CHECK_THROWS_WITH(opt.validate(), ContainsSubstring("seed_distance = 8"));
    opt = PathfinderOptions{};
    opt.antialias = 0;
    CHECK_THROWS_AS(make_pathfinder_sample(opt, 0), rmaat::InputError);
    opt = PathfinderOptions{};
    opt.contour_length = 400;  // cannot fit: a RunError after max_pair_attempts
    opt.max_pair_attempts = 3;
    CHECK_THROWS_AS(make_pathfinder_sample(opt, 0), rmaat::RunError);
}

TEST_CASE("pathfinder: LRA's layout is written as LRA reads it and read back exactly", "[tasks]") {
    const std::string out = scratch("roundtrip");
    PathfinderOptions opt;
    opt.n_images = 12;
    opt.images_per_batch = 1;  // metadata/0.npy .. 11.npy: read in numeric order, not 0, 1, 10, 11, 2
    const PathfinderReport rep = generate_pathfinder(opt, out, false);
    CHECK(rep.images == 12);
    CHECK(rep.directory == out + "/curv_contour_length_14");
    const std::string split = rep.directory;
    const PathfinderSample s0 = make_pathfinder_sample(opt, 0);
    CHECK(read_text(split + "/metadata/0.npy") ==
          "imgs/0 sample_0.png 0 " + std::to_string(s0.label) + " 1.0 14 4 2 0.5 1 1\n");
    CHECK(fs::exists(split + "/imgs/11/sample_0.png"));
    CHECK_FALSE(fs::exists(split + "/metadata/0.npy.partial"));

    const Dataset d = read_pathfinder(split);
    CHECK(d.task == "pathfinder");
    CHECK(d.vocab.size() == 257);
    CHECK(d.n_classes == 2);
    REQUIRE(d.examples.size() == 12);
    int64_t positives = 0;
    for (int64_t i = 0; i < 12; ++i) {
        const PathfinderSample s = make_pathfinder_sample(opt, i);
        CHECK(d.examples[i].tokens == pathfinder_tokens(s.image));
        CHECK(d.examples[i].tokens.size() == 1024);
        CHECK(d.examples[i].label == s.label);
        positives += s.label;
    }
    CHECK(rep.positives == positives);
    CHECK(read_pathfinder(split, {32, 5}).examples.size() == 5);

    // Several images per batch: file names restart at sample_0 in each imgs/<b>/.
    const std::string out2 = scratch("batches");
    opt.n_images = 5;
    opt.images_per_batch = 2;
    generate_pathfinder(opt, out2, false);
    const std::string meta2 = read_text(out2 + "/curv_contour_length_14/metadata/2.npy");
    CHECK(meta2.rfind("imgs/2 sample_0.png 0 ", 0) == 0);
    const Dataset d2 = read_pathfinder(out2 + "/curv_contour_length_14");
    REQUIRE(d2.examples.size() == 5);
    CHECK(d2.examples[4].tokens == pathfinder_tokens(make_pathfinder_sample(opt, 4).image));
}

TEST_CASE("pathfinder generator does not overwrite an existing split unless forced", "[tasks]") {
    const std::string out = scratch("overwrite");
    PathfinderOptions opt;
    opt.n_images = 2;
    generate_pathfinder(opt, out, false);
    CHECK_THROWS_WITH(generate_pathfinder(opt, out, false), ContainsSubstring("exists and is not empty"));
    opt.force = true;
    opt.n_images = 3;
    generate_pathfinder(opt, out, false);
    CHECK(read_pathfinder(out + "/curv_contour_length_14").examples.size() == 3);
}

TEST_CASE("pathfinder reader: the committed LRA-format fixture gives its pixels + 1 and its labels", "[tasks]") {
    const Dataset d = read_pathfinder(fixtures + "good");
    REQUIRE(d.examples.size() == 3);
    const int batch[3] = {0, 0, 1}, index[3] = {0, 1, 0}, label[3] = {1, 0, 1};
    for (int k = 0; k < 3; ++k) {
        CHECK(d.examples[k].label == label[k]);
        for (int p = 0; p < 1024; ++p) CHECK(d.examples[k].tokens[p] == (p + 7 * index[k] + 50 * batch[k]) % 256 + 1);
    }
    // 64x64 data (LRA pathfinder64) is another image_size: these 32x32 images are refused then.
    CHECK_THROWS_WITH(read_pathfinder(fixtures + "good", {64, 0}), ContainsSubstring("image is 32x32: expected 64x64"));
}

TEST_CASE("pathfinder reader refuses malformed data naming the file and the reason", "[tasks]") {
    using Catch::Matchers::ContainsSubstring;
    CHECK_THAT(error_of(fixtures + "wrong_size"),
               ContainsSubstring("wrong_size/imgs/0/sample_0.png: image is 31x32: expected 32x32") &&
                   ContainsSubstring("listed at") && ContainsSubstring("metadata/0.npy:1"));
    CHECK_THAT(error_of(fixtures + "wrong_depth"),
               ContainsSubstring("sample_0.png: bit depth 16, colour type grayscale: expected 8-bit grayscale"));
    CHECK_THAT(error_of(fixtures + "rgb"),
               ContainsSubstring("sample_0.png: bit depth 8, colour type RGB: expected 8-bit grayscale"));
    CHECK_THAT(error_of(fixtures + "truncated"),
               ContainsSubstring("truncated/imgs/0/sample_0.png: damaged or truncated PNG"));
    CHECK_THAT(error_of(fixtures + "missing_image"),
               ContainsSubstring("missing_image/metadata/0.npy:2: image ") && ContainsSubstring("does not exist"));
    CHECK_THAT(error_of(fixtures + "missing_entry"),
               ContainsSubstring("missing_entry/metadata/0.npy:2: 3 columns: expected"));
    CHECK_THAT(error_of(fixtures + "bad_label"),
               ContainsSubstring("bad_label/metadata/0.npy:2: label '2' (column 4): must be 0 or 1"));
    CHECK_THAT(error_of(fixtures + "empty_metadata"),
               ContainsSubstring("empty_metadata/metadata/0.npy: empty metadata file"));
    CHECK_THAT(error_of(fixtures + "no_metadata"), ContainsSubstring("no_metadata/metadata: no metadata directory"));
    CHECK_THAT(error_of(fixtures + "does_not_exist"), ContainsSubstring("no metadata directory"));
    // A malformed line is found before any image is read (all metadata is validated first).
    const std::string dir = scratch("late_error");
    fs::create_directories(dir + "/metadata");
    std::ofstream(dir + "/metadata/0.npy") << "imgs/0 sample_0.png 0 1\nimgs/0 sample_1.png 1 x\n";
    CHECK_THAT(error_of(dir), ContainsSubstring("0.npy:2: label 'x'"));
    std::ofstream(dir + "/metadata/0.npy") << "/etc sample_0.png 0 1\n";
    CHECK_THAT(error_of(dir), ContainsSubstring("0.npy:1: image path '/etc/sample_0.png' leaves the split directory"));
    std::ofstream(dir + "/metadata/0.npy") << "imgs/0 sample_0.png 0 1\n\n";
    CHECK_THAT(error_of(dir), ContainsSubstring("0.npy:2: 0 columns"));
    std::ofstream(dir + "/metadata/0.npy") << "\x93NUMPY\x01\x00v\x00{'descr': '<U12'}\n";  // np.save output
    CHECK_THAT(error_of(dir), ContainsSubstring("0.npy: a binary NumPy file"));
}

TEST_CASE("png_io: an 8-bit grayscale image round-trips; other files are refused", "[tasks]") {
    const std::string dir = scratch("png");
    std::vector<uint8_t> px(5 * 3);
    for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(17 * i);
    write_png_gray(dir + "/a.png", px.data(), 5, 3);
    CHECK(read_png_gray(dir + "/a.png", 5, 3) == px);
    CHECK_THROWS_WITH(read_png_gray(dir + "/a.png", 32, 32), ContainsSubstring("a.png: image is 5x3: expected 32x32"));
    std::ofstream(dir + "/b.png") << "not a png";
    CHECK_THROWS_WITH(read_png_gray(dir + "/b.png", 5, 3), ContainsSubstring("b.png: not a PNG file"));
    CHECK_THROWS_WITH(read_png_gray(dir + "/none.png", 5, 3), ContainsSubstring("none.png: cannot open"));
    CHECK_THROWS_AS(write_png_gray(dir + "/no/such/dir/c.png", px.data(), 5, 3), rmaat::InputError);
}

// Not a test: the generation figure (docs/design.md section 8). Run with
//   ./build/tests/test_tasks_pathfinder "[.bench]"
TEST_CASE("pathfinder generation speed: 2000 images written in LRA's layout", "[.bench]") {
    PathfinderOptions opt;
    opt.n_images = 2000;
    const PathfinderReport r = generate_pathfinder(opt, scratch("bench"), false);
    WARN(r.images << " images in " << r.seconds << " s = " << r.images / r.seconds << " images/s; "
                  << r.mean_pair_attempts << " target pairs drawn and " << r.mean_distractors
                  << " distractors per image; " << r.positives << " positives");
}
