"""The API reference lists every public name."""

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_api_reference_lists_every_public_name():
    sys.path.insert(0, str(DOCS / "sphinxext"))
    try:
        from skt_docs import missing_api_entries
    finally:
        sys.path.remove(str(DOCS / "sphinxext"))
    assert missing_api_entries(DOCS / "api.rst") == []
