"""core/v1 types: Namespace, Pod, Binding, Node, Service, Endpoints, ConfigMap, Secret, Event.

Field names, JSON names and patch merge keys follow ``k8s.io/api/core/v1/types.go``; the
defaults follow ``pkg/apis/core/v1/defaults.go`` (see ``minik8s/api/base.py`` for the
conventions). Three kinds of value are filled in on validation:

* a default Kubernetes' defaulting sets: a field default, or a model validator when it
  depends on another field (``imagePullPolicy`` on the image tag, ``targetPort`` on ``port``);
* a zero value Go always writes because the field has no ``omitempty`` (``restartCount: 0``,
  ``resources: {}``, ``status: {}``), so the JSON has the shape clients expect;
* the canonical form of every quantity (``0.5`` → ``500m``), as Kubernetes stores it.

Rarely used corners (CSI and cloud volume sources, ephemeral containers, ...) are typed as
``dict[str, Any]``: kept as given, never flagged unknown.
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from minik8s import quantity
from minik8s.api.base import IntOrString, K8sModel, merge_key, set_strategy
from minik8s.api.meta import Condition, LabelSelector, ListMeta, ObjectMeta

Dict = dict[str, Any]

# Quantities are strings in canonical form; a number (YAML ``cpu: 1``) is accepted too, as
# Kubernetes' Quantity unmarshaller accepts it.
Quantity = Annotated[str, BeforeValidator(quantity.canonicalize)]
# Every value of a ResourceList is also rounded up to a thousandth (SetDefaults_ResourceList).
ResourceList = dict[str, Annotated[str, BeforeValidator(functools.partial(quantity.canonicalize, milli=True))]]


def _alias(alias: str, default: Any = None) -> Any:
    """A field whose JSON name is not the plain camelCase of its Python name (``podIP``)."""
    return Field(default=default, alias=alias)


# --- references and selectors ---------------------------------------------------------------

class ObjectReference(K8sModel):
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    api_version: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class LocalObjectReference(K8sModel):
    name: str | None = None


class ObjectFieldSelector(K8sModel):
    api_version: str = "v1"
    field_path: str


class ResourceFieldSelector(K8sModel):
    container_name: str | None = None
    resource: str
    divisor: Quantity | None = None


class ConfigMapKeySelector(K8sModel):
    name: str | None = None
    key: str
    optional: bool | None = None


class SecretKeySelector(K8sModel):
    name: str | None = None
    key: str
    optional: bool | None = None


# --- volumes --------------------------------------------------------------------------------

class KeyToPath(K8sModel):
    key: str
    path: str
    mode: int | None = None


class EmptyDirVolumeSource(K8sModel):
    medium: str | None = None
    size_limit: Quantity | None = None


class HostPathVolumeSource(K8sModel):
    path: str
    type: str = ""  # HostPathUnset: no check before mounting


class ConfigMapVolumeSource(K8sModel):
    name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: int = 0o644
    optional: bool | None = None


class SecretVolumeSource(K8sModel):
    secret_name: str | None = None
    items: list[KeyToPath] | None = None
    default_mode: int = 0o644
    optional: bool | None = None


class PersistentVolumeClaimVolumeSource(K8sModel):
    claim_name: str
    read_only: bool | None = None


class DownwardAPIVolumeFile(K8sModel):
    path: str
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    mode: int | None = None


class DownwardAPIVolumeSource(K8sModel):
    items: list[DownwardAPIVolumeFile] | None = None
    default_mode: int = 0o644


class ProjectedVolumeSource(K8sModel):
    sources: list[Dict] | None = None
    default_mode: int = 0o644


# Volume sources minik8s does not act on, kept verbatim.
_OTHER_VOLUME_SOURCES = (
    "gce_persistent_disk", "aws_elastic_block_store", "git_repo", "nfs", "iscsi", "glusterfs",
    "rbd", "flex_volume", "cinder", "cephfs", "flocker", "fc", "azure_file", "vsphere_volume",
    "quobyte", "azure_disk", "photon_persistent_disk", "portworx_volume", "scale_io",
    "storageos", "csi", "ephemeral", "image",
)
_TYPED_VOLUME_SOURCES = (
    "empty_dir", "host_path", "config_map", "secret", "persistent_volume_claim", "downward_api",
    "projected",
)


class Volume(K8sModel):
    name: str
    empty_dir: EmptyDirVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    downward_api: DownwardAPIVolumeSource | None = _alias("downwardAPI")
    projected: ProjectedVolumeSource | None = None
    gce_persistent_disk: Dict | None = None
    aws_elastic_block_store: Dict | None = None
    git_repo: Dict | None = None
    nfs: Dict | None = None
    iscsi: Dict | None = None
    glusterfs: Dict | None = None
    rbd: Dict | None = None
    flex_volume: Dict | None = None
    cinder: Dict | None = None
    cephfs: Dict | None = None
    flocker: Dict | None = None
    fc: Dict | None = None
    azure_file: Dict | None = None
    vsphere_volume: Dict | None = None
    quobyte: Dict | None = None
    azure_disk: Dict | None = None
    photon_persistent_disk: Dict | None = None
    portworx_volume: Dict | None = None
    scale_io: Dict | None = _alias("scaleIO")
    storageos: Dict | None = None
    csi: Dict | None = None
    ephemeral: Dict | None = None
    image: Dict | None = None

    @model_validator(mode="after")
    def _default_empty_dir(self) -> Volume:
        # A volume naming no source is an emptyDir (SetDefaults_Volume).
        d = self.__dict__
        if all(d[f] is None for f in _TYPED_VOLUME_SOURCES) and all(d[f] is None for f in _OTHER_VOLUME_SOURCES):
            self.empty_dir = EmptyDirVolumeSource()
        return self


# --- containers -----------------------------------------------------------------------------

class EnvVarSource(K8sModel):
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: ConfigMapKeySelector | None = None
    secret_key_ref: SecretKeySelector | None = None
    file_key_ref: Dict | None = None


class EnvVar(K8sModel):
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = None


class ConfigMapEnvSource(K8sModel):
    name: str | None = None
    optional: bool | None = None


class SecretEnvSource(K8sModel):
    name: str | None = None
    optional: bool | None = None


class EnvFromSource(K8sModel):
    prefix: str | None = None
    config_map_ref: ConfigMapEnvSource | None = None
    secret_ref: SecretEnvSource | None = None


class ContainerPort(K8sModel):
    name: str | None = None
    host_port: int | None = None
    container_port: int
    protocol: str = "TCP"
    host_ip: str | None = _alias("hostIP")


class ResourceRequirements(K8sModel):
    limits: ResourceList | None = None
    requests: ResourceList | None = None
    claims: list[Dict] | None = None


class VolumeMount(K8sModel):
    name: str
    read_only: bool | None = None
    recursive_read_only: str | None = None
    mount_path: str
    sub_path: str | None = None
    mount_propagation: str | None = None
    sub_path_expr: str | None = None


class VolumeDevice(K8sModel):
    name: str
    device_path: str


class ExecAction(K8sModel):
    command: list[str] | None = None


class HTTPHeader(K8sModel):
    name: str
    value: str


class HTTPGetAction(K8sModel):
    path: str = "/"
    port: IntOrString
    host: str | None = None
    scheme: str = "HTTP"
    http_headers: list[HTTPHeader] | None = None


class TCPSocketAction(K8sModel):
    port: IntOrString
    host: str | None = None


class GRPCAction(K8sModel):
    port: int
    service: str = ""  # +default="" in types.go: the server's default service


class SleepAction(K8sModel):
    seconds: int


class Probe(K8sModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: int | None = None
    timeout_seconds: int = 1
    period_seconds: int = 10
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period_seconds: int | None = None


class LifecycleHandler(K8sModel):
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    sleep: SleepAction | None = None


class Lifecycle(K8sModel):
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None
    stop_signal: str | None = None


class Capabilities(K8sModel):
    add: list[str] | None = None
    drop: list[str] | None = None


class SecurityContext(K8sModel):
    capabilities: Capabilities | None = None
    privileged: bool | None = None
    se_linux_options: Dict | None = None
    windows_options: Dict | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    read_only_root_filesystem: bool | None = None
    allow_privilege_escalation: bool | None = None
    proc_mount: str | None = None
    seccomp_profile: Dict | None = None
    app_armor_profile: Dict | None = None


def _image_tag(image: str) -> str:
    """The tag of an image reference; ``latest`` when it names neither tag nor digest."""
    name, at, _digest = image.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:  # a colon before the last slash is a registry port, not a tag
        return name[colon + 1:]
    return "" if at else "latest"


class Container(K8sModel):
    name: str
    image: str | None = None
    command: list[str] | None = None
    args: list[str] | None = None
    working_dir: str | None = None
    ports: list[ContainerPort] | None = merge_key("containerPort")
    env_from: list[EnvFromSource] | None = None
    env: list[EnvVar] | None = merge_key("name")
    # A Go struct without a pointer: always written, ``resources: {}`` when empty.
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    resize_policy: list[Dict] | None = None
    restart_policy: str | None = None  # only "Always", on a sidecar init container
    restart_policy_rules: list[Dict] | None = None
    volume_mounts: list[VolumeMount] | None = merge_key("mountPath")
    volume_devices: list[VolumeDevice] | None = merge_key("devicePath")
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    termination_message_path: str = "/dev/termination-log"
    termination_message_policy: str = "File"
    image_pull_policy: str | None = None  # defaulted from the tag below
    security_context: SecurityContext | None = None
    stdin: bool | None = None
    stdin_once: bool | None = None
    tty: bool | None = None

    @model_validator(mode="after")
    def _default_pull_policy(self) -> Container:
        # SetDefaults_Container: ":latest" (or no tag at all) is pulled Always, a pinned tag
        # or digest IfNotPresent.
        if not self.image_pull_policy:
            tag = _image_tag(self.image) if self.image else ""
            self.image_pull_policy = "Always" if tag == "latest" else "IfNotPresent"
        return self


# --- scheduling -----------------------------------------------------------------------------

class NodeSelectorRequirement(K8sModel):
    key: str
    operator: str
    values: list[str] | None = None


class NodeSelectorTerm(K8sModel):
    match_expressions: list[NodeSelectorRequirement] | None = None
    match_fields: list[NodeSelectorRequirement] | None = None


class NodeSelector(K8sModel):
    node_selector_terms: list[NodeSelectorTerm]


class PreferredSchedulingTerm(K8sModel):
    weight: int
    preference: NodeSelectorTerm


class NodeAffinity(K8sModel):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] | None = None


class PodAffinityTerm(K8sModel):
    label_selector: LabelSelector | None = None
    namespaces: list[str] | None = None
    topology_key: str
    namespace_selector: LabelSelector | None = None
    match_label_keys: list[str] | None = None
    mismatch_label_keys: list[str] | None = None


class WeightedPodAffinityTerm(K8sModel):
    weight: int
    pod_affinity_term: PodAffinityTerm


class PodAffinity(K8sModel):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None


class PodAntiAffinity(K8sModel):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] | None = None
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] | None = None


class Affinity(K8sModel):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAntiAffinity | None = None


class Toleration(K8sModel):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


class PodDNSConfigOption(K8sModel):
    name: str | None = None
    value: str | None = None


class PodDNSConfig(K8sModel):
    nameservers: list[str] | None = None
    searches: list[str] | None = None
    options: list[PodDNSConfigOption] | None = None


class HostAlias(K8sModel):
    ip: str
    hostnames: list[str] | None = None


class PodReadinessGate(K8sModel):
    condition_type: str


class PodSecurityContext(K8sModel):
    se_linux_options: Dict | None = None
    windows_options: Dict | None = None
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_non_root: bool | None = None
    supplemental_groups: list[int] | None = None
    supplemental_groups_policy: str | None = None
    fs_group: int | None = None
    sysctls: list[Dict] | None = None
    fs_group_change_policy: str | None = None
    seccomp_profile: Dict | None = None
    app_armor_profile: Dict | None = None
    se_linux_change_policy: str | None = None


# --- pods -----------------------------------------------------------------------------------

class PodSpec(K8sModel):
    volumes: list[Volume] | None = merge_key("name", strategy="merge,retainKeys")
    init_containers: list[Container] | None = merge_key("name")
    # Required (validation rejects an empty list); [] rather than None so code can iterate.
    containers: list[Container] = merge_key("name", default=[])
    ephemeral_containers: list[Dict] | None = merge_key("name")
    restart_policy: str = "Always"
    termination_grace_period_seconds: int = 30
    active_deadline_seconds: int | None = None
    dns_policy: str = "ClusterFirst"
    node_selector: dict[str, str] | None = None
    service_account_name: str | None = None
    service_account: str | None = None  # deprecated alias of serviceAccountName
    automount_service_account_token: bool | None = None
    node_name: str | None = None
    host_network: bool | None = None
    host_pid: bool | None = _alias("hostPID")
    host_ipc: bool | None = _alias("hostIPC")
    share_process_namespace: bool | None = None
    security_context: PodSecurityContext = Field(default_factory=PodSecurityContext)
    image_pull_secrets: list[LocalObjectReference] | None = merge_key("name")
    hostname: str | None = None
    subdomain: str | None = None
    affinity: Affinity | None = None
    scheduler_name: str = "default-scheduler"
    tolerations: list[Toleration] | None = None
    host_aliases: list[HostAlias] | None = merge_key("ip")
    priority_class_name: str | None = None
    priority: int | None = None
    dns_config: PodDNSConfig | None = None
    readiness_gates: list[PodReadinessGate] | None = None
    runtime_class_name: str | None = None
    # Set on Pods only, never on templates (SetDefaults_Pod): see Pod._defaults.
    enable_service_links: bool | None = None
    preemption_policy: str | None = None
    overhead: ResourceList | None = None
    topology_spread_constraints: list[Dict] | None = merge_key("topologyKey")
    set_hostname_as_fqdn: bool | None = _alias("setHostnameAsFQDN")
    os: Dict | None = None
    host_users: bool | None = None
    scheduling_gates: list[Dict] | None = merge_key("name")
    resource_claims: list[Dict] | None = merge_key("name", strategy="merge,retainKeys")
    resources: ResourceRequirements | None = None
    hostname_override: str | None = None
    scheduling_group: Dict | None = None
    eviction_responders: list[Dict] | None = None


class PodCondition(K8sModel):
    type: str
    observed_generation: int | None = None
    status: str
    last_probe_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class ContainerStateWaiting(K8sModel):
    reason: str | None = None
    message: str | None = None


class ContainerStateRunning(K8sModel):
    started_at: str | None = None


class ContainerStateTerminated(K8sModel):
    exit_code: int = 0
    signal: int | None = None
    reason: str | None = None
    message: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    container_id: str | None = _alias("containerID")


class ContainerState(K8sModel):
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class ContainerStatus(K8sModel):
    name: str
    state: ContainerState = Field(default_factory=ContainerState)
    last_state: ContainerState = Field(default_factory=ContainerState)
    ready: bool = False
    restart_count: int = 0
    image: str = ""
    image_id: str = _alias("imageID", "")
    container_id: str | None = _alias("containerID")
    started: bool | None = None
    allocated_resources: ResourceList | None = None
    resources: ResourceRequirements | None = None
    volume_mounts: list[Dict] | None = None
    user: Dict | None = None
    allocated_resources_status: list[Dict] | None = None
    stop_signal: str | None = None


class PodIP(K8sModel):
    ip: str


class HostIP(K8sModel):
    ip: str


class PodStatus(K8sModel):
    observed_generation: int | None = None
    phase: str | None = None
    conditions: list[PodCondition] | None = merge_key("type")
    message: str | None = None
    reason: str | None = None
    nominated_node_name: str | None = None
    host_ip: str | None = _alias("hostIP")
    host_ips: list[HostIP] | None = merge_key("ip", alias="hostIPs")
    pod_ip: str | None = _alias("podIP")
    pod_ips: list[PodIP] | None = merge_key("ip", alias="podIPs")
    start_time: str | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    container_statuses: list[ContainerStatus] | None = None
    qos_class: str | None = None
    ephemeral_container_statuses: list[ContainerStatus] | None = None
    resize: str | None = None
    resource_claim_statuses: list[Dict] | None = merge_key("name", strategy="merge,retainKeys")
    extended_resource_claim_status: Dict | None = None
    allocated_resources: ResourceList | None = None
    resources: ResourceRequirements | None = None
    volume_health: list[Dict] | None = None
    node_allocatable_resource_claim_statuses: list[Dict] | None = None


class Pod(K8sModel):
    api_version: str = "v1"
    kind: str = "Pod"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec = Field(default_factory=PodSpec)
    status: PodStatus = Field(default_factory=PodStatus)

    @model_validator(mode="after")
    def _defaults(self) -> Pod:
        # SetDefaults_Pod: what Kubernetes fills on a Pod but not on a pod template.
        spec = self.spec
        if spec.enable_service_links is None:
            spec.enable_service_links = True
        for containers in (spec.containers, spec.init_containers or ()):
            for c in containers:
                limits = c.resources.limits
                if limits:  # requests default to limits, resource by resource
                    requests = c.resources.requests
                    if requests is None:
                        c.resources.requests = dict(limits)
                    else:
                        for k, v in limits.items():
                            requests.setdefault(k, v)
                if spec.host_network and c.ports:
                    for p in c.ports:  # host networking: a container port is a host port
                        if not p.host_port:
                            p.host_port = p.container_port
        return self


class PodList(K8sModel):
    api_version: str = "v1"
    kind: str = "PodList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Pod] = []


class PodTemplateSpec(K8sModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec = Field(default_factory=PodSpec)


class Binding(K8sModel):
    api_version: str = "v1"
    kind: str = "Binding"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    target: ObjectReference = Field(default_factory=ObjectReference)


# --- namespaces -----------------------------------------------------------------------------

class NamespaceSpec(K8sModel):
    finalizers: list[str] | None = None


class NamespaceCondition(K8sModel):
    type: str
    status: str
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class NamespaceStatus(K8sModel):
    phase: str = "Active"
    conditions: list[NamespaceCondition] | None = merge_key("type")


LABEL_METADATA_NAME = "kubernetes.io/metadata.name"


class Namespace(K8sModel):
    api_version: str = "v1"
    kind: str = "Namespace"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: NamespaceSpec = Field(default_factory=NamespaceSpec)
    status: NamespaceStatus = Field(default_factory=NamespaceStatus)

    @model_validator(mode="after")
    def _name_label(self) -> Namespace:
        # SetDefaults_Namespace: every named namespace carries its name as a label, so
        # namespace selectors can pick it.
        name = self.metadata.name
        if name:
            if self.metadata.labels is None:
                self.metadata.labels = {}
            self.metadata.labels[LABEL_METADATA_NAME] = name
        return self


class NamespaceList(K8sModel):
    api_version: str = "v1"
    kind: str = "NamespaceList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Namespace] = []


# --- nodes ----------------------------------------------------------------------------------

class Taint(K8sModel):
    key: str
    value: str | None = None
    effect: str
    time_added: str | None = None


class NodeSpec(K8sModel):
    pod_cidr: str | None = _alias("podCIDR")
    pod_cidrs: list[str] | None = set_strategy("merge", alias="podCIDRs")
    provider_id: str | None = _alias("providerID")
    unschedulable: bool | None = None
    taints: list[Taint] | None = None
    config_source: Dict | None = None
    external_id: str | None = _alias("externalID")
    pod_preemption_policy: Dict | None = None


class NodeCondition(K8sModel):
    type: str
    status: str
    last_heartbeat_time: str | None = None
    last_transition_time: str | None = None
    reason: str | None = None
    message: str | None = None


class NodeAddress(K8sModel):
    type: str
    address: str


class DaemonEndpoint(K8sModel):
    port: int = _alias("Port", 0)  # capitalised on the wire, as in Kubernetes


class NodeDaemonEndpoints(K8sModel):
    kubelet_endpoint: DaemonEndpoint = Field(default_factory=DaemonEndpoint)


class NodeSystemInfo(K8sModel):
    machine_id: str = _alias("machineID", "")
    system_uuid: str = _alias("systemUUID", "")
    boot_id: str = _alias("bootID", "")
    kernel_version: str = ""
    os_image: str = ""
    container_runtime_version: str = ""
    kubelet_version: str = ""
    kube_proxy_version: str = ""
    operating_system: str = ""
    architecture: str = ""
    swap: Dict | None = None
    running_in_user_namespace: bool | None = None


class ContainerImage(K8sModel):
    names: list[str] | None = None
    size_bytes: int | None = None


class NodeStatus(K8sModel):
    capacity: ResourceList | None = None
    allocatable: ResourceList | None = None
    phase: str | None = None
    conditions: list[NodeCondition] | None = merge_key("type")
    addresses: list[NodeAddress] | None = merge_key("type")
    daemon_endpoints: NodeDaemonEndpoints = Field(default_factory=NodeDaemonEndpoints)
    node_info: NodeSystemInfo = Field(default_factory=NodeSystemInfo)
    images: list[ContainerImage] | None = None
    volumes_in_use: list[str] | None = None
    volumes_attached: list[Dict] | None = None
    config: Dict | None = None
    runtime_handlers: list[Dict] | None = None
    features: Dict | None = None
    declared_features: list[str] | None = None

    @model_validator(mode="after")
    def _default_allocatable(self) -> NodeStatus:
        # SetDefaults_NodeStatus: with nothing reserved, all of the capacity is allocatable.
        if self.allocatable is None and self.capacity is not None:
            self.allocatable = dict(self.capacity)
        return self


class Node(K8sModel):
    api_version: str = "v1"
    kind: str = "Node"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: NodeSpec = Field(default_factory=NodeSpec)
    status: NodeStatus = Field(default_factory=NodeStatus)


class NodeList(K8sModel):
    api_version: str = "v1"
    kind: str = "NodeList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Node] = []


# --- services -------------------------------------------------------------------------------

class ServicePort(K8sModel):
    name: str | None = None
    protocol: str = "TCP"
    app_protocol: str | None = None
    port: int
    target_port: IntOrString | None = None
    node_port: int | None = None

    @model_validator(mode="after")
    def _default_target_port(self) -> ServicePort:
        # SetDefaults_Service: an unset (or zero, or empty) targetPort is the service port.
        if self.target_port in (None, 0, ""):
            self.target_port = self.port
        return self


class ClientIPConfig(K8sModel):
    timeout_seconds: int | None = None


class SessionAffinityConfig(K8sModel):
    client_ip: ClientIPConfig | None = _alias("clientIP")


DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS = 10800


class ServiceSpec(K8sModel):
    ports: list[ServicePort] | None = merge_key("port")
    selector: dict[str, str] | None = None
    cluster_ip: str | None = _alias("clusterIP")
    cluster_ips: list[str] | None = _alias("clusterIPs")
    type: str = "ClusterIP"
    external_ips: list[str] | None = _alias("externalIPs")
    session_affinity: str = "None"
    load_balancer_ip: str | None = _alias("loadBalancerIP")
    load_balancer_source_ranges: list[str] | None = None
    external_name: str | None = None
    external_traffic_policy: str | None = None
    health_check_node_port: int | None = None
    publish_not_ready_addresses: bool | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    ip_families: list[str] | None = None
    ip_family_policy: str | None = None
    allocate_load_balancer_node_ports: bool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: str | None = None
    traffic_distribution: str | None = None

    @model_validator(mode="after")
    def _defaults(self) -> ServiceSpec:
        # SetDefaults_Service, for the fields that depend on the type or the affinity.
        if self.session_affinity == "None":
            self.session_affinity_config = None
        elif self.session_affinity == "ClientIP":
            cfg = self.session_affinity_config
            if cfg is None or cfg.client_ip is None or cfg.client_ip.timeout_seconds is None:
                self.session_affinity_config = SessionAffinityConfig(
                    client_ip=ClientIPConfig(timeout_seconds=DEFAULT_CLIENT_IP_SERVICE_AFFINITY_SECONDS))
        t = self.type
        externally_accessible = t in ("LoadBalancer", "NodePort") or (t == "ClusterIP" and bool(self.external_ips))
        if externally_accessible and not self.external_traffic_policy:
            self.external_traffic_policy = "Cluster"
        if self.internal_traffic_policy is None and t in ("ClusterIP", "NodePort", "LoadBalancer"):
            self.internal_traffic_policy = "Cluster"
        if t == "LoadBalancer" and self.allocate_load_balancer_node_ports is None:
            self.allocate_load_balancer_node_ports = True
        # Kubernetes' registry fills the IP families when it allocates the cluster IP; minik8s
        # clusters are single-stack IPv4. A headless service without a selector may carry
        # endpoints of either family, so its policy defaults to RequireDualStack.
        if t != "ExternalName":
            if self.ip_family_policy is None:
                headless_selectorless = self.cluster_ip == "None" and not self.selector
                self.ip_family_policy = "RequireDualStack" if headless_selectorless else "SingleStack"
            if self.ip_families is None:
                self.ip_families = ["IPv4"]
        return self


class PortStatus(K8sModel):
    port: int
    protocol: str
    error: str | None = None


class LoadBalancerIngress(K8sModel):
    ip: str | None = None
    hostname: str | None = None
    ip_mode: str | None = None
    ports: list[PortStatus] | None = None


class LoadBalancerStatus(K8sModel):
    ingress: list[LoadBalancerIngress] | None = None


class ServiceStatus(K8sModel):
    load_balancer: LoadBalancerStatus = Field(default_factory=LoadBalancerStatus)
    conditions: list[Condition] | None = merge_key("type")


class Service(K8sModel):
    api_version: str = "v1"
    kind: str = "Service"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: ServiceSpec = Field(default_factory=ServiceSpec)
    status: ServiceStatus = Field(default_factory=ServiceStatus)

    @model_validator(mode="after")
    def _default_ip_mode(self) -> Service:
        # SetDefaults_Service: a load balancer's IP ingress is a VIP unless it says otherwise.
        if self.spec.type == "LoadBalancer":
            for ing in self.status.load_balancer.ingress or ():
                if ing.ip and ing.ip_mode is None:
                    ing.ip_mode = "VIP"
        return self


class ServiceList(K8sModel):
    api_version: str = "v1"
    kind: str = "ServiceList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Service] = []


# --- endpoints ------------------------------------------------------------------------------

class EndpointAddress(K8sModel):
    ip: str
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(K8sModel):
    name: str | None = None
    port: int
    protocol: str = "TCP"
    app_protocol: str | None = None


class EndpointSubset(K8sModel):
    addresses: list[EndpointAddress] | None = None
    not_ready_addresses: list[EndpointAddress] | None = None
    ports: list[EndpointPort] | None = None


class Endpoints(K8sModel):
    api_version: str = "v1"
    kind: str = "Endpoints"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    subsets: list[EndpointSubset] | None = None


class EndpointsList(K8sModel):
    api_version: str = "v1"
    kind: str = "EndpointsList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Endpoints] = []


# --- config ---------------------------------------------------------------------------------

class ConfigMap(K8sModel):
    api_version: str = "v1"
    kind: str = "ConfigMap"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    immutable: bool | None = None
    data: dict[str, str] | None = None
    binary_data: dict[str, str] | None = None  # base64, as on the wire


class ConfigMapList(K8sModel):
    api_version: str = "v1"
    kind: str = "ConfigMapList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[ConfigMap] = []


class Secret(K8sModel):
    api_version: str = "v1"
    kind: str = "Secret"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    immutable: bool | None = None
    data: dict[str, str] | None = None  # base64, as on the wire
    string_data: dict[str, str] | None = None  # write-only; the strategy folds it into data
    type: str = "Opaque"


class SecretList(K8sModel):
    api_version: str = "v1"
    kind: str = "SecretList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Secret] = []


# --- events ---------------------------------------------------------------------------------

class EventSource(K8sModel):
    component: str | None = None
    host: str | None = None


class EventSeries(K8sModel):
    count: int | None = None
    last_observed_time: str | None = None  # MicroTime


class Event(K8sModel):
    api_version: str = "v1"
    kind: str = "Event"
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    involved_object: ObjectReference = Field(default_factory=ObjectReference)
    reason: str | None = None
    message: str | None = None
    source: EventSource = Field(default_factory=EventSource)
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    count: int | None = None
    type: str | None = None
    event_time: str | None = None  # MicroTime
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    # Written even when empty (no omitempty in Kubernetes).
    reporting_component: str = ""
    reporting_instance: str = ""


class EventList(K8sModel):
    api_version: str = "v1"
    kind: str = "EventList"
    metadata: ListMeta = Field(default_factory=ListMeta)
    items: list[Event] = []
