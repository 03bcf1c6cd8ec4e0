"""The repository stands alone: every link in its docs points at a file inside it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOCS = sorted(
    [
        REPO / "README.md",
        REPO / "SECURITY.md",
        REPO / "CHANGELOG.md",
        REPO / "k8s" / "README.md",
        *(REPO / "docs").glob("*.md"),
        *(REPO / "charts").glob("*/README.md"),
    ]
)
# [text](target) outside code spans; the target up to an optional #anchor or title.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s#]*)(?:#[^)\s]*)?(?:\s+\"[^\"]*\")?\)")


def links(document: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", document.read_text(), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code: regexes look like links
    return [target for target in LINK.findall(text) if target]


@pytest.mark.parametrize("document", DOCS, ids=lambda path: str(path.relative_to(REPO)))
def test_every_relative_link_in_the_docs_names_a_file_of_the_repository(
    document: Path,
) -> None:
    assert document.exists(), document
    for target in links(document):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            continue  # a URL (https:, mailto:), not a path in the repository
        resolved = (document.parent / target).resolve()
        assert resolved.is_relative_to(REPO), (document.name, target)
        assert resolved.exists(), (document.name, target)


def test_the_docs_never_send_readers_to_a_folder_beside_the_repository() -> None:
    for document in DOCS:
        assert "../shared" not in document.read_text(), document.name
