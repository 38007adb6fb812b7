//! The Python sink's `classify.py` decides every case of the SDK's retry table the way the
//! table says (the SDK's own policy is checked against it in `src/http/retry.rs`).

use std::path::Path;
use std::process::Command;

use serde_json::Value;

#[test]
fn python_classifier_follows_the_shared_table() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table_path = sdk.join("testdata/http_retry_cases.json");
    let script = sdk.join("../guests/sink-python/tests/classify_cases.py");
    let output = match Command::new("python3")
        .arg(&script)
        .arg(&table_path)
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipped: python3 is not installed, classify.py is not checked");
            return;
        }
        Err(e) => panic!("cannot run python3: {e}"),
    };
    assert!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let got: Vec<Value> = serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    let table: Value =
        serde_json::from_str(&std::fs::read_to_string(&table_path).expect("the table is readable"))
            .expect("the table is JSON");
    let cases = table["cases"].as_array().expect("the table has cases");
    assert_eq!(got.len(), cases.len(), "one answer per case");
    let mismatches: Vec<String> = cases
        .iter()
        .zip(&got)
        .filter(|(case, answer)| {
            answer["outcome"] != case["outcome"]
                || answer["retry_after_ms"] != *case.get("retry_after_ms").unwrap_or(&Value::Null)
        })
        .map(|(case, answer)| format!("{case} → {answer}"))
        .collect();
    assert!(
        mismatches.is_empty(),
        "classify.py disagrees with the table:\n{}",
        mismatches.join("\n")
    );
}
