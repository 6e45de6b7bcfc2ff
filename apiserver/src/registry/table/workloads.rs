//! Printers for workload controllers: Deployments, ReplicaSets, StatefulSets, DaemonSets,
//! Jobs, CronJobs, pod templates, revisions and disruption budgets.

use jiff::Timestamp;
use serde_json::Value;

use super::age::{self, human_duration, parse, since};
use super::fields::{
    containers, count, int, items, labels, name, non_empty, of_type, selector, selector_or_none,
    text,
};
use super::{AGE, Column, NAME, Printer, col, wide};

pub(super) const PRINTERS: &[Printer] = &[
    Printer {
        group: "apps",
        kind: "Deployment",
        columns: DEPLOYMENT,
        cells: deployment,
    },
    Printer {
        group: "apps",
        kind: "ReplicaSet",
        columns: REPLICA_SET,
        cells: replica_set,
    },
    Printer {
        group: "",
        kind: "ReplicationController",
        columns: REPLICA_SET,
        cells: replication_controller,
    },
    Printer {
        group: "apps",
        kind: "StatefulSet",
        columns: STATEFUL_SET,
        cells: stateful_set,
    },
    Printer {
        group: "apps",
        kind: "DaemonSet",
        columns: DAEMON_SET,
        cells: daemon_set,
    },
    Printer {
        group: "batch",
        kind: "Job",
        columns: JOB,
        cells: job,
    },
    Printer {
        group: "batch",
        kind: "CronJob",
        columns: CRON_JOB,
        cells: cron_job,
    },
    Printer {
        group: "",
        kind: "PodTemplate",
        columns: POD_TEMPLATE,
        cells: pod_template,
    },
    Printer {
        group: "apps",
        kind: "ControllerRevision",
        columns: CONTROLLER_REVISION,
        cells: controller_revision,
    },
    Printer {
        group: "policy",
        kind: "PodDisruptionBudget",
        columns: PDB,
        cells: pdb,
    },
];

const CONTAINERS: Column = wide(
    "Containers",
    "string",
    "Names of each container in the template.",
);
const IMAGES: Column = wide(
    "Images",
    "string",
    "Images referenced by each container in the template.",
);
const SELECTOR: Column = wide(
    "Selector",
    "string",
    "The label selector of the pods this object manages.",
);

const DEPLOYMENT: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    col(
        "Up-to-date",
        "string",
        "Total number of non-terminated pods that have the desired template spec.",
    ),
    col(
        "Available",
        "string",
        "Total number of available pods (ready for at least minReadySeconds).",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const REPLICA_SET: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        "The number of pods the controller wants.",
    ),
    col(
        "Current",
        "integer",
        "The most recently observed number of pods.",
    ),
    col("Ready", "integer", "The number of ready pods."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const STATEFUL_SET: &[Column] = &[
    NAME,
    col("Ready", "string", "Number of the pod with ready state"),
    AGE,
    CONTAINERS,
    IMAGES,
];

const DAEMON_SET: &[Column] = &[
    NAME,
    col(
        "Desired",
        "integer",
        "The number of nodes that should be running the daemon pod.",
    ),
    col(
        "Current",
        "integer",
        "The number of nodes running at least one daemon pod.",
    ),
    col(
        "Ready",
        "integer",
        "The number of nodes whose daemon pod is ready.",
    ),
    col(
        "Up-to-date",
        "integer",
        "The number of nodes running the updated daemon pod.",
    ),
    col(
        "Available",
        "integer",
        "The number of nodes whose daemon pod is available.",
    ),
    col(
        "Node Selector",
        "string",
        "The node selector of the pod template.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const JOB: &[Column] = &[
    NAME,
    col("Status", "string", "Status of the job."),
    col(
        "Completions",
        "string",
        "The number of pods which reached phase Succeeded, of those wanted.",
    ),
    col("Duration", "string", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const CRON_JOB: &[Column] = &[
    NAME,
    col("Schedule", "string", "The schedule in Cron format."),
    col(
        "Timezone",
        "string",
        "The time zone name for the given schedule.",
    ),
    col(
        "Suspend",
        "boolean",
        "Whether subsequent executions are suspended.",
    ),
    col("Active", "integer", "The number of currently running jobs."),
    col(
        "Last Schedule",
        "string",
        "When the job was last successfully scheduled.",
    ),
    AGE,
    CONTAINERS,
    IMAGES,
    SELECTOR,
];

const POD_TEMPLATE: &[Column] = &[
    NAME,
    col(
        "Containers",
        "string",
        "Names of each container in the template.",
    ),
    col(
        "Images",
        "string",
        "Images referenced by each container in the template.",
    ),
    col("Pod Labels", "string", "The labels for the pod template."),
];

const CONTROLLER_REVISION: &[Column] = &[
    NAME,
    col("Controller", "string", "Controller of the object"),
    col(
        "Revision",
        "string",
        "The revision number of the state data.",
    ),
    AGE,
];

const PDB: &[Column] = &[
    NAME,
    col(
        "Min Available",
        "string",
        "The minimum number of pods that must be available.",
    ),
    col(
        "Max Unavailable",
        "string",
        "The maximum number of pods that may be unavailable.",
    ),
    col(
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
    ),
    AGE,
];

/// `spec.replicas`, which the API defaults to 1.
fn desired(object: &Value) -> i64 {
    int(object, "/spec/replicas").unwrap_or(1)
}

fn template_cells(object: &Value, pod_spec: &str) -> [Value; 2] {
    let (names, images) = object.pointer(pod_spec).map(containers).unwrap_or_default();
    [names.into(), images.into()]
}

fn deployment(d: &Value, now: Timestamp) -> Vec<Value> {
    let [containers, images] = template_cells(d, "/spec/template/spec");
    let selector = selector(d.pointer("/spec/selector")).unwrap_or_else(|| "<invalid>".into());
    vec![
        name(d).into(),
        format!("{}/{}", count(d, "/status/readyReplicas"), desired(d)).into(),
        count(d, "/status/updatedReplicas").into(),
        count(d, "/status/availableReplicas").into(),
        age::created(d, now),
        containers,
        images,
        selector.into(),
    ]
}

fn replica_set(rs: &Value, now: Timestamp) -> Vec<Value> {
    let [containers, images] = template_cells(rs, "/spec/template/spec");
    vec![
        name(rs).into(),
        desired(rs).into(),
        count(rs, "/status/replicas").into(),
        count(rs, "/status/readyReplicas").into(),
        age::created(rs, now),
        containers,
        images,
        selector_or_none(rs.pointer("/spec/selector")).into(),
    ]
}

fn replication_controller(rc: &Value, now: Timestamp) -> Vec<Value> {
    let [containers, images] = template_cells(rc, "/spec/template/spec");
    vec![
        name(rc).into(),
        desired(rc).into(),
        count(rc, "/status/replicas").into(),
        count(rc, "/status/readyReplicas").into(),
        age::created(rc, now),
        containers,
        images,
        labels(rc.pointer("/spec/selector")).into(),
    ]
}

fn stateful_set(sts: &Value, now: Timestamp) -> Vec<Value> {
    let [containers, images] = template_cells(sts, "/spec/template/spec");
    vec![
        name(sts).into(),
        format!("{}/{}", count(sts, "/status/readyReplicas"), desired(sts)).into(),
        age::created(sts, now),
        containers,
        images,
    ]
}

fn daemon_set(ds: &Value, now: Timestamp) -> Vec<Value> {
    let [containers, images] = template_cells(ds, "/spec/template/spec");
    vec![
        name(ds).into(),
        count(ds, "/status/desiredNumberScheduled").into(),
        count(ds, "/status/currentNumberScheduled").into(),
        count(ds, "/status/numberReady").into(),
        count(ds, "/status/updatedNumberScheduled").into(),
        count(ds, "/status/numberAvailable").into(),
        labels(ds.pointer("/spec/template/spec/nodeSelector")).into(),
        age::created(ds, now),
        containers,
        images,
        selector_or_none(ds.pointer("/spec/selector")).into(),
    ]
}

/// Whether the first condition of this type is true (`hasJobCondition`).
fn job_condition(job: &Value, kind: &str) -> bool {
    of_type(items(job, "/status/conditions"), kind).is_some_and(|c| text(c, "/status") == "True")
}

fn job(job: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = count(job, "/status/succeeded");
    let completions = match int(job, "/spec/completions") {
        Some(wanted) => format!("{succeeded}/{wanted}"),
        None => match count(job, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let started = non_empty(job, "/status/startTime").and_then(parse);
    let completed = non_empty(job, "/status/completionTime").and_then(parse);
    let duration = match (started, completed) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now.duration_since(start)),
        (Some(start), Some(end)) => human_duration(end.duration_since(start)),
    };
    let status = if job_condition(job, "Complete") {
        "Complete"
    } else if job_condition(job, "Failed") {
        "Failed"
    } else if job
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        "Terminating"
    } else if job_condition(job, "Suspended") {
        "Suspended"
    } else if job_condition(job, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let [containers, images] = template_cells(job, "/spec/template/spec");
    vec![
        name(job).into(),
        status.into(),
        completions.into(),
        duration.into(),
        age::created(job, now),
        containers,
        images,
        selector_or_none(job.pointer("/spec/selector")).into(),
    ]
}

fn cron_job(cj: &Value, now: Timestamp) -> Vec<Value> {
    let last_schedule = match non_empty(cj, "/status/lastScheduleTime") {
        Some(t) => since(Some(t), now),
        None => "<none>".into(),
    };
    let suspend = match super::fields::flag(cj, "/spec/suspend") {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let [containers, images] = template_cells(cj, "/spec/jobTemplate/spec/template/spec");
    vec![
        name(cj).into(),
        text(cj, "/spec/schedule").into(),
        non_empty(cj, "/spec/timeZone").unwrap_or("<none>").into(),
        suspend.into(),
        super::fields::len(cj, "/status/active").into(),
        last_schedule.into(),
        age::created(cj, now),
        containers,
        images,
        selector_or_none(cj.pointer("/spec/jobTemplate/spec/selector")).into(),
    ]
}

fn pod_template(t: &Value, _now: Timestamp) -> Vec<Value> {
    let [containers, images] = template_cells(t, "/template/spec");
    vec![
        name(t).into(),
        containers,
        images,
        labels(t.pointer("/template/metadata/labels")).into(),
    ]
}

fn controller_revision(rev: &Value, now: Timestamp) -> Vec<Value> {
    let owner = items(rev, "/metadata/ownerReferences")
        .iter()
        .find(|o| o.get("controller") == Some(&true.into()));
    let controller = match owner {
        None => "<none>".to_string(),
        Some(owner) => {
            let group = text(owner, "/apiVersion")
                .rsplit_once('/')
                .map_or("", |(g, _)| g);
            let kind = text(owner, "/kind");
            let group_kind = if group.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}.{group}")
            };
            if group_kind.is_empty() {
                text(owner, "/name").to_string()
            } else {
                format!("{}/{}", group_kind.to_lowercase(), text(owner, "/name"))
            }
        }
    };
    vec![
        name(rev).into(),
        controller.into(),
        count(rev, "/revision").into(),
        age::created(rev, now),
    ]
}

/// An int-or-string field (`2`, `"50%"`), or `N/A`.
fn int_or_string(object: &Value, pointer: &str) -> String {
    match object.pointer(pointer) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "N/A".into(),
    }
}

fn pdb(pdb: &Value, now: Timestamp) -> Vec<Value> {
    vec![
        name(pdb).into(),
        int_or_string(pdb, "/spec/minAvailable").into(),
        int_or_string(pdb, "/spec/maxUnavailable").into(),
        count(pdb, "/status/disruptionsAllowed").into(),
        age::created(pdb, now),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-05-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn deployment_row_matches_kubectl() {
        let d = json!({
            "metadata": {"name": "web", "creationTimestamp": "2024-05-01T11:50:00Z"},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [
                    {"name": "nginx", "image": "nginx:1.25"}, {"name": "sidecar", "image": "envoy:1"}]}},
            },
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
        });
        assert_eq!(
            deployment(&d, now()),
            vec![
                json!("web"),
                json!("2/3"),
                json!(3),
                json!(2),
                json!("10m"),
                json!("nginx,sidecar"),
                json!("nginx:1.25,envoy:1"),
                json!("app=web"),
            ]
        );
        let fresh = json!({"metadata": {"name": "new"}, "spec": {}});
        assert_eq!(deployment(&fresh, now())[1], "0/1");
    }

    #[test]
    fn jobs_report_status_completions_and_duration() {
        let done = json!({
            "metadata": {"name": "pi", "creationTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"completions": 1, "template": {"spec": {"containers": [{"name": "pi", "image": "perl"}]}},
                "selector": {"matchLabels": {"job-name": "pi"}}},
            "status": {"succeeded": 1, "startTime": "2024-05-01T11:00:00Z", "completionTime": "2024-05-01T11:00:42Z",
                "conditions": [{"type": "Complete", "status": "True"}]},
        });
        let row = job(&done, now());
        assert_eq!(row[1..4], [json!("Complete"), json!("1/1"), json!("42s")]);
        assert_eq!(row[7], "job-name=pi");
        let running = json!({"metadata": {"name": "w"}, "spec": {"parallelism": 3},
            "status": {"startTime": "2024-05-01T11:57:00Z"}});
        assert_eq!(
            job(&running, now())[1..4],
            [json!("Running"), json!("0/1 of 3"), json!("3m")]
        );
    }

    #[test]
    fn cron_jobs_show_schedule_and_last_run() {
        let cj = json!({"metadata": {"name": "nightly"}, "spec": {"schedule": "0 3 * * *", "suspend": false},
            "status": {"active": [{"name": "nightly-1"}], "lastScheduleTime": "2024-05-01T03:00:00Z"}});
        let row = cron_job(&cj, now());
        assert_eq!(
            row[1..6],
            [
                json!("0 3 * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("9h")
            ]
        );
        assert_eq!(row.len(), CRON_JOB.len());
    }

    #[test]
    fn every_printer_fills_every_column() {
        let empty = json!({"metadata": {"name": "x"}});
        for printer in PRINTERS {
            assert_eq!(
                (printer.cells)(&empty, now()).len(),
                printer.columns.len(),
                "{}",
                printer.kind
            );
        }
        let rev = json!({"metadata": {"name": "web-5d8", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "web", "controller": true}]}, "revision": 2});
        assert_eq!(
            controller_revision(&rev, now())[1..3],
            [json!("daemonset.apps/web"), json!(2)]
        );
        let budget = json!({"metadata": {"name": "b"}, "spec": {"minAvailable": "50%"}, "status": {"disruptionsAllowed": 1}});
        assert_eq!(
            pdb(&budget, now())[1..4],
            [json!("50%"), json!("N/A"), json!(1)]
        );
    }
}
