# Rungs API + worker image. The GPU workers of docker-compose use the same image with a CUDA torch.
FROM python:3.11-slim

ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX="https://download.pytorch.org/whl/cpu"

RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1 curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# torch first, from the index that matches the image (CPU here; cu12x for the GPU workers)
RUN pip install --no-cache-dir --index-url "$TORCH_INDEX" "$TORCH_SPEC"
COPY pyproject.toml README.md ./
COPY orchestrator orchestrator
COPY trainers trainers
COPY stages stages
COPY dashboards dashboards
COPY search_spaces search_spaces
RUN pip install --no-cache-dir .

ENV RUNGS_HOME=/data RAY_USAGE_STATS_ENABLED=0
VOLUME ["/data"]
EXPOSE 8000
CMD ["rungs", "serve", "--host", "0.0.0.0", "--port", "8000"]
