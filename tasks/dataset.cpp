#include "tasks/dataset.hpp"

#include <fmt/format.h>

namespace rmaat::tasks {

void data_error(const std::string& file, long line, const std::string& reason) {
    throw DataError(line > 0 ? fmt::format("{}:{}: {}", file, line, reason) : fmt::format("{}: {}", file, reason));
}

void Dataset::validate() const {
    if (vocab.size() < 2) data_error(source, 0, fmt::format("vocabulary '{}' has no real token", vocab.name));
    if (n_classes < 2) data_error(source, 0, fmt::format("{} classes: at least 2 are needed", n_classes));
    if (examples.empty()) data_error(source, 0, "no example");
    for (size_t i = 0; i < examples.size(); ++i) {
        const Example& e = examples[i];
        auto check = [&](const std::vector<int32_t>& t, const char* which) {
            if (t.empty()) data_error(source, 0, fmt::format("example {}: empty {} document", i, which));
            for (int32_t id : t)
                if (id < 1 || id >= vocab.size())
                    data_error(source, 0,
                               fmt::format("example {}: token id {} outside the vocabulary [1, {})", i, id, vocab.size()));
        };
        check(e.tokens, "first");
        if (pair) check(e.tokens2, "second");
        else if (!e.tokens2.empty()) data_error(source, 0, fmt::format("example {}: a second document in a single-document task", i));
        if (e.label < 0 || e.label >= n_classes)
            data_error(source, 0, fmt::format("example {}: label {} outside [0, {})", i, e.label, n_classes));
    }
}

}  // namespace rmaat::tasks
