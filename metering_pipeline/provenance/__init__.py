"""Provenance for disputes: from an exported quantity back to its events, lines and catalog (explain, bundles)."""
