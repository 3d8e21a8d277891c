# upstream NotaGen data/2_data_preprocess.py abc_preprocess_pipeline, up to the interleaved file (verbatim steps)
import re
import sys

from abctoolkit.check import check_alignment_unrotated
from abctoolkit.convert import unidecode_abc_lines
from abctoolkit.rotate import rotate_abc
from abctoolkit.utils import (
    Barlines,
    Quote_re,
    extract_global_and_local_metadata,
    extract_metadata_and_parts,
    remove_bar_no_annotations,
    remove_information_field,
)


def pipeline(abc_path):
    with open(abc_path, "r", encoding="utf-8") as f:
        abc_lines = f.readlines()
    abc_lines = [line for line in abc_lines if line.strip() != ""]
    abc_lines = unidecode_abc_lines(abc_lines)
    abc_lines = remove_information_field(
        abc_lines=abc_lines, info_fields=["X:", "T:", "C:", "W:", "w:", "Z:", "%%MIDI"]
    )
    abc_lines = remove_bar_no_annotations(abc_lines)
    for i, line in enumerate(abc_lines):
        if re.search(r"^[A-Za-z]:", line) or line.startswith("%"):
            continue
        else:
            if r"\"" in line:
                abc_lines[i] = abc_lines[i].replace(r"\"", "")
    for i, line in enumerate(abc_lines):
        quote_contents = re.findall(Quote_re, line)
        for quote_content in quote_contents:
            for barline in Barlines:
                if barline in quote_content:
                    line = line.replace(quote_content, "")
                    abc_lines[i] = line
    _, bar_no_equal_flag, _ = check_alignment_unrotated(abc_lines)
    if not bar_no_equal_flag:
        raise Exception("Unequal bar number")
    for i, line in enumerate(abc_lines):
        quote_matches = re.findall(r'"[^"]*"', line)
        for match in quote_matches:
            if match == '""':
                line = line.replace(match, "")
            if match[1] in ["^", "_"]:
                sub_string = match
                pattern = r"([^a-zA-Z0-9])\1+"
                sub_string = re.sub(pattern, r"\1", sub_string)
                if len(sub_string) <= 40:
                    line = line.replace(match, sub_string)
                else:
                    line = line.replace(match, "")
        abc_lines[i] = line
    metadata_lines, part_text_dict = extract_metadata_and_parts(abc_lines)
    global_metadata_dict, local_metadata_dict = extract_global_and_local_metadata(metadata_lines)
    interleaved_abc = rotate_abc(abc_lines)
    return "".join(interleaved_abc)


src, dst = sys.argv[1], sys.argv[2]
out = pipeline(src)
open(dst, "w").write(out)
