//! The REPL driven through a real pseudo-terminal (rexpect), and in piped-stdin mode.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rexpect::session::PtySession;

use super::{ROOT, csv_rows, empty_cache, nethunt, read_lake, run, sample_lake, sample_rows};

fn spawn(history: &Path) -> PtySession {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nethunt"));
    cmd.current_dir(ROOT)
        .arg("repl")
        .env("NETHUNT_CACHE_DIR", empty_cache())
        .env("NETHUNT_HISTORY", history)
        .env("TERM", "xterm")
        .env_remove("NETHUNT_DATA")
        .env_remove("NETHUNT_DOMAINS");
    let mut p =
        rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn the REPL in a pty");
    p.exp_string("nethunt> ").expect("first prompt");
    p
}

#[test]
fn repl_in_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("hist");
    let mut p = spawn(&history);

    // a query
    p.send_line("SELECT count(*) AS n FROM NetworkSessions;")
        .unwrap();
    p.exp_string(&sample_rows().to_string()).unwrap();
    p.exp_string("1 row").unwrap();
    p.exp_string("nethunt> ").unwrap();

    // a multi-line query: nothing runs until the ';'
    p.send_line("SELECT 40 + 2").unwrap();
    p.send_line("  AS answer;").unwrap();
    p.exp_string("answer").unwrap();
    p.exp_string("42").unwrap();
    p.exp_string("nethunt> ").unwrap();

    // \d NAME
    p.send_line("\\d NetworkSessions").unwrap();
    p.exp_string("DstPortNumber").unwrap();
    p.exp_string("Int32").unwrap();
    p.exp_string("nethunt> ").unwrap();

    // \run with a parameter: the same row count as `nethunt run` (a separate code path)
    let want = csv_rows(
        &run(&[
            "run",
            "non_standard_ports",
            "-p",
            "threshold=3",
            "--format",
            "csv",
        ])
        .stdout,
    )
    .len()
        - 1;
    p.send_line("\\run non_standard_ports threshold=3").unwrap();
    p.exp_string("PortCount").unwrap();
    p.exp_string(&format!("{want} rows")).unwrap();
    p.exp_string("nethunt> ").unwrap();

    // an error prints one line and the session goes on
    p.send_line("SELECT nope FROM NetworkSessions;").unwrap();
    p.exp_string("error:").unwrap();
    p.exp_string("nope").unwrap();
    p.exp_string("nethunt> ").unwrap();
    p.send_line("SELECT 7 AS seven;").unwrap();
    p.exp_string("seven").unwrap();
    p.exp_string("nethunt> ").unwrap();

    // \maxrows: the cut is announced with the number of rows not shown
    let list_rows = std::fs::read_to_string(Path::new(ROOT).join("data/top1m-sample.csv"))
        .unwrap()
        .lines()
        .count();
    p.send_line("\\maxrows 3").unwrap();
    p.exp_string("nethunt> ").unwrap();
    p.send_line("SELECT \"Domain\" FROM top1m;").unwrap();
    p.exp_string(&format!("{list_rows} rows")).unwrap();
    p.exp_string(&format!("{} not shown", list_rows - 3))
        .unwrap();
    p.exp_string("nethunt> ").unwrap();

    // NULL is shown distinctly from ''
    p.send_line("SELECT NULL AS a, '' AS b;").unwrap();
    p.exp_regex(r"\| NULL \|\s+\|").unwrap();
    p.exp_string("nethunt> ").unwrap();

    // Ctrl-C cancels a long query and returns to the prompt
    p.send_line(
        "SELECT count(*) FROM generate_series(1, 1000000) a, generate_series(1, 1000000) b;",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let asked = std::time::Instant::now();
    p.send_control('c').unwrap();
    p.exp_string("query cancelled").unwrap();
    // functional bound, not a speed target: a cancel that waits for the query to yield on its
    // own took over a minute here
    assert!(
        asked.elapsed() < Duration::from_secs(15),
        "cancel took {:?}",
        asked.elapsed()
    );
    p.exp_string("nethunt> ").unwrap();
    p.send_line("SELECT 5 AS five;").unwrap();
    p.exp_string("five").unwrap();
    p.exp_string("nethunt> ").unwrap();

    // Tab completes table and column names
    p.send("SELECT count(DISTINCT DstPortN").unwrap();
    p.send("\t").unwrap();
    p.send(") AS ports FROM NetworkSes").unwrap();
    p.send("\t").unwrap();
    p.send_line(";").unwrap();
    p.exp_string("ports").unwrap();
    p.exp_string("1 row").unwrap();
    p.exp_string("nethunt> ").unwrap();

    // \? lists the commands
    p.send_line("\\?").unwrap();
    p.exp_string("\\maxrows").unwrap();
    p.exp_string("nethunt> ").unwrap();

    // \q
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();

    // the history was saved
    let h = std::fs::read_to_string(&history).unwrap();
    assert!(h.contains("SELECT 7 AS seven;"), "{h}");
}

#[test]
fn repl_ctrl_d_exits() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = spawn(&dir.path().join("hist"));
    p.send_control('d').unwrap();
    p.exp_eof().unwrap();
}

#[test]
fn repl_piped_stdin() {
    let o = nethunt()
        .args(["repl", "--quiet"])
        .write_stdin(
            "SELECT count(*) AS n\n  FROM NetworkSessions;\n\\format csv\nSELECT 2 AS two;\n",
        )
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("| {} |", sample_rows())), "{out}");
    assert!(out.contains("two\n2\n"), "{out}");
    // the first error stops the script with exit 2; later statements do not run
    let o = nethunt()
        .args(["repl"])
        .write_stdin("SELECT 1 AS one;\nSELEC 2;\nSELECT 3 AS three;\n")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("one") && !out.contains("three"), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nethunt: error:") && err.contains("SELEC"),
        "{err}"
    );
    // plain `nethunt` with a non-terminal stdin and no command explains itself
    let o = nethunt().write_stdin("").output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// On a terminal, a scan that takes a while shows a progress line on stderr (the delay is set to
/// 0 here, so that a short query shows it); piped, it never does.
#[test]
fn progress_line_on_a_terminal_only() {
    let sql = "SELECT count(*) AS n FROM NetworkSessions a JOIN NetworkSessions b ON a.SrcPortNumber % 50 = b.SrcPortNumber % 50";
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("n.csv");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nethunt"));
    cmd.current_dir(ROOT)
        .args(["sql", sql, "--output", out.to_str().unwrap()])
        .env("NETHUNT_CACHE_DIR", empty_cache())
        .env("NETHUNT_PROGRESS_DELAY", "0")
        .env("TERM", "xterm")
        .env_remove("NETHUNT_DATA");
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn in a pty");
    p.exp_string("scanning: 2 files, ")
        .expect("a progress line");
    p.exp_string(" read, ").unwrap();
    p.exp_string("1 row written to").unwrap();
    p.exp_eof().unwrap();
    // The join's size from the files: the sum over residues r of (sessions with port % 50 = r)^2.
    let mut by_residue = std::collections::HashMap::<i32, u64>::new();
    for b in read_lake(&sample_lake()) {
        let ports = b.column_by_name("SrcPortNumber").unwrap();
        let ports = ports
            .as_any()
            .downcast_ref::<arrow::array::Int32Array>()
            .unwrap();
        for p in ports.iter().flatten() {
            *by_residue.entry(p % 50).or_default() += 1;
        }
    }
    let pairs: u64 = by_residue.values().map(|n| n * n).sum();
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!("n\n{pairs}\n")
    );

    // The same with --quiet, and piped: nothing but data.
    let o = nethunt()
        .env("NETHUNT_PROGRESS_DELAY", "0")
        .args(["sql", sql, "--format", "csv"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!stderr.contains("scanning"), "{stderr}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nethunt"));
    cmd.current_dir(ROOT)
        .args(["sql", sql, "--output", out.to_str().unwrap(), "--quiet"])
        .env("NETHUNT_CACHE_DIR", empty_cache())
        .env("NETHUNT_PROGRESS_DELAY", "0")
        .env("TERM", "xterm")
        .env_remove("NETHUNT_DATA");
    let mut p = rexpect::session::spawn_command(cmd, Some(60_000)).expect("spawn in a pty");
    let all = p.exp_eof().unwrap();
    assert!(!all.contains("scanning"), "{all}");
}

/// `\kql` switches the session to KQL: queries run with KQL's answer, an error shows its
/// line with a caret under the column, `\sql` switches back.
#[test]
fn repl_speaks_kql() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("hist");
    let mut p = spawn(&history);
    p.send_line("\\kql").unwrap();
    p.exp_string("statements are KQL now").unwrap();
    p.exp_string("nethunt> ").unwrap();
    p.send_line("NetworkSessions | count;").unwrap();
    p.exp_string(&sample_rows().to_string()).unwrap();
    p.exp_string("nethunt> ").unwrap();
    // a multi-line KQL statement, with an error on its second line
    p.send_line("NetworkSessions").unwrap();
    p.send_line("| where DstPortNumber = 3;").unwrap();
    p.exp_string("KQL: 2:23: syntax error").unwrap();
    p.exp_string("| where DstPortNumber = 3;").unwrap();
    p.exp_string("                      ^").unwrap();
    p.exp_string("nethunt> ").unwrap();
    p.send_line("\\sql").unwrap();
    p.exp_string("statements are SQL now").unwrap();
    p.send_line("SELECT 6 * 7 AS answer;").unwrap();
    p.exp_string("42").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
}
