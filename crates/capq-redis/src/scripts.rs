//! The Lua scripts, one per state change, loaded once and run by hash (`EVALSHA`, reloaded
//! transparently after a Redis restart flushes the script cache).

use redis::{Script, ScriptInvocation};

use crate::keys;

/// Every script, compiled into the binary. The scripts that end jobs start with
/// `lua/dependents.lua`, the one place RQ's rule for releasing dependents is written.
pub(crate) struct Scripts {
    pub claim: Script,
    pub claim_waited: Script,
    pub finish: Script,
    pub heartbeat: Script,
    pub maintain: Script,
    pub schedule: Script,
    pub register: Script,
    pub deregister: Script,
    pub requeue: Script,
    pub delete: Script,
    pub empty: Script,
    pub cancel: Script,
    pub depth: Script,
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            // Both claims keep a record of each call (claim_replay.lua), loaded in front.
            claim: Script::new(concat!(
                include_str!("lua/claim_replay.lua"),
                include_str!("lua/claim.lua")
            )),
            claim_waited: Script::new(concat!(
                include_str!("lua/claim_replay.lua"),
                include_str!("lua/claim_waited.lua")
            )),
            finish: Script::new(concat!(
                include_str!("lua/dependents.lua"),
                include_str!("lua/finish.lua")
            )),
            heartbeat: Script::new(include_str!("lua/heartbeat.lua")),
            maintain: Script::new(concat!(
                include_str!("lua/dependents.lua"),
                include_str!("lua/maintain.lua")
            )),
            schedule: Script::new(include_str!("lua/schedule.lua")),
            register: Script::new(include_str!("lua/register.lua")),
            deregister: Script::new(include_str!("lua/deregister.lua")),
            requeue: Script::new(include_str!("lua/requeue.lua")),
            delete: Script::new(include_str!("lua/delete.lua")),
            empty: Script::new(include_str!("lua/empty.lua")),
            cancel: Script::new(include_str!("lua/cancel.lua")),
            depth: Script::new(include_str!("lua/depth.lua")),
        }
    }
}

/// Starts an invocation of `script` with the key prefixes as `ARGV[1..12]`.
pub(crate) fn invoke(script: &Script) -> ScriptInvocation<'_> {
    let mut invocation = script.prepare_invoke();
    for prefix in keys::script_prefixes() {
        invocation.arg(prefix);
    }
    invocation
}
