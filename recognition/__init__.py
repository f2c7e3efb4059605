"""Looking at photos: image checks, the character verifier and text-line OCR."""
