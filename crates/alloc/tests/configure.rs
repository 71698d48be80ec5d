//! `configure` switches mimalloc's purge from decommit to reset, unless the
//! environment chose.

use std::process::Command;

#[global_allocator]
static GLOBAL: ledger_alloc::Allocator = ledger_alloc::Allocator;

/// Set in the child runs of this test binary: configure, then print the option.
const CHILD: &str = "LEDGER_ALLOC_TEST_CHILD";

#[test]
fn configure_makes_purges_reset_unless_the_environment_chose() {
    if std::env::var_os(CHILD).is_some() {
        ledger_alloc::configure();
        ledger_alloc::configure();
        // Memory freed and allocated again still works.
        let blocks: Vec<Vec<u8>> = (0..64u8).map(|i| vec![i; 1 << 20]).collect();
        drop(blocks);
        let again = vec![7u8; 64 << 20];
        assert!(again.iter().all(|&b| b == 7));
        println!("purge_decommits={}", ledger_alloc::purge_decommits());
        return;
    }
    let run = |variable: Option<&str>| {
        let mut child = Command::new(std::env::current_exe().expect("test binary"));
        child
            .args([
                "--exact",
                "configure_makes_purges_reset_unless_the_environment_chose",
            ])
            .args(["--nocapture", "--test-threads=1"])
            .env_remove(ledger_alloc::PURGE_DECOMMITS_VARIABLE)
            .env(CHILD, "1");
        if let Some(value) = variable {
            child.env(ledger_alloc::PURGE_DECOMMITS_VARIABLE, value);
        }
        let out = child.output().expect("running the child");
        assert!(out.status.success(), "child failed: {out:?}");
        // The harness prints the test's name on the same line, before the output.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|line| line.split_once("purge_decommits="))
            .map(|(_, value)| value.trim().to_owned())
    };
    assert_eq!(run(None).as_deref(), Some("0"));
    assert_eq!(run(Some("1")).as_deref(), Some("1"));
    assert_eq!(run(Some("0")).as_deref(), Some("0"));
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
