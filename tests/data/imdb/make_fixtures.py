#!/usr/bin/python3
"""Writes the IMDb fixtures of tests/test_tasks_media.cpp (run from this directory).

aclImdb/: the published layout <split>/{neg,pos}/<id>_<rating>.txt, one review per file (UTF-8,
with the "<br />" of the real reviews). imdb.tsv: the two-column form label<TAB>text with its
optional header; one line ends with \\r\\n. malformed/: one defect each.
"""
import os


def write(name, data):
    os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
    with open(name, "wb") as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)


write("aclImdb/train/neg/0_3.txt", "Dull.<br /><br />Two hours I will not get back.")
write("aclImdb/train/neg/10_2.txt", "Bad acting, worse script.")
write("aclImdb/train/pos/0_9.txt", "A caf\u00e9 scene to remember.")  # \u00e9 = 2 bytes c3 a9
write("aclImdb/train/pos/1_7.txt", "Good.")
write("aclImdb/train/pos/2_10.txt", "Great film. " * 40)  # 480 bytes
write("aclImdb/test/neg/0_2.txt", "Not for me.")
write("aclImdb/test/pos/0_10.txt", "Loved it.")

write("imdb.tsv", "label\ttext\n1\tLoved it.\n0\tNot for me.\r\n1\tCaf\u00e9 <br /> ok\n")

m = "malformed/"
write(m + "aclImdb_no_neg/train/pos/0_8.txt", "Fine.")
write(m + "aclImdb_empty_review/train/neg/0_1.txt", "")
write(m + "aclImdb_empty_review/train/pos/0_9.txt", "Fine.")
write(m + "aclImdb_no_txt/train/neg/README", "no review here")
write(m + "aclImdb_no_txt/train/pos/0_9.txt", "Fine.")
write(m + "columns.tsv", "1\tgood\n0\tbad\n1\tgood\textra\n")
write(m + "label_word.tsv", "1\tgood\npos\tgood\n")
write(m + "label_range.tsv", "1\ta\n0\tb\n1\tc\n2\td\n")
write(m + "empty.tsv", "")
write(m + "empty_text.tsv", "1\tgood\n0\t\n")
write(m + "header_only.tsv", "label\ttext\n")
