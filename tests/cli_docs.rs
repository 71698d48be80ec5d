//! Keeps docs/CLI.md true. `the_examples_run` executes every `welfare-ledger` line of
//! its `sh` blocks in order against a fresh ledger in a temporary directory (the data
//! directory by WELFARE_LEDGER_DATA, the working directory beside it) and checks each
//! exit code: 0, or the one a trailing `# exits N` names. `$REQUEST_1`, `$REQUEST_2`
//! and `$GRANT_WRONG` are replaced by the positions of the commands `cond-big-1`,
//! `cond-big-2` and `grant-wrong`. `every_subcommand_is_documented` walks the binary's
//! `--help` and checks that each subcommand appears in a documented command line, and
//! that every documented line names an existing subcommand.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use common::repo;

fn doc() -> String {
    std::fs::read_to_string(repo().join("docs/CLI.md")).unwrap()
}

/// The lines of every fenced block whose info string is `sh`.
fn sh_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if let Some(info) = trimmed.strip_prefix("```") {
            inside = !inside && info.trim() == "sh";
            continue;
        }
        if inside && !trimmed.is_empty() {
            lines.push(trimmed.to_string());
        }
    }
    lines
}

/// Splits a command line into words, honouring double and single quotes.
fn words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                any = true;
            }
            (None, c) if c.is_whitespace() => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

/// A documented command: its words (after `welfare-ledger`) and the expected exit code;
/// `None` for lines not to run.
fn parse(line: &str) -> Option<(Vec<String>, Option<i32>)> {
    let (command, comment) = match line.split_once(" #") {
        Some((c, comment)) => (c.trim(), comment.trim()),
        None => (line, ""),
    };
    let rest = command.strip_prefix("welfare-ledger ")?;
    if comment == "not run" {
        return Some((words(rest), None));
    }
    let code = comment
        .strip_prefix("exits ")
        .map_or(0, |n| n.parse().expect("# exits N"));
    Some((words(rest), Some(code)))
}

/// The documented words without global options: the subcommand path comes first.
fn subcommand_path(words: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match words[i].as_str() {
            "--data"
            | "--user"
            | "--master-key-file"
            | "--previous-master-key-file"
            | "--registry-cipher" => i += 2,
            "--json" | "--wan" => i += 1,
            w => {
                out.push(w.to_string());
                i += 1;
            }
        }
    }
    out
}

fn run(cwd: &Path, data: &Path, args: &[String]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .env("WELFARE_LEDGER_DATA", data)
        .env_remove("WELFARE_LEDGER_USER")
        .output()
        .unwrap()
}

fn position_of(cwd: &Path, data: &Path, command_id: &str) -> String {
    let args: Vec<String> = ["--json", "audit", "command", command_id]
        .iter()
        .map(ToString::to_string)
        .collect();
    let out = run(cwd, data, &args);
    let trail: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    trail["items"][0]["position"].to_string()
}

#[test]
fn the_examples_run() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("ledger-data");
    std::fs::create_dir_all(cwd.join("docs/examples")).unwrap();
    for example in std::fs::read_dir(repo().join("docs/examples")).unwrap() {
        let path = example.unwrap().path();
        std::fs::copy(
            &path,
            cwd.join("docs/examples").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let mut ran = 0;
    for line in sh_lines(&doc()) {
        let Some((mut args, Some(expected))) = parse(&line) else {
            continue;
        };
        for arg in &mut args {
            let id = match arg.as_str() {
                "$REQUEST_1" => "cond-big-1",
                "$REQUEST_2" => "cond-big-2",
                "$GRANT_WRONG" => "grant-wrong",
                _ => continue,
            };
            *arg = position_of(cwd, &data, id);
        }
        let out = run(cwd, &data, &args);
        assert_eq!(
            out.status.code(),
            Some(expected),
            "docs/CLI.md: `welfare-ledger {}`\nstdout: {}\nstderr: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
    }
    assert!(ran > 50, "only {ran} examples ran");
}

/// The subcommands a `--help` text lists under `Commands:`.
fn listed(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|c| c != "help")
        .collect()
}

fn help(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_welfare-ledger"))
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn every_subcommand_is_documented() {
    let mut commands = BTreeSet::new();
    for top in listed(&help(&[])) {
        let subs = listed(&help(&[&top]));
        if subs.is_empty() {
            commands.insert(vec![top.clone()]);
        }
        for sub in subs {
            commands.insert(vec![top.clone(), sub]);
        }
    }
    assert!(commands.len() > 40, "{commands:?}");
    let documented: BTreeSet<Vec<String>> = sh_lines(&doc())
        .iter()
        .filter_map(|l| parse(l))
        .map(|(words, _)| subcommand_path(&words))
        .collect();
    for command in &commands {
        assert!(
            documented
                .iter()
                .any(|d| d.len() >= command.len() && d[..command.len()] == command[..]),
            "`welfare-ledger {}` has no example in docs/CLI.md",
            command.join(" ")
        );
    }
    for d in &documented {
        assert!(
            commands
                .iter()
                .any(|c| d.len() >= c.len() && d[..c.len()] == c[..]),
            "docs/CLI.md shows `welfare-ledger {}`, which is no subcommand",
            d.join(" ")
        );
    }
}
