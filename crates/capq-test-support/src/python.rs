//! placeholder: the project virtualenv; being written.
