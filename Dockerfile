# Runtime image of the bot: no TensorFlow, no dev tools, models baked in, data on a volume.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY recognition ./recognition
COPY quizzes ./quizzes
COPY storage ./storage
COPY config ./config
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    HANZI_DATABASE_PATH=/data/bot.sqlite3 \
    HANZI_DATA_DIR=/data \
    HANZI_MODEL_DIR=/app/models
RUN useradd --create-home --uid 10001 hanzi \
    && mkdir -p /data /app \
    && chown hanzi:hanzi /data
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
COPY models /app/models
USER hanzi
WORKDIR /app
VOLUME ["/data"]
CMD ["hanzi-bot", "run"]
