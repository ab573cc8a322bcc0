//! The crate's one error type: a Redis failure with what we were doing, or a refusal.
//!
//! The message is complete on its own: the Redis client's error is part of the text and is not
//! also exposed as `source()`. It already carries its own cause (the I/O error), so exposing
//! it too made anyhow's `{:#}` print "connection refused" three times.

/// Something that went wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{action}: {cause}")]
    Redis {
        action: &'static str,
        cause: redis::RedisError,
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
        move |cause| Error::Redis { action, cause }
    }

    /// True when the server could not be reached or is not ready (restarting, loading its
    /// data): trying again later may work.
    pub fn is_transient(&self) -> bool {
        let Error::Redis { cause, .. } = self else {
            return false;
        };
        cause.is_io_error()
            || cause.is_connection_dropped()
            || cause.is_connection_refusal()
            || cause.is_timeout()
            || cause.is_unrecoverable_error()
            || matches!(
                cause.kind(),
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
