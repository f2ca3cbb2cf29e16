"""lab/k8s/images.py: where the stack's binaries land in the lab images and
what the images are called. Nothing here builds an image."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "lab"))
from k8s import images  # noqa: E402  (lab/ is not a package)


def test_files_land_where_the_base_links_point():
    links = {"bin": "usr/bin", "lib": "usr/lib"}
    assert images.in_base("/bin/prometheus", links) == "usr/bin/prometheus"
    assert images.in_base("/cmd/jaeger/jaeger-linux", links) == "cmd/jaeger/jaeger-linux"
    assert images.in_base("/otelcol-contrib", links) == "otelcol-contrib"


def test_image_names_render_from_the_role_defaults():
    """Whatever the roles' `<role>_image` default says is the name the lab gives
    the image: upstream's name and tag."""
    defaults = {role: yaml.safe_load((REPO / "roles" / role / "defaults" / "main.yml").read_text())
                for role in images.IMAGE_SPECS}
    versions = {role: values.get(f"{role}_version") for role, values in defaults.items()}
    assert images.image_ref("otel_collector") == \
        f"docker.io/otel/opentelemetry-collector-contrib:{versions['otel_collector']}"
    assert images.image_ref("jaeger") == f"docker.io/jaegertracing/jaeger:{versions['jaeger']}"
    assert images.image_ref("prometheus") == f"docker.io/prom/prometheus:v{versions['prometheus']}"
    assert images.image_ref("victorialogs") == \
        f"docker.io/victoriametrics/victoria-logs:v{versions['victorialogs']}"
    assert images.image_ref("demo_shop") == \
        f"docker.io/observability-lgtm/demo-shop:{defaults['demo_shop']['demo_shop_image_tag']}"


def test_image_specs_put_binaries_at_upstreams_paths():
    specs = images.IMAGE_SPECS
    assert specs["otel_collector"].files["otelcol-contrib"] == "/otelcol-contrib"
    assert specs["jaeger"].files["jaeger"] == "/cmd/jaeger/jaeger-linux"
    assert specs["prometheus"].files["prometheus"] == "/bin/prometheus"
    assert specs["prometheus"].files["promtool"] == "/bin/promtool"
    assert specs["victorialogs"].files["victoria-logs-prod"] == "/victoria-logs-prod"
    assert specs["demo_shop"].config["Entrypoint"] == ["python3", "/app/shop.py"]
