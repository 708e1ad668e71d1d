#pragma once
// ListOps (Long Range Arena; docs/design.md section 6.3): the reader of LRA's TSV files, the writer,
// an evaluator, and a generator with the rules of LRA's lra_benchmarks/data/listops.py.
//
// File (as LRA's generator writes basic_{train,val,test}.tsv with Python's csv module):
//   Source<TAB>Target<CR><LF>                                  header
//   ( ( ( [MAX 2 ) ( ( ( [MIN 9 ) 4 ) ] ) ) ] )<TAB>4<CR><LF>    MAX(2, MIN(9, 4)) = 4
// Tokens are separated by single spaces; LF line ends are accepted too. An operator with arguments
// a1..ak is LRA's left-nested pairing ((((op a1) a2) ... ak) ]), written with k + 1 pairs of
// parentheses: "( ( ( [MAX 2 ) 9 ) ] )". The parentheses carry no information beyond the brackets,
// so they are checked for balance and dropped: an example is the sequence of operator, digit and `]`
// tokens, and its length is LRA's length (the quantity LRA bounds by 500 < length < 2000).
//
// Operators on the list of their argument values v1..vk (each 0..9):
//   [MIN min v    [MAX max v    [SM (sum v) mod 10
//   [MED int(numpy.median(v)): the middle value of the sorted list; for even k the mean of the two
//        middle values, truncated (floor((v_(k/2) + v_(k/2+1)) / 2)), as LRA's to_value does.
//
// Generator (LRA's generate_tree(depth = 1, max_depth, max_args)): at depth < max_depth a node is a
// leaf with probability 0.75, at max_depth always; a leaf is a uniform digit 0..9; an inner node has
// a uniform number of children in 2..max_args, generated in order, then a uniform operator. Trees
// are drawn until n distinct ones have min_length < length < max_length; the first n_train are the
// training split, the next n_val validation, the rest test (so no expression is in two splits).
// Randomness is SplitMix64 (tasks/batch.hpp): the same seed gives the same files everywhere.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/batch.hpp"
#include "tasks/dataset.hpp"
#include "tasks/registry.hpp"

namespace rmaat::tasks {

// Token ids (0 = padding); digit d is kListOpsDigit0 + d.
enum ListOpsToken : int32_t {
    kListOpsMin = 1,
    kListOpsMax = 2,
    kListOpsMed = 3,
    kListOpsSum = 4,  // [SM
    kListOpsEnd = 5,  // ]
    kListOpsDigit0 = 6,
};
inline constexpr int32_t kListOpsVocabSize = 16;  // <pad>, 4 operators, ], 10 digits
inline constexpr int32_t kListOpsClasses = 10;

// symbols: "<pad>", "[MIN", "[MAX", "[MED", "[SM", "]", "0".."9".
Vocabulary listops_vocabulary();

// The generator's rules. Lengths are exclusive bounds on the token count without parentheses.
struct ListOpsRules {
    std::string variant = "basic";  // the file prefix: <variant>_train.tsv
    int max_depth = 10;
    int max_args = 10;
    double leaf_probability = 0.75;
    int64_t min_length = 500, max_length = 2000;
    int64_t n_train = 96000, n_val = 2000, n_test = 2000;
};
// "basic" (LRA's ListOps, lengths in (500, 2000), 96k/2k/2k) or "mini" (the same trees with lengths in
// (20, 100), 10k/1k/1k, for CPU smoke runs); InputError otherwise.
ListOpsRules listops_rules(std::string_view variant);

// --- reading ------------------------------------------------------------------------------------

// The whole file, validated: DataError "file:line: reason" for a wrong header, a row without exactly
// two tab-separated fields, an unknown token, unbalanced parentheses or brackets, an operator without
// argument, more than one expression, a label that is not an integer in 0..9, an empty file or a file
// without examples. Labels are not checked against the expressions (scan does that).
Dataset read_listops_tsv(const std::string& path);
// Lenient: records every malformed row (skipped) and every label that differs from the evaluated
// expression in `problems` and reads on; a missing or empty file and a wrong header still throw.
Dataset scan_listops_tsv(const std::string& path, ReadProblems& problems);
// The same with the `task` name of the dataset set (the registry's listops and listops-mini rows).
Dataset read_listops_tsv_as(const std::string& path, const std::string& task);
Dataset scan_listops_tsv_as(const std::string& path, const std::string& task, ReadProblems& problems);
// True for a file whose first line is LRA's header (`.tsv`); `variant` "mini" also wants the name
// mini_*.tsv, "basic" any other name.
bool looks_like_listops(const std::string& path, std::string_view variant);

// --- writing ------------------------------------------------------------------------------------

// LRA's Source text of an expression (with its parentheses); InputError for a malformed one.
std::string listops_source(const std::vector<int32_t>& tokens);
// Header and one row per example, CRLF line ends: the bytes LRA's generator writes.
void write_listops_tsv(const std::string& path, const std::vector<Example>& examples);

// --- evaluating ---------------------------------------------------------------------------------

// The value 0..9 of one expression; InputError naming the token position when it is malformed.
int evaluate_listops(const std::vector<int32_t>& tokens);

struct ListOpsShape {
    int depth = 0;     // nodes on the longest root-to-leaf path (a lone digit: 1)
    int min_args = 0;  // fewest and most arguments of an operator (0 when there is none)
    int max_args = 0;
    int64_t operators = 0;
};
ListOpsShape listops_shape(const std::vector<int32_t>& tokens);  // InputError when malformed

// --- generating ---------------------------------------------------------------------------------

// One tree by LRA's generate_tree, appended to `out` as tokens. Returns false (out then holds a
// partial tree) as soon as the tree reaches `stop_at` tokens: such trees are rejected anyway, and
// stopping early does not change the distribution of the accepted ones.
bool draw_listops_tree(SplitMix64& rng, const ListOpsRules& rules, int64_t stop_at, std::vector<int32_t>& out);
// n distinct expressions with min_length < length < max_length and their labels, in the order they
// were drawn. `progress` draws a progress bar (core/progress.hpp) when the work is long (n * max_length >= 2e7).
std::vector<Example> generate_listops(const ListOpsRules& rules, int64_t n, uint64_t seed, bool progress = false);
// Writes DIR/<variant>_{train,val,test}.tsv (options.variant: "" = basic). Existing files are an
// InputError unless options.force; files are written as <name>.partial and renamed when complete.
GenerateResult generate_listops_files(const GenerateOptions& options);

}  // namespace rmaat::tasks
