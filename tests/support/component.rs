//! A `karmada` component that serves no API of its own (controller-manager, scheduler,
//! agent) as a child process, its log kept for failure messages, killed on drop.

use std::process::Child;
use std::sync::{Arc, Mutex};

use anyhow::Context;

use super::apiserver::{drain, karmada};

pub struct Component {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Component {
    /// Starts `karmada <args...>`.
    pub fn start(args: &[&str]) -> anyhow::Result<Component> {
        let mut child = karmada(args)
            .spawn()
            .with_context(|| format!("starting karmada {}", args.join(" ")))?;
        let stderr = child.stderr.take().context("stderr was not piped")?;
        let log = Arc::new(Mutex::new(Vec::new()));
        // The lines are also kept in `log`; nobody needs them as they come.
        drop(drain(stderr, Arc::clone(&log)));
        Ok(Component { child, log })
    }

    /// Ends the component with SIGKILL, as a crash would; stopping twice does nothing more.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Everything the component logged so far.
    pub fn log(&self) -> String {
        self.log
            .lock()
            .map(|lines| lines.join("\n"))
            .unwrap_or_default()
    }
}

impl Drop for Component {
    fn drop(&mut self) {
        self.stop();
    }
}
