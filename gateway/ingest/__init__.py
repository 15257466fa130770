"""Ingestion: turning rows and Arrow batches into Parquet files in the store."""
