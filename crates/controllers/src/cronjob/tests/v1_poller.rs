//! v1 poller tests (see `super::super::v1`).
