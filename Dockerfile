# GridWatch services image: `gridwatch ingest`, `gridwatch api`, `gridwatch edge --config ...`.
# The edge runs on ONNX Runtime; build with --build-arg EXTRAS=yolo to add ultralytics (and torch).
FROM python:3.11-slim
ARG EXTRAS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 YOLO_OFFLINE=1
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY gridwatch gridwatch
COPY edge edge
COPY ingest ingest
COPY detectors detectors
COPY api api
RUN pip install ".${EXTRAS:+[$EXTRAS]}"
COPY configs configs
COPY models models
RUN useradd --system --uid 10001 gridwatch && mkdir -p /var/lib/gridwatch && chown gridwatch /var/lib/gridwatch
USER gridwatch
ENTRYPOINT ["gridwatch"]
CMD ["--help"]
