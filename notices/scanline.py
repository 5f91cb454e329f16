"""The remittance stub's scan line, as notices print it (the format lives in payments.scanline,
which the lockbox import reads too)."""

from payments.scanline import LENGTH, ScanLine, ScanLineError, parse, printed, scan_line

__all__ = ["LENGTH", "ScanLine", "ScanLineError", "parse", "printed", "scan_line"]
