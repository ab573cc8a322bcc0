//! Exit codes: 0 on success, 1 when the user's input is wrong, 2 when something else broke.
//! A closed stdout (`capq ... | head`) counts as success.

use std::process::ExitCode;

/// An error caused by the user's arguments or data (exit code 1).
#[derive(Debug)]
pub struct UserError(pub String);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

pub const SUCCESS: u8 = 0;
pub const INPUT: u8 = 1;
pub const INTERNAL: u8 = 2;

/// Prints `error` on stderr and picks the exit code for it.
pub fn report(error: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(error) {
        return ExitCode::from(SUCCESS);
    }
    eprintln!("error: {error:#}");
    ExitCode::from(code_for(error))
}

pub fn code_for(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.downcast_ref::<UserError>().is_some() {
            return INPUT;
        }
        if let Some(e) = cause.downcast_ref::<capmetrics::Error>() {
            return if e.is_input_error() { INPUT } else { INTERNAL };
        }
        if let Some(e) = cause.downcast_ref::<capq_redis::Error>() {
            return match e {
                capq_redis::Error::Url { .. }
                | capq_redis::Error::NameTaken(_)
                | capq_redis::Error::NoSuchJob(_)
                | capq_redis::Error::NotRunning { .. } => INPUT,
                _ => INTERNAL,
            };
        }
    }
    INTERNAL
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        // A write into `--output /dev/stdout` carries its I/O error inside its own message.
        let io = match cause.downcast_ref::<capmetrics::Error>() {
            Some(capmetrics::Error::Write { cause, .. }) => Some(cause),
            _ => cause.downcast_ref::<std::io::Error>(),
        };
        io.is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
