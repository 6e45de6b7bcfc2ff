//! Defaulting of native kinds: the values kube-apiserver fills in when a client leaves them out.

use serde_json::{Map, Value, json};

/// Label keys Kubernetes generates for a Job's selector and pod template, current and legacy.
const JOB_UID_LABELS: [&str; 2] = ["batch.kubernetes.io/controller-uid", "controller-uid"];
const JOB_NAME_LABELS: [&str; 2] = ["batch.kubernetes.io/job-name", "job-name"];

/// Gives a new Job the selector and pod-template labels Kubernetes generates on create, unless
/// `spec.manualSelector` is true: the selector matches the Job's UID, and the template carries
/// the UID and the Job's name. Needs `metadata.uid` and `metadata.name` to be set already.
pub fn job_selector(object: &mut Value) {
    let meta = object.get("metadata");
    let (Some(uid), Some(name)) = (
        meta.and_then(|m| m.get("uid"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        meta.and_then(|m| m.get("name"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    ) else {
        return;
    };
    let spec = child(object, "spec");
    if spec.get("manualSelector") == Some(&json!(true)) {
        return;
    }
    spec.insert(
        "selector".into(),
        json!({"matchLabels": {JOB_UID_LABELS[0]: uid}}),
    );
    let labels = child_of(child_of(child_of(spec, "template"), "metadata"), "labels");
    for key in JOB_UID_LABELS {
        labels.insert(key.into(), json!(uid));
    }
    for key in JOB_NAME_LABELS {
        labels.insert(key.into(), json!(name));
    }
}

/// A Secret's `stringData` is write-only: its entries are stored in `data`, base64-encoded,
/// over any of the same key, as Kubernetes does.
fn string_data(secret: &mut Map<String, Value>) {
    use base64::Engine as _;
    let Some(Value::Object(strings)) = secret.get("stringData") else {
        return;
    };
    // Anything but text is left for validation to refuse, not stored as something else.
    if !strings.values().all(Value::is_string) {
        return;
    }
    let Some(Value::Object(strings)) = secret.remove("stringData") else {
        return;
    };
    let data = child_of(secret, "data");
    for (key, value) in strings {
        let text = value.as_str().unwrap_or_default();
        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
        data.insert(key, Value::String(encoded));
    }
}

/// Fills in defaults for an object of a native kind, in place.
pub fn apply(group: &str, kind: &str, object: &mut Value) {
    match (group, kind) {
        ("", "Namespace") => {
            let spec = child(object, "spec");
            set_default(spec, "finalizers", json!(["kubernetes"]));
            set_default(child(object, "status"), "phase", json!("Active"));
        }
        ("", "Secret") => {
            if let Some(o) = object.as_object_mut() {
                set_default(o, "type", json!("Opaque"));
                string_data(o);
            }
        }
        ("", "Service") => service(object),
        ("", "Pod") => {
            pod_spec(child(object, "spec"));
            // A new pod is Pending until a kubelet reports otherwise.
            set_default(child(object, "status"), "phase", json!("Pending"));
        }
        ("", "PodTemplate") => pod_template(child(object, "template")),
        ("", "ReplicationController") => {
            let spec = child(object, "spec");
            set_default(spec, "replicas", json!(1));
            pod_template(child_of(spec, "template"));
        }
        ("apps", "Deployment") => {
            let spec = child(object, "spec");
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            let strategy = child_of(spec, "strategy");
            set_default(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                let rolling = child_of(strategy, "rollingUpdate");
                set_default(rolling, "maxUnavailable", json!("25%"));
                set_default(rolling, "maxSurge", json!("25%"));
            }
            pod_template(child_of(spec, "template"));
        }
        ("apps", "ReplicaSet") => {
            let spec = child(object, "spec");
            set_default(spec, "replicas", json!(1));
            pod_template(child_of(spec, "template"));
        }
        ("apps", "StatefulSet") => {
            let spec = child(object, "spec");
            set_default(spec, "replicas", json!(1));
            set_default(spec, "podManagementPolicy", json!("OrderedReady"));
            set_default(spec, "revisionHistoryLimit", json!(10));
            let strategy = child_of(spec, "updateStrategy");
            set_default(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                set_default(child_of(strategy, "rollingUpdate"), "partition", json!(0));
            }
            pod_template(child_of(spec, "template"));
        }
        ("apps", "DaemonSet") => {
            let spec = child(object, "spec");
            set_default(spec, "revisionHistoryLimit", json!(10));
            let strategy = child_of(spec, "updateStrategy");
            set_default(strategy, "type", json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                let rolling = child_of(strategy, "rollingUpdate");
                set_default(rolling, "maxUnavailable", json!(1));
                set_default(rolling, "maxSurge", json!(0));
            }
            pod_template(child_of(spec, "template"));
        }
        ("batch", "Job") => {
            let spec = child(object, "spec");
            job_spec(spec);
        }
        ("batch", "CronJob") => {
            let spec = child(object, "spec");
            set_default(spec, "concurrencyPolicy", json!("Allow"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "successfulJobsHistoryLimit", json!(3));
            set_default(spec, "failedJobsHistoryLimit", json!(1));
            let job = child_of(child_of(spec, "jobTemplate"), "spec");
            job_spec(job);
        }
        _ => {}
    }
}

fn job_spec(spec: &mut Map<String, Value>) {
    set_default(spec, "backoffLimit", json!(6));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    let parallel = spec.get("parallelism").is_none();
    if parallel {
        spec.insert("parallelism".into(), json!(1));
    }
    if spec.get("completions").is_none() && parallel {
        spec.insert("completions".into(), json!(1));
    }
    let template = child_of(spec, "template");
    pod_template(template);
}

fn service(object: &mut Value) {
    let spec = child(object, "spec");
    // An empty clusterIP (what Go clients send for "allocate one") is unset, not a value.
    if spec
        .get("clusterIP")
        .is_some_and(|ip| ip == "" || ip.is_null())
    {
        spec.remove("clusterIP");
        if spec
            .get("clusterIPs")
            .and_then(Value::as_array)
            .is_some_and(|ips| ips.iter().all(|ip| ip == ""))
        {
            spec.remove("clusterIPs");
        }
    }
    set_default(spec, "type", json!("ClusterIP"));
    set_default(spec, "sessionAffinity", json!("None"));
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(port, "protocol", json!("TCP"));
            // A zero targetPort (what Go clients send for "unset") means "same as port".
            let unset = matches!(port.get("targetPort"), None | Some(Value::Null))
                || port["targetPort"] == json!(0)
                || port["targetPort"] == json!("");
            if unset && let Some(p) = port.get("port").cloned() {
                port.insert("targetPort".into(), p);
            }
        }
    }
}

fn pod_template(template: &mut Map<String, Value>) {
    pod_spec(child_of(template, "spec"));
}

fn pod_spec(spec: &mut Map<String, Value>) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "securityContext", json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                container(c);
            }
        }
    }
}

fn container(c: &mut Map<String, Value>) {
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
    let policy = if image_uses_latest(image) {
        "Always"
    } else {
        "IfNotPresent"
    };
    set_default(c, "imagePullPolicy", json!(policy));
    set_default(c, "resources", json!({}));
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            set_default(port, "protocol", json!("TCP"));
        }
    }
}

/// Images without a tag or with `:latest` are pulled always, as Kubernetes defaults them.
fn image_uses_latest(image: &str) -> bool {
    if image.contains('@') {
        return false;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag == "latest",
        None => true,
    }
}

/// Sets `key` unless the client gave it a value. Go clients (and protobuf bodies) send
/// unset strings as `""`, which Kubernetes defaults like a missing field.
fn set_default(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.get(key) {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if s.is_empty() => {}
        Some(_) => return,
    }
    map.insert(key.to_string(), value);
}

/// The child map `key` of the object, created if missing.
fn child<'a>(object: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    if !object.is_object() {
        *object = Value::Object(Map::new());
    }
    child_of(object.as_object_mut().expect("object"), key)
}

fn child_of<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let entry = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    entry.as_object_mut().expect("child object")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secrets_string_data_is_stored_in_data() {
        let mut secret = json!({"data": {"a": "b2xk", "keep": "a2VlcA=="},
                                "stringData": {"a": "new", "b": "text"}});
        apply("", "Secret", &mut secret);
        assert_eq!(
            secret,
            json!({"type": "Opaque", "data": {"a": "bmV3", "keep": "a2VlcA==", "b": "dGV4dA=="}})
        );
        let mut odd = json!({"stringData": {"a": 1}});
        apply("", "Secret", &mut odd);
        assert_eq!(odd["stringData"], json!({"a": 1}), "left for validation");
    }

    #[test]
    fn deployment_gets_kubernetes_defaults() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]}}}});
        apply("apps", "Deployment", &mut d);
        assert_eq!(d["spec"]["replicas"], 1);
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"], "25%");
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["imagePullPolicy"], "IfNotPresent");
        assert_eq!(c["ports"][0]["protocol"], "TCP");
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
    }

    #[test]
    fn new_jobs_get_a_generated_selector_unless_manual() {
        let job = |manual: bool| {
            json!({"metadata": {"name": "pi", "uid": "u-1"}, "spec": {"manualSelector": manual,
                "template": {"metadata": {"labels": {"app": "pi"}}, "spec": {"containers": []}}}})
        };
        let mut generated = job(false);
        job_selector(&mut generated);
        assert_eq!(
            generated["spec"]["selector"],
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": "u-1"}})
        );
        let labels = &generated["spec"]["template"]["metadata"]["labels"];
        assert_eq!(labels["app"], "pi");
        assert_eq!(labels["controller-uid"], "u-1");
        assert_eq!(labels["batch.kubernetes.io/job-name"], "pi");
        assert_eq!(labels["job-name"], "pi");

        let mut manual = job(true);
        job_selector(&mut manual);
        assert!(manual["spec"].get("selector").is_none());
    }

    #[test]
    fn explicit_values_are_kept() {
        let mut d = json!({"spec": {"replicas": 0, "strategy": {"type": "Recreate"}}});
        apply("apps", "Deployment", &mut d);
        assert_eq!(d["spec"]["replicas"], 0);
        assert!(d["spec"]["strategy"].get("rollingUpdate").is_none());
    }

    #[test]
    fn latest_images_pull_always() {
        assert!(image_uses_latest("nginx"));
        assert!(image_uses_latest("registry:5000/nginx:latest"));
        assert!(image_uses_latest("registry:5000/nginx"));
        assert!(!image_uses_latest("registry:5000/nginx:1.25"));
        assert!(!image_uses_latest("nginx@sha256:abc"));
    }

    #[test]
    fn empty_strings_from_go_clients_are_defaulted() {
        let mut d = json!({"spec": {"strategy": {"type": ""}, "template": {"spec": {"restartPolicy": "", "containers": [{"name": "c", "image": "nginx", "imagePullPolicy": ""}]}}}});
        apply("apps", "Deployment", &mut d);
        assert_eq!(d["spec"]["strategy"]["type"], "RollingUpdate");
        assert_eq!(d["spec"]["template"]["spec"]["restartPolicy"], "Always");
        assert_eq!(
            d["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"],
            "Always"
        );
    }

    #[test]
    fn service_ports_default_target_port() {
        let mut s = json!({"spec": {"ports": [{"port": 80}]}});
        apply("", "Service", &mut s);
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(s["spec"]["type"], "ClusterIP");
    }

    #[test]
    fn empty_cluster_ip_is_unset() {
        let mut s = json!({"spec": {"clusterIP": "", "clusterIPs": [""], "ports": [{"port": 80}]}});
        apply("", "Service", &mut s);
        assert!(s["spec"].get("clusterIP").is_none() && s["spec"].get("clusterIPs").is_none());
        let mut kept = json!({"spec": {"clusterIP": "None"}});
        apply("", "Service", &mut kept);
        assert_eq!(kept["spec"]["clusterIP"], "None");
    }
}
