# CollectFlow's one image: `collectflow api`, `collectflow worker`, `collectflow db upgrade`,
# `collectflow setup-temporal` (docker-compose.yml picks the command per service).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, from pyproject.toml alone: a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import subprocess, sys, tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
subprocess.check_call([sys.executable, '-m', 'pip', 'install', *deps])"

# The project itself. Editable, because migrations/ and strategies/ are read from the source
# tree beside the packages (models.settings.PROJECT_ROOT) rather than from site-packages.
COPY . .
RUN pip install --no-deps -e . \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/collectflow collectflow

USER collectflow
ENV COLLECTFLOW_ENV=production \
    COLLECTFLOW_API_HOST=0.0.0.0 \
    COLLECTFLOW_API_PORT=8000 \
    COLLECTFLOW_LOG_JSON=true \
    COLLECTFLOW_DATA_DIR=/var/lib/collectflow

EXPOSE 8000
ENTRYPOINT ["collectflow"]
CMD ["api"]
