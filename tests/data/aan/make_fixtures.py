#!/usr/bin/python3
"""Writes the AAN (LRA Retrieval) fixtures of tests/test_tasks_media.cpp (run from this directory).

LRA's new_aan_pairs.{train,eval,test}.tsv: no header; label, id1, id2, text1, text2, tab-separated;
the label as LRA's float32 column reads it ("1.0", "0", ...); the texts as the Python bytes literals
b'...' the real files hold (escapes such as \\n stay literal text). malformed/: one defect each.
"""
import os


def write(name, data):
    os.makedirs(os.path.dirname(name) or ".", exist_ok=True)
    with open(name, "wb") as f:
        f.write(data.encode("utf-8"))


rows = [
    ("1.0", "P04-1014", "W03-1028", "b'Parsing with\\ncontext-free grammars.'", "b'Grammars and parsing.'"),
    ("0.0", "P04-1014", "J93-2004", "b'Parsing with\\ncontext-free grammars.'", "b'The Penn Treebank: caf\\xc3\\xa9.'"),
    ("1", "N03-1033", "P02-1040", "b'BLEU for MT.'", "b'A method for automatic evaluation \u00e9.'"),
]
write("new_aan_pairs.eval.tsv", "".join("\t".join(r) + "\n" for r in rows))

m = "malformed/"
write(m + "columns.tsv", "1\ta\tb\tx\ty\n0\ta\tb\tx\n")
write(m + "label_word.tsv", "1\ta\tb\tx\ty\nyes\ta\tb\tx\ty\n")
write(m + "label_half.tsv", "0.5\ta\tb\tx\ty\n")
write(m + "label_two.tsv", "1\ta\tb\tx\ty\n0\ta\tb\tx\ty\n2\ta\tb\tx\ty\n")
write(m + "header.tsv", "label\tid1\tid2\ttext1\ttext2\n1\ta\tb\tx\ty\n")
write(m + "empty.tsv", "")
write(m + "empty_text2.tsv", "1\ta\tb\tx\ty\n0\ta\tb\tx\t\n")
