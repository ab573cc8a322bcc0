//! Integration tests of the aggregate: exact tables against an independent computation.
mod report;
