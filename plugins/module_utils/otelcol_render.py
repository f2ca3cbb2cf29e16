# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage 4, render: the collector configuration for a typed ``Spec``.

Rendering builds new data only: it never changes the ``Spec`` it is given (values
taken from it are copied).
"""

from __future__ import annotations

import base64
import copy
from typing import Tuple

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_render_host import (
    file_storage_extension, offsets_extensions, receiver_rendered_id, render_host_receiver, render_resource_detection,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import (
    BackendSpec, Config, ConnectorSpec, KubernetesSpec, PipelineSpec, ReceiverSpec, SamplingSpec, Spec, TlsSpec,
)
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import (
    BACKEND_TYPES, LOAD_BALANCING_ROUTING, backend_exporter_id, backend_protocol, connector_rendered_id,
    BATCH_DEFAULT_SIZES, component_id_of, disk_queue_share_bytes, exporters_batch_themselves, has_remote_write_queue,
    intake_addresses, intake_pipelines,
    k8s_attributes_id, persistent_queue_applies, resource_detection_id, versioned_type, waiting_backends,
)

PERSISTENT_QUEUE_STORAGE_ID = "file_storage/queue"


def id_suffix(text: str) -> str:
    """Turn a pipeline id like 'traces/sampled' into a component name 'traces_sampled'."""
    return text.replace("/", "_")


def render_tls_client(tls: TlsSpec) -> Config:
    """Client TLS settings of an exporter."""
    rendered: Config = {}
    for key in ("ca_file", "cert_file", "key_file", "server_name"):
        value = getattr(tls, key)
        if value is not None:
            rendered[key if key != "server_name" else "server_name_override"] = value
    if tls.insecure_skip_verify:
        rendered["insecure_skip_verify"] = True
    return rendered


def backend_endpoint(backend: BackendSpec) -> str:
    """The endpoint a backend's exporter sends to."""
    if backend.endpoint is not None:
        return backend.endpoint
    protocol = BACKEND_TYPES[backend.type].protocols[backend.protocol]
    port = backend.port or protocol.port
    if protocol.is_grpc:
        return f"{backend.host}:{port}"
    scheme = "https" if backend.tls.enabled else "http"
    return f"{scheme}://{backend.host}:{port}{protocol.path}"


def render_sending_queue(spec: Spec, backend: BackendSpec) -> Config:
    """The exporterhelper sending queue of a backend's exporter, with batching from spec.batch."""
    return render_queue(spec, backend.queue_size, persistent_queue_applies(spec, backend),
                        waits=backend.name in waiting_backends(spec))


def render_queue(spec: Spec, queue_size: int, on_disk: bool, waits: bool = False) -> Config:
    """An exporterhelper sending queue: on disk or in memory, batching from spec.batch.

    On disk and bounded in bytes, a full queue refuses new data with a retryable error, which
    the receiver hands to the sender as "unavailable"; what it accepted stays until delivered.
    Behind an intake (``waits``) it waits for room instead (``block_on_overflow``): its
    pipeline's other consumers have taken the request already, and a refusal would have the
    intake resend it to them all.
    """
    queue: Config = {"enabled": True, "num_consumers": 10, "queue_size": queue_size}
    if on_disk:
        queue["storage"] = PERSISTENT_QUEUE_STORAGE_ID
        share = disk_queue_share_bytes(spec)
        if share is not None:
            queue.update(sizer="bytes", queue_size=share)
            if waits:
                queue["block_on_overflow"] = True
    if exporters_batch_themselves(spec.version):
        # The batch keeps its own sizer (bytes by default: each request within what an OTLP/gRPC
        # backend takes); where it is the queue's too, lint bounds min_size by the queue's share.
        queue["batch"] = {
            "flush_timeout": spec.batch.flush_timeout,
            "sizer": spec.batch.sizer,
            "min_size": spec.batch.min_size,
            "max_size": spec.batch.max_size,
        }
    return queue


RETRY_ON_FAILURE: Config = {
    "enabled": True,
    "initial_interval": "5s",
    "max_interval": "30s",
    "max_elapsed_time": "300s",
}
# With the queue on disk, a request is retried until the backend takes it: the
# exporter helper drops a request once max_elapsed_time has passed ("If set to 0,
# the retries are never stopped"), persistent queue or not, so any cap would lose
# an outage longer than it. The disk queue holds what waits meanwhile.
RETRY_UNTIL_STORED = "0s"


def render_retry_on_failure(spec: Spec, backend: BackendSpec) -> Config:
    """A backend's exporter retries: capped in time in memory, until stored on disk."""
    retry = dict(RETRY_ON_FAILURE)
    if persistent_queue_applies(spec, backend):
        retry["max_elapsed_time"] = RETRY_UNTIL_STORED
    return retry


def uses_basicauth_extension(spec: Spec) -> bool:
    """Whether the target collector build has the basicauth extension (upstream's contrib does)."""
    return spec.distribution is not None and spec.distribution.has("extensions", "basicauth")


def basicauth_id(backend: BackendSpec) -> str:
    """The id of a backend's basicauth extension."""
    return f"basicauth/{id_suffix(backend.name)}"


def render_exporter(spec: Spec, backend: BackendSpec, signal: str = "") -> Config:
    """A backend's exporter (a load-balanced backend's for one signal)."""
    protocol = backend_protocol(backend)
    if protocol is None:
        return {"verbosity": backend.verbosity}
    if backend.load_balancing is not None:
        return render_load_balancing(spec, backend, signal)
    return render_network_exporter(spec, backend)


def render_connection(spec: Spec, backend: BackendSpec) -> Config:
    """How a network backend's exporter reaches it: timeout, TLS and credentials (no endpoint)."""
    protocol = backend_protocol(backend)
    if protocol is None:
        raise ValueError(f"{backend.path}: a debug backend has no network exporter")
    connection: Config = {"timeout": backend.timeout}
    tls_settings = render_tls_client(backend.tls)
    if protocol.is_grpc and not backend.tls.enabled:
        connection["tls"] = {"insecure": True}
    elif backend.tls.enabled and tls_settings:
        connection["tls"] = tls_settings
    headers = dict(backend.headers)
    if backend.auth is not None and uses_basicauth_extension(spec):
        connection["auth"] = {"authenticator": basicauth_id(backend)}
    elif backend.auth is not None:
        # A build without the basicauth extension (the lab's, say) gets the
        # header that extension would send.
        credentials = base64.b64encode(f"{backend.auth[0]}:{backend.auth[1]}".encode("utf-8")).decode("ascii")
        headers["Authorization"] = f"Basic {credentials}"
    if headers:
        connection["headers"] = headers
    return connection


def render_network_exporter(spec: Spec, backend: BackendSpec) -> Config:
    """A network backend's exporter: endpoint, connection, retries and queue."""
    exporter: Config = {"endpoint": backend_endpoint(backend), **render_connection(spec, backend)}
    exporter["retry_on_failure"] = render_retry_on_failure(spec, backend)
    if has_remote_write_queue(backend):
        # prometheusremotewrite has no exporterhelper sending_queue; its
        # remote_write_queue plays the same role.
        exporter["remote_write_queue"] = {"enabled": True, "queue_size": backend.queue_size, "num_consumers": 5}
    else:
        exporter["sending_queue"] = render_sending_queue(spec, backend)
    return exporter


def render_load_balancing(spec: Spec, backend: BackendSpec, signal: str) -> Config:
    """A load-balanced backend's exporter for one signal: the queue and the retries at the top,
    where they outlive the collectors behind it; none in the OTLP exporter it makes per collector.

    Upstream runs one OTLP exporter per resolved collector and gives those no disk queue; one
    that queued in memory or retried by itself would report success for what it held, and what it
    held would go with it when its collector leaves the list (a pod deleted, a host removed). So a
    failure goes straight back to this exporter's queue, which retries it, routed afresh, until
    the collectors take it. A request split over several collectors is retried whole: the ones
    that took their part get it again (counted as duplicates by the lab's proofs).
    """
    balancing = backend.load_balancing
    if balancing is None:
        raise ValueError(f"{backend.path}: not a load-balanced backend")
    otlp = dict(render_connection(spec, backend), sending_queue={"enabled": False},
                retry_on_failure={"enabled": False})
    if balancing.dns is not None:
        address, port = balancing.dns.rsplit(":", 1)
        hostname = address.strip("[]")
        if backend.tls.enabled and backend.tls.server_name is None:
            # Each connection goes to an address the name resolved to: the certificate is checked
            # against the name, as for a sender that connects by name.
            otlp["tls"] = dict(otlp.get("tls", {}), server_name_override=hostname)
        resolver: Config = {"dns": {"hostname": hostname, "port": port, "interval": balancing.interval}}
    else:
        resolver = {"static": {"hostnames": list(balancing.static)}}
    return {
        "routing_key": LOAD_BALANCING_ROUTING[signal],
        "protocol": {"otlp": otlp},
        "resolver": resolver,
        "timeout": backend.timeout,
        "retry_on_failure": render_retry_on_failure(spec, backend),
        "sending_queue": render_sending_queue(spec, backend),
    }


def bearertokenauth_id(receiver: ReceiverSpec) -> str:
    """The id of the bearertokenauth extension that guards a receiver."""
    return f"bearertokenauth/{id_suffix(receiver.component_id)}"


def render_receiver(receiver: ReceiverSpec) -> Config:
    """A receiver."""
    if receiver.type == "prometheus":
        return {"config": {"scrape_configs": copy.deepcopy(receiver.scrape_configs)}}
    host = render_host_receiver(receiver)
    if host is not None:
        return host
    protocols: Config = {}
    for protocol_name in ("grpc", "http"):
        address = getattr(receiver, protocol_name)
        if address is None:
            continue
        protocol: Config = {"endpoint": address.text}
        if receiver.tls is not None and receiver.tls.enabled:
            protocol["tls"] = {key: value for key, value in (
                ("cert_file", receiver.tls.cert_file), ("key_file", receiver.tls.key_file),
                ("client_ca_file", receiver.tls.ca_file)) if value is not None}
        if receiver.bearer_tokens:
            protocol["auth"] = {"authenticator": bearertokenauth_id(receiver)}
        protocols[protocol_name] = protocol
    return {"protocols": protocols}


def render_connector(connector: ConnectorSpec) -> Config:
    """A connector."""
    if connector.type == "spanmetrics":
        rendered: Config = {"dimensions": [{"name": name} for name in connector.dimensions]}
        if connector.histogram_buckets:
            rendered["histogram"] = {"explicit": {"buckets": list(connector.histogram_buckets)}}
        if connector.metrics_flush_interval:
            rendered["metrics_flush_interval"] = connector.metrics_flush_interval
        return rendered
    if connector.type == "servicegraph":
        rendered = {"dimensions": list(connector.dimensions)}
        store: Config = {}
        if connector.store_ttl:
            store["ttl"] = connector.store_ttl
        if connector.store_max_items:
            store["max_items"] = connector.store_max_items
        if store:
            rendered["store"] = store
        return rendered
    return {}


def sampler_id(pipeline: PipelineSpec) -> str:
    """The id of the sampling processor rendered for a pipeline with sampling."""
    kind = pipeline.sampling.kind if pipeline.sampling is not None else "probabilistic"
    prefix = "probabilistic_sampler" if kind == "probabilistic" else "tail_sampling"
    return f"{prefix}/{id_suffix(pipeline.pipeline_id)}"


def render_sampler(pipeline: PipelineSpec) -> Tuple[str, Config]:
    """The sampling processor of a pipeline: its id and its settings (copied from the spec)."""
    sampling = pipeline.sampling or SamplingSpec(kind="probabilistic")
    if sampling.kind == "probabilistic":
        return sampler_id(pipeline), {"sampling_percentage": sampling.percentage}
    return sampler_id(pipeline), {
        "decision_wait": sampling.decision_wait,
        "num_traces": sampling.num_traces,
        "policies": copy.deepcopy(sampling.policies),
    }


def render_k8s_attributes(kubernetes: KubernetesSpec) -> Config:
    """The agent's k8sattributes processor: its node's pods only, the metadata asked for."""
    return {
        "auth_type": "serviceAccount",
        # Each agent watches only the pods of its own node (the downward API's spec.nodeName).
        "filter": {"node_from_env_var": kubernetes.node_name_env},
        "extract": {"metadata": list(kubernetes.metadata)},
        # The sending pod: by the address or UID its SDK put in the resource,
        # else by the connection's address (pods send straight to their node's agent).
        "pod_association": [
            {"sources": [{"from": "resource_attribute", "name": "k8s.pod.ip"}]},
            {"sources": [{"from": "resource_attribute", "name": "k8s.pod.uid"}]},
            {"sources": [{"from": "connection"}]},
        ],
    }


def rendered_id_for(spec: Spec, name: str, signal: str = "") -> str:
    """Map a name used in spec.pipelines (of that signal) to the component id in the rendered config."""
    if name in spec.backends:
        return backend_exporter_id(spec.backends[name], spec.version, signal)
    if name in spec.connectors:
        return connector_rendered_id(spec.connectors[name], spec.version)
    if name in spec.receivers:
        return receiver_rendered_id(spec.receivers[name], spec.version)
    return name  # an exporter defined in spec.overrides.exporters


def render_pipeline(spec: Spec, pipeline: PipelineSpec) -> Config:
    """Processor order: memory_limiter, k8sattributes (agent), resourcedetection, resource, extra processors,
    sampler, batch.

    memory_limiter must see data first so it can refuse it under pressure; the
    agent tags the data with its pod next, so that every later processor can
    use the pod's attributes; the host's own attributes come next, before the
    spec's resource attributes (which may set the same keys); the extra processors (filters, attribute edits)
    run before sampling so dropped data is never sampled; batching comes last,
    after sampling and filtering, so batches hold only data that will be sent.
    """
    order = ["memory_limiter"]
    if spec.agent is not None:
        order.append(k8s_attributes_id(spec.version))
    if spec.resource_detection is not None and spec.resource_detection.applies_to(pipeline.pipeline_id):
        order.append(resource_detection_id(spec.version))
    if spec.resource_attributes:
        order.append("resource")
    order.extend(pipeline.extra_processors)
    if pipeline.sampling is not None:
        order.append(sampler_id(pipeline))
    if not exporters_batch_themselves(spec.version):
        order.append("batch")
    exporters = [rendered_id_for(spec, name, pipeline.signal) for name in pipeline.exporters]
    if pipeline.pipeline_id in intake_pipelines(spec):
        exporters = [intake_exporter_id(spec, pipeline.pipeline_id)]
    return {
        "receivers": [rendered_id_for(spec, name) for name in pipeline.receivers],
        "processors": order,
        "exporters": exporters,
    }


# The request the intake hands on waits while the queues behind it are full; a timeout would hand it
# back after the pipeline's connectors had counted it, and the intake would send it again. So the
# hop's timeout outlasts any outage the queues are sized for (a year).
INTAKE_TIMEOUT = "8760h"
# The intake's exporter batches what it reads back from its disk queue by size, whatever spec.batch
# says: each request it hands on holds at least 1 MiB (or what arrived within spec.batch.flush_timeout)
# and at most 4 MiB (a backend's default batch in bytes), whatever the size of a span. Batched by count
# instead, a batch of large spans read back at disk speed grew past the collector's memory budget (the
# reliability scenario's burst of 1 MiB spans: OOM-killed).
INTAKE_BATCH_BYTES = dict(zip(("min_size", "max_size"), BATCH_DEFAULT_SIZES["bytes"]))
# How many requests the intake hands on at once, each a few copies of up to 4 MiB in flight (read back,
# batched, marshalled, received, handed to the queues behind). The reliability scenario's burst of 1 MiB
# spans (memory limit 200 MiB, cap 250 MiB) peaked at 229 MiB of anonymous memory with the exporter
# helper's default of 10, at 194 MiB with 2. The queues behind the hop take a request at disk speed.
INTAKE_CONSUMERS = 2
# The receiver behind it takes any request the batch may hand on: a single item (a span, a log record)
# larger than the batch's max_size is sent alone.
INTAKE_MAX_MESSAGE_MIB = 512


def intake_name(pipeline_id: str) -> str:
    """The name of a pipeline's intake exporter and receiver: 'traces/sampled' -> 'intake_traces_sampled'."""
    return f"intake_{id_suffix(pipeline_id)}"


def intake_exporter_id(spec: Spec, pipeline_id: str) -> str:
    """The id of the OTLP exporter a pipeline hands its requests to, through the intake's queue."""
    return component_id_of(versioned_type("exporters", "otlp", spec.version), intake_name(pipeline_id))


def intake_receiver_id(pipeline_id: str) -> str:
    """The id of the loopback OTLP receiver that takes a pipeline's requests from its intake."""
    return component_id_of("otlp", intake_name(pipeline_id))


def fan_out_pipeline_id(pipeline_id: str) -> str:
    """The pipeline behind an intake, which fans out: 'traces' -> 'traces/fan_out',
    'traces/sampled' -> 'traces/sampled_fan_out'."""
    return f"{pipeline_id}_fan_out" if "/" in pipeline_id else f"{pipeline_id}/fan_out"


def render_intake(spec: Spec) -> Tuple[Config, Config, Config]:
    """The intakes: their exporters, their receivers and the pipelines behind them (each fans out).

    The pipeline keeps its receivers and processors and exports to its intake alone: an OTLP
    exporter with a disk queue of its own share, retrying until taken, over loopback without
    compression to a receiver whose pipeline hands each request to the original consumers.
    """
    exporters: Config = {}
    receivers: Config = {}
    pipelines: Config = {}
    for pipeline_id, address in intake_addresses(spec).items():
        endpoint = address.text
        exporters[intake_exporter_id(spec, pipeline_id)] = {
            "endpoint": endpoint, "tls": {"insecure": True}, "compression": "none", "timeout": INTAKE_TIMEOUT,
            "retry_on_failure": dict(RETRY_ON_FAILURE, max_elapsed_time=RETRY_UNTIL_STORED),
            # Only with a bound in bytes (otelcol_read_queue): its share replaces the size given here.
            "sending_queue": dict(render_queue(spec, 0, on_disk=True), num_consumers=INTAKE_CONSUMERS, batch={
                "flush_timeout": spec.batch.flush_timeout, "sizer": "bytes", **INTAKE_BATCH_BYTES}),
        }
        receivers[intake_receiver_id(pipeline_id)] = {"protocols": {"grpc": {
            "endpoint": endpoint, "max_recv_msg_size_mib": INTAKE_MAX_MESSAGE_MIB}}}
        pipeline = spec.pipelines[pipeline_id]
        pipelines[fan_out_pipeline_id(pipeline_id)] = {
            "receivers": [intake_receiver_id(pipeline_id)],
            # Under memory pressure it refuses ahead of the fan-out too: the intake retries.
            "processors": ["memory_limiter"],
            "exporters": [rendered_id_for(spec, name, pipeline.signal) for name in pipeline.exporters],
        }
    return exporters, receivers, pipelines


def render_exporters(spec: Spec) -> Config:
    """Every backend's exporter; a load-balanced backend's once per signal that exports to it."""
    exporters: Config = {}
    for backend in spec.backends.values():
        signals = [""]
        if backend.load_balancing is not None:
            signals = sorted({pipeline.signal for pipeline in spec.pipelines.values()
                              if backend.name in pipeline.exporters})
        for signal in signals:
            exporters[backend_exporter_id(backend, spec.version, signal)] = render_exporter(spec, backend, signal)
    return exporters


def render(spec: Spec) -> Config:
    """The collector configuration of a spec, before overrides."""
    processors: Config = {
        "memory_limiter": {
            "check_interval": spec.memory.check_interval,
            "limit_mib": spec.memory.limit_mib,
            "spike_limit_mib": spec.memory.spike_limit_mib,
        },
    }
    if spec.agent is not None:
        processors[k8s_attributes_id(spec.version)] = render_k8s_attributes(spec.agent)
    if spec.resource_detection is not None:
        processors[resource_detection_id(spec.version)] = render_resource_detection(spec.resource_detection)
    if spec.resource_attributes:
        processors["resource"] = {"attributes": [
            {"key": key, "value": value, "action": "upsert"} for key, value in spec.resource_attributes.items()]}
    for name, config in spec.processors.items():
        processors[name] = copy.deepcopy(config)
    if not exporters_batch_themselves(spec.version):
        processors["batch"] = {"timeout": spec.batch.flush_timeout, "send_batch_size": spec.batch.min_size,
                               "send_batch_max_size": spec.batch.max_size}

    for pipeline in spec.pipelines.values():
        if pipeline.sampling is not None:
            sampler_id, sampler_config = render_sampler(pipeline)
            processors[sampler_id] = sampler_config
    pipelines = {pipeline_id: render_pipeline(spec, pipeline)
                 for pipeline_id, pipeline in spec.pipelines.items()}
    intake_exporters, intake_receivers, fan_out_pipelines = render_intake(spec)
    pipelines.update(fan_out_pipelines)

    extensions: Config = {"health_check": {"endpoint": spec.health_check.text}}
    if spec.persistent_queue_directory is not None and any(
            persistent_queue_applies(spec, backend) for backend in spec.backends.values()):
        extensions[PERSISTENT_QUEUE_STORAGE_ID] = file_storage_extension(spec.persistent_queue_directory)
    extensions.update(offsets_extensions(spec))
    if uses_basicauth_extension(spec):
        for backend in spec.backends.values():
            if backend.auth is not None:
                extensions[basicauth_id(backend)] = {
                    "client_auth": {"username": backend.auth[0], "password": backend.auth[1]}}
    for receiver in spec.receivers.values():
        if receiver.bearer_tokens:
            extensions[bearertokenauth_id(receiver)] = {"scheme": "Bearer", "tokens": list(receiver.bearer_tokens)}
    if spec.pprof is not None:
        extensions["pprof"] = {"endpoint": spec.pprof.text}
    if spec.zpages is not None:
        extensions["zpages"] = {"endpoint": spec.zpages.text}

    return {
        "receivers": {**{receiver_rendered_id(receiver, spec.version): render_receiver(receiver)
                         for receiver in spec.receivers.values()}, **intake_receivers},
        "processors": processors,
        "exporters": {**render_exporters(spec), **intake_exporters},
        "connectors": {connector_rendered_id(connector, spec.version): render_connector(connector)
                       for connector in spec.connectors.values()},
        "extensions": extensions,
        "service": {
            "extensions": list(extensions),
            "pipelines": pipelines,
            "telemetry": {
                "logs": {"level": spec.log_level},
                "metrics": {
                    "level": spec.telemetry_metrics_level,
                    "readers": [{"pull": {"exporter": {"prometheus": {
                        "host": spec.telemetry_metrics.host,
                        "port": spec.telemetry_metrics.port,
                    }}}}],
                },
            },
        },
    }
