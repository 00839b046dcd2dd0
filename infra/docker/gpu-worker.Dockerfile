# syntax=docker/dockerfile:1
# The GPU worker on NVIDIA's CUDA runtime image. PyPI's torch wheel carries its own CUDA
# libraries; the host's driver comes in through the NVIDIA container toolkit (or the device
# plugin on Kubernetes). From the repository root:
#   docker build -f infra/docker/gpu-worker.Dockerfile -t proteus/gpu-worker:dev .
# CatVTON's weights are not in the image: the worker fetches them into WORKER_CATVTON_CACHE_DIR
# (or reads a local folder); they are CC BY-NC-SA 4.0, non-commercial (docs/CATVTON.md).

ARG CUDA_IMAGE=nvidia/cuda:12.8.1-runtime-ubuntu24.04
FROM ${CUDA_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app

# dependencies first (torch is gigabytes): a change to the worker's code does not reinstall them
COPY gpu-worker/pyproject.toml gpu-worker/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('gpu-worker/pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
COPY gpu-worker/proteus_worker/ gpu-worker/proteus_worker/
RUN pip install --no-deps ./gpu-worker

# the contract (every Redis key, the event schemas), generated in eventing/
COPY eventing/schemas/ eventing/schemas/
ENV PROTEUS_CONTRACT_DIR=/app/eventing/schemas

RUN groupadd --gid 10001 proteus \
 && useradd --uid 10001 --gid 10001 --create-home --home-dir /home/proteus proteus \
 && mkdir -p /models && chown 10001:10001 /models
USER 10001:10001
ENV HOME=/home/proteus WORKER_HEALTH_HOST=0.0.0.0 WORKER_CATVTON_CACHE_DIR=/models/hf
EXPOSE 8090
CMD ["python", "-m", "proteus_worker"]
