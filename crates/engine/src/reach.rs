//! A circuit breaker for "AWS is not there at all": VPN down, proxy gone,
//! endpoint dead. Without it every call of a sync retries its ten attempts
//! with backoff before giving up, and a sync of a small fleet takes minutes
//! to report what the first few seconds already showed (measured: 332 s for
//! eight tenants with the endpoint refusing connections).
//!
//! Every HTTP request fleetdeck sends, to every service and to STS for
//! AssumeRole, goes through `Breaker`, an [`HttpClient`] wrapping the
//! SDK's default one. It watches connection attempts: a few in a row that
//! could not even connect (refused, unreachable network, DNS failure,
//! connect timeout) trip it, and from then on every request of this sync
//! fails at once, without retries, with the error that tripped it. Any
//! answer from AWS, an error response included, proves the network fine and
//! clears the count. A new sync resets the breaker ([`Reachability::reset`]),
//! so the console recovers by itself on its next sync.

use std::error::Error as StdError;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{tls, Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// Connection attempts in a row that must fail before the breaker trips:
/// one refused connection may be a restarting proxy; three, across calls and
/// their retries, are an outage.
pub const TRIP_AFTER: u32 = 3;

/// Words that open the message of every request refused by a tripped
/// breaker; [`crate::aws::classify_text`] reads them as `unreachable`.
pub const UNREACHABLE: &str = "AWS unreachable";

/// Whether AWS answers, shared by every client of one [`crate::aws::AwsAccess`].
#[derive(Debug, Default)]
pub struct Reachability {
    failed_in_a_row: AtomicU32,
    /// Why the breaker tripped; `None` while closed.
    down: Mutex<Option<String>>,
}

impl Reachability {
    /// Close the breaker: the next requests try the network again.
    pub fn reset(&self) {
        self.failed_in_a_row.store(0, Ordering::Relaxed);
        *self.down.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Why AWS is considered unreachable, if it is.
    pub fn down(&self) -> Option<String> {
        self.down.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn answered(&self) {
        self.failed_in_a_row.store(0, Ordering::Relaxed);
    }

    fn could_not_connect(&self, why: String) {
        if self.failed_in_a_row.fetch_add(1, Ordering::Relaxed) + 1 >= TRIP_AFTER {
            let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
            if down.is_none() {
                tracing::warn!("{UNREACHABLE}: {why}; the rest of this sync is not attempted");
                *down = Some(why);
            }
        }
    }
}

/// The SDK's default HTTPS client (hyper 1, rustls), behind the breaker.
pub fn client(reach: Arc<Reachability>) -> SharedHttpClient {
    SharedHttpClient::new(Breaker { inner: default_https_client(), reach })
}

/// What `aws-smithy-runtime` builds for `default-https-client` (its own
/// constructor is crate-private): rustls with aws-lc, the proxy taken from
/// the environment as it does for current behavior versions.
fn default_https_client() -> SharedHttpClient {
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// One plain HTTPS GET outside any AWS API (the console sign-in endpoint),
/// through the same TLS stack and proxy settings as every AWS call, behind
/// `reach`'s breaker: (status, body as text). 15 seconds at most.
pub async fn get(reach: &Arc<Reachability>, url: &str) -> Result<(u16, String), String> {
    let mut conn =
        ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc));
    conn.set_proxy_config(Some(ProxyConfig::from_env()));
    let connector = BreakerConnector { inner: SharedHttpConnector::new(conn.build()), reach: reach.clone() };
    let request = HttpRequest::get(url).map_err(|e| format!("not a URL: {e}"))?;
    let sent = tokio::time::timeout(std::time::Duration::from_secs(15), connector.call(request));
    let response = sent.await.map_err(|_| "no answer in 15 s".to_string())?.map_err(|e| chain(&e))?;
    let status = response.status().as_u16();
    let body = aws_smithy_types::byte_stream::ByteStream::new(response.into_body())
        .collect()
        .await
        .map_err(|e| format!("the answer broke off: {e}"))?
        .into_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

#[derive(Debug)]
struct Breaker {
    inner: SharedHttpClient,
    reach: Arc<Reachability>,
}

impl HttpClient for Breaker {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(BreakerConnector {
            inner: self.inner.http_connector(settings, components),
            reach: self.reach.clone(),
        })
    }
}

#[derive(Debug)]
struct BreakerConnector {
    inner: SharedHttpConnector,
    reach: Arc<Reachability>,
}

impl HttpConnector for BreakerConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if let Some(why) = self.reach.down() {
            // `other` with no retry kind: the SDK does not retry it.
            let message = format!("{UNREACHABLE} ({why}); not retried until the next sync");
            return HttpConnectorFuture::ready(Err(ConnectorError::other(message.into(), None)));
        }
        let reach = self.reach.clone();
        let sent = self.inner.call(request);
        HttpConnectorFuture::new(async move {
            let result = sent.await;
            match &result {
                Ok(_) => reach.answered(),
                Err(e) if could_not_connect(e) => reach.could_not_connect(chain(e)),
                // A reset or truncated answer: something is there.
                Err(_) => reach.answered(),
            }
            result
        })
    }
}

/// Whether the request never reached a server: refused, no route, no DNS
/// answer, or the connect timeout.
pub(crate) fn could_not_connect(e: &ConnectorError) -> bool {
    use std::io::ErrorKind::*;
    let mut source: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if matches!(io.kind(), ConnectionRefused | HostUnreachable | NetworkUnreachable | AddrNotAvailable) {
                return true;
            }
        }
        source = err.source();
    }
    let text = chain(e).to_ascii_lowercase();
    ["dns error", "failed to lookup address", "connect timeout", "tcp connect error"].iter().any(|w| text.contains(w))
}

/// The error and its causes on one line.
fn chain(e: &ConnectorError) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(err) = source {
        out.push_str(": ");
        out.push_str(&err.to_string());
        source = err.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> ConnectorError {
        ConnectorError::io(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)))
    }

    #[test]
    fn refused_connections_count_and_resets_do_not() {
        assert!(could_not_connect(&refused()));
        let reset = ConnectorError::io(Box::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset)));
        assert!(!could_not_connect(&reset));
        let dns = ConnectorError::io("dns error: failed to lookup address information".into());
        assert!(could_not_connect(&dns));
    }

    #[test]
    fn the_breaker_trips_after_failures_in_a_row_and_an_answer_clears_the_count() {
        let reach = Reachability::default();
        for _ in 1..TRIP_AFTER {
            reach.could_not_connect("refused".into());
        }
        reach.answered();
        for _ in 1..TRIP_AFTER {
            reach.could_not_connect("refused".into());
        }
        assert_eq!(reach.down(), None, "an answer in between must clear the count");
        reach.could_not_connect("refused".into());
        assert_eq!(reach.down().as_deref(), Some("refused"));
        reach.reset();
        assert_eq!(reach.down(), None);
    }

    #[tokio::test]
    async fn a_tripped_breaker_refuses_at_once_without_a_retryable_kind() {
        let reach = Arc::new(Reachability::default());
        for _ in 0..TRIP_AFTER {
            reach.could_not_connect("connection refused".into());
        }
        let connector = BreakerConnector { inner: SharedHttpConnector::new(Never), reach: reach.clone() };
        let err = connector.call(HttpRequest::empty()).await.expect_err("refused while tripped");
        assert!(err.is_other() && err.as_other().is_none(), "{err:?} would be retried");
        assert!(chain(&err).contains(UNREACHABLE), "{}", chain(&err));
    }

    #[derive(Debug)]
    struct Never;
    impl HttpConnector for Never {
        fn call(&self, _: HttpRequest) -> HttpConnectorFuture {
            panic!("a tripped breaker sent a request")
        }
    }
}
