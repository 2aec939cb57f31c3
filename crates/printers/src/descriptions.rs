//! Column descriptions that upstream takes from the API's generated documentation
//! (`SomeType{}.SwaggerDoc()["field"]` in `pkg/printers/internalversion/printers.go`).
//!
//! kubectl never prints them, but they are part of the Table a client receives. The text is
//! the field documentation of the Kubernetes API (the same strings k8s-openapi carries for
//! the 1.33 API, the oldest it ships). Where upstream reads a type k8s-openapi no longer
//! has (`batch/v1beta1`, `rbac/v1beta1`), the text is that type's field documentation,
//! which is the `v1` text except where noted.

/// `metav1.ObjectMeta{}.SwaggerDoc()["name"]`.
pub(crate) const OBJECT_META_NAME: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// `metav1.ObjectMeta{}.SwaggerDoc()["creationTimestamp"]`.
pub(crate) const OBJECT_META_CREATION_TIMESTAMP: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// `apiv1.PodStatus{}.SwaggerDoc()["podIP"]`.
pub(crate) const POD_STATUS_POD_IP: &str = "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.";

/// `apiv1.PodStatus{}.SwaggerDoc()["nominatedNodeName"]`.
pub(crate) const POD_STATUS_NOMINATED_NODE_NAME: &str = "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.";

/// `apiv1.PodSpec{}.SwaggerDoc()["nodeName"]`.
pub(crate) const POD_SPEC_NODE_NAME: &str = "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName. Once this field is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This field should not be used to express a desire for the pod to be scheduled on a specific node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename";

/// `apiv1.PodSpec{}.SwaggerDoc()["readinessGates"]`.
pub(crate) const POD_SPEC_READINESS_GATES: &str = "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates";

/// `batchv1.JobStatus{}.SwaggerDoc()["succeeded"]`.
pub(crate) const JOB_STATUS_SUCCEEDED: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";

/// `batchv1.JobSpec{}.SwaggerDoc()["selector"]`.
pub(crate) const JOB_SPEC_SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";

/// `batchv1beta1.CronJobSpec{}.SwaggerDoc()["schedule"]`.
pub(crate) const CRON_JOB_SPEC_SCHEDULE: &str =
    "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";

/// `batchv1beta1.CronJobSpec{}.SwaggerDoc()["timeZone"]`.
pub(crate) const CRON_JOB_SPEC_TIME_ZONE: &str = "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";

/// `batchv1beta1.CronJobSpec{}.SwaggerDoc()["suspend"]`.
pub(crate) const CRON_JOB_SPEC_SUSPEND: &str = "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.";

/// `batchv1beta1.CronJobStatus{}.SwaggerDoc()["active"]`.
pub(crate) const CRON_JOB_STATUS_ACTIVE: &str = "A list of pointers to currently running jobs.";

/// `batchv1beta1.CronJobStatus{}.SwaggerDoc()["lastScheduleTime"]`.
pub(crate) const CRON_JOB_STATUS_LAST_SCHEDULE_TIME: &str =
    "Information when was the last time the job was successfully scheduled.";

/// `apiv1.NodeSystemInfo{}.SwaggerDoc()["kubeletVersion"]`.
pub(crate) const NODE_SYSTEM_INFO_KUBELET_VERSION: &str = "Kubelet Version reported by the node.";

/// `apiv1.NodeSystemInfo{}.SwaggerDoc()["osImage"]`.
pub(crate) const NODE_SYSTEM_INFO_OS_IMAGE: &str =
    "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).";

/// `apiv1.NodeSystemInfo{}.SwaggerDoc()["kernelVersion"]`.
pub(crate) const NODE_SYSTEM_INFO_KERNEL_VERSION: &str =
    "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).";

/// `apiv1.NodeSystemInfo{}.SwaggerDoc()["containerRuntimeVersion"]`.
pub(crate) const NODE_SYSTEM_INFO_CONTAINER_RUNTIME_VERSION: &str = "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).";

/// `apiv1.NodeStatus{}.SwaggerDoc()["addresses"]`.
pub(crate) const NODE_STATUS_ADDRESSES: &str = "List of addresses reachable to the node. Queried from cloud provider, if available. More info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This field is declared as mergeable, but the merge key is not sufficiently unique, which can cause data corruption when it is merged. Callers should instead use a full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should assume that addresses can change during the lifetime of a Node. However, there are some exceptions where this may not be possible, such as Pods that inherit a Node's address in its own status or consumers of the downward API (status.hostIP).";

/// `apiv1.Event{}.SwaggerDoc()["lastTimestamp"]`.
pub(crate) const EVENT_LAST_TIMESTAMP: &str =
    "The time at which the most recent occurrence of this event was recorded.";

/// `apiv1.Event{}.SwaggerDoc()["type"]`.
pub(crate) const EVENT_TYPE: &str =
    "Type of this event (Normal, Warning), new types could be added in the future";

/// `apiv1.Event{}.SwaggerDoc()["reason"]`.
pub(crate) const EVENT_REASON: &str = "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.";

/// `apiv1.Event{}.SwaggerDoc()["involvedObject"]`.
pub(crate) const EVENT_INVOLVED_OBJECT: &str = "The object that this event is about.";

/// `apiv1.Event{}.SwaggerDoc()["source"]`.
pub(crate) const EVENT_SOURCE: &str =
    "The component reporting this event. Should be a short machine understandable string.";

/// `apiv1.Event{}.SwaggerDoc()["message"]`.
pub(crate) const EVENT_MESSAGE: &str =
    "A human-readable description of the status of this operation.";

/// `apiv1.Event{}.SwaggerDoc()["firstTimestamp"]`.
pub(crate) const EVENT_FIRST_TIMESTAMP: &str =
    "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)";

/// `apiv1.Event{}.SwaggerDoc()["count"]`.
pub(crate) const EVENT_COUNT: &str = "The number of times this event has occurred.";

/// `apiv1.ObjectReference{}.SwaggerDoc()["fieldPath"]`.
pub(crate) const OBJECT_REFERENCE_FIELD_PATH: &str = "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers\\[2\\]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers\\[2\\]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object.";

/// `apiv1.Secret{}.SwaggerDoc()["type"]`.
pub(crate) const SECRET_TYPE: &str = "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types";

/// `apiv1.Secret{}.SwaggerDoc()["data"]`.
pub(crate) const SECRET_DATA: &str = "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4";

/// `apiv1.ServiceAccount{}.SwaggerDoc()["secrets"]`.
pub(crate) const SERVICE_ACCOUNT_SECRETS: &str = "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use. Pods are only limited to this list if this service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is deprecated since v1.32. Prefer separate namespaces to isolate access to mounted secrets. This field should not be used to find auto-generated service account token secrets for use outside of pods. Instead, tokens can be requested directly using the TokenRequest API, or service account token secrets can be manually created. More info: https://kubernetes.io/docs/concepts/configuration/secret";

/// `apiv1.ConfigMap{}.SwaggerDoc()["data"]`.
pub(crate) const CONFIG_MAP_DATA: &str = "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.";

/// `apiv1.PersistentVolumeClaimStatus{}.SwaggerDoc()["phase"]`.
pub(crate) const PVC_STATUS_PHASE: &str =
    "phase represents the current phase of PersistentVolumeClaim.";

/// `apiv1.PersistentVolumeClaimStatus{}.SwaggerDoc()["capacity"]`.
pub(crate) const PVC_STATUS_CAPACITY: &str =
    "capacity represents the actual resources of the underlying volume.";

/// `apiv1.PersistentVolumeClaimStatus{}.SwaggerDoc()["accessModes"]`.
pub(crate) const PVC_STATUS_ACCESS_MODES: &str = "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1";

/// `apiv1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeName"]`.
pub(crate) const PVC_SPEC_VOLUME_NAME: &str =
    "volumeName is the binding reference to the PersistentVolume backing this claim.";

/// `apiv1.PersistentVolumeClaimSpec{}.SwaggerDoc()["volumeMode"]`.
pub(crate) const PVC_SPEC_VOLUME_MODE: &str = "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.";

/// `apiv1.PersistentVolumeSpec{}.SwaggerDoc()["capacity"]`.
pub(crate) const PV_SPEC_CAPACITY: &str = "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity";

/// `apiv1.PersistentVolumeSpec{}.SwaggerDoc()["accessModes"]`.
pub(crate) const PV_SPEC_ACCESS_MODES: &str = "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes";

/// `apiv1.PersistentVolumeSpec{}.SwaggerDoc()["persistentVolumeReclaimPolicy"]`.
pub(crate) const PV_SPEC_RECLAIM_POLICY: &str = "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming";

/// `apiv1.PersistentVolumeSpec{}.SwaggerDoc()["claimRef"]`.
pub(crate) const PV_SPEC_CLAIM_REF: &str = "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding";

/// `apiv1.PersistentVolumeSpec{}.SwaggerDoc()["volumeMode"]`.
pub(crate) const PV_SPEC_VOLUME_MODE: &str = "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.";

/// `apiv1.PersistentVolumeStatus{}.SwaggerDoc()["phase"]`.
pub(crate) const PV_STATUS_PHASE: &str = "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase";

/// `apiv1.PersistentVolumeStatus{}.SwaggerDoc()["reason"]`.
pub(crate) const PV_STATUS_REASON: &str = "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.";

/// `rbacv1beta1.RoleBinding{}.SwaggerDoc()["roleRef"]` (v1beta1 lacks v1's "This field is
/// immutable.").
pub(crate) const ROLE_BINDING_ROLE_REF: &str = "roleRef can reference a Role in the current namespace or a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";

/// `rbacv1beta1.ClusterRoleBinding{}.SwaggerDoc()["roleRef"]` (v1beta1 lacks v1's "This
/// field is immutable.").
pub(crate) const CLUSTER_ROLE_BINDING_ROLE_REF: &str = "roleRef can only reference a ClusterRole in the global namespace. If the RoleRef cannot be resolved, the Authorizer must return an error.";

/// `coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]`.
pub(crate) const LEASE_SPEC_HOLDER_IDENTITY: &str = "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field.";
