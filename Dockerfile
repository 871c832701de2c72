# One image for every webmon process; docker-compose.yml picks the command.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY scheduler scheduler
COPY checker checker
COPY notifier notifier
COPY shared shared
COPY migrations migrations
COPY webmon webmon
RUN pip install --no-cache-dir . && useradd --system --uid 10001 webmon
USER webmon
# Metrics and /healthz: scheduler 9101, checker 9102, notifier 9104.
EXPOSE 9101 9102 9104
CMD ["webmon-checker"]
