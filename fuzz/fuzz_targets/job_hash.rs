//! The job-hash reader: any set of field/value pairs a claim can return becomes a `Job` (or a
//! job that fails with a reason), its call binds to a task or fails with a message, and its
//! retry policy gives a delay. Nothing panics.

#![no_main]

use std::sync::LazyLock;

use capq_core::broker::Claimed;
use capq_core::job::{Defaults, Job};
use capq_core::task::{Registry, bind};
use capq_fuzz::JobHash;
use libfuzzer_sys::fuzz_target;

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::builtin);

fuzz_target!(|hash: JobHash| {
    let claimed = Claimed {
        id: "fuzz".to_owned(),
        queue: "default".to_owned(),
        execution_id: "e1".to_owned(),
        fields: hash.fields,
    };
    let job = Job::from_claimed(claimed, Defaults::default());
    let _ = job.retry_delay();
    match &job.call {
        Ok(call) => {
            let _ = call.call_string();
            if let Ok(task) = REGISTRY.get(&call.func) {
                let _ = bind(&*task, call);
            }
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
});
