"""Every word the code and templates mark for translation has its Korean translation in
locale/ko: the catalog is made afresh from the sources, as `makemessages` makes it, and
nothing in it may be missing or fuzzy (a guess gettext would not show)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# What makemessages would read beyond the sources: environments, caches, data, builds.
NOT_SOURCES = shutil.ignore_patterns(
    ".*", "node_modules", "data", "artifacts", "staticfiles", "__pycache__", "*.mo"
)


def untranslated(po: Path, *which: str) -> str:
    """The entries of `po` that msgattrib selects with `which`, less the header."""
    selected = subprocess.run(
        ["msgattrib", *which, "--no-obsolete", str(po)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return "\n".join(
        entry for entry in selected.split("\n\n") if entry.strip() and 'msgid ""\n' not in entry
    )


def test_every_marked_word_has_a_korean_translation(tmp_path):
    sources = tmp_path / "sources"
    shutil.copytree(ROOT, sources, ignore=NOT_SOURCES)
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ko", "--no-obsolete"],
        cwd=sources,
        env=env,
        capture_output=True,
        check=True,
        timeout=120,
    )
    fresh = sources / "locale" / "ko" / "LC_MESSAGES" / "django.po"
    assert untranslated(fresh, "--untranslated") == ""
    assert untranslated(fresh, "--only-fuzzy") == ""
