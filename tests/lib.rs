//! Integration tests: the real binary, real files, real servers on loopback.

mod apply;
mod mock_api;
