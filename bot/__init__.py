"""Chat adapters and the platform-neutral core of the HSK handwriting quiz bot."""
