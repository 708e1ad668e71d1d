#pragma once
// Byte-level text tasks of LRA (docs/design.md section 6.3): Text (IMDb sentiment, 2 classes) and
// Retrieval (ACL Anthology Network citation pairs, 2 classes, two documents per example).
//
// Tokens are the raw bytes of the text, token id = byte + 1 (0 is padding): vocabulary "bytes" of
// 257 ids, as tfds' ByteTextEncoder that LRA uses (tokenizer "char"). No decoding, no normalisation:
// UTF-8 stays multi-byte, HTML such as "<br />" stays. A document longer than max_bytes keeps its
// first max_bytes bytes (LRA: encode, then [:max_length]). The default kLraMaxBytes = 4000 is LRA's
// max_length for Retrieval (matching/configs/base_match_config.py) and the paper's "4K" for Text.
//
// Formats:
//   IMDb directory   the published aclImdb layout: <root>/<split>/{neg,pos}/*.txt, one review per
//                    file; label neg = 0, pos = 1; neg first, then pos, each sorted by file name
//                    (byte order), so the order does not depend on the file system.
//   Text TSV         one example per line: label<TAB>text, label 0 or 1, exactly two columns (the text
//                    holds no tab); an optional first line "label<TAB>text" is a header.
//   AAN TSV          LRA's Retrieval files (new_aan_pairs.{train,eval,test}.tsv): no header, five
//                    tab-separated columns label, id1, id2, text1, text2 (LRA reads them with
//                    make_csv_dataset(header=False, use_quote_delim=False, field_delim='\t'), the
//                    label as float32): label 0 or 1 (written "0"/"1" or "0.0"/"1.0"), the ids are
//                    kept out of the tokens, the texts are taken byte for byte as in the file
//                    (LRA's files hold them as Python bytes literals b'...'; LRA encodes the literal).
// Lines end with \n; one \r before it is dropped. Every reader validates the whole input and throws
// DataError "file:line: reason" (line 0 for a file as a whole: missing, empty).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tasks/dataset.hpp"

namespace rmaat::tasks {

constexpr int64_t kLraMaxBytes = 4000;

// "bytes": symbols[0] = "<pad>", symbols[b + 1] = the character for printable ASCII 0x21..0x7e,
// else "\xNN" (two lower-case hex digits).
Vocabulary text_byte_vocabulary();

// The first max_bytes bytes of text as token ids byte + 1.
std::vector<int32_t> byte_tokens(std::string_view text, int64_t max_bytes = kLraMaxBytes);

// The aclImdb split ("train" or "test") under root -> task "text", 2 classes. DataError naming a
// missing directory, a directory without reviews, an empty review file.
Dataset read_imdb_dir(const std::string& root, const std::string& split, int64_t max_bytes = kLraMaxBytes);

// A two-column text TSV -> task "text", 2 classes.
Dataset read_text_tsv(const std::string& file, int64_t max_bytes = kLraMaxBytes);

// An AAN TSV -> task "retrieval", 2 classes, pair = true (tokens = text1, tokens2 = text2).
Dataset read_aan_tsv(const std::string& file, int64_t max_bytes = kLraMaxBytes);

}  // namespace rmaat::tasks
