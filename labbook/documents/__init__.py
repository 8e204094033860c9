"""The PDF documents labbook prints: test reports, testing agreements, sample labels and
instrument labels, and the toolkit (``labbook.documents.pdf``) other areas print theirs with.

Every document is rendered from a plain frozen dataclass of ``labbook.documents.model`` (no ORM
object, no request), in the language the document names, and the same input always gives the
same bytes, so that a PDF's SHA-256 identifies it.
"""
