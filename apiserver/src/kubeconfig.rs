//! Kubeconfig files for the clusters we start, so kubectl and kube-rs can reach them.

use std::path::Path;

/// One cluster entry of a kubeconfig, and the context of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    pub name: String,
    pub server: String,
}

/// Renders a kubeconfig with one cluster, user and context per entry; the first is current.
pub fn render(contexts: &[Context]) -> String {
    let mut clusters = String::new();
    let mut users = String::new();
    let mut ctxs = String::new();
    for c in contexts {
        clusters.push_str(&format!(
            "- name: {}\n  cluster:\n    server: {}\n",
            c.name, c.server
        ));
        users.push_str(&format!("- name: {}\n  user: {{}}\n", c.name));
        ctxs.push_str(&format!(
            "- name: {0}\n  context:\n    cluster: {0}\n    user: {0}\n    namespace: default\n",
            c.name
        ));
    }
    let current = contexts
        .first()
        .map(|c| c.name.as_str())
        .unwrap_or_default();
    format!(
        "apiVersion: v1\nkind: Config\npreferences: {{}}\ncurrent-context: {current}\nclusters:\n{clusters}users:\n{users}contexts:\n{ctxs}"
    )
}

/// Writes a kubeconfig atomically (write then rename), so readers never see half a file.
pub fn write(path: &Path, contexts: &[Context]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, render(contexts))?;
    std::fs::rename(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_context_is_current() {
        let text = render(&[
            Context {
                name: "karmada".into(),
                server: "http://127.0.0.1:1".into(),
            },
            Context {
                name: "member1".into(),
                server: "http://127.0.0.1:2".into(),
            },
        ]);
        assert!(text.contains("current-context: karmada\n"));
        assert!(text.contains("- name: member1\n  cluster:\n    server: http://127.0.0.1:2\n"));
    }
}
