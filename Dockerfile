# syntax=docker/dockerfile:1
# The scoring service: runtime dependencies only (no training stack), the default model
# artifact baked in, a non-root user. Build: docker build -t riskscore .

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Locked dependencies first, so that a code change does not reinstall them.
COPY requirements/runtime.lock requirements/runtime.lock
RUN pip install --no-deps -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY riskscore riskscore
COPY history history
COPY embedded embedded
COPY feature_store feature_store
COPY model model
COPY scoring scoring
COPY policy policy
COPY backtest backtest
COPY record record
COPY cases cases
COPY webhooks webhooks
COPY service service
RUN pip install --no-deps .

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin riskscore
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY model_artifacts/default model_artifacts/default
COPY policies policies
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    RISKSCORE_MODEL_DIR=/app/model_artifacts/default \
    RISKSCORE_POLICY_FILE=/app/policies/default.yaml
USER 10001
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["riskscore", "serve", "--host", "0.0.0.0", "--port", "8000"]
