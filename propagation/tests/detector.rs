//! The detector against a real federation apiserver: templates of any kind are claimed by
//! their best policy and get a binding that follows the template and the policy.

mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use karmada_api::policy::propagation::{
    CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL, ClusterPropagationPolicy,
    PROPAGATION_POLICY_FINALIZER, PROPAGATION_POLICY_NAME_ANNOTATION,
    PROPAGATION_POLICY_PERMANENT_ID_LABEL, PropagationPolicy,
};
use karmada_api::work::binding::{
    ClusterResourceBinding, RESOURCE_BINDING_PERMANENT_ID_LABEL, ResourceBinding,
};
use karmada_propagation::detector::controller;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::json;

use support::{clear_finalizers, federation, until, yaml};

const NGINX: &str = include_str!("../../samples/karmada/nginx/deployment.yaml");
const NGINX_POLICY: &str = include_str!("../../samples/karmada/nginx/propagationpolicy.yaml");

async fn binding_state(client: &Client, name: &str) -> anyhow::Result<Option<ResourceBinding>> {
    Ok(
        Api::<ResourceBinding>::namespaced(client.clone(), "default")
            .get_opt(name)
            .await?,
    )
}

#[tokio::test]
async fn deployments_are_bound_by_their_policy_and_released_with_it() -> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    tokio::spawn(controller::run(client.clone(), fed.cancel.child_token()));

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let policies: Api<PropagationPolicy> = Api::namespaced(client.clone(), "default");
    deployments
        .create(&PostParams::default(), &yaml(NGINX)?)
        .await?;
    policies
        .create(&PostParams::default(), &yaml(NGINX_POLICY)?)
        .await?;

    let binding = until("nginx-deployment bound with 2 replicas", || {
        let client = client.clone();
        async move {
            Ok(match binding_state(&client, "nginx-deployment").await? {
                Some(b) if b.spec.replicas == Some(2) => Ok(b),
                other => Err(format!("{other:?}")),
            })
        }
    })
    .await?;
    let placement = binding.spec.placement.as_ref().expect("placement copied");
    let names = &placement
        .cluster_affinity
        .as_ref()
        .expect("cluster affinity")
        .cluster_names;
    assert_eq!(names, &["member1", "member2"]);
    assert!(
        binding
            .labels()
            .contains_key(RESOURCE_BINDING_PERMANENT_ID_LABEL)
    );
    assert_eq!(
        binding
            .annotations()
            .get(PROPAGATION_POLICY_NAME_ANNOTATION),
        Some(&"nginx-propagation".to_string())
    );
    let owner = &binding.owner_references()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Deployment", "nginx")
    );

    // The template is claimed and the policy guarded by the detector's finalizer.
    let template = deployments.get("nginx").await?;
    let policy = policies.get("nginx-propagation").await?;
    let policy_id = policy.labels()[PROPAGATION_POLICY_PERMANENT_ID_LABEL].clone();
    assert_eq!(
        template.labels().get(PROPAGATION_POLICY_PERMANENT_ID_LABEL),
        Some(&policy_id)
    );
    until("the policy finalizer", || {
        let policies = policies.clone();
        async move {
            let finalizers = policies
                .get("nginx-propagation")
                .await?
                .finalizers()
                .to_vec();
            Ok(
                if finalizers.iter().any(|f| f == PROPAGATION_POLICY_FINALIZER) {
                    Ok(())
                } else {
                    Err(format!("{finalizers:?}"))
                },
            )
        }
    })
    .await?;

    // The binding follows the template's replicas and keeps its permanent id.
    let id = binding.labels()[RESOURCE_BINDING_PERMANENT_ID_LABEL].clone();
    deployments
        .patch(
            "nginx",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 5}})),
        )
        .await?;
    until("the binding at 5 replicas", || {
        let client = client.clone();
        let id = id.clone();
        async move {
            Ok(match binding_state(&client, "nginx-deployment").await? {
                Some(b)
                    if b.spec.replicas == Some(5)
                        && b.labels().get(RESOURCE_BINDING_PERMANENT_ID_LABEL) == Some(&id) =>
                {
                    Ok(())
                }
                other => Err(format!("{other:?}")),
            })
        }
    })
    .await?;

    // A deleted binding comes back while the template is claimed. (No binding controller runs
    // here to remove its finalizer, so the test does.)
    let bindings: Api<ResourceBinding> = Api::namespaced(client.clone(), "default");
    bindings
        .delete("nginx-deployment", &DeleteParams::default())
        .await?;
    clear_finalizers(&bindings, "nginx-deployment").await?;
    until("the binding recreated with a new permanent id", || {
        let client = client.clone();
        let id = id.clone();
        async move {
            Ok(match binding_state(&client, "nginx-deployment").await? {
                Some(b) if b.labels().get(RESOURCE_BINDING_PERMANENT_ID_LABEL) != Some(&id) => {
                    Ok(())
                }
                other => Err(format!("{:?}", other.map(|b| b.metadata))),
            })
        }
    })
    .await?;

    // Deleting the policy releases the template's claim and lets the policy go.
    policies
        .delete("nginx-propagation", &DeleteParams::default())
        .await?;
    until("the policy gone and the claim released", || {
        let (policies, deployments) = (policies.clone(), deployments.clone());
        async move {
            let policy = policies.get_opt("nginx-propagation").await?;
            let labels = deployments.get("nginx").await?.labels().clone();
            Ok(
                if policy.is_none() && !labels.contains_key(PROPAGATION_POLICY_PERMANENT_ID_LABEL) {
                    Ok(())
                } else {
                    Err(format!(
                        "policy present: {}, labels {labels:?}",
                        policy.is_some()
                    ))
                },
            )
        }
    })
    .await?;

    // A ClusterPropagationPolicy then claims it.
    let cpp: ClusterPropagationPolicy = serde_json::from_value(json!({
        "apiVersion": "policy.karmada.io/v1alpha1", "kind": "ClusterPropagationPolicy",
        "metadata": {"name": "everything"},
        "spec": {"resourceSelectors": [{"apiVersion": "apps/v1", "kind": "Deployment"}],
                 "placement": {"clusterAffinity": {"clusterNames": ["member3"]}}},
    }))?;
    Api::<ClusterPropagationPolicy>::all(client.clone())
        .create(&PostParams::default(), &cpp)
        .await?;
    until("the cluster policy's claim", || {
        let deployments = deployments.clone();
        async move {
            let labels = deployments.get("nginx").await?.labels().clone();
            Ok(
                if labels.contains_key(CLUSTER_PROPAGATION_POLICY_PERMANENT_ID_LABEL) {
                    Ok(())
                } else {
                    Err(format!("{labels:?}"))
                },
            )
        }
    })
    .await?;
    fed.cancel.cancel();
    Ok(())
}

#[tokio::test]
async fn cluster_scoped_and_custom_kinds_are_bound_too() -> anyhow::Result<()> {
    let fed = federation().await?;
    let client = fed.client.clone();
    tokio::spawn(controller::run(client.clone(), fed.cancel.child_token()));

    // A CRD created after the detector started: its kind is discovered and watched.
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object",
                         "x-kubernetes-preserve-unknown-fields": true}}}]},
    }))?;
    Api::<CustomResourceDefinition>::all(client.clone())
        .create(&PostParams::default(), &crd)
        .await?;
    let cpp: ClusterPropagationPolicy = serde_json::from_value(json!({
        "apiVersion": "policy.karmada.io/v1alpha1", "kind": "ClusterPropagationPolicy",
        "metadata": {"name": "widgets-and-roles"},
        "spec": {"resourceSelectors": [
                    {"apiVersion": "example.com/v1", "kind": "Widget"},
                    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                     "name": "reader"}],
                 "placement": {"clusterAffinity": {"clusterNames": ["member1"]}}},
    }))?;
    Api::<ClusterPropagationPolicy>::all(client.clone())
        .create(&PostParams::default(), &cpp)
        .await?;

    let role: ClusterRole = serde_json::from_value(json!({
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
    }))?;
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &role)
        .await?;
    let cluster_bindings: Api<ClusterResourceBinding> = Api::all(client.clone());
    until("reader-clusterrole bound", || {
        let cluster_bindings = cluster_bindings.clone();
        async move {
            Ok(
                match cluster_bindings.get_opt("reader-clusterrole").await? {
                    Some(b)
                        if b.spec.resource.kind == "ClusterRole" && b.spec.replicas.is_none() =>
                    {
                        Ok(())
                    }
                    other => Err(format!("{other:?}")),
                },
            )
        }
    })
    .await?;

    let widgets = ApiResource {
        group: "example.com".into(),
        version: "v1".into(),
        api_version: "example.com/v1".into(),
        kind: "Widget".into(),
        plural: "widgets".into(),
    };
    let widget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"}, "spec": {"size": 3},
    }))?;
    // The CRD may take a moment to be served.
    until("the widget created", || {
        let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &widgets);
        let widget = widget.clone();
        async move {
            Ok(match api.create(&PostParams::default(), &widget).await {
                Ok(_) => Ok(()),
                Err(kube::Error::Api(e)) if e.code == 404 => Err(e.message),
                Err(e) => return Err(e.into()),
            })
        }
    })
    .await?;
    until("w1-widget bound", || {
        let client = client.clone();
        async move {
            Ok(match binding_state(&client, "w1-widget").await? {
                Some(b) if b.spec.resource.api_version == "example.com/v1" => Ok(()),
                other => Err(format!("{other:?}")),
            })
        }
    })
    .await?;
    fed.cancel.cancel();
    Ok(())
}
