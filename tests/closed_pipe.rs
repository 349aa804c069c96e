//! A reader that goes away early (`campaignctl plan | head -c 10`): the output ends there,
//! quietly (no error, no panic), and the exit code is the command's own; `apply` whose
//! stdout and stderr are closed still sends every send and records every outcome.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::apply::{Sandbox, count_status};
use crate::output::Run;

const NOW: &str = "2026-11-30T09:00:00+05:30";

/// Recipients of the big campaign: its plan, its saved plan and its ledger are far more
/// than a pipe holds (64 KiB), so their writers meet the closed pipe.
const RECIPIENTS: usize = 2_000;

/// One campaign of [`RECIPIENTS`] recipients, from a CSV file.
fn big(sb: &Sandbox) {
    let mut csv = String::from("mobile,name\n");
    for i in 0..RECIPIENTS {
        csv.push_str(&format!("91{},Member {i}\n", 9_000_000_000u64 + i as u64));
    }
    sb.write("campaigns/data/members.csv", &csv);
    sb.write(
        "campaigns/big.yaml",
        "template: renewal\nlanguage: en\nparams: [\"{{ recipient.name }}\"]\nrecipients:\n  - file: data/members.csv\n",
    );
}

/// Runs `command`, reads its stdout until `enough` says so, then closes it: what it
/// printed on stderr, and how it ended.
fn read_then_close(mut command: Command, enough: impl FnOnce(&mut dyn BufRead)) -> Run {
    let mut child = command.spawn().expect("spawn campaignctl");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    enough(&mut stdout);
    drop(stdout);
    Run::from(child.wait_with_output().unwrap())
}

fn head_c(bytes: usize) -> impl FnOnce(&mut dyn BufRead) {
    move |out| {
        let mut head = vec![0; bytes];
        out.read_exact(&mut head).unwrap();
    }
}

/// Ended as the command would have, without a word about the pipe.
#[track_caller]
fn assert_quiet(run: &Run, code: i32) {
    run.assert_code(code);
    assert!(
        !run.stderr.contains("error") && !run.stderr.contains("panicked"),
        "{}",
        run.stderr
    );
}

#[test]
fn plan_and_show_end_quietly_when_their_reader_goes_away() {
    let sb = Sandbox::new();
    big(&sb);
    let state = sb.state().display().to_string();
    fn plan<'a>(state: &'a str, more: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec!["plan", "campaigns", "--now", NOW, "--state", state];
        args.extend_from_slice(more);
        args
    }
    for format in ["json", "text", "markdown"] {
        let command = sb.command(&plan(&state, &["--format", format]));
        assert_quiet(&read_then_close(command, head_c(10)), 0);
    }
    // The exit code is still the plan's.
    let detailed = sb.command(&plan(&state, &["--format", "json", "--detailed-exitcode"]));
    assert_quiet(&read_then_close(detailed, head_c(10)), 2);

    sb.run(&plan(&state, &["--out", "plan.json"]))
        .assert_code(0);
    // `show plan.json --format json | head -1`
    for format in ["json", "text", "markdown"] {
        let show = sb.command(&["show", "plan.json", "--format", format]);
        let run = read_then_close(show, |out| {
            let mut line = String::new();
            out.read_line(&mut line).unwrap();
        });
        assert_quiet(&run, 0);
    }
}

#[test]
fn an_invalid_set_still_fails_when_its_problems_cannot_be_printed() {
    let sb = Sandbox::new();
    sb.write("campaigns/bad.yaml", "template: [\n");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut validate = sb.command(&["validate", "campaigns"]);
    validate.stdout(Stdio::null()).stderr(Stdio::from(writer));
    let status = validate.status().unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn apply_sends_and_records_everything_when_its_output_is_closed() {
    let sb = Sandbox::new();
    big(&sb);
    // `apply ... 2>&1 | head -5`, the reader gone before the first line.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut apply = sb.command(
        &sb.apply_args(&[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    apply
        .stdout(Stdio::from(writer.try_clone().unwrap()))
        .stderr(Stdio::from(writer));
    let status = apply.status().unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(sb.mock.requests().len(), RECIPIENTS);
    let rows = sb.ledger();
    assert_eq!(rows.len(), RECIPIENTS);
    assert_eq!(
        count_status(&rows, "sent"),
        RECIPIENTS,
        "every outcome recorded"
    );

    // `status --format csv | head -c 10`
    let state = sb.state().display().to_string();
    for format in ["csv", "json", "text"] {
        let status = sb.command(&["status", "--state", &state, "--format", format]);
        assert_quiet(&read_then_close(status, head_c(10)), 0);
    }
}
