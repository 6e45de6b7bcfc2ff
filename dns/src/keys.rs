//! Service lookups by borrowed `(namespace, name)`, so a query builds no owned keys.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::Bound;

use crate::model::{Service, Snapshot};

/// Looks a Service up by borrowed `(namespace, name)` without building owned keys per query.
trait ServiceKey {
    fn key(&self) -> (&str, &str);
}

impl ServiceKey for (String, String) {
    fn key(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl ServiceKey for (&str, &str) {
    fn key(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl<'a> Borrow<dyn ServiceKey + 'a> for (String, String) {
    fn borrow(&self) -> &(dyn ServiceKey + 'a) {
        self
    }
}

// Ordered exactly as the tuple `(String, String)` orders, which the map's layout relies on.
impl PartialEq for dyn ServiceKey + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for dyn ServiceKey + '_ {}

impl PartialOrd for dyn ServiceKey + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for dyn ServiceKey + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

/// The exported Service `namespace/name`.
pub(crate) fn service<'s>(
    snapshot: &'s Snapshot,
    namespace: &str,
    name: &str,
) -> Option<&'s Service> {
    snapshot.services.get(&(namespace, name) as &dyn ServiceKey)
}

/// Whether any exported Service lives in `namespace`.
pub(crate) fn namespace_exists(snapshot: &Snapshot, namespace: &str) -> bool {
    let start = (namespace, "");
    let start: &dyn ServiceKey = &start;
    snapshot
        .services
        .range::<dyn ServiceKey, _>((Bound::Included(start), Bound::Unbounded))
        .next()
        .is_some_and(|((ns, _), _)| ns == namespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_keys_find_services_and_namespaces() {
        let mut snapshot = Snapshot::default();
        for (namespace, name) in [("a", "x"), ("default", "web"), ("defaultx", "y")] {
            snapshot
                .services
                .insert((namespace.into(), name.into()), Service::default());
        }
        assert!(service(&snapshot, "default", "web").is_some());
        assert!(service(&snapshot, "default", "x").is_none());
        assert!(service(&snapshot, "a", "web").is_none());
        for (namespace, exists) in [
            ("a", true),
            ("default", true),
            ("defaultx", true),
            ("defa", false),
            ("b", false),
            ("z", false),
            ("", false),
        ] {
            assert_eq!(
                namespace_exists(&snapshot, namespace),
                exists,
                "{namespace:?}"
            );
        }
    }
}
