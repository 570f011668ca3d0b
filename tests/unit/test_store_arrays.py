"""``store.text_array``: the text form of a ``text[]`` the ingest sends instead of psycopg's list dumper."""

from __future__ import annotations

import pytest

from ingest.store import text_array


@pytest.mark.parametrize("items, literal", [
    ([], "{}"),
    (["a-1"], '{"a-1"}'),
    (["a", "b"], '{"a","b"}'),
    (["NULL", ""], '{"NULL",""}'),  # quoted: the string NULL and the empty string, never a null
    (["a,b", "{x}", "two words"], '{"a,b","{x}","two words"}'),
    (['say "hi"', "back\\slash"], '{"say \\"hi\\"","back\\\\slash"}'),
])
def test_every_element_is_quoted_and_escaped(items: list[str], literal: str) -> None:
    assert text_array(items) == literal
