"""The catalog's one error type, apart so every catalog module can raise it without import cycles."""


class CatalogError(ValueError):
    """The catalog is unusable; the message names the offending entry."""
