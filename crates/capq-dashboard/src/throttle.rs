//! Throttling of wrong tokens, per client, so the dashboard's token cannot be guessed.
//!
//! Without it a client could try about 4,900 tokens a second. Each client (its IP address;
//! IPv6 addresses by their /64, which one host usually owns whole) has a bucket of
//! `burst` failures that refills by one every `refill`. A wrong token, as `Authorization:
//! Bearer` or in the login form, takes one; a client whose bucket is empty is answered 429 with
//! `Retry-After`, and its token is not even checked, the right one included: otherwise a
//! guesser would learn that a guess was right from the answer. A person who mistypes the token
//! a few times never notices; a guesser is held to one try per `refill`.
//!
//! Session cookies are not counted: a cookie carries an HMAC-SHA256 tag no guess can match, and
//! counting stale ones (from before a token change) would lock out their owners. A client that
//! is throttled keeps the session it has, and other clients are not slowed at all: a check is
//! one lookup in a table behind a std mutex, held for that lookup only.
//!
//! Memory is bounded: the table holds at most `max_clients` buckets. When it is full, buckets
//! that have refilled (which say nothing) are dropped; if none has, the newcomer shares one
//! overflow bucket with every other newcomer, so filling the table from many addresses throttles
//! the attacker rather than resetting anyone's bucket.
//!
//! Every failure is logged at warn with the client's address, but at most once per
//! `log_every` per client (the next line says how many were left out) and at most
//! `log_burst` lines per `log_every` overall, so an attack cannot flood the log.
//!
//! Time is passed in (`now`), so tests drive it without sleeping.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

/// How hard wrong tokens are throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Wrong tokens a client may send before it has to wait.
    pub burst: u32,
    /// How long it takes to earn one more try back.
    pub refill: Duration,
    /// The most clients tracked at once.
    pub max_clients: usize,
    /// At most one log line per client per this long, and at most `log_burst` lines in all.
    pub log_every: Duration,
    pub log_burst: u32,
}

impl Default for ThrottleConfig {
    fn default() -> ThrottleConfig {
        ThrottleConfig {
            burst: 10,
            refill: Duration::from_secs(6),
            max_clients: 10_000,
            log_every: Duration::from_secs(60),
            log_burst: 20,
        }
    }
}

/// Who is throttled together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Client {
    /// An IPv4 address, or an IPv6 address with its last 64 bits cleared.
    Address(IpAddr),
    /// Requests whose peer address is not known (a router called without a listener).
    Unknown,
    /// Newcomers that found the table full.
    Overflow,
}

impl Client {
    pub fn of(address: Option<IpAddr>) -> Client {
        match address {
            None => Client::Unknown,
            Some(IpAddr::V4(v4)) => Client::Address(IpAddr::V4(v4)),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Client::Address(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Client::Address(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

/// The client a request came from: its peer address, as the listener saw it
/// ([`crate::serve`] records it). Never refuses: without one, the client is
/// [`Client::Unknown`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer(pub Client);

impl<S: Send + Sync> FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Peer, Self::Rejection> {
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip());
        Ok(Peer(Client::of(address)))
    }
}

impl std::fmt::Display for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Client::Address(IpAddr::V6(v6)) => write!(f, "{v6}/64"),
            Client::Address(ip) => write!(f, "{ip}"),
            Client::Unknown => f.write_str("an unknown address"),
            Client::Overflow => f.write_str("one of many new addresses"),
        }
    }
}

/// May a client try a token now?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Not before this long.
    Throttled {
        retry_after: Duration,
    },
}

/// What recording a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// Whether a warn line was written for it.
    pub logged: bool,
    /// Whether the client must now wait before its next try.
    pub now_throttled: bool,
}

/// A client's failures as a "theoretical arrival time" (the GCRA form of a token bucket): each
/// failure pushes `due` one `refill` further, from now at the earliest; the client may try
/// while `due` is at most `burst - 1` refills ahead. Whole `Instant`s, so no rounding.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    due: Instant,
    /// Failures since the last log line for this client, and when that line was written.
    unlogged: u64,
    logged_at: Option<Instant>,
}

#[derive(Debug)]
struct Table {
    clients: HashMap<Client, Bucket>,
    /// When refilled buckets were last dropped to make room.
    pruned_at: Option<Instant>,
    /// Log lines left in the current budget, when the budget was refilled, and lines skipped
    /// for want of budget.
    log_budget: u32,
    log_budget_at: Option<Instant>,
    log_skipped: u64,
}

/// The failure buckets of every client.
#[derive(Debug)]
pub struct Throttle {
    config: ThrottleConfig,
    /// How far ahead of now a client's `due` may be while it may still try: `burst - 1`
    /// refills.
    allowance: Duration,
    table: Mutex<Table>,
}

impl Throttle {
    pub fn new(config: ThrottleConfig) -> Throttle {
        let config = ThrottleConfig {
            burst: config.burst.max(1),
            max_clients: config.max_clients.max(1),
            ..config
        };
        Throttle {
            allowance: config.refill.saturating_mul(config.burst - 1),
            config,
            table: Mutex::new(Table {
                clients: HashMap::new(),
                pruned_at: None,
                log_budget: config.log_burst,
                log_budget_at: None,
                log_skipped: 0,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How long `bucket`'s client must wait at `now` before it may try again (zero: it may).
    fn wait(&self, bucket: &Bucket, now: Instant) -> Duration {
        match now.checked_add(self.allowance) {
            Some(limit) => bucket.due.saturating_duration_since(limit),
            None => Duration::ZERO,
        }
    }

    /// Whether `client` may try a token at `now`. Asking costs nothing.
    pub fn check(&self, client: Client, now: Instant) -> Verdict {
        let table = self.lock();
        match table.clients.get(&client).map(|b| self.wait(b, now)) {
            Some(wait) if !wait.is_zero() => Verdict::Throttled { retry_after: wait },
            _ => Verdict::Allowed,
        }
    }

    /// Records a wrong token from `client` (`via` says where: "bearer header", "login form")
    /// and logs it, within the log's limits.
    pub fn failed(&self, client: Client, via: &str, now: Instant) -> Failure {
        let mut table = self.lock();
        let client = self.slot(&mut table, client, now);
        let bucket = table.clients.entry(client).or_insert(Bucket {
            due: now,
            unlogged: 0,
            logged_at: None,
        });
        // One refill later than before (from now, if it was in the past), but never more than
        // a whole burst ahead: the wait a client sees is at most one refill.
        let pushed = bucket.due.max(now).checked_add(self.config.refill);
        let ceiling = now.checked_add(self.allowance + self.config.refill);
        if let (Some(pushed), Some(ceiling)) = (pushed, ceiling) {
            bucket.due = pushed.min(ceiling);
        }
        bucket.unlogged += 1;
        let failures = bucket.unlogged;
        let due_line = bucket
            .logged_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.config.log_every);
        let bucket = *bucket;
        let now_throttled = !self.wait(&bucket, now).is_zero();
        let mut logged = false;
        if due_line && take_log_budget(&mut table, &self.config, now) {
            let skipped = std::mem::take(&mut table.log_skipped);
            if let Some(bucket) = table.clients.get_mut(&client) {
                bucket.unlogged = 0;
                bucket.logged_at = Some(now);
            }
            // `failures` counts this client's wrong tokens since its previous line.
            tracing::warn!(
                client = %client,
                via,
                failures,
                throttled = now_throttled,
                lines_skipped_for_others = skipped,
                "wrong dashboard token"
            );
            logged = true;
        } else if due_line {
            table.log_skipped += 1;
        }
        Failure {
            logged,
            now_throttled,
        }
    }

    /// The key `client`'s failure is kept under: its own, or the overflow bucket when the
    /// table is full of clients that are still being held back.
    fn slot(&self, table: &mut Table, client: Client, now: Instant) -> Client {
        if client == Client::Overflow || table.clients.contains_key(&client) {
            return client;
        }
        let tracked = |table: &Table| {
            table.clients.len() - usize::from(table.clients.contains_key(&Client::Overflow))
        };
        // Dropping refilled buckets scans the table, so it is done at most once per refill
        // while the table stays full: a flood of new addresses cannot make every failure pay
        // for a scan.
        let may_prune = table
            .pruned_at
            .is_none_or(|at| now.saturating_duration_since(at) >= self.config.refill);
        if tracked(table) >= self.config.max_clients && may_prune {
            table.pruned_at = Some(now);
            table
                .clients
                .retain(|key, bucket| *key == Client::Overflow || bucket.due > now);
        }
        if tracked(table) >= self.config.max_clients {
            Client::Overflow
        } else {
            client
        }
    }

    /// How many clients are tracked (the overflow bucket included).
    #[cfg(test)]
    pub fn tracked(&self) -> usize {
        self.lock().clients.len()
    }
}

/// Takes one line from the global log budget, refilling it once `log_every` has passed.
fn take_log_budget(table: &mut Table, config: &ThrottleConfig, now: Instant) -> bool {
    let refresh = table
        .log_budget_at
        .is_none_or(|at| now.saturating_duration_since(at) >= config.log_every);
    if refresh {
        table.log_budget = config.log_burst;
        table.log_budget_at = Some(now);
    }
    if table.log_budget == 0 {
        return false;
    }
    table.log_budget -= 1;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> Client {
        Client::of(Some(text.parse().expect("an address")))
    }

    fn config() -> ThrottleConfig {
        ThrottleConfig {
            burst: 3,
            refill: Duration::from_secs(10),
            max_clients: 100,
            log_every: Duration::from_secs(60),
            log_burst: 100,
        }
    }

    #[test]
    fn a_few_failures_then_a_wait_that_refills() {
        let throttle = Throttle::new(config());
        let t0 = Instant::now();
        let client = ip("192.0.2.7");
        for n in 1..=3 {
            assert_eq!(throttle.check(client, t0), Verdict::Allowed, "try {n}");
            let failure = throttle.failed(client, "bearer header", t0);
            assert_eq!(failure.now_throttled, n == 3, "try {n}");
        }
        assert_eq!(
            throttle.check(client, t0),
            Verdict::Throttled {
                retry_after: Duration::from_secs(10)
            }
        );
        // Asking while throttled costs nothing: the wait only shrinks with time.
        let later = t0 + Duration::from_secs(4);
        assert_eq!(
            throttle.check(client, later),
            Verdict::Throttled {
                retry_after: Duration::from_secs(6)
            }
        );
        let t1 = t0 + Duration::from_secs(10);
        assert_eq!(throttle.check(client, t1), Verdict::Allowed);
        // One try was earned back, not the whole burst.
        assert!(throttle.failed(client, "login form", t1).now_throttled);
        assert!(matches!(
            throttle.check(client, t1),
            Verdict::Throttled { .. }
        ));
        // After a long quiet the whole burst is back.
        let t2 = t1 + Duration::from_secs(3600);
        for _ in 0..2 {
            assert!(!throttle.failed(client, "login form", t2).now_throttled);
        }
    }

    #[test]
    fn other_clients_are_not_held_back() {
        let throttle = Throttle::new(config());
        let now = Instant::now();
        let attacker = ip("198.51.100.1");
        for _ in 0..50 {
            throttle.failed(attacker, "bearer header", now);
        }
        assert!(matches!(
            throttle.check(attacker, now),
            Verdict::Throttled { .. }
        ));
        assert_eq!(throttle.check(ip("198.51.100.2"), now), Verdict::Allowed);
        assert_eq!(throttle.check(Client::Unknown, now), Verdict::Allowed);
        // Many failures do not make the wait grow beyond one refill.
        let Verdict::Throttled { retry_after } = throttle.check(attacker, now) else {
            panic!("throttled")
        };
        assert!(retry_after <= Duration::from_secs(10), "{retry_after:?}");
    }

    #[test]
    fn ipv6_clients_are_their_64_bit_prefix() {
        assert_eq!(ip("2001:db8:1:2:aaaa::1"), ip("2001:db8:1:2:bbbb::99"));
        assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
        assert_eq!(ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
        assert_eq!(ip("2001:db8:1:2:aaaa::1").to_string(), "2001:db8:1:2::/64");
        let throttle = Throttle::new(config());
        let now = Instant::now();
        for n in 0..3 {
            throttle.failed(ip(&format!("2001:db8:1:2::{n}")), "bearer header", now);
        }
        assert!(matches!(
            throttle.check(ip("2001:db8:1:2::ffff"), now),
            Verdict::Throttled { .. }
        ));
    }

    #[test]
    fn the_table_is_bounded_and_overflow_is_throttled_together() {
        let throttle = Throttle::new(ThrottleConfig {
            max_clients: 10,
            ..config()
        });
        let now = Instant::now();
        for n in 0..1000u32 {
            let client = Client::of(Some(IpAddr::from(n.to_be_bytes())));
            throttle.failed(client, "bearer header", now);
        }
        // Ten clients of their own plus the shared overflow bucket.
        assert_eq!(throttle.tracked(), 11);
        let newcomer = Client::of(Some(IpAddr::from([10, 9, 9, 9])));
        assert!(matches!(
            throttle.check(Client::Overflow, now),
            Verdict::Throttled { .. }
        ));
        // A newcomer that has not failed yet is not throttled for the others' failures...
        assert_eq!(throttle.check(newcomer, now), Verdict::Allowed);
        // ...but its failures land in the overflow bucket while the table is full.
        throttle.failed(newcomer, "bearer header", now);
        assert_eq!(throttle.tracked(), 11);
        // Once the tracked clients have refilled, they make room for new ones.
        let later = now + Duration::from_secs(3600);
        throttle.failed(newcomer, "bearer header", later);
        assert!(throttle.tracked() <= 2, "{}", throttle.tracked());
    }

    #[test]
    fn the_log_is_rate_limited_per_client_and_overall() {
        let throttle = Throttle::new(ThrottleConfig {
            log_burst: 5,
            ..config()
        });
        let t0 = Instant::now();
        let client = ip("203.0.113.9");
        assert!(throttle.failed(client, "bearer header", t0).logged);
        for _ in 0..100 {
            assert!(!throttle.failed(client, "bearer header", t0).logged);
        }
        let t1 = t0 + Duration::from_secs(60);
        assert!(throttle.failed(client, "bearer header", t1).logged);
        // Many clients at once: the overall budget caps the lines.
        let logged = (0..100u32)
            .filter(|n| {
                let client = Client::of(Some(IpAddr::from((n + 1000).to_be_bytes())));
                throttle.failed(client, "login form", t1).logged
            })
            .count();
        assert_eq!(logged, 4, "five lines per minute, one of them used above");
        let t2 = t1 + Duration::from_secs(60);
        assert!(throttle.failed(ip("203.0.113.10"), "login form", t2).logged);
    }
}
