FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN SECRET_KEY=build PRODUCTION=true DATABASE_URL=postgres://x@localhost/x REDIS_URL=redis://localhost \
    python manage.py collectstatic --noinput
# /app/media: uploads (imports) shared by web and workers through the compose `media` volume.
RUN useradd --system crm && mkdir -p /app/media && chown -R crm /app
USER crm
