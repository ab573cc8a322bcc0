//! The crate's one error type: a Redis failure with what we were doing, or a refusal.

/// Something that went wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action}: {source}")]
    Redis {
        action: &'static str,
        #[source]
        source: redis::RedisError,
    },
    #[error("invalid Redis URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error(
        "a live worker is already registered as `{0}` (pick another --name, or wait for its record to expire)"
    )]
    NameTaken(String),
    #[error("unexpected reply to {action}: {detail}")]
    Reply {
        action: &'static str,
        detail: String,
    },
    #[error("no job with id `{0}`")]
    NoSuchJob(String),
    #[error("job `{id}` is not running (it is {status})")]
    NotRunning { id: String, status: String },
}

impl Error {
    pub(crate) fn redis(action: &'static str) -> impl FnOnce(redis::RedisError) -> Error {
        move |source| Error::Redis { action, source }
    }

    /// True when the server could not be reached or is not ready (restarting, loading its
    /// data): trying again later may work.
    pub fn is_transient(&self) -> bool {
        let Error::Redis { source, .. } = self else {
            return false;
        };
        source.is_io_error()
            || source.is_connection_dropped()
            || source.is_connection_refusal()
            || source.is_timeout()
            || source.is_unrecoverable_error()
            || matches!(
                source.kind(),
                redis::ErrorKind::Server(
                    redis::ServerErrorKind::BusyLoading
                        | redis::ServerErrorKind::TryAgain
                        | redis::ServerErrorKind::MasterDown
                        | redis::ServerErrorKind::ClusterDown
                )
            )
    }
}

impl capq_core::broker::BrokerError for Error {
    fn is_transient(&self) -> bool {
        Error::is_transient(self)
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
