"""Text that screen readers read or browsers show in attributes is translated like the rest.

The browser tests (tests/e2e/test_languages.py) find untranslated text on the pages they visit;
this finds the commonest slip in every template, visited or not: a literal English attribute
value such as ``aria-label="breadcrumb"``.
"""

import re
from pathlib import Path

from labbook.config import PROJECT_ROOT

ATTRIBUTE = re.compile(
    r'\b(aria-label|placeholder|title|alt|data-confirm|data-label|data-msg-[\w-]+)='
    r'"([^"]*)"')


def test_attribute_texts_in_templates_are_translatable():
    literal = []
    for path in sorted(Path(PROJECT_ROOT, "templates").rglob("*.html")):
        if "emails" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for match in ATTRIBUTE.finditer(text):
            value = match.group(2)
            if re.search(r"[A-Za-z]{2,}", re.sub(r"\{\{.*?\}\}|\{%.*?%\}", "", value)):
                line = text.count("\n", 0, match.start()) + 1
                literal.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {match.group(0)}")
    assert not literal, "wrap these in _() so they are translated:\n" + "\n".join(literal)
