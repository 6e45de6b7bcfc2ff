//! Completion indexes of Indexed Jobs: the pod annotation that carries one, and the compressed
//! interval text (`"0-2,5"`) `status.completedIndexes` stores them in.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;

/// Annotation (and, since Kubernetes 1.28, label) naming an Indexed Job pod's index.
pub const INDEX_KEY: &str = "batch.kubernetes.io/job-completion-index";

/// The completion index a pod runs, from its annotation.
pub fn of_pod(pod: &Pod) -> Option<i32> {
    pod.annotations()
        .get(INDEX_KEY)?
        .parse()
        .ok()
        .filter(|i| *i >= 0)
}

/// Parses `"0-2,5"`; malformed parts are skipped, as a status we cannot read must not stop the
/// Job (the pods are recounted anyway).
pub fn parse(text: &str) -> BTreeSet<i32> {
    let mut set = BTreeSet::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        if let (Ok(first), Ok(last)) = (first.parse::<i32>(), last.parse::<i32>()) {
            set.extend(first..=last);
        }
    }
    set
}

/// Formats indexes as ascending intervals, `"0-2,5"`.
pub fn format(set: &BTreeSet<i32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(i32, i32)> = None;
    for &i in set {
        run = match run {
            Some((first, last)) if i == last + 1 => Some((first, i)),
            Some(done) => {
                parts.push(interval(done));
                Some((i, i))
            }
            None => Some((i, i)),
        };
    }
    parts.extend(run.map(interval));
    parts.join(",")
}

fn interval((first, last): (i32, i32)) -> String {
    if first == last {
        first.to_string()
    } else {
        format!("{first}-{last}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_intervals() {
        let cases = [
            ("", vec![]),
            ("3", vec![3]),
            ("0-2", vec![0, 1, 2]),
            ("0-2,5,7-8", vec![0, 1, 2, 5, 7, 8]),
        ];
        for (text, indexes) in cases {
            let set: BTreeSet<i32> = indexes.into_iter().collect();
            assert_eq!(parse(text), set, "{text}");
            assert_eq!(format(&set), text, "{text}");
        }
        assert_eq!(format(&parse("x,1, 2-3")), "1-3");
    }

    #[test]
    fn pod_index_comes_from_the_annotation() {
        let pod = |v: serde_json::Value| -> Pod { serde_json::from_value(v).expect("pod") };
        let with = pod(serde_json::json!({"metadata": {"annotations": {INDEX_KEY: "4"}}}));
        assert_eq!(of_pod(&with), Some(4));
        let bad = pod(serde_json::json!({"metadata": {"annotations": {INDEX_KEY: "-1"}}}));
        assert_eq!(of_pod(&bad), None);
        assert_eq!(of_pod(&Pod::default()), None);
    }
}
