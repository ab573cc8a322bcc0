//! Reading a job's dependencies for the task that runs it: RQ's `rq:job::<id>:dependencies`
//! set, then each parent's status and call. The batch's aggregate job reads them to tell which
//! days failed; a parent whose record has expired (finished jobs are kept only for their
//! result TTL) is reported without a status.

use capq_core::env::{JobRecord, JobRecords};
use capq_core::payload::Call;
use futures::future::BoxFuture;
use redis::AsyncCommands;

use crate::client::Redis;
use crate::error::{Error, Result};
use crate::keys;

/// Parents read per round trip.
const PER_TRIP: usize = 1_000;

impl Redis {
    /// The jobs `id` depends on, sorted by id, each with its status and call (both `None` when
    /// the record is gone; the call is also `None` when its data does not decode).
    pub async fn dependency_records(&self, id: &str) -> Result<Vec<JobRecord>> {
        let mut conn = self.conn.clone();
        let mut parents: Vec<String> = conn
            .smembers(keys::dependencies(id))
            .await
            .map_err(Error::redis("read a job's dependencies"))?;
        parents.sort();
        let mut records = Vec::with_capacity(parents.len());
        for chunk in parents.chunks(PER_TRIP) {
            let mut pipe = redis::pipe();
            for parent in chunk {
                pipe.cmd("HMGET")
                    .arg(keys::job(parent))
                    .arg("status")
                    .arg("data");
            }
            let fields: Vec<(Option<String>, Option<Vec<u8>>)> = pipe
                .query_async(&mut conn)
                .await
                .map_err(Error::redis("read a job's dependencies"))?;
            for (parent, (status, data)) in chunk.iter().zip(fields) {
                records.push(JobRecord {
                    id: parent.clone(),
                    status,
                    call: data.and_then(|data| Call::decode(&data).ok()),
                });
            }
        }
        Ok(records)
    }
}

impl JobRecords for Redis {
    fn dependencies<'a>(
        &'a self,
        job_id: &'a str,
    ) -> BoxFuture<'a, std::result::Result<Vec<JobRecord>, String>> {
        Box::pin(async move {
            self.dependency_records(job_id)
                .await
                .map_err(|e| e.to_string())
        })
    }
}
