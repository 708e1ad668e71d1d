#pragma once
// What every task reader and generator produces (docs/design.md section 6.3): a list of examples of
// token ids with a class label, in memory, torch-free (the trainer turns batches into tensors).
//
//   Dataset d = read_listops_tsv("basic_train.tsv");       // DataError "file:line: reason" if malformed
//   Batcher b(d, {.batch_size = 32, .pad_multiple = 128, .seed = 1});
//   Batch batch; while (b.next(batch)) { ... }            // tokens [B x L] row-major, 0 = padding
//
// Token id 0 is padding in every vocabulary; real tokens are 1..vocab.size - 1.
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace rmaat::tasks {

// A malformed data file: bad input (exit 2). The message is "<file>:<line>: <reason>" (line 0: the
// file as a whole, e.g. empty or truncated).
struct DataError : InputError {
    using InputError::InputError;
};
[[noreturn]] void data_error(const std::string& file, long line, const std::string& reason);

// A fixed vocabulary per task, stored in run files so a model can be evaluated on new files.
struct Vocabulary {
    std::string name;                  // "listops", "bytes", "pixels"
    std::vector<std::string> symbols;  // symbols[id]; symbols[0] = "<pad>"
    int32_t size() const { return static_cast<int32_t>(symbols.size()); }
};

struct Example {
    std::vector<int32_t> tokens;   // ids in [1, vocab.size)
    std::vector<int32_t> tokens2;  // second document (pair tasks: Retrieval), else empty
    int32_t label = 0;             // in [0, n_classes)
};

struct Dataset {
    std::string task;    // a row of kTasks (tasks/registry.hpp)
    std::string source;  // the file or directory it was read from, or "generated"
    Vocabulary vocab;
    int32_t n_classes = 2;
    bool pair = false;  // two documents per example
    std::vector<Example> examples;

    // Throws DataError naming `source` when an example breaks the vocabulary, the label range or
    // the pairing (readers call it before returning).
    void validate() const;
};

}  // namespace rmaat::tasks
