//! The connection to Redis: one multiplexed, self-reconnecting connection for ordinary
//! commands, and a second one, opened on first use, for blocking waits (a blocking command
//! would stall every other command queued behind it on a shared connection).
//!
//! URLs may carry a password (`redis://:secret@host:6379/0`) and TLS (`rediss://…`); a CA for a
//! private TLS deployment can be given in `CAPQ_REDIS_CA_FILE`.

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::scripts::Scripts;

/// A handle on a Redis server holding an RQ layout. Cheap to clone.
#[derive(Clone)]
pub struct Redis {
    pub(crate) conn: ConnectionManager,
    pub(crate) client: redis::Client,
    pub(crate) scripts: Arc<Scripts>,
    blocking: Arc<Mutex<Option<ConnectionManager>>>,
    url: String,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// How long an ordinary command may take before it counts as a lost connection.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

impl Redis {
    /// Connects, failing if the server cannot be reached now.
    pub async fn connect(url: &str) -> Result<Redis> {
        install_crypto_provider();
        let client = open(url)?;
        let conn = client
            .get_connection_manager_with_config(config(Some(RESPONSE_TIMEOUT)))
            .await
            .map_err(Error::redis("connect"))?;
        Ok(Redis {
            conn,
            client,
            scripts: Arc::new(Scripts::new()),
            blocking: Arc::new(Mutex::new(None)),
            url: redact(url),
        })
    }

    /// The URL with any password replaced by `***`, for messages.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connection of its own for blocking commands (`BLMOVE`), taken for one call: opened
    /// if there is none. Give it back with
    /// [`give_back_blocking_connection`](Redis::give_back_blocking_connection) once the call
    /// ended; a call abandoned midway drops it instead, which closes it, and Redis then drops
    /// the blocked command rather than carrying it out for no one.
    pub(crate) async fn take_blocking_connection(&self) -> Result<ConnectionManager> {
        if let Some(conn) = self.blocking.lock().await.take() {
            return Ok(conn);
        }
        self.client
            .get_connection_manager_with_config(config(None))
            .await
            .map_err(Error::redis("connect"))
    }

    /// Keeps the blocking connection for the next call.
    pub(crate) async fn give_back_blocking_connection(&self, conn: ConnectionManager) {
        self.blocking.lock().await.get_or_insert(conn);
    }
}

fn config(response_timeout: Option<Duration>) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(5)))
        .set_response_timeout(response_timeout)
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_secs(2))
}

fn open(url: &str) -> Result<redis::Client> {
    let bad = |reason: String| Error::Url {
        url: redact(url),
        reason,
    };
    if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://"))
    {
        return Err(bad("expected redis://, rediss:// or unix://".into()));
    }
    match std::env::var("CAPQ_REDIS_CA_FILE") {
        Ok(path) if url.starts_with("rediss://") => {
            let root_cert = std::fs::read(&path)
                .map_err(|e| bad(format!("cannot read CAPQ_REDIS_CA_FILE {path}: {e}")))?;
            let certificates = redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root_cert),
            };
            redis::Client::build_with_tls(url, certificates).map_err(|e| bad(e.to_string()))
        }
        _ => redis::Client::open(url).map_err(|e| bad(e.to_string())),
    }
}

/// Hides the password of a URL.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Both object_store and redis bring rustls; with more than one crypto backend compiled in,
/// rustls needs the process-wide choice made explicitly.
fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("redis://:s3cret@host:6379/0"),
            "redis://:***@host:6379/0"
        );
        assert_eq!(
            redact("rediss://user:pw@host/1"),
            "rediss://user:***@host/1"
        );
        assert_eq!(redact("redis://localhost:6379"), "redis://localhost:6379");
    }
}
