"""The learning domain: HSK vocabulary, challenges, spaced repetition, scores and feedback."""
