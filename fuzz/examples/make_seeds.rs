//! Writes the seed corpora under fuzz/corpus/<target>/seed-*: real bytes from the
//! real encoders, so that each fuzz target starts from inputs the ledger produces.
//!
//! `cargo run --release --example make_seeds` (from fuzz/) rewrites every seed; the
//! output is deterministic (a fixed clock), so an unchanged encoder leaves git clean.
//!
//! Record decoder seeds come from two ledgers on the memory backend: the Sanming 2021
//! reference scenario (one record of each event type it writes) and the commands of
//! docs/API.md's walkthrough (a small ledger whose model snapshot, projection
//! checkpoints and index checkpoint stay a few KiB).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ledger_domain::scenario::sanming_2021;
use ledger_domain::UserId;
use ledger_engine::{Engine, Submission};
use ledger_server::CommandRequest;
use ledger_store::codec::{self, HeadMarker, Header};
use ledger_store::{Backend, FixedClock, HashAlgorithm, Log, MemoryBackend, INDEX_CHECKPOINT};

/// 2022-01-05 00:00 UTC, after every business date of the scenarios.
const NOW_MS: i64 = 1_641_340_800_000;

/// The record decoder's selector bytes (fuzz_targets/record_decoder.rs, `KINDS`).
const STORED_RECORD: u8 = 0;
const PAYLOAD: u8 = 1;
const HEADER: u8 = 2;
const HEAD_MARKER: u8 = 3;
const CHUNK: u8 = 4;
const JOURNAL_FRAME: u8 = 5;
const SNAPSHOT: u8 = 6;
const MODEL_VALUE: u8 = 7;
const INDEX_CHECKPOINT_KIND: u8 = 8;
const PROJECTION_VALUE: u8 = 9;

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = root.join("corpus");
    let api_bodies = api_command_bodies(&root.join("../docs/API.md"));
    record_decoder(&corpus.join("record_decoder"), &api_bodies);
    http_command_body(&corpus.join("http_command_body"), &api_bodies);
    csv_import(
        &corpus.join("csv_import"),
        &root.join("../docs/EXCHANGE.md"),
    );
    amount(&corpus.join("amount"));
    id_parsers(&corpus.join("id_parsers"));
}

/// Replaces the seeds of one target.
fn write_seeds(dir: &Path, seeds: &[(String, Vec<u8>)]) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("seed-")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    for (name, bytes) in seeds {
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    }
    println!("{}: {} seeds", dir.display(), seeds.len());
}

fn with_kind(kind: u8, bytes: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(bytes);
    out
}

fn engine() -> Engine<MemoryBackend> {
    let clock = Arc::new(FixedClock::new(NOW_MS));
    let log = Log::create(MemoryBackend::new(), HashAlgorithm::Sha256, clock.clone()).unwrap();
    Engine::open(log, clock).unwrap()
}

/// The `-d '…'` bodies of docs/API.md's `POST /api/v1/commands` examples that parse.
fn api_command_bodies(manual: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manual).unwrap();
    let mut bodies = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("-d '{\"command\"") {
        let body_start = start + "-d '".len();
        let len = rest[body_start..].find('\'').unwrap();
        let body = &rest[body_start..body_start + len];
        if serde_json::from_str::<CommandRequest>(body).is_ok() {
            bodies.push(body.to_string());
        }
        rest = &rest[body_start + len..];
    }
    assert!(bodies.len() >= 10, "docs/API.md has its command examples");
    bodies
}

fn record_decoder(dir: &Path, api_bodies: &[String]) {
    let mut seeds = Vec::new();

    // One stored record, and its payload, of each event type in the Sanming scenario.
    let sanming = engine();
    for (i, step) in sanming_2021().into_iter().enumerate() {
        sanming
            .submit(Submission {
                command_id: format!("sanming-{i}"),
                command: step.command,
                actor: step.actor,
                effective_date: step.effective_date,
                memo: "三明 2021".to_string(),
            })
            .unwrap();
    }
    let mut by_type = BTreeMap::new();
    let head = sanming.log().unwrap().head().next_position;
    let mut from = 0;
    while from < head {
        let page = sanming.log().unwrap().read_raw(from, 10_000).unwrap();
        from += page.len() as u64;
        for raw in page {
            let event = codec::decode_record(&raw.record, raw.hash).unwrap();
            by_type.entry(event.event_type.to_string()).or_insert(raw);
        }
    }
    for (event_type, raw) in &by_type {
        let mut stored = raw.record.clone();
        stored.extend_from_slice(&raw.hash);
        let event = codec::decode_stored(&stored).unwrap();
        seeds.push((
            format!("record-{event_type}"),
            with_kind(STORED_RECORD, &stored),
        ));
        seeds.push((
            format!("payload-{event_type}"),
            with_kind(PAYLOAD, &event.payload),
        ));
    }

    // The small ledger of docs/API.md's walkthrough.
    let api = engine();
    let admin = UserId::new("admin").unwrap();
    for (i, body) in api_bodies.iter().enumerate() {
        let request: serde_json::Value = serde_json::from_str(body).unwrap();
        let command = serde_json::from_value(request["command"].clone()).unwrap();
        let effective_date = request["effective_date"]
            .as_str()
            .map_or(chrono::NaiveDate::from_ymd_opt(2021, 7, 1).unwrap(), |d| {
                d.parse().unwrap()
            });
        // Some examples are refusals on purpose; they append nothing.
        let _ = api.submit(Submission {
            command_id: format!("api-{i}"),
            command,
            actor: admin.clone(),
            effective_date,
            memo: request["memo"].as_str().unwrap_or_default().to_string(),
        });
    }
    let head = api.log().unwrap().head().next_position;
    assert!(head >= 8, "the walkthrough appends events");
    let raws = api.log().unwrap().read_raw(0, 10_000).unwrap();
    let stored: Vec<Vec<u8>> = raws
        .iter()
        .map(|raw| [raw.record.as_slice(), &raw.hash].concat())
        .collect();
    let log = api.log().unwrap();
    let backend = log.backend();
    let header = backend.read_header().unwrap().unwrap();
    seeds.push(("header".into(), with_kind(HEADER, &header)));
    let sm3 = codec::encode_header(&Header {
        format_version: codec::FORMAT_VERSION,
        hash_algorithm: HashAlgorithm::Sm3,
        created_at_ms: NOW_MS,
    });
    seeds.push(("header-sm3".into(), with_kind(HEADER, &sm3)));
    let oldest = codec::encode_header(&Header {
        format_version: codec::FORMAT_VERSION_OLDEST,
        hash_algorithm: HashAlgorithm::Sha256,
        created_at_ms: NOW_MS,
    });
    seeds.push(("header-v1".into(), with_kind(HEADER, &oldest)));
    let head_marker = backend.read_head().unwrap().unwrap();
    seeds.push(("head".into(), with_kind(HEAD_MARKER, &head_marker)));
    let genesis = codec::encode_head(&HeadMarker {
        next_position: 0,
        hash: ledger_store::GENESIS_HASH,
    });
    seeds.push(("head-genesis".into(), with_kind(HEAD_MARKER, &genesis)));
    let chunks = codec::encode_chunks(&stored);
    seeds.push(("chunk".into(), with_kind(CHUNK, &chunks[0].1)));
    let compressed = codec::compress_chunk(chunks[0].1.clone());
    seeds.push(("chunk-compressed".into(), with_kind(CHUNK, &compressed)));
    let mut journal = codec::encode_journal_frame(0, &head_marker, &stored[..3]);
    journal.extend(codec::encode_journal_frame(3, &head_marker, &stored[3..5]));
    seeds.push(("journal".into(), with_kind(JOURNAL_FRAME, &journal)));
    api.save_snapshot().unwrap();
    let model = backend
        .load_snapshot(ledger_engine::MODEL_SNAPSHOT)
        .unwrap()
        .unwrap();
    seeds.push(("snapshot-model".into(), with_kind(SNAPSHOT, &model)));
    let (_, value) = codec::decode_snapshot(&model).unwrap();
    seeds.push(("model".into(), with_kind(MODEL_VALUE, value)));
    // The store writes the streams in its hash map's order; sorted, the seed is the
    // same on every run.
    let index = backend.load_snapshot(INDEX_CHECKPOINT).unwrap().unwrap();
    let (position, value) = codec::decode_snapshot(&index).unwrap();
    let mut checkpoint = codec::decode_index_checkpoint(value).unwrap();
    checkpoint.streams.sort();
    let value = codec::encode_index_checkpoint(&checkpoint);
    let index = codec::encode_snapshot(position, &value);
    seeds.push(("snapshot-index".into(), with_kind(SNAPSHOT, &index)));
    seeds.push(("index".into(), with_kind(INDEX_CHECKPOINT_KIND, &value)));
    let timeout = std::time::Duration::from_secs(60);
    let projections: [(&str, Vec<u8>); 5] = api
        .projections_after(head, timeout, |p| {
            [
                ("fund-ledger", codec::encode_value(&p.fund_ledger).unwrap()),
                ("programmes", codec::encode_value(&p.programmes).unwrap()),
                ("insurance", codec::encode_value(&p.insurance).unwrap()),
                ("loans", codec::encode_value(&p.loans).unwrap()),
                ("audit", codec::encode_value(&p.audit).unwrap()),
            ]
        })
        .unwrap();
    for (which, (name, bytes)) in projections.iter().enumerate() {
        let which = u8::try_from(which).unwrap();
        let input = [&[PROJECTION_VALUE, which][..], bytes].concat();
        seeds.push((format!("projection-{name}"), input));
    }
    write_seeds(dir, &seeds);
}

fn http_command_body(dir: &Path, api_bodies: &[String]) {
    let mut by_command = BTreeMap::new();
    for body in api_bodies {
        let value: serde_json::Value = serde_json::from_str(body).unwrap();
        let name = value["command"]
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_else(|| "unit".into());
        by_command.entry(name).or_insert_with(|| body.clone());
    }
    let seeds: Vec<(String, Vec<u8>)> = by_command
        .into_iter()
        .map(|(name, body)| (name, body.into_bytes()))
        .collect();
    write_seeds(dir, &seeds);
}

fn csv_import(dir: &Path, manual: &Path) {
    let text = std::fs::read_to_string(manual).unwrap();
    let blocks: Vec<&str> = text
        .split("```csv\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap())
        .collect();
    assert!(blocks.len() >= 2, "docs/EXCHANGE.md has its CSV examples");
    let mut seeds = vec![
        (
            "exchange-example".to_string(),
            blocks[0].as_bytes().to_vec(),
        ),
        (
            "exchange-repayments".to_string(),
            blocks[1].as_bytes().to_vec(),
        ),
    ];
    // The same file as Excel saves it: a byte order mark and CRLF line ends.
    let excel = format!("\u{feff}{}", blocks[0].replace('\n', "\r\n"));
    seeds.push(("excel-bom-crlf".to_string(), excel.into_bytes()));
    // Quoted fields, a blank line, a bad row and a row with too few fields.
    let awkward =
        "类型 kind,业务日期 effective_date,贷款 loan,金额 amount,利息 interest,备注 memo\n\
                   repayment,2021-08-01,L0001,\"1,000.00\",12.50,\"8月, 还款\"\n\
                   \n\
                   repayment,2021-13-01,L0001,1000.00,,bad date\n\
                   repayment,2021-08-01\n";
    seeds.push(("awkward".to_string(), awkward.as_bytes().to_vec()));
    write_seeds(dir, &seeds);
}

fn amount(dir: &Path) {
    let texts = [
        "1234.56",
        "1,234.56",
        "¥1,234.56",
        "￥ 1234.56 元",
        "616.8万",
        "616.8万元",
        "1.32亿",
        "0",
        "0.5",
        "10000000000000.00",
        "7070500.92",
        "1e5",
        "-5",
        "12,34.56",
        "1.234",
    ];
    let seeds: Vec<(String, Vec<u8>)> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| (format!("{i:02}"), text.as_bytes().to_vec()))
        .collect();
    write_seeds(dir, &seeds);
}

fn id_parsers(dir: &Path) {
    let texts = [
        "FJ-SM-SX",
        "SM-2021-BURSARY",
        "b-000001",
        "clerk-sx",
        "SX-L-0001",
        "SM-H-0001",
        "H0004",
        "a.b_c-d",
        "13800138000",
        "35040219900101123X",
        "-leading-dash",
    ];
    let seeds: Vec<(String, Vec<u8>)> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| (format!("{i:02}"), text.as_bytes().to_vec()))
        .collect();
    write_seeds(dir, &seeds);
}
