//! Issue 16: the hunting library as a whole: the listing's filters, and every query of the
//! library run by one `batch` on the bundled sample and on the real capture.

use super::*;

fn names(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(str::to_string)
        .collect()
}

#[test]
fn queries_filters() {
    let list = |args: &[&str]| {
        let mut a = vec!["queries"];
        a.extend(args);
        let o = run(&a);
        assert_eq!(o.code, 0, "{}", o.stderr);
        names(&o.stdout)
    };
    assert_eq!(list(&[]).len(), 16);
    assert_eq!(
        list(&["--mitre", "T1046"]),
        ["non_standard_ports", "port_scan"]
    );
    // a technique matches its sub-techniques; ids in any case
    assert_eq!(list(&["--mitre", "t1021"]), ["rdp_traffic", "smb_anomaly"]);
    assert_eq!(list(&["--mitre", "T1021.001"]), ["rdp_traffic"]);
    assert_eq!(
        list(&["--tactic", "discovery"]),
        [
            "app_port_mismatch",
            "non_standard_ports",
            "port_scan",
            "port_sweep_external"
        ]
    );
    assert_eq!(
        list(&["--severity", "high"]),
        ["omi_ports", "port_sweep_external"]
    );
    assert_eq!(list(&["--search", "LDAP"]), ["outbound_ldap"]);
    assert_eq!(
        list(&["--tactic", "CommandAndControl"]),
        [
            "beaconing_sentinel",
            "beacons",
            "cleartext_auth_protocols",
            "long_connections"
        ]
    );
    assert_eq!(
        list(&["--tactic", "InitialAccess", "--severity", "high"]),
        ["omi_ports"]
    );
    assert!(list(&["--mitre", "T9999"]).is_empty());
    assert_error(
        &run(&["queries", "--tactic", "Lateral"]),
        &["--tactic Lateral", "LateralMovement"],
    );
    assert_error(
        &run(&["queries", "--severity", "urgent"]),
        &["--severity urgent", "critical"],
    );
    // show prints the tactics too
    let o = run(&["show", "rdp_bruteforce"]);
    assert!(
        o.stdout.contains("tactics:     CredentialAccess"),
        "{}",
        o.stdout
    );
}

/// The whole library in one batch: every query runs on the bundled sample and on the real
/// capture `rita_proxy_rolling.parquet` (whose lake lacks EventCount and SrcUsername, optional
/// for the queries that read them). What fires on the capture, and why, is in the README.
#[test]
fn whole_library_runs_on_the_sample_and_on_real_traffic() {
    let real = Path::new(ROOT).join("../shared/data/real/rita_proxy_rolling.parquet");
    assert!(real.exists(), "{} is missing", real.display());
    for data in [None, Some(real.to_str().unwrap())] {
        let out = tempfile::tempdir().unwrap();
        let mut args = vec![
            "batch",
            "--out",
            out.path().to_str().unwrap(),
            "--format",
            "csv",
            "-q",
        ];
        if let Some(d) = data {
            args.extend(["--data", d]);
        }
        let o = run(&args);
        assert_eq!(o.code, 0, "{:?}: {}", data, o.stderr);
        let results: Vec<String> = files_under(out.path())
            .into_iter()
            .filter(|f| f.ends_with(".csv"))
            .collect();
        assert_eq!(results.len(), 16, "{results:?}");
    }
}
