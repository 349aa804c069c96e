//! Test databases on the PostgreSQL server the tests use (`CAMPAIGNCTL_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`): each test gets its own, dropped after.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use postgres::{Config, NoTls};

use super::*;

pub(crate) fn admin_url() -> String {
    std::env::var("CAMPAIGNCTL_TEST_PG").unwrap_or_else(|_| {
        "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".to_owned()
    })
}

/// A fresh database, dropped (with every session on it) when this is dropped.
pub(crate) struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub(crate) fn create(label: &str) -> TestDb {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let label: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let name = format!(
            "campaignctl_test_{}_{}_{label}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = Config::from_str(&admin_url().replace("?sslmode=disable", ""))
            .expect("admin URL")
            .connect(NoTls)
            .unwrap_or_else(|e| {
                panic!("the PostgreSQL tests need a server at {}: {e}", admin_url())
            });
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let base = admin_url();
        let (root, _) = base.rsplit_once('/').expect("URL with a database");
        TestDb {
            url: format!("{root}/{name}?sslmode=disable"),
            name,
        }
    }

    pub(crate) fn location(&self) -> PgLocation {
        PgLocation::parse(&self.url).expect("test URL parses")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = Config::from_str(&admin_url().replace("?sslmode=disable", ""))
            .and_then(|c| c.connect(NoTls))
        {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
