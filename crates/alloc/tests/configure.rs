//! `configure` switches mimalloc's purge from decommit to reset and turns transparent
//! huge pages off for the process, each unless the environment chose.

use std::process::Command;

#[global_allocator]
static GLOBAL: ledger_alloc::Allocator = ledger_alloc::Allocator;

/// Set in the child runs of this test binary: configure, then print the settings.
const CHILD: &str = "LEDGER_ALLOC_TEST_CHILD";

/// What a child run printed: mimalloc's purge option and the process's huge page flag.
#[derive(Debug, PartialEq, Eq)]
struct Settings {
    purge_decommits: String,
    huge_pages_disabled: String,
}

/// Runs this test in a child process with the given environment variables set (and
/// both of `configure`'s variables removed otherwise).
fn child_settings(variables: &[(&str, &str)]) -> Settings {
    let mut child = Command::new(std::env::current_exe().expect("test binary"));
    child
        .args(["--exact", "configure_sets_what_the_environment_did_not"])
        .args(["--nocapture", "--test-threads=1"])
        .env_remove(ledger_alloc::PURGE_DECOMMITS_VARIABLE)
        .env_remove(ledger_alloc::ALLOW_THP_VARIABLE)
        .env(CHILD, "1");
    for (variable, value) in variables {
        child.env(variable, value);
    }
    let out = child.output().expect("running the child");
    assert!(out.status.success(), "child failed: {out:?}");
    // The harness prints the test's name on the same line, before the output.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = |name: &str| {
        stdout
            .lines()
            .find_map(|line| line.split_once(&format!("{name}=")))
            .map(|(_, value)| value.trim().to_owned())
            .unwrap_or_else(|| panic!("the child printed no {name}: {stdout}"))
    };
    Settings {
        purge_decommits: value("purge_decommits"),
        huge_pages_disabled: value("huge_pages_disabled"),
    }
}

fn settings(purge_decommits: &str, huge_pages_disabled: bool) -> Settings {
    Settings {
        purge_decommits: purge_decommits.to_owned(),
        huge_pages_disabled: huge_pages_disabled.to_string(),
    }
}

#[test]
fn configure_sets_what_the_environment_did_not() {
    if std::env::var_os(CHILD).is_some() {
        ledger_alloc::configure();
        ledger_alloc::configure();
        // Memory freed and allocated again still works.
        let blocks: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 1 << 20]).collect();
        drop(blocks);
        let again = vec![7u8; 64 << 20];
        assert!(again.iter().all(|&b| b == 7));
        println!("purge_decommits={}", ledger_alloc::purge_decommits());
        println!(
            "huge_pages_disabled={}",
            ledger_alloc::transparent_huge_pages_disabled()
        );
        return;
    }
    // The flag is inherited: a child keeps it if this process already had it.
    let inherited = ledger_alloc::transparent_huge_pages_disabled();
    let purge = ledger_alloc::PURGE_DECOMMITS_VARIABLE;
    let thp = ledger_alloc::ALLOW_THP_VARIABLE;
    // mimalloc reads MIMALLOC_ALLOW_THP itself: 0 has it turn huge pages off, 1 leaves
    // them as the process had them.
    let cases: [(&[(&str, &str)], Settings); 5] = [
        (&[], settings("0", true)),
        (&[(purge, "1")], settings("1", true)),
        (&[(purge, "0")], settings("0", true)),
        (&[(thp, "0")], settings("0", true)),
        (&[(thp, "1")], settings("0", inherited)),
    ];
    for (variables, expected) in cases {
        assert_eq!(child_settings(variables), expected, "with {variables:?}");
    }
    // This process never configured: mimalloc's default, which decommits, shows that
    // the option number is the one that holds it.
    if std::env::var_os(ledger_alloc::PURGE_DECOMMITS_VARIABLE).is_none() {
        assert_eq!(
            ledger_alloc::purge_decommits(),
            1,
            "mimalloc's default decommits"
        );
    }
}
