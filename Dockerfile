# One image for every process of the product: the bot (webhook replicas, migrate, set-webhook)
# and the simulated linking backend. compose.yaml chooses the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/venv/bin:$PATH
WORKDIR /app

# The same install as scripts/setup.sh: every dependency from the hashed lock (pip and setuptools
# included), then the project without dependencies. The lock layer is rebuilt only when it changes.
COPY requirements.lock ./
RUN python -m venv /venv \
    && /venv/bin/python -m pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md alembic.ini ./
COPY bot ./bot
COPY services ./services
RUN /venv/bin/python -m pip install --no-deps --no-build-isolation -e . \
    && useradd --system --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin app \
    && mkdir /data && chown app /data

# Never root: the code is root's and read-only for the process; /data is its only writable place.
USER app
EXPOSE 8088
CMD ["python", "-m", "bot", "--webhook"]
