//! What the agent last applied for each manifest, so a reconcile that changes nothing (one
//! started by the agent's own status write, or by the member updating the object's status)
//! observes the member object without applying it again.
//!
//! As Karmada's object watcher does, the member object's version after an apply is recorded:
//! its `metadata.generation` where the member counts spec changes, else its resourceVersion.
//! The manifest is applied again when the Work's spec changed since (its generation), when
//! the member object's version moved (someone edited its spec), or when a label or annotation
//! the agent sets is no longer on it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use serde_json::Value;

#[derive(Debug)]
struct Record {
    work_generation: i64,
    version: Version,
}

/// A member object's version as the record compares it.
#[derive(Debug, PartialEq, Eq)]
enum Version {
    Generation(i64),
    ResourceVersion(String),
}

impl Version {
    fn of(object: &Value) -> Option<Version> {
        let metadata = object.get("metadata")?;
        match metadata.get("generation").and_then(Value::as_i64) {
            Some(generation) if generation > 0 => Some(Version::Generation(generation)),
            _ => metadata
                .get("resourceVersion")
                .and_then(Value::as_str)
                .filter(|rv| !rv.is_empty())
                .map(|rv| Version::ResourceVersion(rv.to_string())),
        }
    }
}

/// The records of one agent, by Work name and manifest ordinal.
#[derive(Debug, Default)]
pub struct Records {
    works: Mutex<HashMap<String, HashMap<usize, Record>>>,
}

impl Records {
    /// Notes that `applied` is what the member returned for the manifest at `ordinal` of
    /// `work` at `work_generation`. Without a generation nothing is recorded, so the next
    /// reconcile applies again.
    pub fn applied(
        &self,
        work: &str,
        ordinal: usize,
        work_generation: Option<i64>,
        applied: &Value,
    ) {
        let mut works = self.lock();
        match (work_generation, Version::of(applied)) {
            (Some(work_generation), Some(version)) => {
                works.entry(work.to_string()).or_default().insert(
                    ordinal,
                    Record {
                        work_generation,
                        version,
                    },
                );
            }
            _ => {
                if let Some(manifests) = works.get_mut(work) {
                    manifests.remove(&ordinal);
                }
            }
        }
    }

    /// Whether applying `desired` again would change nothing: the Work is at the generation
    /// last applied, `live` is at the version the apply left, and `live` still carries every
    /// label and annotation of `desired`.
    pub fn unchanged(
        &self,
        work: &str,
        ordinal: usize,
        work_generation: Option<i64>,
        desired: &Value,
        live: &Value,
    ) -> bool {
        let Some(work_generation) = work_generation else {
            return false;
        };
        let works = self.lock();
        let Some(record) = works.get(work).and_then(|m| m.get(&ordinal)) else {
            return false;
        };
        record.work_generation == work_generation
            && Version::of(live).as_ref() == Some(&record.version)
            && ["labels", "annotations"]
                .iter()
                .all(|field| carries(desired, live, field))
    }

    /// Forgets every manifest of `work`, once it is gone or an apply of it failed.
    pub fn forget(&self, work: &str) {
        self.lock().remove(work);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, HashMap<usize, Record>>> {
        self.works
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Whether every entry of `desired`'s `metadata.<field>` map is in `live`'s, with its value.
fn carries(desired: &Value, live: &Value, field: &str) -> bool {
    let Some(wanted) = metadata_map(desired, field) else {
        return true;
    };
    let have = metadata_map(live, field);
    wanted
        .iter()
        .all(|(k, v)| have.and_then(|h| h.get(k)) == Some(v))
}

fn metadata_map<'a>(object: &'a Value, field: &str) -> Option<&'a serde_json::Map<String, Value>> {
    object
        .get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(generation: i64, rv: &str, labels: &Value) -> Value {
        json!({"metadata": {"name": "web", "generation": generation, "resourceVersion": rv,
            "labels": labels, "annotations": {"a": "1", "member.added": "x"}}})
    }

    fn desired() -> Value {
        json!({"metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"a": "1"}}})
    }

    #[test]
    fn a_status_change_of_the_member_object_needs_no_apply() {
        let records = Records::default();
        let applied = deployment(2, "10", &json!({"app": "web"}));
        records.applied("w", 0, Some(5), &applied);
        // The member wrote status: resourceVersion moved, generation did not.
        let live = deployment(2, "14", &json!({"app": "web", "extra": "y"}));
        assert!(records.unchanged("w", 0, Some(5), &desired(), &live));
    }

    #[test]
    fn spec_drift_work_changes_and_lost_metadata_apply_again() {
        let records = Records::default();
        records.applied(
            "w",
            0,
            Some(5),
            &deployment(2, "10", &json!({"app": "web"})),
        );
        let edited = deployment(3, "11", &json!({"app": "web"}));
        assert!(
            !records.unchanged("w", 0, Some(5), &desired(), &edited),
            "spec edited in the member"
        );
        let live = deployment(2, "10", &json!({"app": "web"}));
        assert!(
            !records.unchanged("w", 0, Some(6), &desired(), &live),
            "the Work changed"
        );
        assert!(
            !records.unchanged("w", 1, Some(5), &desired(), &live),
            "another manifest"
        );
        assert!(
            !records.unchanged("w", 0, None, &desired(), &live),
            "no Work generation"
        );
        let relabelled = deployment(2, "12", &json!({"app": "other"}));
        assert!(
            !records.unchanged("w", 0, Some(5), &desired(), &relabelled),
            "label changed"
        );
        records.forget("w");
        assert!(
            !records.unchanged("w", 0, Some(5), &desired(), &live),
            "forgotten"
        );
    }

    #[test]
    fn objects_without_a_generation_compare_their_resource_version() {
        let records = Records::default();
        let config = |rv: &str| json!({"metadata": {"name": "c", "resourceVersion": rv}});
        records.applied("w", 0, Some(1), &config("7"));
        let desired = json!({"metadata": {"name": "c"}});
        assert!(records.unchanged("w", 0, Some(1), &desired, &config("7")));
        assert!(!records.unchanged("w", 0, Some(1), &desired, &config("8")));
        // An apply whose result carries no version leaves nothing to compare with.
        records.applied("w", 0, Some(1), &json!({"metadata": {}}));
        assert!(!records.unchanged("w", 0, Some(1), &desired, &config("7")));
    }
}
