//! S3 through `object_store`: settings from the standard `AWS_*` variables, one client per
//! bucket made on first use, and the translation of its errors into ours.
//!
//! `object_store` reports failures as one error type whose HTTP status is only visible in the
//! message text (its retry error type is private), so the status is recovered from the variant
//! where it can be and from the text otherwise. Only that decides retry versus permanent
//! failure, and the tests pin the behaviour against a real server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::client::HttpError;
use object_store::path::Path as ObjectPath;
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig};

use crate::error::StorageError;
use crate::storage::{Entry, Stat};

/// Region used when neither `AWS_REGION` nor `AWS_DEFAULT_REGION` is set.
const DEFAULT_REGION: &str = "us-east-1";

/// The S3 settings read from `AWS_*` variables, and the clients made from them so far.
pub(crate) struct S3 {
    /// Every recognised `AWS_*` setting except the endpoint, region and bucket, which are
    /// decided below.
    options: Vec<(AmazonS3ConfigKey, String)>,
    endpoint: Option<String>,
    region: String,
    /// Whether the variables chose the URL style themselves.
    explicit_url_style: bool,
    clients: Mutex<HashMap<String, Arc<AmazonS3>>>,
}

impl std::fmt::Debug for S3 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the options: they hold the credentials.
        f.debug_struct("S3")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl S3 {
    /// Reads the settings from `(name, value)` pairs, as in the process environment.
    ///
    /// The endpoint is the first of `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` and
    /// `AWS_ENDPOINT`; the region is `AWS_REGION`, else `AWS_DEFAULT_REGION`, else us-east-1.
    /// Every other variable `object_store` knows (credentials, session token, web identity,
    /// `AWS_ALLOW_HTTP`, …) is passed on as is.
    pub(crate) fn from_vars<K, V>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Result<S3, StorageError>
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut options = Vec::new();
        let mut endpoints: [Option<String>; 3] = Default::default();
        let mut regions: [Option<String>; 2] = Default::default();
        let mut explicit_url_style = false;
        for (name, value) in vars {
            let (name, value) = (name.as_ref(), value.as_ref().to_owned());
            match name {
                "AWS_ENDPOINT_URL_S3" => endpoints[0] = Some(value),
                "AWS_ENDPOINT_URL" => endpoints[1] = Some(value),
                "AWS_ENDPOINT" => endpoints[2] = Some(value),
                "AWS_REGION" => regions[0] = Some(value),
                "AWS_DEFAULT_REGION" => regions[1] = Some(value),
                // The bucket comes from each location.
                "AWS_BUCKET" | "AWS_BUCKET_NAME" => {}
                _ if name.starts_with("AWS_") => {
                    let Ok(key) = name.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() else {
                        continue;
                    };
                    explicit_url_style |= key == AmazonS3ConfigKey::VirtualHostedStyleRequest;
                    options.push((key, value));
                }
                _ => {}
            }
        }
        let s3 = S3 {
            options,
            endpoint: endpoints.into_iter().flatten().find(|e| !e.is_empty()),
            region: regions
                .into_iter()
                .flatten()
                .find(|r| !r.is_empty())
                .unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            explicit_url_style,
            clients: Mutex::default(),
        };
        // Catch bad settings now, at startup, rather than at the first job. Building a client
        // does no I/O.
        s3.build("capq-settings-check")?;
        Ok(s3)
    }

    fn build(&self, bucket: &str) -> Result<AmazonS3, StorageError> {
        let mut builder = AmazonS3Builder::new()
            // The worker retries transient failures itself, with the job's own backoff, so a
            // request should not sit in object_store's retry loop for minutes (its default).
            .with_retry(RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..RetryConfig::default()
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(120)),
            );
        for (key, value) in &self.options {
            builder = builder.with_config(*key, value);
        }
        builder = builder.with_bucket_name(bucket).with_region(&self.region);
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint);
            if endpoint.starts_with("http://") {
                builder = builder.with_allow_http(true);
            }
            // S3-compatible servers (moto, MinIO, Ceph) expect path-style requests.
            if !self.explicit_url_style {
                builder = builder.with_virtual_hosted_style_request(false);
            }
        }
        builder.build().map_err(|e| StorageError::Config {
            location: format!("s3://{bucket}"),
            detail: format!("{e} (check the AWS_* variables)"),
        })
    }

    fn client(&self, bucket: &str) -> Result<Arc<AmazonS3>, StorageError> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(bucket) {
            return Ok(Arc::clone(client));
        }
        let client = Arc::new(self.build(bucket)?);
        clients.insert(bucket.to_owned(), Arc::clone(&client));
        Ok(client)
    }

    pub(crate) async fn put(
        &self,
        bucket: &str,
        key: &str,
        data: Bytes,
    ) -> Result<(), StorageError> {
        let path = object_path(bucket, key, "write", false)?;
        let client = self.client(bucket)?;
        match client.put(&path, PutPayload::from(data)).await {
            Ok(_) => Ok(()),
            Err(error) => Err(translate(&error, "write", bucket, key)),
        }
    }

    pub(crate) async fn get(&self, bucket: &str, key: &str) -> Result<Option<Bytes>, StorageError> {
        let path = object_path(bucket, key, "read", false)?;
        let client = self.client(bucket)?;
        let result = match client.get(&path).await {
            Ok(result) => result,
            Err(error) => return not_found_or(error, "read", bucket, key),
        };
        match result.bytes().await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) => not_found_or(error, "read", bucket, key),
        }
    }

    pub(crate) async fn list(&self, bucket: &str, key: &str) -> Result<Vec<String>, StorageError> {
        let prefix = object_path(bucket, key, "list", true)?;
        let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
        let client = self.client(bucket)?;
        let listing = match client.list_with_delimiter(prefix.as_ref()).await {
            Ok(listing) => listing,
            Err(error) => return Err(translate(&error, "list", bucket, key)),
        };
        let mut names: Vec<String> = listing
            .objects
            .iter()
            .filter_map(|object| object.location.filename())
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }
}

impl S3 {
    /// The files directly under a prefix, with their sizes and modification times, sorted by
    /// name.
    pub(crate) async fn list_entries(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<Entry>, StorageError> {
        let listing = self.listing(bucket, key).await?;
        let mut entries: Vec<Entry> = listing
            .objects
            .iter()
            .filter_map(|object| {
                let name = object.location.filename().filter(|n| !n.is_empty())?;
                Some(Entry {
                    name: name.to_owned(),
                    size: Some(object.size),
                    modified: Some(object.last_modified.into()),
                })
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries.dedup_by(|a, b| a.name == b.name);
        Ok(entries)
    }
}

/// What identifies an object's content without reading it: its ETag (S3 gives the same
/// ETag to a server-side copy of a single-part object) and its length.
fn stamp_of(meta: &object_store::ObjectMeta) -> Stat {
    let tag = meta
        .e_tag
        .as_deref()
        .map(|t| t.trim_matches('"').to_owned())
        .unwrap_or_else(|| format!("modified {}", meta.last_modified.timestamp_micros()));
    Stat {
        size: meta.size,
        stamp: format!("s3:{tag}:{}", meta.size),
    }
}

impl S3 {
    /// The object's length and stamp; `None` when it does not exist.
    pub(crate) async fn stat(&self, bucket: &str, key: &str) -> Result<Option<Stat>, StorageError> {
        let path = object_path(bucket, key, "inspect", false)?;
        let client = self.client(bucket)?;
        match client.head(&path).await {
            Ok(meta) => Ok(Some(stamp_of(&meta))),
            Err(error) => not_found_or(error, "inspect", bucket, key),
        }
    }

    /// The objects directly under a prefix with their stamps, and the sub-folders (common
    /// prefixes), both sorted by name.
    pub(crate) async fn list_stats(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<(Vec<(String, Stat)>, Vec<String>), StorageError> {
        let listing = self.listing(bucket, key).await?;
        let mut files: Vec<(String, Stat)> = listing
            .objects
            .iter()
            .filter_map(|object| {
                let name = object.location.filename().filter(|n| !n.is_empty())?;
                Some((name.to_owned(), stamp_of(object)))
            })
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files.dedup_by(|a, b| a.0 == b.0);
        let mut folders: Vec<String> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_owned))
            .collect();
        folders.sort();
        folders.dedup();
        Ok((files, folders))
    }

    /// One listing of the objects and common prefixes directly under `key`.
    async fn listing(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<object_store::ListResult, StorageError> {
        let prefix = object_path(bucket, key, "list", true)?;
        let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
        let client = self.client(bucket)?;
        client
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(|error| translate(&error, "list", bucket, key))
    }

    /// A server-side copy within one bucket (no bytes pass through this process).
    pub(crate) async fn copy(
        &self,
        bucket: &str,
        from: &str,
        to: &str,
    ) -> Result<(), StorageError> {
        let source = object_path(bucket, from, "copy", false)?;
        let target = object_path(bucket, to, "write", false)?;
        let client = self.client(bucket)?;
        client
            .copy(&source, &target)
            .await
            .map_err(|error| translate(&error, "copy", bucket, from))
    }

    /// Deletes an object; a missing one is no error.
    pub(crate) async fn delete(&self, bucket: &str, key: &str) -> Result<(), StorageError> {
        let path = object_path(bucket, key, "delete", false)?;
        let client = self.client(bucket)?;
        match client.delete(&path).await {
            Ok(()) => Ok(()),
            Err(error) => not_found_or::<()>(error, "delete", bucket, key).map(|_| ()),
        }
    }
}

/// The object path of a key; a folder's trailing `/` is dropped, a file's is an error.
fn object_path(
    bucket: &str,
    key: &str,
    action: &'static str,
    folder: bool,
) -> Result<ObjectPath, StorageError> {
    let location = display(bucket, key);
    let invalid = |reason: String| StorageError::InvalidLocation {
        text: location.clone(),
        reason,
    };
    if !folder && (key.is_empty() || key.ends_with('/')) {
        return Err(invalid(format!(
            "cannot {action} a folder; name an object key"
        )));
    }
    ObjectPath::parse(key.trim_end_matches('/')).map_err(|e| invalid(e.to_string()))
}

fn display(bucket: &str, key: &str) -> String {
    if key.is_empty() {
        format!("s3://{bucket}")
    } else {
        format!("s3://{bucket}/{key}")
    }
}

/// `Ok(None)` for a missing object (but not for a missing bucket), else the error.
fn not_found_or<T>(
    error: object_store::Error,
    action: &'static str,
    bucket: &str,
    key: &str,
) -> Result<Option<T>, StorageError> {
    match translate(&error, action, bucket, key) {
        StorageError::Remote {
            status: Some(404), ..
        } => Ok(None),
        other => Err(other),
    }
}

/// Our error for an `object_store` error, with the status and the transient decision.
fn translate(
    error: &object_store::Error,
    action: &'static str,
    bucket: &str,
    key: &str,
) -> StorageError {
    let location = display(bucket, key);
    let text = error_chain(error);
    let status = status_of(error, &text);
    let s3_code = xml_field(&text, "Code");
    if status == Some(404) && s3_code.as_deref() == Some("NoSuchBucket") {
        return StorageError::NoSuchBucket {
            bucket: bucket.to_owned(),
            location,
        };
    }
    let transport = has_transport_error(error);
    let throttled = s3_code.as_deref().is_some_and(|code| {
        matches!(
            code,
            "SlowDown" | "Throttling" | "ThrottlingException" | "RequestTimeout" | "InternalError"
        ) || code.contains("ServiceUnavailable")
    });
    let transient = transport || throttled || status.is_some_and(crate::http::is_transient_status);
    let detail = match (status, s3_code) {
        (Some(status), Some(code)) => match xml_field(&text, "Message") {
            Some(message) => format!("HTTP {status}, {code}: {message}"),
            None => format!("HTTP {status}, {code}"),
        },
        (Some(status), None) => format!("HTTP {status}"),
        (None, _) => text,
    };
    StorageError::Remote {
        action,
        location,
        detail,
        status,
        transient,
    }
}

/// The error's message followed by those of its sources that add something.
fn error_chain(error: &object_store::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = cause.source();
    }
    text
}

/// The HTTP status of a failed request: from the variant where it implies one, else from the
/// text of object_store's retry error ("… status code: 503 Service Unavailable …").
fn status_of(error: &object_store::Error, text: &str) -> Option<u16> {
    match error {
        object_store::Error::NotFound { .. } => return Some(404),
        object_store::Error::PermissionDenied { .. } => return Some(403),
        object_store::Error::Unauthenticated { .. } => return Some(401),
        object_store::Error::Precondition { .. } => return Some(412),
        object_store::Error::AlreadyExists { .. } => return Some(409),
        object_store::Error::NotModified { .. } => return Some(304),
        _ => {}
    }
    let marker = "status code: ";
    let at = text.find(marker)? + marker.len();
    text.get(at..at + 3)?.parse().ok()
}

/// True when the request failed on the wire (connect, timeout, reset), not with an answer.
fn has_transport_error(error: &object_store::Error) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = current {
        if cause.downcast_ref::<HttpError>().is_some()
            || cause.downcast_ref::<reqwest::Error>().is_some()
        {
            return true;
        }
        current = cause.source();
    }
    false
}

/// The text of the first `<name>…</name>` element of an S3 error body found in `text`.
fn xml_field(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&format!("</{name}>"))?;
    let value = text[start..end].trim();
    (!value.is_empty()).then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_endpoint_and_region_in_order_of_precedence() {
        let s3 = S3::from_vars(vars(&[
            ("AWS_ENDPOINT", "http://c:1"),
            ("AWS_ENDPOINT_URL", "http://b:1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("HOME", "/root"),
        ]))
        .unwrap();
        assert_eq!(s3.endpoint.as_deref(), Some("http://b:1"));
        assert_eq!(s3.region, "eu-west-1");
        assert!(
            !format!("{s3:?}").contains("\"s\""),
            "credentials stay out of Debug"
        );
        let s3 = S3::from_vars(vars(&[
            ("AWS_ENDPOINT_URL", "http://b:1"),
            ("AWS_ENDPOINT_URL_S3", "http://a:1"),
            ("AWS_REGION", "us-west-2"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
        ]))
        .unwrap();
        assert_eq!(s3.endpoint.as_deref(), Some("http://a:1"));
        assert_eq!(s3.region, "us-west-2");
        let s3 = S3::from_vars(Vec::<(String, String)>::new()).unwrap();
        assert_eq!((s3.endpoint, s3.region.as_str()), (None, "us-east-1"));
    }

    #[test]
    fn bad_settings_fail_at_startup() {
        let err = S3::from_vars(vars(&[("AWS_ACCESS_KEY_ID", "only-the-key")])).unwrap_err();
        assert!(matches!(err, StorageError::Config { .. }), "{err:?}");
        assert!(err.to_string().contains("AWS_"), "{err}");
        assert!(!err.is_transient());
    }

    #[test]
    fn object_paths_need_a_key() {
        assert!(object_path("b", "", "read", false).is_err());
        assert!(object_path("b", "dir/", "read", false).is_err());
        assert_eq!(
            object_path("b", "dir/", "list", true).unwrap().as_ref(),
            "dir"
        );
        assert_eq!(
            object_path("b", "a b/c.csv", "read", false)
                .unwrap()
                .as_ref(),
            "a b/c.csv"
        );
    }

    #[test]
    fn reads_statuses_and_s3_codes_from_text() {
        let text = "Generic S3 error: Error performing GET http://h/b/k in 1ms - Server returned \
                    non-2xx status code: 503 Service Unavailable: <Error><Code>SlowDown</Code>\
                    <Message>Reduce your rate</Message></Error>";
        let error = object_store::Error::Generic {
            store: "S3",
            source: text.into(),
        };
        assert_eq!(status_of(&error, text), Some(503));
        let translated = translate(&error, "read", "b", "k");
        assert!(translated.is_transient());
        assert_eq!(
            translated.to_string(),
            "cannot read s3://b/k: HTTP 503, SlowDown: Reduce your rate"
        );
        let denied = object_store::Error::PermissionDenied {
            path: "k".into(),
            source: "<Error><Code>AccessDenied</Code></Error>".into(),
        };
        let translated = translate(&denied, "write", "b", "k");
        assert_eq!(translated.status(), Some(403));
        assert!(!translated.is_transient());
        let missing_bucket = object_store::Error::NotFound {
            path: "k".into(),
            source: "<Error><Code>NoSuchBucket</Code></Error>".into(),
        };
        let translated = translate(&missing_bucket, "read", "nope", "k");
        assert!(matches!(translated, StorageError::NoSuchBucket { .. }));
        assert_eq!(
            translated.to_string(),
            "bucket nope does not exist (s3://nope/k)"
        );
    }
}
