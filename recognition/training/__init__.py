"""Training-time code (synthetic handwriting, the model), never imported by the running bot."""
