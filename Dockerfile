# The ecs-facade operator image: `docker build -t ecs-facade:0.1.0 .`
# (hack/kind-e2e.sh builds it and loads it into kind; the Helm chart runs it.)

# --- build: wheels of the locked dependencies (hashes checked) and of the operator
FROM python:3.12-slim AS build
WORKDIR /src
# the lock files first, so that dependency wheels are cached while code changes;
# pip and setuptools from requirements-build.lock, the dependencies from requirements.lock
# (`make lock`: every package pinned with its sha256), the operator without dependencies
COPY requirements-build.lock requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements-build.lock \
 && pip wheel --no-cache-dir --require-hashes --wheel-dir /wheels -r requirements.lock
COPY pyproject.toml README.md ./
COPY operator ./operator
RUN pip wheel --no-cache-dir --no-deps --no-build-isolation --wheel-dir /wheels .

# --- run: the wheels installed, no compiler, no pip cache, no source tree
FROM python:3.12-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ecs-facade" \
      org.opencontainers.image.description="Amazon ECS task definitions, services, tasks and clusters on Kubernetes" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    --mount=type=bind,from=build,source=/src/requirements.lock,target=/tmp/requirements.lock \
    pip install --no-cache-dir --no-index --find-links=/wheels --require-hashes -r /tmp/requirements.lock \
 && pip install --no-cache-dir --no-index --find-links=/wheels --no-deps ecs-facade \
 && groupadd --system --gid 10001 ecs-facade \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin ecs-facade
# numeric, so that runAsNonRoot can verify it without reading /etc/passwd
USER 10001:10001
EXPOSE 8080 9090
ENTRYPOINT ["ecs-facade", "run"]
