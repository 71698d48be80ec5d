//! docs/API.md's examples, replayed against a real server.
//!
//! Every ```sh block of the manual that runs `curl` is followed by an ```http block
//! with the status line and the answer's JSON. This test starts `welfare-ledger serve`
//! on a fresh temporary ledger (`ADMIN` is the token `init` printed, `BASE` the
//! server's address), runs the curl commands in the manual's order (a command written
//! `NAME=$(curl … | jq -r .field)` sets `$NAME` from the answer, as the shell would),
//! and checks that the status is the one shown, that every field the manual shows has
//! the value shown (except secrets, hashes and clock times, which differ per run, and
//! strings shown as "…"), and that the real answer satisfies the OpenAPI schema of its
//! route. `API_DOCS_PRINT=1` prints the real answers, for writing the manual.

mod common;

use std::collections::HashMap;

use common::{call_with_headers as call, check, response_schema, start};
use serde_json::Value;

/// Fields whose values differ on every run.
const VOLATILE: &[&str] = &["token", "digest", "hash", "head_hash", "recorded_at"];

/// One example: a curl command and the answer the manual shows.
#[derive(Debug)]
struct Example {
    line: usize,
    command: String,
    status: u16,
    /// Headers the manual shows (names in lower case).
    headers: Vec<(String, String)>,
    body: Option<Value>,
    /// A non-JSON answer as shown (the metrics).
    text: Option<String>,
}

fn examples(manual: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let lines: Vec<&str> = manual.lines().collect();
    let block = |start: usize| -> (String, usize) {
        let mut text = String::new();
        let mut i = start + 1;
        while !lines[i].starts_with("```") {
            text.push_str(lines[i]);
            text.push('\n');
            i += 1;
        }
        (text, i)
    };
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "```sh" {
            let (sh, end) = block(i);
            if !sh.contains("curl ") {
                i = end + 1;
                continue;
            }
            let answer = (end + 1..lines.len())
                .find(|&j| lines[j].starts_with("```"))
                .filter(|&j| lines[j].trim() == "```http")
                .unwrap_or_else(|| {
                    panic!(
                        "docs/API.md line {}: a curl example needs an ```http answer next",
                        i + 1
                    )
                });
            let (http, after) = block(answer);
            // The status line, header lines, a blank line, then the body.
            let mut lines_of = http.lines();
            let status_line = lines_of.next().unwrap_or("");
            let status = status_line
                .split_whitespace()
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("line {}: bad status line {status_line:?}", answer + 2));
            let headers: Vec<(String, String)> = lines_of
                .by_ref()
                .take_while(|l| !l.trim().is_empty())
                .map(|l| {
                    let (name, value) = l
                        .split_once(':')
                        .unwrap_or_else(|| panic!("line {}: bad header line {l:?}", answer + 2));
                    (name.trim().to_lowercase(), value.trim().to_string())
                })
                .collect();
            let json_text = lines_of.collect::<Vec<_>>().join("\n");
            let json_text = json_text.trim();
            let text = (!json_text.starts_with(['{', '['])).then(|| json_text.to_string());
            let body = json_text.starts_with(['{', '[']).then(|| {
                serde_json::from_str(json_text).unwrap_or_else(|e| {
                    panic!(
                        "docs/API.md line {}: the answer is not JSON: {e}",
                        answer + 2
                    )
                })
            });
            out.push(Example {
                line: i + 1,
                command: sh.replace("\\\n", " "),
                status,
                headers,
                body,
                text,
            });
            i = after + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// Splits a shell command into words: '…' literal, "…" and bare words with $NAME and
/// ${NAME} expanded.
fn words(command: &str, vars: &HashMap<String, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = command.chars().peekable();
    let expand = |chars: &mut std::iter::Peekable<std::str::Chars>, word: &mut String| {
        let braced = chars.peek() == Some(&'{');
        if braced {
            chars.next();
        }
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_ascii_alphanumeric() || c == '_' {
                name.push(c);
                chars.next();
            } else {
                break;
            }
        }
        if braced {
            assert_eq!(chars.next(), Some('}'));
        }
        word.push_str(
            vars.get(&name)
                .unwrap_or_else(|| panic!("${name} is not set by an earlier example")),
        );
    };
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '$' => expand(&mut chars, &mut word),
                        '\\' => word.push(chars.next().unwrap()),
                        c => word.push(c),
                    }
                }
            }
            '$' => {
                in_word = true;
                expand(&mut chars, &mut word);
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        out.push(word);
    }
    out
}

/// The route template a URL path answers to.
fn route_of(path: &str) -> (&'static str, &'static str) {
    let segments: Vec<&str> = path.split('/').collect();
    *ledger_server::ROUTES
        .iter()
        .find(|(_, template)| {
            let t: Vec<&str> = template.split('/').collect();
            t.len() == segments.len()
                && t.iter()
                    .zip(&segments)
                    .all(|(t, s)| t.starts_with('{') || t == s)
        })
        .unwrap_or_else(|| panic!("no route for {path}"))
}

/// Whether the real answer has every field the manual shows, with the value shown.
fn agrees(shown: &Value, real: &Value, at: &str, errors: &mut Vec<String>) {
    match (shown, real) {
        (Value::Object(s), Value::Object(r)) => {
            for (key, value) in s {
                match r.get(key) {
                    None => errors.push(format!("{at}.{key} is shown but not answered")),
                    Some(_) if VOLATILE.contains(&key.as_str()) => {}
                    Some(real) => agrees(value, real, &format!("{at}.{key}"), errors),
                }
            }
        }
        (Value::Array(s), Value::Array(r)) => {
            if s.len() > r.len() {
                errors.push(format!(
                    "{at} shows {} items, the answer has {}",
                    s.len(),
                    r.len()
                ));
            }
            for (i, (s, r)) in s.iter().zip(r).enumerate() {
                agrees(s, r, &format!("{at}[{i}]"), errors);
            }
        }
        (Value::String(s), _) if s == "…" => {}
        (s, r) if s == r => {}
        (s, r) => errors.push(format!("{at}: shown {s}, answered {r}")),
    }
}

#[test]
fn the_manuals_examples_answer_as_shown() {
    let manual = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md"))
        .expect("docs/API.md");
    let examples = examples(&manual);
    assert!(examples.len() >= 20, "only {} examples", examples.len());
    let server = start();
    let spec: Value = call("GET", &format!("{}/openapi.json", server.base), &[], None).body;
    let mut vars = HashMap::from([
        ("BASE".to_string(), server.base.clone()),
        ("ADMIN".to_string(), server.admin.clone()),
    ]);
    let print = std::env::var_os("API_DOCS_PRINT").is_some();
    let mut failures = Vec::new();
    for example in &examples {
        let mut command = example.command.trim().to_string();
        let mut capture = None;
        if let Some((name, rest)) = command.split_once("=$(") {
            let (curl, field) = rest
                .trim_end()
                .strip_suffix(')')
                .and_then(|r| r.rsplit_once("| jq -r ."))
                .unwrap_or_else(|| {
                    panic!("line {}: write NAME=$(curl … | jq -r .field)", example.line)
                });
            capture = Some((name.trim().to_string(), field.trim().to_string()));
            command = curl.to_string();
        }
        let words = words(&command, &vars);
        assert_eq!(words[0], "curl", "line {}", example.line);
        let (mut method, mut url, mut headers, mut data) =
            ("GET".to_string(), None, Vec::new(), None);
        let mut w = words[1..].iter();
        while let Some(word) = w.next() {
            match word.as_str() {
                "-s" | "-sS" | "-i" => {}
                "-X" => method = w.next().unwrap().clone(),
                "-H" => {
                    let (name, value) = w.next().unwrap().split_once(':').unwrap();
                    headers.push((name.trim().to_string(), value.trim().to_string()));
                }
                "-d" | "--data" => {
                    data = Some(w.next().unwrap().clone());
                    if method == "GET" {
                        method = "POST".into();
                    }
                }
                u if u.starts_with("http") => url = Some(u.to_string()),
                other => panic!("line {}: unsupported curl option {other}", example.line),
            }
        }
        let url = url.unwrap_or_else(|| panic!("line {}: no URL", example.line));
        let answer = call(&method, &url, &headers, data.as_deref());
        if print {
            println!(
                "--- line {}: {method} {url}\nHTTP/1.1 {}\n{}",
                example.line,
                answer.status,
                serde_json::to_string_pretty(&answer.body).unwrap()
            );
        }
        if let Some((name, field)) = capture {
            let value = answer.body[&field].as_str().map(str::to_string);
            vars.insert(name, value.unwrap_or_default());
        }
        let mut errors = Vec::new();
        if answer.status != example.status {
            errors.push(format!(
                "status {} where the manual shows {}",
                answer.status, example.status
            ));
        }
        for (name, value) in &example.headers {
            let real = answer.headers.iter().find(|(n, _)| n == name);
            if real.is_none_or(|(_, v)| v != value) {
                errors.push(format!(
                    "the header {name}: {value} is shown, the answer has {real:?}"
                ));
            }
        }
        if let Some(shown) = &example.body {
            agrees(shown, &answer.body, "$", &mut errors);
        }
        // A text answer: every metric the manual shows is exported under that name.
        for name in example
            .text
            .iter()
            .flat_map(|t| t.lines())
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split([' ', '{']).next().unwrap())
        {
            if !answer.text.lines().any(|l| l.starts_with(name)) {
                errors.push(format!("the metric {name} is not exported"));
            }
        }
        let path = url
            .strip_prefix(&server.base)
            .unwrap()
            .split('?')
            .next()
            .unwrap()
            .to_string();
        let (_, template) = route_of(&path);
        let method_lower = method.to_lowercase();
        if spec["paths"][template][&method_lower]["responses"][answer.status.to_string()].is_null()
        {
            errors.push(format!(
                "the description lists no {} answer for {method} {template}",
                answer.status
            ));
        } else if let Some(schema) = response_schema(&spec, &method_lower, template, answer.status)
        {
            errors.extend(check(&spec, schema, &answer.body));
        }
        if !errors.is_empty() {
            failures.push(format!(
                "docs/API.md line {} ({method} {path}):\n  {}\n  answer: {}",
                example.line,
                errors.join("\n  "),
                answer.text
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
