"""Demo shop: two small services instrumented once with OpenTelemetry.

    python3 shop.py front   # POST /orders {"order_id": "..."} -> calls back, answers with its trace ID
    python3 shop.py back    # GET /stock/<order_id>

The front service opens a custom span ``process_order`` carrying ``order.id``
around its call to the back service. Flask and requests instrumentation create
the server and client spans and carry W3C trace context across the HTTP hop, so
both services' spans belong to one trace. Every request is counted in
``http_requests_total`` by route, method and status code only: an order ID as a
metric label would create one time series per order, so it lives on the span and
in the log record instead. Log records go out through OpenTelemetry too, and
carry the trace and span ID of the request that wrote them.

Everything is configured by the standard OTEL_* environment variables
(OTEL_SERVICE_NAME, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_RESOURCE_ATTRIBUTES, ...)
plus SHOP_LISTEN (host:port) and, for the front service, SHOP_BACK_URL.
"""
from __future__ import annotations

import logging
import os
import sys
import time

import flask
import requests
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

LOG = logging.getLogger("shop")


def setup_telemetry() -> None:
    """Traces, metrics and logs over OTLP/HTTP; the exporters read OTEL_* variables."""
    resource = Resource.create()  # service.name etc. from OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)

    reader = PeriodicExportingMetricReader(OTLPMetricExporter())
    metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=[reader]))

    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    set_logger_provider(logger_provider)
    logging.basicConfig(level=logging.INFO)
    logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))

    RequestsInstrumentor().instrument()


def count_requests(app: flask.Flask) -> None:
    """Count every request by route, method and status: bounded label values only."""
    requests_total = metrics.get_meter("shop").create_counter(
        "http_requests_total", unit="{request}", description="HTTP requests served")

    @app.after_request
    def _count(response: flask.Response) -> flask.Response:
        route = flask.request.url_rule.rule if flask.request.url_rule else "unmatched"
        if route == "/healthz":
            return response
        requests_total.add(1, {"http.route": route, "http.request.method": flask.request.method,
                               "http.response.status_code": response.status_code})
        return response


def front_app(back_url: str) -> flask.Flask:
    app = flask.Flask("shop-front")
    tracer = trace.get_tracer("shop.front")

    @app.post("/orders")
    def take_order():
        order_id = str((flask.request.get_json(silent=True) or {}).get("order_id") or time.time_ns())
        with tracer.start_as_current_span("process_order") as span:
            span.set_attribute("order.id", order_id)
            stock = requests.get(f"{back_url}/stock/{order_id}", timeout=5)
            stock.raise_for_status()
            LOG.info("order %s accepted", order_id, extra={"order.id": order_id})
            trace_id = trace.format_trace_id(span.get_span_context().trace_id)
        return {"order_id": order_id, "trace_id": trace_id, "stock": stock.json()}

    return app


def back_app() -> flask.Flask:
    app = flask.Flask("shop-back")

    @app.get("/stock/<order_id>")
    def check_stock(order_id: str):
        LOG.info("stock reserved for order %s", order_id, extra={"order.id": order_id})
        return {"order_id": order_id, "reserved": True}

    return app


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("front", "back"):
        print(f"usage: {argv[0]} front|back", file=sys.stderr)
        return 2
    setup_telemetry()
    app = front_app(os.environ["SHOP_BACK_URL"]) if argv[1] == "front" else back_app()
    FlaskInstrumentor().instrument_app(app)
    count_requests(app)
    app.add_url_rule("/healthz", "healthz", lambda: "ok")
    host, port = os.environ.get("SHOP_LISTEN", "127.0.0.1:8080").rsplit(":", 1)
    app.run(host=host, port=int(port), threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
