//! Limits on requests in flight, so one client cannot take the server from the others: each
//! authenticated client (its user name) may have at most so many requests running at once,
//! and the server as a whole at most so many; watches, which stay open by design, do not
//! count. (Without authentication every local component is the same anonymous caller, so only
//! the total applies.) Over a limit, a request gets 429 with `Retry-After`, as
//! kube-apiserver answers past `--max-requests-inflight`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_client: usize,
    pub total: usize,
}

impl Default for Limits {
    fn default() -> Self {
        // kube-apiserver's --max-requests-inflight is 400 across all clients.
        Limits {
            per_client: 100,
            total: 400,
        }
    }
}

/// Requests in flight, per client and in all.
#[derive(Debug, Default)]
pub struct InFlight {
    limits: Limits,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_client: HashMap<String, usize>,
}

/// Holds one request's place; dropping it frees the place.
#[derive(Debug)]
pub struct Slot {
    owner: Arc<InFlight>,
    client: Option<String>,
}

/// Which limit a refused request hit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Full {
    Client(String),
    Server,
}

impl std::fmt::Display for Full {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Full::Client(client) => write!(
                f,
                "too many requests from {client} in flight at once; wait for some to finish \
                 and try again"
            ),
            Full::Server => f.write_str("too many requests in flight, please try again later"),
        }
    }
}

impl InFlight {
    pub fn new(limits: Limits) -> InFlight {
        InFlight {
            limits,
            counts: Mutex::default(),
        }
    }

    /// A place for one more request of `client` (`None`: counted in the total only), or
    /// which limit is reached.
    pub fn enter(self: &Arc<Self>, client: Option<&str>) -> Result<Slot, Full> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        if counts.total >= self.limits.total {
            return Err(Full::Server);
        }
        if let Some(client) = client {
            let mine = counts.per_client.entry(client.to_string()).or_default();
            if *mine >= self.limits.per_client {
                return Err(Full::Client(client.to_string()));
            }
            *mine += 1;
        }
        counts.total += 1;
        Ok(Slot {
            owner: Arc::clone(self),
            client: client.map(str::to_string),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.owner.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.total = counts.total.saturating_sub(1);
        if let Some(client) = &self.client
            && let Some(mine) = counts.per_client.get_mut(client)
        {
            *mine -= 1;
            if *mine == 0 {
                counts.per_client.remove(client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_client_and_the_server_have_a_ceiling_and_places_come_back() {
        let limits = Arc::new(InFlight::new(Limits {
            per_client: 2,
            total: 3,
        }));
        let a1 = limits.enter(Some("a")).unwrap();
        let _a2 = limits.enter(Some("a")).unwrap();
        assert_eq!(
            limits.enter(Some("a")).unwrap_err(),
            Full::Client("a".into())
        );
        let _b1 = limits.enter(Some("b")).unwrap();
        assert_eq!(limits.enter(Some("c")).unwrap_err(), Full::Server);
        assert_eq!(limits.enter(None).unwrap_err(), Full::Server);
        drop(a1);
        let _anonymous = limits.enter(None).unwrap();
        assert_eq!(limits.enter(Some("a")).unwrap_err(), Full::Server);
        assert!(Full::Client("a".into()).to_string().contains("from a"));
    }

    #[test]
    fn a_client_without_requests_leaves_no_trace() {
        let limits = Arc::new(InFlight::new(Limits::default()));
        drop(limits.enter(Some("once")).unwrap());
        drop(limits.enter(None).unwrap());
        assert!(limits.counts.lock().unwrap().per_client.is_empty());
    }
}
