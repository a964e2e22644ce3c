# syntax=docker/dockerfile:1
# The regaudit image: every regaudit command (ENTRYPOINT ["regaudit"]), as uid 10001, with the runtime
# dependencies pinned by deploy/requirements.lock (the runtime part of requirements-dev.lock: `make lock`).
#
#   docker build -t regaudit:0.1.0 .        (docker compose build does the same)
#   docker run --rm regaudit:0.1.0 settings
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# Stage 1: wheels for the pinned dependencies, then regaudit's own wheel. Nothing of this stage but the
# wheels reaches the image.
FROM ${PYTHON_IMAGE} AS wheels
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY deploy/requirements.lock deploy/requirements.lock
RUN pip wheel --wheel-dir /wheels --requirement deploy/requirements.lock
COPY . .
RUN pip wheel --wheel-dir /wheels --no-deps .

# Stage 2: the runtime. The wheels are bind-mounted for the install only, so they take no layer.
FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="regaudit" \
      org.opencontainers.image.description="Audit logging and access analytics for private container registries" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN groupadd --system --gid 10001 regaudit \
 && useradd --system --uid 10001 --gid regaudit --home-dir /home/regaudit --create-home \
      --shell /usr/sbin/nologin regaudit \
 && install -d -o regaudit -g regaudit -m 0750 /var/lib/regaudit /var/lib/regaudit-shipper \
      /var/lib/regaudit-checkpoints
# --no-index: only the wheels built above, i.e. exactly the lock's versions; pip check fails the build if
# the lock no longer satisfies regaudit's requirements.
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    --mount=type=bind,source=deploy/requirements.lock,target=/tmp/requirements.lock \
    pip install --no-index --find-links /wheels --requirement /tmp/requirements.lock regaudit \
 && pip check
USER 10001:10001
WORKDIR /var/lib/regaudit
# The store (/var/lib/regaudit), the shipper's position (/var/lib/regaudit-shipper) and the signed chain
# checkpoints (/var/lib/regaudit-checkpoints) belong on volumes; new named volumes take the ownership of these
# directories.
EXPOSE 8081 8501
ENTRYPOINT ["regaudit"]
CMD ["--help"]
