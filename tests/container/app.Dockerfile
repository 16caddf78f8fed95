# The test app of the pod tests (tests/integration/upstream_app.py) on the
# debootstrap base, with python3 from Debian; it listens on 127.0.0.1 only.
FROM debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/*
COPY upstream_app.py /app/upstream_app.py
USER 65534:65534
ENTRYPOINT ["python3", "/app/upstream_app.py"]
