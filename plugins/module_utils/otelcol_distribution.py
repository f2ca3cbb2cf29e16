# -*- coding: utf-8 -*-
# Copyright: observability.lgtm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collector distribution a spec targets: which component types its binary has.

A user's collector is theirs. By default the filter assumes upstream's
otelcol-contrib for 0.159.0; ``spec.distribution`` names another: an
OpenTelemetry Collector Builder (OCB) manifest, the output of
``otelcol-contrib components``, a mapping of kind to type names, or a plain
list of type names (then good for every kind).

Types are matched loosely, the way module paths spell them: case, '_' and the
kind suffix do not count, and the names of renamed types are matched through
their old name (``otlp_grpc`` is the ``otlpexporter`` module).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Optional

from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_facts import COMPONENT_KINDS, canonical_type
from ansible_collections.observability.lgtm.plugins.module_utils.otelcol_spec import Problems, SpecError

# Module names (the last element of each gomod path) of upstream's otelcol-contrib
# distribution at v0.159.0: distributions/otelcol-contrib/manifest.yaml in
# open-telemetry/opentelemetry-collector-releases, tag v0.159.0.
UPSTREAM_CONTRIB_VERSION = "0.159.0"
UPSTREAM_CONTRIB_MODULES: Dict[str, tuple] = {
    "receivers": tuple("""
        activedirectorydsreceiver aerospikereceiver apachereceiver apachesparkreceiver
        awscloudwatchreceiver awscontainerinsightreceiver awsecscontainermetricsreceiver
        awsfirehosereceiver awslambdareceiver awss3receiver awsxrayreceiver azureblobreceiver
        azureeventhubreceiver azuremonitorreceiver carbonreceiver chronyreceiver ciscoosreceiver
        cloudflarereceiver cloudfoundryreceiver collectdreceiver couchdbreceiver datadogreceiver
        dockerstatsreceiver elasticsearchreceiver envoyalsreceiver expvarreceiver faroreceiver
        filelogreceiver filestatsreceiver flinkmetricsreceiver fluentforwardreceiver githubreceiver
        gitlabreceiver googlecloudmonitoringreceiver googlecloudpubsubreceiver
        googlecloudspannerreceiver haproxyreceiver hostmetricsreceiver httpcheckreceiver
        icmpcheckreceiver iisreceiver influxdbreceiver jaegerreceiver journaldreceiver
        k8sclusterreceiver k8seventsreceiver k8sobjectsreceiver kafkametricsreceiver kafkareceiver
        kubeletstatsreceiver libhoneyreceiver lokireceiver macosunifiedloggingreceiver memcachedreceiver
        mongodbatlasreceiver mongodbreceiver mysqlreceiver namedpipereceiver netflowreceiver
        nginxreceiver nopreceiver nsxtreceiver ntpreceiver obi oracledbreceiver otelarrowreceiver
        otlpjsonfilereceiver otlpreceiver podmanreceiver postgresqlreceiver pprofreceiver
        prometheusreceiver prometheusremotewritereceiver pulsarreceiver purefareceiver purefbreceiver
        rabbitmqreceiver receivercreator redisreceiver riakreceiver saphanareceiver
        simpleprometheusreceiver skywalkingreceiver snmpreceiver snowflakereceiver solacereceiver
        splunkenterprisereceiver splunkhecreceiver sqlqueryreceiver sqlserverreceiver sshcheckreceiver
        statsdreceiver stefreceiver syslogreceiver systemdreceiver tcpcheckreceiver tcplogreceiver
        tlscheckreceiver udplogreceiver vcenterreceiver wavefrontreceiver webhookeventreceiver
        windowseventlogreceiver windowsperfcountersreceiver windowsservicereceiver yanggrpcreceiver
        zipkinreceiver zookeeperreceiver
    """.split()),
    "processors": tuple("""
        attributesprocessor batchprocessor cardinalityguardianprocessor coralogixprocessor
        cumulativetodeltaprocessor deltatocumulativeprocessor deltatorateprocessor drainprocessor
        filterprocessor genainormalizerprocessor geoipprocessor groupbyattrsprocessor
        groupbytraceprocessor intervalprocessor isolationforestprocessor k8sattributesprocessor
        logdedupprocessor memorylimiterprocessor metricsgenerationprocessor metricstarttimeprocessor
        metricstransformprocessor probabilisticsamplerprocessor redactionprocessor remotetapprocessor
        resourcedetectionprocessor resourceprocessor schemaprocessor spanprocessor sumologicprocessor
        tailsamplingprocessor transformprocessor unrollprocessor
    """.split()),
    "exporters": tuple("""
        alibabacloudlogserviceexporter awscloudwatchlogsexporter awsemfexporter awskinesisexporter
        awss3exporter awsxrayexporter azureblobexporter azuredataexplorerexporter azuremonitorexporter
        bmchelixexporter cassandraexporter clickhouseexporter coralogixexporter datadogexporter
        datasetexporter debugexporter dorisexporter elasticsearchexporter faroexporter fileexporter
        googlecloudexporter googlecloudpubsubexporter googlecloudstorageexporter
        googlemanagedprometheusexporter honeycombmarkerexporter influxdbexporter kafkaexporter
        loadbalancingexporter logicmonitorexporter logzioexporter mezmoexporter nopexporter
        opensearchexporter otelarrowexporter otlpexporter otlphttpexporter prometheusexporter
        prometheusremotewriteexporter pulsarexporter rabbitmqexporter sentryexporter signalfxexporter
        splunkhecexporter stefexporter sumologicexporter syslogexporter tencentcloudlogserviceexporter
        tinybirdexporter zipkinexporter
    """.split()),
    "connectors": tuple("""
        countconnector datadogconnector exceptionsconnector failoverconnector forwardconnector
        grafanacloudconnector otlpjsonconnector roundrobinconnector routingconnector
        servicegraphconnector signaltometricsconnector spanmetricsconnector sumconnector
    """.split()),
    "extensions": tuple("""
        ackextension asapauthextension awscloudwatchmetricstreamsencodingextension awsiamdbauthextension
        awslogsencodingextension awsproxy azureauthextension azureencodingextension basicauthextension
        bearertokenauthextension cgroupruntimeextension datadogextension dbstorage dockerobserver
        ecsobserver filestorage googleclientauthextension googlecloudlogentryencodingextension
        headerssetterextension healthcheckextension hostobserver httpforwarderextension
        jaegerencodingextension jaegerremotesampling jsonlogencodingextension k8sleaderelector
        k8sobserver oauth2clientauthextension oidcauthextension opampextension otlpencodingextension
        pebbletailstorageextension pprofextension redisstorageextension sigv4authextension
        skywalkingencodingextension sumologicextension textencodingextension zipkinencodingextension
        zpagesextension
    """.split()),
}

# Modules whose type is not their name without the kind suffix.
MODULE_TYPES: Dict[str, str] = {
    "asapauthextension": "asapclient",
    "oidcauthextension": "oidc",
    "oauth2clientauthextension": "oauth2client",
}

# Keys of an OCB manifest (or of `components` output) that list no components.
IGNORED_KEYS = frozenset({
    "dist", "providers", "converters", "replaces", "excludes", "telemetry", "buildinfo", "version", "conf_resolver",
})


def type_key(kind: str, type_name: str) -> str:
    """How a component type is compared: old name of a renamed type, lower case, without '_'."""
    return canonical_type(kind, type_name).lower().replace("_", "").replace("-", "")


def module_key(kind: str, module: str) -> str:
    """The type key of a Go module path or its last element (a version after a space is ignored)."""
    name = module.split()[0].rstrip("/").rsplit("/", 1)[-1].lower()
    if name in MODULE_TYPES:
        return type_key(kind, MODULE_TYPES[name])
    suffix = kind[:-1]
    if name.endswith(suffix) and len(name) > len(suffix):
        name = name[:-len(suffix)]
    return name.replace("_", "").replace("-", "")


@dataclass(frozen=True)
class Distribution:
    """The component types of one collector build, per kind."""

    # kind -> type keys (see type_key)
    keys: Dict[str, FrozenSet[str]]
    # Where the list comes from, for messages.
    source: str
    # kind -> the listed names, for messages.
    names: Dict[str, List[str]] = field(default_factory=dict)

    def has(self, kind: str, type_name: str) -> bool:
        """Whether the build has a component of this kind and type."""
        return type_key(kind, type_name) in self.keys.get(kind, frozenset())

    def accepted(self, kind: str) -> Optional[str]:
        """The listed names of a kind, for a message; None when the list is too long to print."""
        names = self.names.get(kind, [])
        return ", ".join(sorted(names)) if len(names) <= 40 else None


def upstream_contrib() -> Distribution:
    """Upstream's otelcol-contrib distribution, the default."""
    keys = {kind: frozenset(module_key(kind, module) for module in modules)
            for kind, modules in UPSTREAM_CONTRIB_MODULES.items()}
    return Distribution(keys, f"upstream otelcol-contrib {UPSTREAM_CONTRIB_VERSION}, the default; give "
                              f"spec.distribution for another build", {})


def entry_key(kind: str, entry: Any, path: str) -> str:
    """One listed component: a type name, a module path, {gomod: ...} (OCB) or {name: ...} (components)."""
    if isinstance(entry, Mapping):
        if isinstance(entry.get("gomod"), str) and entry["gomod"].strip():
            return module_key(kind, entry["gomod"])
        if isinstance(entry.get("name"), str) and entry["name"].strip():
            return type_key(kind, entry["name"])
        raise SpecError(f"{path}: expected a type name, a module path or a mapping with 'gomod' (an OCB "
                        f"manifest entry) or 'name', got {entry!r}")
    if not isinstance(entry, str) or not entry.strip():
        raise SpecError(f"{path}: expected a type name, a module path or a mapping with 'gomod' or 'name', got "
                        f"{entry!r}")
    return module_key(kind, entry) if "/" in entry or " " in entry.strip() else type_key(kind, entry)


def read_distribution(value: Any, path: str) -> Distribution:
    """spec.distribution: an OCB manifest, `components` output, kind -> names, or a plain list of names."""
    problems = Problems()
    if isinstance(value, list):
        keys = frozenset(key for key in (problems.attempt(entry_key, "components", entry, f"{path}[{index}]")
                                         for index, entry in enumerate(value)) if key)
        problems.raise_if_any()
        names = [str(entry) for entry in value if isinstance(entry, str)]
        return Distribution({kind: keys for kind in COMPONENT_KINDS}, path, {kind: names for kind in COMPONENT_KINDS})
    if not isinstance(value, Mapping):
        raise SpecError(f"{path}: expected an OCB manifest (a mapping with receivers, processors, exporters, "
                        f"connectors, extensions), a mapping of those kinds to type names, or a list of type names; "
                        f"got {type(value).__name__}")
    result: Dict[str, FrozenSet[str]] = {}
    names: Dict[str, List[str]] = {}
    for key, entries in value.items():
        if key in IGNORED_KEYS:
            continue
        if key not in COMPONENT_KINDS:
            problems.add(f"{path}.{key}: unknown key; accepted keys: {', '.join(COMPONENT_KINDS)} (and the other "
                         f"keys of an OCB manifest, which are ignored)")
            continue
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            problems.add(f"{path}.{key}: expected a list, got {type(entries).__name__}")
            continue
        found = [problems.attempt(entry_key, key, entry, f"{path}.{key}[{index}]")
                 for index, entry in enumerate(entries)]
        result[key] = frozenset(item for item in found if item)
        names[key] = sorted(set(item for item in found if item))
    problems.raise_if_any()
    return Distribution(result, path, names)


UPSTREAM_CONTRIB = upstream_contrib()
