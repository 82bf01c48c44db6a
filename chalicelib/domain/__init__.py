"""Shelf's domain: pure rules about money, catalog, carts, stock and orders. Stdlib only."""
