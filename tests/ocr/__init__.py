"""Tests of the ocr package, one file per module."""
