# MetaHuman OS serverless worker: vLLM in-process behind the RunPod SDK's worker loop.
# Build from the repo root: docker build -f docker/worker.Dockerfile -t <registry>/metahuman-worker:<tag> .
# The base tag matches the vllm pin in handler/requirements.txt, so pip keeps the image's own build.
FROM vllm/vllm-openai:v0.33.0

# The base image's entrypoint is the OpenAI server; this image runs the RunPod handler instead.
ENTRYPOINT []

# Models come from the network volume's Hugging Face cache, never from the internet at cold start.
ENV PYTHONUNBUFFERED=1 \
    ENGINE=vllm \
    HF_HOME=/runpod-volume/huggingface-cache \
    HF_HUB_CACHE=/runpod-volume/huggingface-cache/hub \
    HF_HUB_OFFLINE=1 \
    MAX_MODEL_LEN=8192 \
    GPU_MEMORY_UTILIZATION=0.9 \
    MAX_CONCURRENCY=30

WORKDIR /app
COPY handler/requirements.txt handler/requirements.txt
RUN python3 -m pip install --no-cache-dir -r handler/requirements.txt
COPY handler/ handler/

# Non-root: the worker only reads the volume (model files must be world-readable there);
# vLLM's compile caches go to the worker's own home.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin worker
USER worker
ENV HOME=/home/worker

CMD ["python3", "-u", "handler/handler.py"]
