FROM python:3.11-slim-bookworm

# wkhtmltopdf renders certificates, poppler-utils their PNG previews; fonts-noto-core draws
# Devanagari and most other scripts.
RUN apt-get update \
 && apt-get install -y --no-install-recommends wkhtmltopdf poppler-utils fonts-noto-core curl \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY lms.py ./
COPY lms ./lms
COPY views ./views
COPY certs ./certs

RUN useradd --system --create-home --uid 10001 lms && mkdir -p /data && chown lms /data
USER lms

# MONGODB_URI, LMS_SECRET_KEY and LMS_PUBLIC_URL come from the environment in production.
ENV HOST=0.0.0.0 PORT=8080 LMS_ENV=production LMS_DATA_DIR=/data PYTHONUNBUFFERED=1
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${PORT}/api/health" || exit 1
STOPSIGNAL SIGTERM
CMD ["python", "lms.py", "serve"]
