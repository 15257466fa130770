"""Metadata kept in the store itself: retention policies, continuous queries and leases."""
