# One image for web, workers and beat; the command differs per service (docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY labeling ./labeling
COPY active_learning ./active_learning
COPY training_recipe ./training_recipe
# torch first, pinned (a bare requirement pulls the newest build with gigabytes of CUDA wheels);
# TORCH_INDEX picks the build: the CPU one by default, a CUDA one for GPU workers, e.g.
#   docker build --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
RUN pip install --no-cache-dir torch==2.13.0 --index-url "$TORCH_INDEX" \
    && pip install --no-cache-dir ".[ml]"
COPY . .
RUN DJANGO_SECRET_KEY=build-only-not-a-secret-build-only-not-a-secret-0123456789 \
    DJANGO_ALLOWED_HOSTS=x \
    DATABASE_URL=postgres://x@x/x python manage.py collectstatic --noinput
EXPOSE 8000
# Threads per process: most of a request is waiting for PostgreSQL (docs/operators.md, sizing).
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", \
     "--workers", "2", "--threads", "4", "--access-logfile", "-"]
