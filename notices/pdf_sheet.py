"""The sheet a notice is printed on: its measures, fonts and colours.

US Letter with half-inch margins; the windows of the #10 double-window
envelope the page is folded into; the tear-off stub's height and its remit-to
address; the right column of page 1 and the body's left column; where the
body starts and ends (docs/notices.md, "Layout"). The notice modules all
draw in these measures, the standard Type 1 fonts and these colours.
"""

from __future__ import annotations

from reportlab.lib.pagesizes import letter
from reportlab.lib.units import inch

PAGE_WIDTH, PAGE_HEIGHT = letter
MARGIN = 0.5 * inch
RIGHT = PAGE_WIDTH - MARGIN

#: #10 double-window envelope, measured from the page's top-left corner: (left, top, width, height).
RETURN_WINDOW = (0.375 * inch, 0.625 * inch, 3.25 * inch, 0.875 * inch)
RECIPIENT_WINDOW = (0.875 * inch, 2.0 * inch, 4.0 * inch, 1.125 * inch)
#: The tear-off stub: its height above the page's bottom edge (the dashed line).
STUB_HEIGHT = 3.5 * inch
#: The remit-to address, for the return envelope's window: its top below the stub's top.
REMIT_TOP = 1.0 * inch
REMIT_LEFT = 0.75 * inch

#: The right column of page 1 (facts, summary box, chart) and the body's left column.
RIGHT_COLUMN_X = 5.0 * inch + 6
RIGHT_COLUMN_WIDTH = RIGHT - RIGHT_COLUMN_X
LEFT_COLUMN_WIDTH = RIGHT_COLUMN_X - 14 - MARGIN
#: Where the body starts on page 1 at the latest: below the recipient window.
BODY_TOP = PAGE_HEIGHT - (RECIPIENT_WINDOW[1] + RECIPIENT_WINDOW[3]) - 14
#: Continuation pages: the body between the short header and the bottom margin.
CONTINUATION_TOP = PAGE_HEIGHT - 80
BOTTOM = 40

REGULAR = "Helvetica"
BOLD = "Helvetica-Bold"
MONO = "Courier"

INK = (0.1, 0.1, 0.12)
GREY = (0.38, 0.38, 0.42)
RULE = (0.7, 0.7, 0.74)
SHADE = (0.9, 0.91, 0.93)
STRIPE = (0.965, 0.968, 0.975)
ACCENT = (0.05, 0.26, 0.48)
ALERT = (0.66, 0.08, 0.08)
BAR = (0.68, 0.72, 0.78)
WHITE = (1, 1, 1)
BLACK = (0, 0, 0)
