"""Both message catalogues are complete and match the strings in the code."""

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "labbook" / "translations"


def catalogue(locale: str):
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=locale)


def extracted_ids(tmp_path: Path) -> set:
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract",
                    "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
                    "--ignore-dirs=.venv node_modules", "-o", str(pot), str(ROOT)],
                   check=True, capture_output=True, cwd=ROOT)
    with pot.open("rb") as handle:
        return {message.id for message in read_po(handle) if message.id}


def test_catalogues_cover_every_string_in_the_code(tmp_path):
    wanted = extracted_ids(tmp_path)
    for locale in ("zh_Hans_CN", "en"):
        have = {message.id for message in catalogue(locale) if message.id}
        missing = wanted - have
        assert not missing, f"{locale} lacks {sorted(map(str, missing))[:10]}"


def test_every_message_is_translated_and_none_is_fuzzy():
    for locale in ("zh_Hans_CN", "en"):
        for message in catalogue(locale):
            if not message.id:
                continue
            strings = message.string if isinstance(message.string, tuple | list) \
                else [message.string]
            assert all(strings), f"{locale}: {message.id!r} is not translated"
            assert not message.fuzzy, f"{locale}: {message.id!r} is fuzzy"


def test_placeholders_survive_translation():
    import re

    for message in catalogue("zh_Hans_CN"):
        if not message.id:
            continue
        source = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple | list) \
            else [message.string]
        for translated in strings:
            assert set(re.findall(r"%\(\w+\)\w", source)) == \
                set(re.findall(r"%\(\w+\)\w", translated)), message.id


def test_one_chinese_word_for_each_booking_term():
    """A booking's state and the charge it leads to are called the same in Chinese."""
    translated = {message.id: message.string for message in catalogue("zh_Hans_CN")
                  if isinstance(message.id, str)}
    assert translated["no-show"] == translated["No-show"] == "爽约"
