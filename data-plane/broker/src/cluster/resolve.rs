//! Host names of peers and controller voters for the brokers' HTTP calls
//! to each other (controller requests, observers' record pages): the same
//! resolution as the peer transport's (`fjord_node::Resolver`: the
//! `--hosts-file` first, then DNS, at every new connection, failures
//! counted in `fjord_node_resolve_failures_total`). A connection reqwest
//! keeps alive to a Pod that restarted fails, and the next one resolves
//! the name again.

use std::sync::Arc;
use std::time::Duration;

use fjord_node::Resolver;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Debug, Clone)]
struct PeerNames(Resolver);

impl Resolve for PeerNames {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in.
            let found = resolver.resolve_host(&host, 0).await?;
            let addresses: Addrs = Box::new(found.into_iter());
            Ok(addresses)
        })
    }
}

/// The HTTP client brokers call each other's admin API with: the admin
/// token header, short timeouts and peer name resolution.
pub fn http_client(resolver: &Resolver, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(crate::security::admin::outgoing_headers())
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(1))
        .dns_resolver(Arc::new(PeerNames(resolver.clone())))
        .build()
        .expect("a plain HTTP client builds")
}
