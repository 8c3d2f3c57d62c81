"""The one RAG colour scale every view and file uses (dashboard charts, workbook fills).

>>> RAG_COLOURS["Red"]
'#C62828'
>>> rag_text_colour("Amber")
'#000000'
"""

from __future__ import annotations

#: Status -> fill colour (hex). Strong enough to read on paper, distinct for colour-blind
#: readers by lightness as well as hue (Red and Green differ in brightness).
RAG_COLOURS: dict[str, str] = {
    "Green": "#2E7D32",
    "Amber": "#F9A825",
    "Red": "#C62828",
    "Complete": "#9E9E9E",
    "Unknown": "#E0E0E0",
}

#: Statuses, worst first: the order of legends and sorted lists.
RAG_ORDER: list[str] = ["Red", "Amber", "Green", "Complete", "Unknown"]

# Dark fills take white text; light ones black, so a printed or projected sheet stays legible.
_DARK_FILLS = {"Green", "Red"}


def rag_text_colour(status: str) -> str:
    """Return the text colour (hex) that stays legible on ``status``'s fill.

    Parameters
    ----------
    status
        One of :data:`RAG_COLOURS`' keys; anything else gets black.
    """
    return "#FFFFFF" if status in _DARK_FILLS else "#000000"
