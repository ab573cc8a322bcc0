//! `capq --version` names the release and the processor fingerprint built into the binary.

use crate::{capq, stdout};

#[test]
fn version_prints_the_processor_fingerprint() {
    for flag in ["--version", "-V"] {
        let output = capq(&[flag]);
        assert!(output.status.success(), "{output:?}");
        assert_eq!(
            stdout(&output),
            format!(
                "capq {} (processor {})\n",
                env!("CARGO_PKG_VERSION"),
                capmetrics::PROCESSOR_FINGERPRINT
            )
        );
    }
    assert_eq!(capmetrics::PROCESSOR_FINGERPRINT.len(), 16);
}
