# One image for every webmon process; docker-compose.yml picks the command.
# The build stage makes the wheel (as `python -m build` does for a release); the image
# installs that wheel and nothing of the source tree.
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.6.1
COPY pyproject.toml README.md LICENSE NOTICE ./
COPY scheduler scheduler
COPY checker checker
COPY notifier notifier
COPY shared shared
COPY migrations migrations
COPY webmon webmon
COPY devstack devstack
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim
COPY --from=build /dist /dist
RUN pip install --no-cache-dir /dist/*.whl && rm -rf /dist \
    && useradd --system --uid 10001 webmon
USER webmon
WORKDIR /app
# Metrics and /healthz: scheduler 9101, checker 9102, notifier 9104.
EXPOSE 9101 9102 9104
CMD ["webmon-checker"]
