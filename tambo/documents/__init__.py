"""Signed documents: agencies issue PAdES-signed PDFs; anyone can verify them."""
