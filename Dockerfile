# GridWatch services image: `gridwatch ingest`, `gridwatch api`, `gridwatch edge --config ...`.
# The edge runs on ONNX Runtime; build with --build-arg EXTRAS=yolo to add ultralytics (and torch).
# The incident engine runs compiled with mypyc (setup.py, GRIDWATCH_MYPYC=1), as CI tests it
# (tests/unit/test_engine_compiled_output.py): a builder stage with gcc and mypy makes the wheel.

FROM python:3.11-slim AS wheel
ENV PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN pip install "mypy>=1.10" "setuptools>=68" wheel
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY gridwatch gridwatch
COPY edge edge
COPY ingest ingest
COPY detectors detectors
COPY api api
RUN GRIDWATCH_MYPYC=1 pip wheel --no-deps --no-build-isolation --wheel-dir /wheels .

FROM python:3.11-slim
ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 YOLO_OFFLINE=1 \
    GRIDWATCH_MODEL_MANIFEST=/app/models/manifest.yaml
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=wheel /wheels /tmp/wheels
# Fail the build unless the engine runs compiled.
RUN pip install "$(echo /tmp/wheels/gridwatch-*.whl)${EXTRAS:+[$EXTRAS]}" \
    && python -P -c 'from ingest.engine import COMPILABLE; from ingest.engine.compiled import compiled; \
assert len(compiled(COMPILABLE)) == len(COMPILABLE), f"engine not compiled: {compiled(COMPILABLE)}"' \
    && rm -rf /tmp/wheels
COPY configs configs
COPY models models
RUN useradd --system --uid 10001 gridwatch && mkdir -p /var/lib/gridwatch && chown gridwatch /var/lib/gridwatch
USER gridwatch
ENTRYPOINT ["gridwatch"]
CMD ["--help"]
