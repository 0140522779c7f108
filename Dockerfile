# One image for web, workers and beat; the command differs per service (docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY labeling ./labeling
COPY active_learning ./active_learning
RUN pip install --no-cache-dir .
COPY . .
RUN DJANGO_SECRET_KEY=build-only-build-only-build-only-xx DJANGO_ALLOWED_HOSTS=x \
    DATABASE_URL=postgres://x@x/x python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "4", "--access-logfile", "-"]
