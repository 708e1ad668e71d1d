#include "tasks/pathfinder.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/progress.hpp"
#include "tasks/batch.hpp"
#include "tasks/png_io.hpp"

namespace rmaat::tasks {

namespace fs = std::filesystem;

namespace {

constexpr double kPi = 3.14159265358979323846;

struct Pt {
    double y = 0, x = 0;  // row, column; pixel (r, c) has its centre at (r, c)
};

// The original's translate_coord: the end point rounded up to whole pixels.
Pt translate(Pt p, double theta, double d) {
    return {std::ceil(p.y + d * std::sin(theta)), std::ceil(p.x + d * std::cos(theta))};
}
Pt translate_exact(Pt p, double theta, double d) {
    return {p.y + d * std::sin(theta), p.x + d * std::cos(theta)};
}
double flip(double theta) {
    return theta < 0 ? theta + kPi : theta - kPi;
}

// Occupancy, undashed paths and ink of one image. Owners are snake index + 1 (0: nobody).
struct Canvas {
    int n = 0;
    std::vector<float> committed;   // the original's mask: border + soft masks of accepted paddles
    std::vector<float> pending[2];  // the newest paddle mask of the (at most two) snakes growing
    std::vector<int16_t> path;      // undashed paths
    std::vector<int16_t> zone;      // circle pixels reserved at the targets' ends
    std::vector<int16_t> group;     // group[owner]: the touching snakes an owner belongs to
    std::vector<float> ink;         // intensity before the final scaling

    void reset(int size, int padding, int owners) {
        group.resize(owners + 1);
        for (int o = 0; o <= owners; ++o) group[o] = static_cast<int16_t>(o);
        n = size;
        const size_t n2 = static_cast<size_t>(size) * size;
        committed.assign(n2, 0.0f);
        pending[0].assign(n2, 0.0f);
        pending[1].assign(n2, 0.0f);
        path.assign(n2, 0);
        zone.assign(n2, 0);
        ink.assign(n2, 0.0f);
        for (int r = 0; r < n; ++r)
            for (int c = 0; c < n; ++c)
                if (r < padding || c < padding || r >= n - padding || c >= n - padding) committed[r * n + c] = 1;
    }
    bool inside(int r, int c) const { return r >= 0 && c >= 0 && r < n && c < n; }
    bool inside(Pt p) const { return p.y >= 0 && p.x >= 0 && p.y < n && p.x < n; }
};

using Coverage = std::vector<std::pair<int, float>>;  // (pixel, fraction covered)
struct Texel {
    int dy, dx;  // offset from the shape's anchor pixel
    float f;     // fraction covered
};
using Shape = std::vector<Texel>;
struct PaddleShape {
    Shape ink, mask;
    std::vector<std::pair<int, int>> core;  // the mask's fully covered pixels
};

struct Snake {
    int16_t owner = 0;
    int slot = 0;      // its pending mask: Canvas::pending[slot]
    double value = 1;  // paddle intensity
    Pt tail, head;     // origin and terminal tips (whole pixels)
    Pt pivot;          // where the next paddle turns
    double theta = 0;  // orientation of the newest paddle, tail -> head
    Pt end;            // far end of the newest paddle: the undashed path goes on from here
    Coverage pending;  // its newest paddle's mask
};

constexpr int kMaskSamples = 4;  // supersampling of masks (fixed: the snakes do not depend on `antialias`)

class SnakeGenerator {
public:
    explicit SnakeGenerator(const PathfinderOptions& o)
        : o_(o), circle_ink_(circle(o.antialias)), circle_zone_(circle(kMaskSamples)) {
        // np.arange(0, 360, degrees_per_pixel): one sample per pixel of arc.
        const double step = o.paddle_length + o.paddle_margin, degrees_per_pixel = 360.0 / (2 * step * kPi);
        for (int k = 0; k * degrees_per_pixel < 360; ++k) {
            const double rad = k * degrees_per_pixel * kPi / 180;
            ring_.push_back({step * std::sin(rad), step * std::cos(rad)});
        }
        const int reach = o.paddle_length + o.paddle_margin + 1;
        for (int dy = -reach; dy <= reach; ++dy)
            for (int dx = -reach; dx <= reach; ++dx) direction_.push_back(std::atan2(dy, dx));
    }

    // Image `index`: one random stream per image, so image n does not depend on the others.
    PathfinderSample make(int64_t index) {
        rng_ = SplitMix64(SplitMix64(o_.seed).next() ^ (static_cast<uint64_t>(index) * 0xD1B54A32D192ED03ull));
        PathfinderSample out;
        out.label = static_cast<int32_t>(rng_.below(2));  // drawn first, as the original
        do {
            if (++out.pair_attempts > o_.max_pair_attempts)
                throw RunError(fmt::format(
                    "pathfinder: no pair of {}-paddle target snakes fitted a {}x{} image in {} attempts: lower "
                    "contour_length, paddle_margin or seed_distance, or raise image_size",
                    o_.contour_length, o_.image_size, o_.image_size, o_.max_pair_attempts));
        } while (!grow_targets());
        for (int32_t i = 0; i < o_.n_distractor_snakes; ++i)
            for (int32_t attempt = 0; attempt <= o_.max_distractor_retrial; ++attempt)
                if (grow_distractor(static_cast<int16_t>(3 + i))) {
                    ++out.distractors;
                    break;
                }
        const int origin = static_cast<int>(rng_.below(2));
        const int terminal = out.label == 1 ? origin : 1 - origin;
        const Pt a = targets_[origin].tail, b = targets_[terminal].head;
        out.circle_a = {static_cast<int32_t>(a.y), static_cast<int32_t>(a.x)};
        out.circle_b = {static_cast<int32_t>(b.y), static_cast<int32_t>(b.x)};
        finish(out, a, b);
        return out;
    }

private:
    // Supersampled coverage of the pixels around a shape centred at `o` (relative to an anchor pixel at
    // (0, 0)): inside(dy, dx) tests a point relative to o. Shapes are drawn at whole-pixel anchors
    // (tails, heads, circle centres), so each is computed once and shifted.
    template <typename Inside>
    static Shape cover(Pt o, double reach, int samples, Inside inside) {
        Shape out;
        const int s = samples;
        for (int y = static_cast<int>(std::floor(o.y - reach)); y <= static_cast<int>(std::ceil(o.y + reach)); ++y)
            for (int x = static_cast<int>(std::floor(o.x - reach)); x <= static_cast<int>(std::ceil(o.x + reach));
                 ++x) {
                int hits = 0;
                for (int i = 0; i < s; ++i)
                    for (int j = 0; j < s; ++j)
                        hits += inside(y + (i + 0.5) / s - 0.5 - o.y, x + (j + 0.5) / s - 0.5 - o.x);
                if (hits) out.push_back({y, x, static_cast<float>(hits) / (s * s)});
            }
        return out;
    }
    Coverage place(const Shape& shape, Pt anchor) const {
        Coverage out;
        const int ay = static_cast<int>(anchor.y), ax = static_cast<int>(anchor.x);
        for (const Texel& t : shape)
            if (c_.inside(ay + t.dy, ax + t.dx)) out.emplace_back((ay + t.dy) * c_.n + ax + t.dx, t.f);
        return out;
    }

    // The paddle from a to b, relative to the anchor pixel (0, 0): its ink (a line of paddle_thickness
    // px with flat ends, PIL's line; 1 px wide when not antialiased) and the original's mask (the line
    // dilated by a disc of radius paddle_margin), whose fully covered pixels are its core.
    PaddleShape make_paddle(Pt a, Pt b) const {
        PaddleShape p;
        const double len = std::hypot(b.y - a.y, b.x - a.x), uy = (b.y - a.y) / len, ux = (b.x - a.x) / len;
        const Pt mid{0.5 * (a.y + b.y), 0.5 * (a.x + b.x)};
        const double half = 0.5 * (o_.antialias > 1 ? o_.paddle_thickness : std::max(o_.paddle_thickness, 1.0));
        p.ink = cover(mid, 0.5 * len + half + 1, o_.antialias, [&](double dy, double dx) {
            const double along = dy * uy + dx * ux, across = std::abs(dy * ux - dx * uy);
            return std::abs(along) <= 0.5 * len && across <= half;
        });
        const double r = o_.paddle_margin + 0.5 * o_.paddle_thickness;
        p.mask = cover(mid, 0.5 * len + r + 1, kMaskSamples, [&](double dy, double dx) {
            const double along = std::clamp(dy * uy + dx * ux, -0.5 * len, 0.5 * len);
            const double ey = dy - along * uy, ex = dx - along * ux;
            return ey * ey + ex * ex <= r * r;
        });
        for (const Texel& t : p.mask)
            if (t.f >= 1.0f) p.core.emplace_back(t.dy, t.dx);
        return p;
    }
    // The first paddle of a snake, from its tail along `degrees` (cached: 360 directions).
    const PaddleShape& first_paddle(int degrees) {
        PaddleShape& p = first_[degrees + 180];
        if (p.mask.empty()) p = make_paddle(Pt{}, translate_exact(Pt{}, degrees * kPi / 180, o_.paddle_length));
        return p;
    }
    // A later paddle, ending at its head, for a head at (dy, dx) from the pivot (cached).
    const PaddleShape& later_paddle(int dy, int dx, double orientation) {
        const int reach = o_.paddle_length + o_.paddle_margin + 1, side = 2 * reach + 1;
        if (later_.empty()) later_.resize(static_cast<size_t>(side) * side);
        PaddleShape& p = later_[(dy + reach) * side + dx + reach];
        if (p.mask.empty()) p = make_paddle(translate_exact(Pt{}, flip(orientation), o_.paddle_length), Pt{});
        return p;
    }
    Shape circle(int samples) const {
        const double r = o_.marker_radius;
        return cover(Pt{}, r + 1, samples, [&](double dy, double dx) { return dy * dy + dx * dx <= r * r; });
    }

    // The pixels a polyline passes through, 8-connected (steps of at most a quarter pixel).
    std::vector<int> polyline(std::initializer_list<Pt> pts) const {
        std::vector<int> px;
        const Pt* prev = nullptr;
        for (const Pt& p : pts) {
            if (prev) {
                const int steps =
                    std::max(1, static_cast<int>(std::ceil(4 * std::hypot(p.y - prev->y, p.x - prev->x))));
                for (int s = 0; s <= steps; ++s) {
                    const double t = static_cast<double>(s) / steps;
                    const int y = static_cast<int>(std::lround(prev->y + t * (p.y - prev->y)));
                    const int x = static_cast<int>(std::lround(prev->x + t * (p.x - prev->x)));
                    if (c_.inside(y, x) && (px.empty() || px.back() != y * c_.n + x)) px.push_back(y * c_.n + x);
                }
            }
            prev = &p;
        }
        return px;
    }

    // How occupied pixel p is for snake s: committed paddles and the other growing snake's newest one
    // (the original omits the latter, so its two targets could touch).
    float occupied(int p, const Snake& s) const { return std::max(c_.committed[p], c_.pending[1 - s.slot][p]); }
    // extend_snake's test: no pixel more than 1.8 covered by the new mask and the occupied ones.
    bool fits(const Coverage& m, const Snake& s) const {
        for (auto [p, f] : m)
            if (occupied(p, s) + f >= 1.8f) return false;
        return true;
    }
    // Snakes touch where their undashed paths or circles are 8-neighbours; touching snakes form a
    // group. New pixels `px` of `owner` may join groups, except the two targets' groups: then the
    // circles of a negative would lie in one connected component. Returns false in that case, else
    // the groups touched (for join()).
    bool may_touch(const std::vector<int>& px, int16_t owner, std::vector<int16_t>& touched) const {
        touched.clear();
        const int16_t a = c_.group[1], b = c_.group[2];
        bool has_a = c_.group[owner] == a, has_b = c_.group[owner] == b;
        for (int p : px) {
            const int y = p / c_.n, x = p % c_.n;
            for (int dy = -1; dy <= 1; ++dy)
                for (int dx = -1; dx <= 1; ++dx) {
                    if (!c_.inside(y + dy, x + dx)) continue;
                    const int q = (y + dy) * c_.n + x + dx;
                    for (int16_t o : {c_.path[q], c_.zone[q]})
                        if (o && o != owner && c_.group[o] != c_.group[owner]) {
                            touched.push_back(c_.group[o]);
                            has_a = has_a || c_.group[o] == a;
                            has_b = has_b || c_.group[o] == b;
                        }
                }
        }
        return !(has_a && has_b) || !o_.separate_targets;
    }
    void join(int16_t owner, const std::vector<int16_t>& touched) {
        for (int16_t g : touched)
            for (int16_t& h : c_.group)
                if (h == g) h = c_.group[owner];
    }
    // The new paddle (`shape` at `anchor`) becomes the snake's newest; the previous one is committed.
    void accept(Snake& s, Coverage mask, const std::vector<int>& path, const PaddleShape& shape, Pt anchor) {
        join(s.owner, touched_);
        commit(s);
        s.pending = std::move(mask);
        for (auto [p, f] : s.pending) c_.pending[s.slot][p] = f;
        for (int p : path) c_.path[p] = s.owner;
        for (auto [p, f] : place(shape.ink, anchor)) c_.ink[p] = std::max(c_.ink[p], static_cast<float>(s.value * f));
    }
    void commit(Snake& s) {
        for (auto [p, f] : s.pending) {
            c_.committed[p] = std::max(c_.committed[p], f);
            c_.pending[s.slot][p] = 0;
        }
        s.pending.clear();
    }
    bool reserve_circle(const Snake& s, Pt centre) {
        std::vector<int> px;
        for (auto [p, f] : place(circle_zone_, centre)) px.push_back(p);
        if (!may_touch(px, s.owner, touched_)) return false;
        join(s.owner, touched_);
        for (int p : px) c_.zone[p] = s.owner;
        return true;
    }

    int random_degrees(int lo, int hi) { return lo + static_cast<int>(rng_.below(hi - lo)); }

    // The first paddle of a snake from `tail` along `degrees`; false if it does not fit.
    bool place_first(Snake& s, Pt tail, int degrees) {
        const double L = o_.paddle_length, m = o_.paddle_margin, theta = degrees * kPi / 180;
        const Pt head = translate(tail, theta, L), pivot = translate(head, flip(theta), L + m);
        if (!c_.inside(head) || !c_.inside(pivot)) return false;  // the original's missampled seed
        const PaddleShape& shape = first_paddle(degrees);
        const Pt end = translate_exact(tail, theta, L);
        Coverage mask = place(shape.mask, tail);
        const std::vector<int> path = polyline({tail, end});
        if (!fits(mask, s) || !may_touch(path, s.owner, touched_)) return false;
        s.tail = s.head = tail;
        s.pivot = pivot;
        s.theta = theta;
        s.end = end;
        accept(s, std::move(mask), path, shape, tail);
        return true;
    }

    // seed_snake / the first seed of initialize_two_seeds: a tail drawn uniformly among the pixels of
    // rows and columns [lo, hi) where the core of the paddle's mask (its fully covered pixels) meets
    // no pixel occupied more than 0.3 (the padding border is occupied: a paddle never leaves the image).
    bool seed(Snake& s, int lo, int hi) {
        for (int32_t trial = 0; trial <= o_.max_paddle_retrial; ++trial) {
            const int degrees = random_degrees(-180, 180);
            const std::vector<std::pair<int, int>>& core = first_paddle(degrees).core;
            std::vector<int> candidates;
            for (int y = lo; y < hi; ++y)
                for (int x = lo; x < hi; ++x) {
                    bool free = true;
                    for (auto [dy, dx] : core)
                        if (!c_.inside(y + dy, x + dx) || occupied((y + dy) * c_.n + x + dx, s) > 0.3f) {
                            free = false;
                            break;
                        }
                    if (free) candidates.push_back(y * c_.n + x);
                }
            if (candidates.empty()) return false;  // the original gives up at once here
            const int p = candidates[rng_.below(candidates.size())];
            if (place_first(s, Pt{static_cast<double>(p / c_.n), static_cast<double>(p % c_.n)}, degrees)) return true;
        }
        return false;
    }

    // The second seed of initialize_two_seeds: a tail seed_distance px from the first, at a random angle.
    bool seed_second(Snake& s, Pt first_tail) {
        for (int32_t trial = 0; trial <= o_.max_paddle_retrial; ++trial) {
            const int degrees = random_degrees(-180, 180);
            const double angle = random_degrees(0, 360) * kPi / 180;
            const Pt tail{std::nearbyint(first_tail.y + o_.seed_distance * std::sin(angle)),
                          std::nearbyint(first_tail.x + o_.seed_distance * std::cos(angle))};
            if (c_.inside(tail) && place_first(s, tail, degrees)) return true;
        }
        return false;
    }

    // atan2(dy, dx) of a head's offset from its pivot (a whole-pixel offset: tabulated).
    double direction(int dy, int dx) const {
        const int reach = o_.paddle_length + o_.paddle_margin + 1;
        return direction_[(dy + reach) * (2 * reach + 1) + dx + reach];
    }

    // The occupancy dilated by a disc of radius paddle_margin, at (y, x).
    float near_occupied(int y, int x, const Snake& s) const {
        const int m = o_.paddle_margin;
        float v = 0;
        for (int dy = -m; dy <= m; ++dy)
            for (int dx = -m; dx <= m; ++dx)
                if (dy * dy + dx * dx <= m * m && c_.inside(y + dy, x + dx))
                    v = std::max(v, occupied((y + dy) * c_.n + x + dx, s));
        return v;
    }

    // extend_snake: one more paddle; false when the snake is stuck.
    bool extend(Snake& s) {
        const double L = o_.paddle_length, m = o_.paddle_margin;
        const Pt pivot = translate(s.pivot, s.theta, L + 2 * m);
        // get_coords_cmf: the pixels on the circle of radius L + m around the pivot.
        std::vector<std::pair<int, int>> coords;
        for (const Pt& r : ring_) {
            const double y = pivot.y + r.y, x = pivot.x + r.x;
            if (y >= c_.n || y < 0 || x >= c_.n || x < 0) continue;
            coords.emplace_back(static_cast<int>(y), static_cast<int>(x));
        }
        std::sort(coords.begin(), coords.end());
        coords.erase(std::unique(coords.begin(), coords.end()), coords.end());
        std::vector<double> cmf(coords.size()), orientation(coords.size());
        double total = 0;
        for (size_t i = 0; i < coords.size(); ++i) {
            orientation[i] =
                direction(coords[i].first - static_cast<int>(pivot.y), coords[i].second - static_cast<int>(pivot.x));
            double delta = std::abs(orientation[i] - s.theta);
            delta = std::min(std::min(delta, 2 * kPi - delta) * o_.continuity, 0.5 * kPi);
            const double free = std::max(0.0f, 1.0f - near_occupied(coords[i].first, coords[i].second, s));
            total += std::pow(std::max(std::cos(delta), 0.0), 2) * free;
            cmf[i] = total;
        }
        if (total < 1e-4) return false;  // dead end
        for (int32_t trial = 0; trial <= o_.max_paddle_retrial; ++trial) {
            const double u = rng_.uniform() * total;
            const size_t i =
                std::min<size_t>(std::upper_bound(cmf.begin(), cmf.end(), u) - cmf.begin(), cmf.size() - 1);
            const Pt head{static_cast<double>(coords[i].first), static_cast<double>(coords[i].second)};
            const PaddleShape& shape =
                later_paddle(static_cast<int>(head.y - pivot.y), static_cast<int>(head.x - pivot.x), orientation[i]);
            Coverage mask = place(shape.mask, head);
            const Pt start = translate_exact(head, flip(orientation[i]), L);
            const std::vector<int> path = polyline({s.end, pivot, start, head});
            if (!fits(mask, s) || !may_touch(path, s.owner, touched_)) continue;
            s.pivot = pivot;
            s.theta = orientation[i];
            s.end = s.head = head;
            accept(s, std::move(mask), path, shape, head);
            return true;
        }
        return false;
    }

    // two_snakes: both targets, grown in turn, and their four circles reserved.
    bool grow_targets() {
        c_.reset(o_.image_size, o_.padding, 2 + o_.n_distractor_snakes);
        for (int i = 0; i < 2; ++i) {
            targets_[i] = Snake{};
            targets_[i].owner = static_cast<int16_t>(i + 1);
            targets_[i].slot = i;
            targets_[i].value = o_.snake_contrast * o_.paddle_contrast;
        }
        const int lo = 2 * o_.seed_distance, hi = o_.image_size - 2 * o_.seed_distance;
        if (!seed(targets_[0], lo, hi) || !reserve_circle(targets_[0], targets_[0].tail)) return false;
        if (!seed_second(targets_[1], targets_[0].tail) || !reserve_circle(targets_[1], targets_[1].tail)) return false;
        for (int32_t k = 1; k < o_.contour_length; ++k)
            for (Snake& s : targets_)
                if (!extend(s)) return false;
        for (Snake& s : targets_) commit(s);
        for (Snake& s : targets_)
            if (!reserve_circle(s, s.head)) return false;
        return true;
    }

    // make_snake for a distractor: all of it or nothing (the canvas is restored on failure).
    bool grow_distractor(int16_t owner) {
        int available = 0;
        for (float v : c_.committed) available += v <= 0.3f;
        if (available < 0.01 * c_.committed.size()) return false;  // stop_with_availability
        const Canvas saved = c_;
        Snake s;
        s.owner = owner;
        s.value = o_.snake_contrast;
        bool ok = seed(s, 0, o_.image_size);
        for (int32_t k = 1; ok && k < o_.distractor_length; ++k) ok = extend(s);
        if (!ok) {
            c_ = saved;
            return false;
        }
        commit(s);
        return true;
    }

    void finish(PathfinderSample& out, Pt a, Pt b) {
        for (Pt centre : {a, b})
            for (auto [p, f] : place(circle_ink_, centre)) c_.ink[p] = std::max(c_.ink[p], f);
        const float top = *std::max_element(c_.ink.begin(), c_.ink.end());
        out.image.resize(c_.ink.size());
        for (size_t p = 0; p < c_.ink.size(); ++p)
            out.image[p] = static_cast<uint8_t>(std::lround(std::clamp(255.0f * c_.ink[p] / top, 0.0f, 255.0f)));
        out.undashed.assign(c_.ink.size(), 0);
        for (size_t p = 0; p < c_.path.size(); ++p)
            if (c_.path[p]) out.undashed[p] = 255;
        for (Pt centre : {a, b})
            for (auto [p, f] : place(circle_zone_, centre)) out.undashed[p] = 255;
    }

    const PathfinderOptions o_;
    SplitMix64 rng_{0};
    Canvas c_;
    Snake targets_[2];
    std::vector<Pt> ring_;                // get_coords_cmf's circle, relative to the pivot
    std::vector<double> direction_;       // atan2 of head offsets from the pivot
    Shape circle_ink_, circle_zone_;      // a circle as drawn, and as reserved (fixed sampling)
    std::array<PaddleShape, 360> first_;  // first paddles by direction (degrees + 180)
    std::vector<PaddleShape> later_;      // later paddles by head offset from the pivot
    std::vector<int16_t> touched_;        // groups a piece touches (may_touch -> join)
};

// Python's str(float): "1.0", "0.5" (the metadata columns the original wrote).
std::string python_float(double v) {
    std::string s = fmt::format("{}", v);
    if (s.find_first_of(".einn") == std::string::npos) s += ".0";
    return s;
}

}  // namespace

void PathfinderOptions::validate() const {
    auto need = [](bool ok, const char* key, auto value, const char* range) {
        if (!ok) throw InputError(fmt::format("pathfinder option {} = {} out of range: must be {}", key, value, range));
    };
    need(n_images >= 1, "n_images", n_images, ">= 1");
    need(images_per_batch >= 1, "images_per_batch", images_per_batch, ">= 1");
    need(image_size >= 8 && image_size <= 4096, "image_size", image_size, "in [8, 4096]");
    need(padding >= 0 && 2 * padding < image_size, "padding", padding, ">= 0 and < image_size / 2");
    need(contour_length >= 1, "contour_length", contour_length, ">= 1");
    need(distractor_length >= 1, "distractor_length", distractor_length, ">= 1");
    need(n_distractor_snakes >= 0 && n_distractor_snakes <= 10000, "n_distractor_snakes", n_distractor_snakes,
         "in [0, 10000]");
    need(paddle_length >= 1, "paddle_length", paddle_length, ">= 1");
    need(paddle_thickness > 0 && paddle_thickness <= 16, "paddle_thickness", paddle_thickness, "in (0, 16] px");
    need(paddle_margin >= 0 && paddle_margin <= 64, "paddle_margin", paddle_margin, "in [0, 64] px");
    need(continuity >= 0, "continuity", continuity, ">= 0");
    need(seed_distance >= 1 && 4 * seed_distance < image_size, "seed_distance", seed_distance,
         ">= 1 and < image_size / 4 (the first tail lies in the central (image_size - 4 seed_distance)^2 box)");
    need(marker_radius > 0 && marker_radius < image_size, "marker_radius", marker_radius, "in (0, image_size)");
    need(snake_contrast > 0, "snake_contrast", snake_contrast, "> 0");
    need(paddle_contrast > 0, "paddle_contrast", paddle_contrast, "> 0");
    need(antialias >= 1 && antialias <= 16, "antialias", antialias, "in [1, 16]");
    need(max_paddle_retrial >= 0, "max_paddle_retrial", max_paddle_retrial, ">= 0");
    need(max_distractor_retrial >= 0, "max_distractor_retrial", max_distractor_retrial, ">= 0");
    need(max_pair_attempts >= 1, "max_pair_attempts", max_pair_attempts, ">= 1");
}

std::string PathfinderOptions::split_name() const {
    return fmt::format("curv_contour_length_{}", contour_length);
}

struct PathfinderGenerator::Impl : SnakeGenerator {
    using SnakeGenerator::SnakeGenerator;
};

PathfinderGenerator::PathfinderGenerator(const PathfinderOptions& opt) {
    opt.validate();
    impl_ = std::make_unique<Impl>(opt);
}
PathfinderGenerator::~PathfinderGenerator() = default;
PathfinderGenerator::PathfinderGenerator(PathfinderGenerator&&) noexcept = default;
PathfinderGenerator& PathfinderGenerator::operator=(PathfinderGenerator&&) noexcept = default;

PathfinderSample PathfinderGenerator::sample(int64_t index) {
    return impl_->make(index);
}

PathfinderSample make_pathfinder_sample(const PathfinderOptions& opt, int64_t index) {
    return PathfinderGenerator(opt).sample(index);
}

std::vector<int32_t> pathfinder_tokens(const std::vector<uint8_t>& pixels) {
    std::vector<int32_t> tokens(pixels.size());
    for (size_t i = 0; i < pixels.size(); ++i) tokens[i] = static_cast<int32_t>(pixels[i]) + 1;
    return tokens;
}

Vocabulary pathfinder_vocabulary() {
    Vocabulary v;
    v.name = "pixels";
    v.symbols.reserve(257);
    v.symbols.push_back("<pad>");
    for (int i = 0; i < 256; ++i) v.symbols.push_back(std::to_string(i));
    return v;
}

PathfinderReport generate_pathfinder(const PathfinderOptions& opt, const std::string& out_dir, bool progress) {
    opt.validate();
    const auto t0 = std::chrono::steady_clock::now();
    PathfinderReport report;
    const fs::path split = fs::path(out_dir) / opt.split_name();
    report.directory = split.string();
    std::error_code ec;
    if (fs::exists(split, ec) && !(fs::is_directory(split, ec) && fs::is_empty(split, ec))) {
        if (!opt.force)
            throw InputError(
                fmt::format("{} exists and is not empty: choose another output directory or force it", split.string()));
        fs::remove_all(split, ec);
        if (ec) throw InputError(fmt::format("{}: cannot remove: {}", split.string(), ec.message()));
    }
    fs::create_directories(split / "metadata", ec);
    if (ec) throw InputError(fmt::format("{}: cannot create: {}", (split / "metadata").string(), ec.message()));

    PathfinderGenerator generator(opt);
    Progress bar("pathfinder", static_cast<double>(opt.n_images), "images", progress);
    double attempts = 0, distractors = 0;
    const int64_t n_batches = (opt.n_images + opt.images_per_batch - 1) / opt.images_per_batch;
    for (int64_t b = 0; b < n_batches; ++b) {
        const std::string sub = fmt::format("imgs/{}", b);
        fs::create_directories(split / sub, ec);
        if (ec) throw InputError(fmt::format("{}: cannot create: {}", (split / sub).string(), ec.message()));
        std::string meta;
        const int64_t first = b * opt.images_per_batch, last = std::min(opt.n_images, first + opt.images_per_batch);
        for (int64_t n = first; n < last; ++n) {
            const PathfinderSample s = generator.sample(n);
            const std::string file = fmt::format("sample_{}.png", n - first);
            write_png_gray((split / sub / file).string(), s.image.data(), opt.image_size, opt.image_size);
            meta += fmt::format("{} {} {} {} {} {} {} {} {} {} 1\n", sub, file, n - first, s.label,
                                python_float(opt.continuity), opt.contour_length, opt.distractor_length,
                                opt.paddle_length, python_float(opt.paddle_thickness), opt.paddle_margin);
            report.positives += s.label;
            attempts += s.pair_attempts;
            distractors += s.distractors;
            ++report.images;
            bar.update(static_cast<double>(report.images));
        }
        const fs::path final_path = split / "metadata" / fmt::format("{}.npy", b);
        const fs::path partial = final_path.string() + ".partial";
        {
            std::ofstream f(partial, std::ios::binary);
            f << meta;
            if (!f.flush()) throw InputError(fmt::format("{}: cannot write", partial.string()));
        }
        fs::rename(partial, final_path, ec);
        if (ec)
            throw InputError(
                fmt::format("{}: cannot rename to {}: {}", partial.string(), final_path.string(), ec.message()));
    }
    bar.finish();
    report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report.mean_pair_attempts = attempts / report.images;
    report.mean_distractors = distractors / report.images;
    return report;
}

namespace {

struct MetaEntry {
    std::string image, metadata;
    long line = 0;
    int32_t label = 0;
};

// metadata/*.npy, in numeric order of the names (0, 1, 2, ..., 10), then the others by name.
std::vector<fs::path> metadata_files(const fs::path& dir) {
    const fs::path meta = dir / "metadata";
    std::error_code ec;
    if (!fs::is_directory(meta, ec))
        data_error(meta.string(), 0,
                   "no metadata directory: expected LRA's layout <split>/metadata/<n>.npy and <split>/imgs/<n>/ "
                   "(e.g. pathfinder32/curv_contour_length_14)");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(meta, ec))
        if (e.path().extension() == ".npy" && fs::is_regular_file(e.path(), ec)) files.push_back(e.path());
    if (ec) data_error(meta.string(), 0, "cannot list: " + ec.message());
    if (files.empty()) data_error(meta.string(), 0, "no metadata file (*.npy)");
    auto key = [](const fs::path& p) {
        const std::string stem = p.stem().string();
        const bool numeric = !stem.empty() && stem.size() < 19 &&
                             std::all_of(stem.begin(), stem.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        return std::make_tuple(numeric ? 0 : 1, numeric ? std::stoll(stem) : 0LL, p.filename().string());
    };
    std::sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) { return key(a) < key(b); });
    return files;
}

bool escapes(const std::string& part) {
    const fs::path p(part);
    if (p.is_absolute() || p.has_root_name()) return true;
    for (const auto& c : p)
        if (c == "..") return true;
    return false;
}

void read_metadata(const fs::path& file, const fs::path& dir, std::vector<MetaEntry>& out, int64_t max_examples) {
    const std::string name = file.string();
    std::ifstream in(file, std::ios::binary);
    if (!in) data_error(name, 0, "cannot open");
    std::string line;
    long number = 0;
    while (std::getline(in, line)) {
        if (++number == 1 && line.rfind("\x93NUMPY", 0) == 0)
            data_error(name, 0,
                       "a binary NumPy file: LRA's metadata files are text lines despite the .npy name (convert with "
                       "numpy.savetxt(path, numpy.load(path), fmt='%s'))");
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::istringstream fields(line);
        std::vector<std::string> col;
        for (std::string f; fields >> f && col.size() < 4;) col.push_back(f);
        if (col.size() < 4)
            data_error(name, number,
                       fmt::format("{} column{}: expected '<image dir> <file name> <index> <label> ...' (LRA: "
                                   "'imgs/0 sample_0.png 0 1 1.0 14 4 2 0.5 1 1')",
                                   col.size(), col.size() == 1 ? "" : "s"));
        if (col[3] != "0" && col[3] != "1")
            data_error(name, number, fmt::format("label '{}' (column 4): must be 0 or 1", col[3]));
        if (escapes(col[0]) || escapes(col[1]))
            data_error(name, number,
                       fmt::format("image path '{}/{}' leaves the split directory: must be relative, without '..'",
                                   col[0], col[1]));
        if (max_examples <= 0 || static_cast<int64_t>(out.size()) < max_examples)
            out.push_back({(dir / col[0] / col[1]).string(), name, number, col[3] == "1" ? 1 : 0});
    }
    if (number == 0) data_error(name, 0, "empty metadata file: expected one line per image");
}

}  // namespace

Dataset read_pathfinder(const std::string& dir, const PathfinderReadOptions& opt) {
    if (opt.image_size < 1 || opt.image_size > 4096)
        throw InputError(fmt::format("pathfinder image_size = {} out of range: must be in [1, 4096]", opt.image_size));
    // Pass 1: every metadata line (format, labels, paths), before a single image is read.
    std::vector<MetaEntry> entries;
    for (const fs::path& file : metadata_files(dir)) read_metadata(file, dir, entries, opt.max_examples);
    // Pass 2: the images, each checked for its size and depth.
    Dataset d;
    d.task = "pathfinder";
    d.source = dir;
    d.vocab = pathfinder_vocabulary();
    d.n_classes = 2;
    d.examples.reserve(entries.size());
    std::error_code ec;
    for (const MetaEntry& e : entries) {
        const std::string where = fmt::format(" (listed at {}:{})", e.metadata, e.line);
        if (!fs::is_regular_file(e.image, ec))
            data_error(e.metadata, e.line,
                       fmt::format("image {} does not exist: restore it or drop the line", e.image));
        Example ex;
        ex.tokens = pathfinder_tokens(read_png_gray(e.image, opt.image_size, opt.image_size, where));
        ex.label = e.label;
        d.examples.push_back(std::move(ex));
    }
    d.validate();
    return d;
}

}  // namespace rmaat::tasks
