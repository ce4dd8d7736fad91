"""The version of the text footnote makes of a PDF, kept apart so that listing the archive imports no parser."""

# The version of the text that ingest.parse.parse_pdf and ingest.chunk make of a PDF, recorded with each paper:
# change it with any change to that text (or to its chunks). A paper read with another version is read again when
# it is ingested again, where it would otherwise be skipped as the same PDF (ingest.pipeline), and `footnote
# papers` counts the papers read with another.
TEXT_VERSION = "2026-12-07.4"  # .2, .3: math letters as letters (footnote.text.plain_math); .4: headings
