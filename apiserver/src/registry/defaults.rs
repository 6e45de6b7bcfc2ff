//! Defaulting of native kinds: the values kube-apiserver fills in when a client leaves them out.

use serde_json::{Map, Value, json};

/// Fills in defaults for an object of a native kind, in place.
pub fn apply(group: &str, kind: &str, object: &mut Value) {
    match (group, kind) {
        ("", "Namespace") => {
            let spec = child(object, "spec");
            spec.entry("finalizers").or_insert_with(|| json!(["kubernetes"]));
            child(object, "status").entry("phase").or_insert_with(|| json!("Active"));
        }
        ("", "Secret") => {
            object.as_object_mut().map(|o| o.entry("type").or_insert_with(|| json!("Opaque")));
        }
        ("", "Service") => service(object),
        ("", "Pod") => pod_spec(child(object, "spec")),
        ("", "PodTemplate") => pod_template(child(object, "template")),
        ("", "ReplicationController") => {
            let spec = child(object, "spec");
            spec.entry("replicas").or_insert_with(|| json!(1));
            pod_template(child_of(spec, "template"));
        }
        ("apps", "Deployment") => {
            let spec = child(object, "spec");
            spec.entry("replicas").or_insert_with(|| json!(1));
            spec.entry("revisionHistoryLimit").or_insert_with(|| json!(10));
            spec.entry("progressDeadlineSeconds").or_insert_with(|| json!(600));
            let strategy = child_of(spec, "strategy");
            strategy.entry("type").or_insert_with(|| json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                let rolling = child_of(strategy, "rollingUpdate");
                rolling.entry("maxUnavailable").or_insert_with(|| json!("25%"));
                rolling.entry("maxSurge").or_insert_with(|| json!("25%"));
            }
            pod_template(child_of(spec, "template"));
        }
        ("apps", "ReplicaSet") => {
            let spec = child(object, "spec");
            spec.entry("replicas").or_insert_with(|| json!(1));
            pod_template(child_of(spec, "template"));
        }
        ("apps", "StatefulSet") => {
            let spec = child(object, "spec");
            spec.entry("replicas").or_insert_with(|| json!(1));
            spec.entry("podManagementPolicy").or_insert_with(|| json!("OrderedReady"));
            spec.entry("revisionHistoryLimit").or_insert_with(|| json!(10));
            let strategy = child_of(spec, "updateStrategy");
            strategy.entry("type").or_insert_with(|| json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                child_of(strategy, "rollingUpdate").entry("partition").or_insert_with(|| json!(0));
            }
            pod_template(child_of(spec, "template"));
        }
        ("apps", "DaemonSet") => {
            let spec = child(object, "spec");
            spec.entry("revisionHistoryLimit").or_insert_with(|| json!(10));
            let strategy = child_of(spec, "updateStrategy");
            strategy.entry("type").or_insert_with(|| json!("RollingUpdate"));
            if strategy.get("type") == Some(&json!("RollingUpdate")) {
                let rolling = child_of(strategy, "rollingUpdate");
                rolling.entry("maxUnavailable").or_insert_with(|| json!(1));
                rolling.entry("maxSurge").or_insert_with(|| json!(0));
            }
            pod_template(child_of(spec, "template"));
        }
        ("batch", "Job") => {
            let spec = child(object, "spec");
            job_spec(spec);
        }
        ("batch", "CronJob") => {
            let spec = child(object, "spec");
            spec.entry("concurrencyPolicy").or_insert_with(|| json!("Allow"));
            spec.entry("suspend").or_insert_with(|| json!(false));
            spec.entry("successfulJobsHistoryLimit").or_insert_with(|| json!(3));
            spec.entry("failedJobsHistoryLimit").or_insert_with(|| json!(1));
            let job = child_of(child_of(spec, "jobTemplate"), "spec");
            job_spec(job);
        }
        _ => {}
    }
}

fn job_spec(spec: &mut Map<String, Value>) {
    spec.entry("backoffLimit").or_insert_with(|| json!(6));
    spec.entry("completionMode").or_insert_with(|| json!("NonIndexed"));
    spec.entry("suspend").or_insert_with(|| json!(false));
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
    spec.entry("type").or_insert_with(|| json!("ClusterIP"));
    spec.entry("sessionAffinity").or_insert_with(|| json!("None"));
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert_with(|| json!("TCP"));
            if let Some(p) = port.get("port").cloned() {
                port.entry("targetPort").or_insert(p);
            }
        }
    }
}

fn pod_template(template: &mut Map<String, Value>) {
    pod_spec(child_of(template, "spec"));
}

fn pod_spec(spec: &mut Map<String, Value>) {
    spec.entry("restartPolicy").or_insert_with(|| json!("Always"));
    spec.entry("terminationGracePeriodSeconds").or_insert_with(|| json!(30));
    spec.entry("dnsPolicy").or_insert_with(|| json!("ClusterFirst"));
    spec.entry("schedulerName").or_insert_with(|| json!("default-scheduler"));
    spec.entry("securityContext").or_insert_with(|| json!({}));
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                container(c);
            }
        }
    }
}

fn container(c: &mut Map<String, Value>) {
    c.entry("terminationMessagePath").or_insert_with(|| json!("/dev/termination-log"));
    c.entry("terminationMessagePolicy").or_insert_with(|| json!("File"));
    let image = c.get("image").and_then(Value::as_str).unwrap_or_default();
    let policy = if image_uses_latest(image) { "Always" } else { "IfNotPresent" };
    c.entry("imagePullPolicy").or_insert_with(|| json!(policy));
    c.entry("resources").or_insert_with(|| json!({}));
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for port in ports.iter_mut().filter_map(Value::as_object_mut) {
            port.entry("protocol").or_insert_with(|| json!("TCP"));
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
    fn service_ports_default_target_port() {
        let mut s = json!({"spec": {"ports": [{"port": 80}]}});
        apply("", "Service", &mut s);
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 80);
        assert_eq!(s["spec"]["type"], "ClusterIP");
    }
}
