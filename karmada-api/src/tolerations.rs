//! Whether a toleration tolerates a taint, by Kubernetes' rules, for member-cluster taints
//! (the federation's scheduler and taint manager) and node taints (the member scheduler) alike.

use k8s_openapi::api::core::v1::{Taint, Toleration};

/// An empty effect matches every effect, an empty key (with `Exists`) every key; `Equal`, the
/// default operator, also compares values; an unknown operator tolerates nothing.
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    fn set(s: &Option<String>) -> Option<&str> {
        s.as_deref().filter(|s| !s.is_empty())
    }
    if set(&toleration.effect).is_some_and(|e| e != taint.effect)
        || set(&toleration.key).is_some_and(|k| k != taint.key)
    {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or_default() {
        "Exists" => true,
        "Equal" | "" => {
            toleration.value.as_deref().unwrap_or_default()
                == taint.value.as_deref().unwrap_or_default()
        }
        _ => false,
    }
}

/// Whether any of `tolerations` tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn toleration_rules() {
        let taint: Taint =
            serde_json::from_value(json!({"key": "k", "value": "v", "effect": "NoSchedule"}))
                .unwrap();
        let cases = [
            (
                json!({"key": "k", "value": "v", "effect": "NoSchedule"}),
                true,
            ),
            (json!({"key": "k", "operator": "Equal", "value": "v"}), true),
            (
                json!({"key": "k", "operator": "Equal", "value": "w"}),
                false,
            ),
            (json!({"key": "k", "operator": "Exists"}), true),
            (json!({"operator": "Exists"}), true),
            (json!({"operator": "Exists", "effect": "NoExecute"}), false),
            (json!({"key": "other", "operator": "Exists"}), false),
            (
                json!({"key": "k", "operator": "Bogus", "value": "v"}),
                false,
            ),
        ];
        for (toleration, want) in cases {
            let t: Toleration = serde_json::from_value(toleration.clone()).unwrap();
            assert_eq!(tolerates(&t, &taint), want, "{toleration}");
        }
    }
}
