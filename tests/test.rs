//! `Test`: runs the real `campaignctl` binary in a fresh temporary directory holding
//! inline files, and asserts its exit status and output (in the style of casey/just's
//! integration tests).
//!
//! ```ignore
//! Test::new()
//!     .file("campaigns/a.yaml", "
//!         template: t
//!         ...
//!     ")
//!     .args(["validate"])
//!     .stderr("...")
//!     .status(1)
//!     .run();
//! ```
//!
//! Every expectation that is set is checked; the exit status is always checked (default 0).
//! Inline text (files, expected stdout and stderr) is unindented, so it can be written
//! indented inside the test; pass bytes (`b"..."`) to write a file exactly as given.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_campaignctl");

/// The repository root: the bundled `campaigns/` and `schemas/` are relative to it.
pub const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The project file of the fixtures, relative to [`REPO`]: it sets nothing, so a fixture run
/// from the repository root is not checked against the bundled campaigns' template
/// catalogue (the repository's `campaignctl.yaml`).
pub const FIXTURES_CONFIG: &str = "tests/fixtures/campaignctl.yaml";

/// What `validate` says after its summary when there is no template catalogue.
pub const NO_CATALOGUE_NOTE: &str = "note: template names, languages, param counts and media are not checked: there is no template catalogue; list your templates under `templates:` in campaignctl.yaml (see docs/templates.md)\n";

/// File contents: text is unindented, bytes are written as they are.
pub trait Contents {
    fn into_bytes(self) -> Vec<u8>;
}

impl Contents for &str {
    fn into_bytes(self) -> Vec<u8> {
        unindent(self).into_bytes()
    }
}

impl Contents for String {
    fn into_bytes(self) -> Vec<u8> {
        unindent(&self).into_bytes()
    }
}

impl Contents for &[u8] {
    fn into_bytes(self) -> Vec<u8> {
        self.to_vec()
    }
}

impl<const N: usize> Contents for &[u8; N] {
    fn into_bytes(self) -> Vec<u8> {
        self.to_vec()
    }
}

impl Contents for Vec<u8> {
    fn into_bytes(self) -> Vec<u8> {
        self
    }
}

#[must_use]
pub struct Test {
    tempdir: TempDir,
    current_dir: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdout: Option<String>,
    stderr: Option<String>,
    stdout_contains: Vec<String>,
    stderr_contains: Vec<String>,
    status: i32,
}

impl Default for Test {
    fn default() -> Self {
        Self::new()
    }
}

impl Test {
    /// A test in a new, empty temporary directory, which is also the working directory.
    pub fn new() -> Test {
        let tempdir = tempfile::Builder::new()
            .prefix("campaignctl-test")
            .tempdir()
            .expect("create a temporary directory");
        let current_dir = tempdir.path().to_owned();
        Test {
            tempdir,
            current_dir,
            args: Vec::new(),
            env: Vec::new(),
            stdout: None,
            stderr: None,
            stdout_contains: Vec::new(),
            stderr_contains: Vec::new(),
            status: 0,
        }
    }

    /// A test that runs in the repository root (bundled `campaigns/`, `schemas/`).
    pub fn in_repo() -> Test {
        let mut test = Test::new();
        test.current_dir = PathBuf::from(REPO);
        test
    }

    /// Writes a file below the temporary directory, creating its parent directories.
    pub fn file(self, path: impl AsRef<Path>, contents: impl Contents) -> Test {
        let path = self.tempdir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directories");
        }
        std::fs::write(&path, contents.into_bytes()).expect("write a test file");
        self
    }

    /// Creates an (empty) directory below the temporary directory.
    pub fn dir(self, path: impl AsRef<Path>) -> Test {
        std::fs::create_dir_all(self.tempdir.path().join(path)).expect("create a directory");
        self
    }

    /// Runs in this directory, relative to the temporary directory.
    pub fn current_dir(mut self, path: impl AsRef<Path>) -> Test {
        self.current_dir = self.tempdir.path().join(path);
        self
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Test {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Test {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Exact stdout (unindented).
    pub fn stdout(mut self, stdout: &str) -> Test {
        self.stdout = Some(unindent(stdout));
        self
    }

    /// Exact stderr (unindented).
    pub fn stderr(mut self, stderr: &str) -> Test {
        self.stderr = Some(unindent(stderr));
        self
    }

    pub fn stdout_contains(mut self, text: &str) -> Test {
        self.stdout_contains.push(text.to_owned());
        self
    }

    pub fn stderr_contains(mut self, text: &str) -> Test {
        self.stderr_contains.push(text.to_owned());
        self
    }

    /// Expected exit status (default 0).
    pub fn status(mut self, status: i32) -> Test {
        self.status = status;
        self
    }

    /// Runs the binary and checks every expectation.
    pub fn run(self) -> Output {
        let output = Command::new(BIN)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.current_dir)
            .output()
            .expect("run campaignctl");
        let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
        let stderr = String::from_utf8(output.stderr).expect("stderr is UTF-8");
        let status = output.status.code().expect("campaignctl exited normally");
        let context = || {
            format!(
                "campaignctl {}\n--- status: {status}\n--- stdout:\n{stdout}--- stderr:\n{stderr}---",
                self.args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        if let Some(expected) = &self.stdout {
            assert_text("stdout", expected, &stdout, &context);
        }
        if let Some(expected) = &self.stderr {
            assert_text("stderr", expected, &stderr, &context);
        }
        for text in &self.stdout_contains {
            assert!(
                stdout.contains(text.as_str()),
                "stdout does not contain {text:?}\n{}",
                context()
            );
        }
        for text in &self.stderr_contains {
            assert!(
                stderr.contains(text.as_str()),
                "stderr does not contain {text:?}\n{}",
                context()
            );
        }
        assert_eq!(status, self.status, "unexpected exit status\n{}", context());
        Output {
            stdout,
            stderr,
            status,
            tempdir: self.tempdir,
        }
    }
}

/// What a run produced, for further checks; keeps the temporary directory alive.
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub status: i32,
    pub tempdir: TempDir,
}

impl Output {
    pub fn path(&self) -> &Path {
        self.tempdir.path()
    }

    /// stdout parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", self.stdout))
    }
}

fn assert_text(what: &str, expected: &str, actual: &str, context: &dyn Fn() -> String) {
    if expected == actual {
        return;
    }
    let mut diff = String::new();
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    for i in 0..e.len().max(a.len()) {
        match (e.get(i), a.get(i)) {
            (Some(x), Some(y)) if x == y => diff.push_str(&format!("  {x}\n")),
            (x, y) => {
                if let Some(x) = x {
                    diff.push_str(&format!("- {x}\n"));
                }
                if let Some(y) = y {
                    diff.push_str(&format!("+ {y}\n"));
                }
            }
        }
    }
    panic!(
        "{what} differs (- expected, + actual):\n{diff}\nexpected: {expected:?}\nactual:   {actual:?}\n{}",
        context()
    );
}

/// Removes a leading newline, the common indentation of the non-blank lines, and the
/// whitespace of a last line that has nothing else, so indented raw strings read naturally.
pub fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let indent = lines
        .iter()
        .filter(|line| !line.trim().is_empty())
        .map(|line| line.len() - line.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(text.len());
    for line in lines {
        if line.trim().is_empty() {
            if line.ends_with('\n') {
                out.push('\n');
            }
        } else {
            out.push_str(&line[indent..]);
        }
    }
    out
}

#[test]
fn unindent_strips_common_indentation() {
    assert_eq!(
        unindent("\n    a: 1\n      b: 2\n\n    c\n  "),
        "a: 1\n  b: 2\n\nc\n"
    );
    assert_eq!(unindent("a\n"), "a\n");
    assert_eq!(unindent(""), "");
    assert_eq!(unindent("\n  x"), "x");
}
