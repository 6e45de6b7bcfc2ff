//! The federation apiserver serves Karmada's API from start: Karmada's own sample manifests
//! apply unchanged with the real kubectl, Karmada's defaults are filled in, and invalid
//! policies are refused with the path of the field to fix.

mod support;

use anyhow::ensure;
use support::apiserver::{ApiServer, Store};
use support::kubectl::Kubectl;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples/karmada");

const BAD_WEIGHTS: &str = "apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: bad}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment, name: nginx}]
  placement:
    clusterAffinity: {clusterNames: [member1, member2]}
    replicaScheduling:
      replicaSchedulingType: Divided
      weightPreference:
        staticWeightList:
        - {targetCluster: {clusterNames: [member1]}, weight: 0}
";

const TWO_AFFINITIES: &str = "apiVersion: policy.karmada.io/v1alpha1
kind: PropagationPolicy
metadata: {name: both}
spec:
  resourceSelectors: [{apiVersion: apps/v1, kind: Deployment}]
  placement:
    clusterAffinity: {clusterNames: [member1]}
    clusterAffinities: [{affinityName: a, clusterNames: [member2]}]
";

#[test]
fn karmada_samples_apply_unchanged_and_bad_policies_are_refused() -> anyhow::Result<()> {
    let server = ApiServer::start(Store::Memory)?;
    let k = Kubectl::new(&server)?;

    let crds = k.ok(&["get", "crds", "-o", "name"])?;
    for crd in [
        "propagationpolicies.policy.karmada.io",
        "clusterpropagationpolicies.policy.karmada.io",
        "overridepolicies.policy.karmada.io",
        "resourcebindings.work.karmada.io",
        "works.work.karmada.io",
        "clusters.cluster.karmada.io",
        "serviceexports.multicluster.x-k8s.io",
    ] {
        ensure!(crds.contains(crd), "{crd} is not served:\n{crds}");
    }

    // As Karmada's guestbook walkthrough does: the CRD first, then everything else.
    k.ok(&[
        "apply",
        "-f",
        &format!("{SAMPLES}/guestbook/guestbooks-crd.yaml"),
    ])?;
    k.ok(&[
        "wait",
        "--for=condition=established",
        "crd/guestbooks.webapp.my.domain",
        "--timeout=20s",
    ])?;
    for sample in ["nginx", "guestbook"] {
        k.ok(&["apply", "-f", &format!("{SAMPLES}/{sample}")])?;
    }
    let pp = k.ok(&["get", "pp", "nginx-propagation", "-o", "json"])?;
    let pp: serde_json::Value = serde_json::from_str(&pp)?;
    // Karmada's mutating webhook: the selector's namespace is the policy's, and the policy
    // gets a permanent id.
    ensure!(
        pp["spec"]["resourceSelectors"][0]["namespace"] == "default",
        "{pp:#}"
    );
    let id = &pp["metadata"]["labels"]["propagationpolicy.karmada.io/permanent-id"];
    ensure!(id.as_str().is_some_and(|id| id.len() == 36), "{pp:#}");
    let listed = k.ok(&["get", "propagationpolicies,overridepolicies"])?;
    ensure!(
        listed.contains("nginx-propagation") && listed.contains("nginx-op"),
        "{listed}"
    );
    let cpp = k.ok(&["get", "cpp"])?;
    ensure!(cpp.contains("example-policy"), "{cpp}");
    let explained = k.ok(&[
        "explain",
        "propagationpolicy.spec.placement.replicaScheduling",
    ])?;
    ensure!(explained.contains("weightPreference"), "{explained}");

    let bad = k.fails(&["apply", "-f", "-"], Some(BAD_WEIGHTS))?;
    ensure!(
        bad.stderr.contains("is invalid")
            && bad.stderr.contains(
                "spec.placement.replicaScheduling.weightPreference.staticWeightList[0].weight"
            ),
        "{bad:?}"
    );
    let both = k.fails(&["apply", "-f", "-"], Some(TWO_AFFINITIES))?;
    ensure!(both.stderr.contains("clusterAffinities"), "{both:?}");
    let stored = k.ok(&["get", "pp", "-o", "name"])?;
    ensure!(
        !stored.contains("bad") && !stored.contains("both"),
        "{stored}"
    );
    Ok(())
}
