"""The PostgreSQL wire protocol front."""
