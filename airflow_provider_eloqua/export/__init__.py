"""Exporting data out of Eloqua to files, below the operators (it knows nothing of them).

* :mod:`.spec`: what an export is asked to do (definition, output), typed and validated once.
* :mod:`.filters`: export filters in Eloqua's expression language, parsed and checked.
* :mod:`.window`: ``since``/``until`` as a half-open UTC window, the lag rule and the split.
* :mod:`.plan`: the parts of an export's window and what its task remembers across tries.
* :mod:`.download`: a sync's pages into a file, counted; a sync started elsewhere, written.
* :mod:`.engine`: the export across its tries: a definition and sync per part, the split, the download.
* :mod:`.writer`: pages of rows to a file that appears at its path whole, or not at all.

Why and how: docs/exports.md.
"""
