//! What a finished `campaignctl` process printed, for the tests that spawn it themselves
//! (`apply`, `postgres`) rather than through the `Test` builder.

use std::os::unix::process::ExitStatusExt;

#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn from(output: std::process::Output) -> Run {
        Run {
            code: output.status.code(),
            signal: output.status.signal(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(code),
            "exit status (signal {:?})\n--- stdout\n{}--- stderr\n{}",
            self.signal,
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout read as CSV (`status --format csv`): every record, the header first.
    #[track_caller]
    pub fn csv(&self) -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(self.stdout.as_bytes())
            .records()
            .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
            .collect()
    }

    /// Neither stream shows `secret`.
    #[track_caller]
    pub fn assert_hides(&self, secret: &str) -> &Self {
        for (stream, text) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            assert!(
                !text.contains(secret),
                "a secret appears in {stream}:\n{text}"
            );
        }
        self
    }
}
