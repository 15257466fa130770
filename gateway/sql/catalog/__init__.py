"""The PostgreSQL system catalog presented over the store: pg_catalog views, functions and rewrites."""
