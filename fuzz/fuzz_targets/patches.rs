//! A target object and a patch (the input split at its first NUL byte, each JSON) go through
//! every patch kind the server applies: JSON patch, merge patch and strategic merge patch.
//! Each either applies or fails with an error; none panics.
#![no_main]

use karmada_apiserver::patch::{json_patch, merge_patch, strategic_merge_patch};
use karmada_apiserver::registry::catalog::Gvk;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|b| *b == 0) else {
        return;
    };
    let (Ok(target), Ok(patch)) = (
        serde_json::from_slice::<Value>(&data[..split]),
        serde_json::from_slice::<Value>(&data[split + 1..]),
    ) else {
        return;
    };
    let _ = json_patch(&target, &patch);
    let _ = merge_patch(&target, &patch);
    for (group, version, kind) in [("apps", "v1", "Deployment"), ("", "v1", "Pod")] {
        let _ = strategic_merge_patch(&target, &patch, &Gvk::new(group, version, kind));
    }
});
