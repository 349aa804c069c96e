//! A test's world on either ledger: a sandbox (campaign files, a mock API) and the ledger
//! its commands use, the SQLite file of the sandbox or a fresh PostgreSQL database (dropped
//! after the test). Tests of what must hold on both backends run once per world.

use std::str::FromStr;

use serde_json::Value;

use crate::apply::Sandbox;
use crate::output::Run;
use crate::postgres::TestDb;

/// The instant the worlds' commands plan at, unless a test says otherwise.
pub(crate) const NOW: &str = "2026-11-30T09:00:00+05:30";

pub(crate) struct World {
    pub(crate) sb: Sandbox,
    pub(crate) state: String,
    db: Option<TestDb>,
}

impl World {
    pub(crate) fn sqlite() -> World {
        let sb = Sandbox::new();
        let state = sb.state().display().to_string();
        World {
            sb,
            state,
            db: None,
        }
    }

    pub(crate) fn postgres(label: &str) -> World {
        let db = TestDb::create(label);
        World {
            sb: Sandbox::new(),
            state: db.url(),
            db: Some(db),
        }
    }

    /// Whether the ledger is the sandbox's SQLite file.
    pub(crate) fn is_sqlite(&self) -> bool {
        self.db.is_none()
    }

    /// Both, each test running once per backend.
    pub(crate) fn both(label: &str) -> [World; 2] {
        [World::sqlite(), World::postgres(label)]
    }

    /// `campaignctl ARGS --state STATE`.
    pub(crate) fn run(&self, args: &[&str]) -> Run {
        let mut all = args.to_vec();
        all.extend(["--state", &self.state]);
        self.sb.run(&all)
    }

    /// `apply campaigns --yes --now NOW --rate 0 EXTRA...` (a later `--now` in EXTRA wins).
    pub(crate) fn apply(&self, extra: &[&str]) -> Run {
        let mut args = vec!["apply", "campaigns", "--yes", "--now", NOW, "--rate", "0"];
        args.extend(extra);
        self.run(&args)
    }

    /// `apply campaigns --yes --now AT --rate 0 EXTRA...`.
    pub(crate) fn apply_at(&self, at: &str, extra: &[&str]) -> Run {
        let mut args = vec!["apply", "campaigns", "--yes", "--now", at, "--rate", "0"];
        args.extend(extra);
        self.run(&args)
    }

    /// Moves every timestamp the ledger recorded `hours` into the past, as if the sends had
    /// been made that long ago.
    pub(crate) fn age_ledger(&self, hours: i64) {
        match &self.db {
            None => self.execute(&format!(
                "UPDATE sends SET
                     created_at = strftime('%Y-%m-%dT%H:%M:%fZ', created_at, '-{hours} hours'),
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '-{hours} hours')"
            )),
            Some(_) => self.execute(&format!(
                "UPDATE sends SET
                     created_at = to_char((created_at::timestamptz - interval '{hours} hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'),
                     updated_at = to_char((updated_at::timestamptz - interval '{hours} hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            )),
        }
    }

    /// `plan campaigns --now NOW --format FORMAT`.
    pub(crate) fn plan(&self, format: &str) -> Run {
        self.run(&["plan", "campaigns", "--now", NOW, "--format", format])
    }

    pub(crate) fn plan_json(&self) -> Value {
        let run = self.plan("json");
        run.assert_code(0);
        serde_json::from_str(&run.stdout).expect("plan JSON")
    }

    /// `status --format FORMAT`, which must succeed.
    pub(crate) fn status(&self, format: &str) -> Run {
        let run = self.run(&["status", "--format", format]);
        run.assert_code(0);
        run
    }

    /// Runs `sql` on the ledger, as if time had passed.
    pub(crate) fn execute(&self, sql: &str) {
        match &self.db {
            None => {
                rusqlite::Connection::open(self.sb.state())
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
            Some(db) => {
                postgres::Config::from_str(&db.url())
                    .unwrap()
                    .connect(postgres::NoTls)
                    .unwrap()
                    .batch_execute(sql)
                    .unwrap();
            }
        }
    }
}
