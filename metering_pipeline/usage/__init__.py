"""Per-tenant hourly usage: the meters of the catalog aggregated over an hour's accepted events."""
