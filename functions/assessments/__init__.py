"""Repeat screening (measurement-based care): change rules, and later tokens, store and routes."""
