//! Bulk import of payments from CSV: parse every row into a command, dry-run the
//! domain rules against a copy of the engine's state, then apply all rows or none
//! (or only the good ones, with the bad ones written to a rejects file).
//!
//! Command ids are `imp-<first 32 hex digits of SHA-256(file bytes)>-<line>`: the same
//! file run again maps each row to the same id, so the engine answers rows already
//! applied as duplicates and applies only what is missing. A payment is never made
//! twice by running a file twice.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use chrono::{NaiveDate, NaiveDateTime};
use ledger_domain::{
    authorize, decide, evolve, Amount, AwardId, BeneficiaryCategory, BeneficiaryId,
    BursaryInstalment, CampaignId, ClaimPayer, ClaimPayment, Command, CommandContext,
    CondolenceForm, CondolencePayment, Event, FundId, FundingTier, GrantModality, GrantPayment,
    HousingInstalment, LoanDisbursement, LoanId, PolicyLine, PremiumPayment, Recorded, Rejection,
    TierShare, TierSplit, UserId,
};
use ledger_engine::{Accepted, Engine, EngineError, Submission};
use ledger_store::{Backend, CommandId};
use sha2::Digest as _;

use crate::{ExchangeError, Progress};

/// The largest import file accepted, in bytes.
pub const IMPORT_BYTES_MAX: usize = 64 * 1024 * 1024;
/// The most data rows one import file may hold.
pub const IMPORT_ROWS_MAX: usize = 100_000;
/// Rows submitted to the engine before waiting for their answers: enough to fill
/// group commits, well below the engine's queue depth.
pub const IMPORT_WINDOW_ROWS: usize = 512;
/// Digits in a row that make free text look like an ID-card (18), phone (11) or
/// bank-card (16–19) number.
const PERSONAL_DIGITS_MIN: usize = 11;

/// The columns an import file may have: (Chinese, English). A header cell may be the
/// Chinese name, the English name, or both separated by a space (`金额 amount`).
/// docs/EXCHANGE.md says which payment kinds use which columns.
pub const IMPORT_COLUMNS: [(&str, &str); 31] = [
    ("类型", "kind"),
    ("业务日期", "effective_date"),
    ("经办人", "actor"),
    ("备注", "memo"),
    ("资金", "fund"),
    ("受益人", "beneficiary"),
    ("贷款", "loan"),
    ("奖助", "award"),
    ("活动", "campaign"),
    ("金额", "amount"),
    ("利息", "interest"),
    ("不含税保费", "tax_exclusive"),
    ("层级", "tier"),
    ("分摊", "shares"),
    ("期限月数", "term_months"),
    ("宽限月数", "grace_months"),
    ("年利率基点", "annual_rate_bp"),
    ("批次", "batch"),
    ("流动人口", "migrant"),
    ("资助方式", "modality"),
    ("险种", "line"),
    ("保障起期", "coverage_start"),
    ("保障止期", "coverage_end"),
    ("户数", "households"),
    ("人数", "persons"),
    ("赔付方", "payer"),
    ("类别", "category"),
    ("形式", "form"),
    ("物品", "goods"),
    ("原行号", "source_line"),
    ("原因", "reason"),
];

/// A column of [`IMPORT_COLUMNS`], by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Col {
    Kind,
    EffectiveDate,
    Actor,
    Memo,
    Fund,
    Beneficiary,
    Loan,
    Award,
    Campaign,
    Amount,
    Interest,
    TaxExclusive,
    Tier,
    Shares,
    TermMonths,
    GraceMonths,
    AnnualRateBp,
    Batch,
    Migrant,
    Modality,
    Line,
    CoverageStart,
    CoverageEnd,
    Households,
    Persons,
    Payer,
    Category,
    Form,
    Goods,
    /// Written into a rejects file; ignored on import so that a corrected rejects file
    /// can be imported as it is.
    SourceLine,
    /// Likewise.
    Reason,
}

const ALL_COLS: [Col; 31] = [
    Col::Kind,
    Col::EffectiveDate,
    Col::Actor,
    Col::Memo,
    Col::Fund,
    Col::Beneficiary,
    Col::Loan,
    Col::Award,
    Col::Campaign,
    Col::Amount,
    Col::Interest,
    Col::TaxExclusive,
    Col::Tier,
    Col::Shares,
    Col::TermMonths,
    Col::GraceMonths,
    Col::AnnualRateBp,
    Col::Batch,
    Col::Migrant,
    Col::Modality,
    Col::Line,
    Col::CoverageStart,
    Col::CoverageEnd,
    Col::Households,
    Col::Persons,
    Col::Payer,
    Col::Category,
    Col::Form,
    Col::Goods,
    Col::SourceLine,
    Col::Reason,
];

impl Col {
    fn names(self) -> (&'static str, &'static str) {
        IMPORT_COLUMNS[self as usize]
    }

    /// `金额 amount`, as messages name a column.
    fn label(self) -> String {
        let (zh, en) = self.names();
        format!("{zh} {en}")
    }
}

/// Header words that mean personal information (PIPL): names, ID numbers, phones,
/// bank accounts, addresses. Matched inside the normalised header text.
const PERSONAL_WORDS: [&str; 26] = [
    "姓名",
    "名字",
    "身份证",
    "证件",
    "电话",
    "手机",
    "银行",
    "账号",
    "账户",
    "卡号",
    "住址",
    "地址",
    "邮箱",
    "name",
    "id_card",
    "idcard",
    "id_number",
    "id_no",
    "identity",
    "passport",
    "phone",
    "mobile",
    "bank",
    "account",
    "address",
    "email",
];

/// The payment commands an import file can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Loan,
    Repayment,
    Grant,
    Housing,
    Bursary,
    Premium,
    Claim,
    Condolence,
}

impl Kind {
    /// Accepted spellings (compared after lower-casing and removing `_`, `-` and spaces).
    const NAMES: [(Kind, &'static [&'static str]); 8] = [
        (Kind::Loan, &["loan", "disburseloan", "贷款发放", "放款"]),
        (Kind::Repayment, &["repayment", "repayloan", "还款"]),
        (Kind::Grant, &["grant", "paygrant", "资助", "幸福工程资助"]),
        (
            Kind::Housing,
            &[
                "housinginstalment",
                "payhousinginstalment",
                "安居分期",
                "安居工程分期",
            ],
        ),
        (
            Kind::Bursary,
            &[
                "bursaryinstalment",
                "paybursaryinstalment",
                "助学分期",
                "金秋助学分期",
            ],
        ),
        (Kind::Premium, &["premium", "collectpremium", "保费"]),
        (Kind::Claim, &["claim", "payclaim", "理赔"]),
        (
            Kind::Condolence,
            &["condolence", "paycondolence", "慰问", "慰问金"],
        ),
    ];

    fn parse(text: &str) -> Result<Kind, String> {
        let key = squash(text);
        Kind::NAMES
            .iter()
            .find(|(_, names)| names.contains(&key.as_str()))
            .map(|(kind, _)| *kind)
            .ok_or_else(|| {
                format!(
                    "{}: unknown payment kind {text:?}; use loan, repayment, grant, \
                     housing_instalment, bursary_instalment, premium, claim or condolence",
                    Col::Kind.label()
                )
            })
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Loan => "loan disbursement",
            Kind::Repayment => "repayment",
            Kind::Grant => "grant",
            Kind::Housing => "housing instalment",
            Kind::Bursary => "bursary instalment",
            Kind::Premium => "premium",
            Kind::Claim => "claim",
            Kind::Condolence => "condolence payment",
        }
    }

    /// The columns this kind reads besides kind, date, actor, memo and amount.
    fn columns(self) -> &'static [Col] {
        match self {
            Kind::Loan => &[
                Col::Fund,
                Col::Beneficiary,
                Col::Loan,
                Col::Tier,
                Col::TermMonths,
                Col::GraceMonths,
                Col::AnnualRateBp,
                Col::Batch,
                Col::Migrant,
            ],
            Kind::Repayment => &[Col::Loan, Col::Interest],
            Kind::Grant => &[
                Col::Fund,
                Col::Beneficiary,
                Col::Modality,
                Col::Batch,
                Col::Tier,
                Col::Shares,
            ],
            Kind::Housing => &[Col::Award, Col::Tier, Col::Shares],
            Kind::Bursary => &[Col::Award],
            Kind::Premium => &[
                Col::Fund,
                Col::Line,
                Col::CoverageStart,
                Col::CoverageEnd,
                Col::Households,
                Col::Persons,
                Col::TaxExclusive,
                Col::Tier,
                Col::Shares,
            ],
            Kind::Claim => &[
                Col::Fund,
                Col::Line,
                Col::Beneficiary,
                Col::Payer,
                Col::Tier,
                Col::Shares,
            ],
            Kind::Condolence => &[
                Col::Campaign,
                Col::Beneficiary,
                Col::Category,
                Col::Form,
                Col::Goods,
                Col::Tier,
                Col::Shares,
            ],
        }
    }
}

/// Lower case without `_`, `-`, spaces: how enum values are compared.
fn squash(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(c, '_' | '-') && !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// One row of an import file as a command, ready to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRow {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    /// `imp-<file digest>-<line>`: the same file and line always give the same id.
    pub command_id: String,
    pub command: Command,
    pub effective_date: NaiveDate,
    /// The row's `经办人 actor`, else the importing user.
    pub actor: UserId,
    pub memo: String,
}

/// A row that cannot be applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// A parsed import file: the good rows as commands and the bad rows with reasons.
#[derive(Debug, Clone)]
pub struct PaymentFile {
    /// The first 32 hex digits of SHA-256 of the file's bytes, part of every command id.
    pub file_digest: String,
    /// Data rows in the file (blank lines are not rows).
    pub row_count: u64,
    pub rows: Vec<PaymentRow>,
    /// Rows that did not parse, in line order.
    pub errors: Vec<RowError>,
    headers: csv::StringRecord,
    /// Every data row as it was in the file, by line, for the rejects file.
    originals: BTreeMap<u64, csv::StringRecord>,
}

/// Parses an import file (UTF-8, optionally with a byte order mark; comma-separated;
/// a header row, see [`IMPORT_COLUMNS`]). Rows without an actor are recorded as
/// `default_actor`. A problem with the file as a whole (encoding, an unknown,
/// repeated or personal-information column, a missing `类型 kind`, `业务日期
/// effective_date` or `金额 amount` column, too many rows) is an error; a problem with
/// a row is a [`RowError`] in [`PaymentFile::errors`].
pub fn parse_payments(bytes: &[u8], default_actor: &UserId) -> Result<PaymentFile, ExchangeError> {
    if bytes.len() > IMPORT_BYTES_MAX {
        return Err(ExchangeError::File(format!(
            "the file has {} bytes; an import takes at most {IMPORT_BYTES_MAX}: split it",
            bytes.len()
        )));
    }
    let file_digest = hex::encode(sha2::Sha256::digest(bytes))[..32].to_string();
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(body).map_err(|e| {
        ExchangeError::File(format!(
            "the file is not UTF-8 (byte {} is not); in Excel, save it as \
             \"CSV UTF-8 (逗号分隔)\"",
            e.valid_up_to()
        ))
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ExchangeError::File(format!("cannot read the header row: {e}")))?
        .clone();
    let columns = resolve_headers(&headers)?;
    let mut file = PaymentFile {
        file_digest,
        row_count: 0,
        rows: Vec::new(),
        errors: Vec::new(),
        headers: headers.clone(),
        originals: BTreeMap::new(),
    };
    let mut lines = LineCounter::new(text.as_bytes());
    for record in reader.records() {
        let record =
            record.map_err(|e| ExchangeError::File(format!("cannot read the file: {e}")))?;
        let line = lines.line_of(record.position().map_or(0, csv::Position::byte));
        if record.iter().all(|field| clean(field).is_empty()) {
            continue;
        }
        file.row_count += 1;
        if file.row_count > IMPORT_ROWS_MAX as u64 {
            return Err(ExchangeError::File(format!(
                "the file has more than {IMPORT_ROWS_MAX} rows; split it"
            )));
        }
        let parsed = if record.len() != headers.len() {
            Err(format!(
                "the row has {} fields but the header has {}",
                record.len(),
                headers.len()
            ))
        } else {
            let row = Row {
                columns: &columns,
                record: &record,
            };
            parse_row(&row, line, &file.file_digest, default_actor)
        };
        match parsed {
            Ok(row) => file.rows.push(row),
            Err(reason) => file.errors.push(RowError { line, reason }),
        }
        file.originals.insert(line, record);
    }
    Ok(file)
}

/// The line on which each record of an import file starts, counted from the text:
/// `\r\n`, a lone `\n` and a lone `\r` each end a line, as for the csv reader. The
/// reader's own line count (`csv::Position::line`) counts only `\n` and counts it late
/// after a `\r\n` or a blank line, so a file saved by Excel with CRLF line ends had every
/// row one line early, and a file with lone `\r` line ends had every row on line 1 (one
/// command id for all of them). Found by the `csv_import` fuzz target.
struct LineCounter<'a> {
    text: &'a [u8],
    /// The bytes before `offset` have been counted.
    offset: usize,
    /// The line that `offset` is on.
    line: u64,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the record whose position is `byte`. Records come in file order.
    fn line_of(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .clamp(self.offset, self.text.len());
        // The reader's position can be the `\n` of the `\r\n` that ended the previous
        // record, or blank lines before this one; a record itself never starts with a
        // line end (a field holding one is quoted).
        while matches!(self.text.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        for i in self.offset..start {
            let ends_line = match self.text[i] {
                b'\r' => true,
                b'\n' => i == 0 || self.text[i - 1] != b'\r',
                _ => false,
            };
            if ends_line {
                self.line += 1;
            }
        }
        self.offset = start;
        self.line
    }
}

/// Maps each header cell to its column, refusing personal information, unknown and
/// repeated columns, and a file without the columns every row needs.
fn resolve_headers(headers: &csv::StringRecord) -> Result<BTreeMap<Col, usize>, ExchangeError> {
    let personal: Vec<String> = headers
        .iter()
        .filter(|h| {
            let text = normalise_header(h);
            PERSONAL_WORDS.iter().any(|word| text.contains(word))
                || text
                    .split(|c: char| !c.is_alphanumeric())
                    .any(|w| w == "tel")
        })
        .map(|h| h.trim().to_string())
        .collect();
    if !personal.is_empty() {
        return Err(ExchangeError::PersonalInformation { columns: personal });
    }
    let mut columns = BTreeMap::new();
    for (index, header) in headers.iter().enumerate() {
        let column = column_of(header).ok_or_else(|| {
            ExchangeError::File(format!(
                "unknown column {:?}; the columns are listed in docs/EXCHANGE.md ({})",
                header.trim(),
                IMPORT_COLUMNS
                    .iter()
                    .map(|(zh, en)| format!("{zh} {en}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        if columns.insert(column, index).is_some() {
            return Err(ExchangeError::File(format!(
                "the column {} appears twice",
                column.label()
            )));
        }
    }
    for required in [Col::Kind, Col::EffectiveDate, Col::Amount] {
        if !columns.contains_key(&required) {
            return Err(ExchangeError::File(format!(
                "the file has no {} column; every row needs one",
                required.label()
            )));
        }
    }
    Ok(columns)
}

fn normalise_header(header: &str) -> String {
    clean(header)
        .to_lowercase()
        .replace([' ', '-', '\u{3000}'], "_")
}

/// The column a header names: `金额`, `amount` or `金额 amount`.
fn column_of(header: &str) -> Option<Col> {
    let text = clean(header);
    let english = |s: &str| s.to_lowercase().replace([' ', '-'], "_");
    let (first, rest) = match text.split_once(char::is_whitespace) {
        Some((first, rest)) => (first, Some(clean(rest))),
        None => (text, None),
    };
    ALL_COLS.into_iter().find(|col| {
        let (zh, en) = col.names();
        match rest {
            None => first == zh || english(first) == en,
            Some(rest) => (first == zh && english(rest) == en) || english(text) == en,
        }
    })
}

/// A field without surrounding white space (also the ideographic space U+3000).
fn clean(field: &str) -> &str {
    field.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

/// One data row with its header's column positions.
struct Row<'a> {
    columns: &'a BTreeMap<Col, usize>,
    record: &'a csv::StringRecord,
}

impl Row<'_> {
    /// The column's value, `None` if the column is absent or the cell empty.
    fn get(&self, col: Col) -> Option<&str> {
        let index = *self.columns.get(&col)?;
        Some(clean(self.record.get(index)?)).filter(|v| !v.is_empty())
    }

    fn required(&self, col: Col, kind: Kind) -> Result<&str, String> {
        self.get(col).ok_or_else(|| {
            if self.columns.contains_key(&col) {
                format!(
                    "a {} needs {}; the cell is empty",
                    kind.label(),
                    col.label()
                )
            } else {
                format!(
                    "a {} needs {}; the file has no such column",
                    kind.label(),
                    col.label()
                )
            }
        })
    }

    fn amount(&self, col: Col, kind: Kind) -> Result<Amount, String> {
        let text = self.required(col, kind)?;
        Amount::parse(text).map_err(|e| format!("{}: {e}", col.label()))
    }

    fn optional_amount(&self, col: Col) -> Result<Amount, String> {
        match self.get(col) {
            None => Ok(Amount::ZERO),
            Some(text) => Amount::parse(text).map_err(|e| format!("{}: {e}", col.label())),
        }
    }

    fn date(&self, col: Col, kind: Kind) -> Result<NaiveDate, String> {
        let text = self.required(col, kind)?;
        ["%Y-%m-%d", "%Y/%m/%d"]
            .iter()
            .find_map(|format| NaiveDate::parse_from_str(text, format).ok())
            .ok_or_else(|| {
                format!(
                    "{}: {text:?} is not a date; use YYYY-MM-DD, e.g. 2021-06-30",
                    col.label()
                )
            })
    }

    fn number<T: std::str::FromStr>(&self, col: Col, kind: Kind) -> Result<T, String> {
        let text = self.required(col, kind)?;
        number(text, col)
    }

    fn optional_number<T: std::str::FromStr + Default>(&self, col: Col) -> Result<T, String> {
        self.get(col)
            .map_or(Ok(T::default()), |text| number(text, col))
    }

    fn id<T: std::str::FromStr<Err = ledger_domain::IdError>>(
        &self,
        col: Col,
        kind: Kind,
    ) -> Result<T, String> {
        let text = self.required(col, kind)?;
        text.parse().map_err(|e| format!("{}: {e}", col.label()))
    }

    /// Free text that is kept in the log: refused if it looks like personal data.
    fn text(&self, col: Col) -> Result<Option<String>, String> {
        let Some(text) = self.get(col) else {
            return Ok(None);
        };
        no_personal_digits(text, col)?;
        Ok(Some(text.to_string()))
    }

    fn choice<T: Copy>(&self, col: Col, kind: Kind, choices: &[(T, &[&str])]) -> Result<T, String> {
        let text = self.required(col, kind)?;
        let key = squash(text);
        choices
            .iter()
            .find(|(_, names)| names.contains(&key.as_str()))
            .map(|(value, _)| *value)
            .ok_or_else(|| {
                let accepted: Vec<&str> = choices.iter().map(|(_, names)| names[0]).collect();
                format!(
                    "{}: unknown value {text:?}; use one of {}",
                    col.label(),
                    accepted.join(", ")
                )
            })
    }

    /// The tier split of `amount`: the `分摊 shares` column, else all of it from
    /// the `层级 tier` column.
    fn split(&self, amount: Amount, kind: Kind) -> Result<TierSplit, String> {
        match (self.get(Col::Shares), self.get(Col::Tier)) {
            (Some(_), Some(_)) => Err(format!(
                "give either {} or {}, not both",
                Col::Tier.label(),
                Col::Shares.label()
            )),
            (Some(text), None) => shares(text),
            (None, Some(_)) => {
                let tier = self.choice(Col::Tier, kind, &TIERS)?;
                TierSplit::single(tier, amount).map_err(|e| e.to_string())
            }
            (None, None) => Err(format!(
                "a {} needs {} (one tier pays all) or {} (e.g. province:600.00;city:400.00)",
                kind.label(),
                Col::Tier.label(),
                Col::Shares.label()
            )),
        }
    }
}

fn number<T: std::str::FromStr>(text: &str, col: Col) -> Result<T, String> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{}: {text:?} is not a whole number; type digits only",
            col.label()
        ));
    }
    text.parse()
        .map_err(|_| format!("{}: {text} is too large", col.label()))
}

fn no_personal_digits(text: &str, col: Col) -> Result<(), String> {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= PERSONAL_DIGITS_MIN {
            return Err(format!(
                "{} holds a run of {PERSONAL_DIGITS_MIN} or more digits, which looks like an \
                 ID-card, phone or bank-card number; personal information must not enter \
                 the ledger",
                col.label()
            ));
        }
    }
    Ok(())
}

const TIERS: [(FundingTier, &[&str]); 9] = [
    (FundingTier::Province, &["province", "省", "省级"]),
    (FundingTier::City, &["city", "市", "市级"]),
    (FundingTier::County, &["county", "县", "县级", "区", "区级"]),
    (FundingTier::Township, &["township", "乡镇", "街道"]),
    (FundingTier::Village, &["village", "村", "社区"]),
    (
        FundingTier::HouseholdContribution,
        &["household", "householdcontribution", "个人", "个人缴费"],
    ),
    (FundingTier::Insurer, &["insurer", "保险公司"]),
    (FundingTier::Donation, &["donation", "捐赠", "社会捐赠"]),
    (FundingTier::Interest, &["interest", "利息"]),
];

const MODALITIES: [(GrantModality, &[&str]); 3] = [
    (GrantModality::Relief, &["relief", "扶弱济困"]),
    (GrantModality::Skills, &["skills", "扶智赋能"]),
    (GrantModality::Health, &["health", "扶助健康"]),
];

const LINES: [(PolicyLine, &[&str]); 3] = [
    (
        PolicyLine::HouseholdAccident,
        &[
            "household_accident",
            "householdaccident",
            "意外伤害",
            "计生家庭意外伤害保险",
        ],
    ),
    (
        PolicyLine::HospitalNursing,
        &[
            "hospital_nursing",
            "hospitalnursing",
            "住院护理",
            "住院护理补贴保险",
        ],
    ),
    (
        PolicyLine::CriticalIllness,
        &[
            "critical_illness",
            "criticalillness",
            "重大疾病",
            "重大疾病保险",
        ],
    ),
];

const CATEGORIES: [(BeneficiaryCategory, &[&str]); 7] = [
    (
        BeneficiaryCategory::PoorHousehold,
        &["poor_household", "poorhousehold", "贫困户"],
    ),
    (
        BeneficiaryCategory::SpecialFamily,
        &[
            "special_family",
            "specialfamily",
            "计生特殊家庭",
            "特殊家庭",
        ],
    ),
    (
        BeneficiaryCategory::OnlyChild,
        &["only_child", "onlychild", "独生子女户"],
    ),
    (
        BeneficiaryCategory::TwoDaughters,
        &["two_daughters", "twodaughters", "二女户"],
    ),
    (BeneficiaryCategory::Migrant, &["migrant", "流动人口"]),
    (BeneficiaryCategory::Student, &["student", "学生"]),
    (BeneficiaryCategory::Mother, &["mother", "计生母亲"]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payer {
    Insurer,
    Fund,
}

const PAYERS: [(Payer, &[&str]); 2] = [
    (Payer::Insurer, &["insurer", "保险公司"]),
    (Payer::Fund, &["fund", "基金", "资金"]),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Cash,
    Goods,
}

const FORMS: [(Form, &[&str]); 2] = [
    (Form::Cash, &["cash", "现金"]),
    (Form::Goods, &["goods", "实物"]),
];

const YES_NO: [(bool, &[&str]); 2] = [
    (true, &["yes", "是", "true", "1", "y"]),
    (false, &["no", "否", "false", "0", "n"]),
];

/// `province:600.00;city:400.00` (also `省=600；市=400`).
fn shares(text: &str) -> Result<TierSplit, String> {
    let label = Col::Shares.label();
    let mut list = Vec::new();
    for part in text.split([';', '；']).map(clean).filter(|p| !p.is_empty()) {
        let (tier, amount) = part.split_once([':', '：', '=']).ok_or_else(|| {
            format!("{label}: {part:?} is not tier:amount, e.g. province:600.00;city:400.00")
        })?;
        let key = squash(tier);
        let tier = TIERS
            .iter()
            .find(|(_, names)| names.contains(&key.as_str()))
            .map(|(tier, _)| *tier)
            .ok_or_else(|| format!("{label}: unknown tier {:?}", clean(tier)))?;
        let amount = Amount::parse(clean(amount)).map_err(|e| format!("{label}: {e}"))?;
        list.push(TierShare { tier, amount });
    }
    TierSplit::new(list).map_err(|e| format!("{label}: {e}"))
}

fn parse_row(
    row: &Row<'_>,
    line: u64,
    file_digest: &str,
    default_actor: &UserId,
) -> Result<PaymentRow, String> {
    let kind = Kind::parse(row.get(Col::Kind).ok_or_else(|| {
        format!(
            "{} is empty; say which payment the row is",
            Col::Kind.label()
        )
    })?)?;
    let always = [
        Col::Kind,
        Col::EffectiveDate,
        Col::Actor,
        Col::Memo,
        Col::Amount,
        Col::SourceLine,
        Col::Reason,
    ];
    if let Some((col, _)) = row.columns.iter().find(|(col, _)| {
        !always.contains(col) && !kind.columns().contains(col) && row.get(**col).is_some()
    }) {
        return Err(format!(
            "{} does not apply to a {}; leave the cell empty",
            col.label(),
            kind.label()
        ));
    }
    let effective_date = row.date(Col::EffectiveDate, kind)?;
    let actor = match row.get(Col::Actor) {
        None => default_actor.clone(),
        Some(text) => {
            let actor = UserId::new(text).map_err(|e| format!("{}: {e}", Col::Actor.label()))?;
            ledger_store::Actor::new(text).map_err(|e| format!("{}: {e}", Col::Actor.label()))?;
            actor
        }
    };
    let memo = row.text(Col::Memo)?.unwrap_or_default();
    ledger_store::Memo::new(memo.as_str()).map_err(|e| format!("{}: {e}", Col::Memo.label()))?;
    let command = command_of(row, kind)?;
    let command_id = format!("imp-{file_digest}-{line}");
    CommandId::new(command_id.as_str()).expect("digest and line make an identifier");
    Ok(PaymentRow {
        line,
        command_id,
        command,
        effective_date,
        actor,
        memo,
    })
}

fn command_of(row: &Row<'_>, kind: Kind) -> Result<Command, String> {
    let amount = row.amount(Col::Amount, kind)?;
    let fund = || row.id::<FundId>(Col::Fund, kind);
    let beneficiary = || row.id::<BeneficiaryId>(Col::Beneficiary, kind);
    Ok(match kind {
        Kind::Loan => Command::DisburseLoan(LoanDisbursement {
            loan: row.id::<LoanId>(Col::Loan, kind)?,
            fund: fund()?,
            beneficiary: beneficiary()?,
            tier: row.choice(Col::Tier, kind, &TIERS)?,
            principal: amount,
            term_months: row.number(Col::TermMonths, kind)?,
            grace_months: row.optional_number(Col::GraceMonths)?,
            annual_rate_bp: row.optional_number(Col::AnnualRateBp)?,
            batch: row.text(Col::Batch)?.map(Into::into),
            migrant: match row.get(Col::Migrant) {
                None => false,
                Some(_) => row.choice(Col::Migrant, kind, &YES_NO)?,
            },
        }),
        Kind::Repayment => Command::RepayLoan {
            loan: row.id::<LoanId>(Col::Loan, kind)?,
            principal: amount,
            interest: row.optional_amount(Col::Interest)?,
        },
        Kind::Grant => Command::PayGrant(GrantPayment {
            fund: fund()?,
            beneficiary: beneficiary()?,
            modality: row.choice(Col::Modality, kind, &MODALITIES)?,
            batch: row.text(Col::Batch)?.map(Into::into),
            amount,
            shares: row.split(amount, kind)?,
        }),
        Kind::Housing => Command::PayHousingInstalment(HousingInstalment {
            award: row.id::<AwardId>(Col::Award, kind)?,
            amount,
            shares: row.split(amount, kind)?,
        }),
        Kind::Bursary => Command::PayBursaryInstalment(BursaryInstalment {
            award: row.id::<AwardId>(Col::Award, kind)?,
            amount,
        }),
        Kind::Premium => Command::CollectPremium(PremiumPayment {
            fund: fund()?,
            line: row.choice(Col::Line, kind, &LINES)?,
            coverage_start: row.date(Col::CoverageStart, kind)?,
            coverage_end: row.date(Col::CoverageEnd, kind)?,
            households: row.number(Col::Households, kind)?,
            persons: row.number(Col::Persons, kind)?,
            tax_inclusive: amount,
            tax_exclusive: row.amount(Col::TaxExclusive, kind)?,
            shares: row.split(amount, kind)?,
        }),
        Kind::Claim => Command::PayClaim(ClaimPayment {
            fund: fund()?,
            line: row.choice(Col::Line, kind, &LINES)?,
            beneficiary: beneficiary()?,
            amount,
            payer: match row.choice(Col::Payer, kind, &PAYERS)? {
                Payer::Insurer => {
                    if row.get(Col::Tier).is_some() || row.get(Col::Shares).is_some() {
                        return Err(format!(
                            "a claim paid by the insurer is not charged to the fund's tiers; \
                             leave {} and {} empty",
                            Col::Tier.label(),
                            Col::Shares.label()
                        ));
                    }
                    ClaimPayer::Insurer
                }
                Payer::Fund => ClaimPayer::Fund {
                    shares: row.split(amount, kind)?,
                },
            },
        }),
        Kind::Condolence => Command::PayCondolence(CondolencePayment {
            campaign: row.id::<CampaignId>(Col::Campaign, kind)?,
            beneficiary: beneficiary()?,
            category: row.choice(Col::Category, kind, &CATEGORIES)?,
            form: match row.get(Col::Form) {
                None => CondolenceForm::Cash,
                Some(_) => match row.choice(Col::Form, kind, &FORMS)? {
                    Form::Cash => CondolenceForm::Cash,
                    Form::Goods => CondolenceForm::Goods {
                        description: row.text(Col::Goods)?.ok_or_else(|| {
                            format!("a condolence paid in goods needs {}", Col::Goods.label())
                        })?,
                    },
                },
            },
            amount,
            shares: row.split(amount, kind)?,
        }),
    })
}

/// Settings of an import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOptions {
    /// The user importing: the actor of every row without a `经办人 actor` value. A
    /// re-run must use the same actor, or the engine refuses the rows already applied
    /// as command-id conflicts (it never applies them twice).
    pub actor: UserId,
    /// Apply the good rows even if some are bad (the bad ones go to the rejects file);
    /// otherwise one bad row means nothing is applied.
    pub skip_bad_rows: bool,
    /// The date and time the dry run decides at (the engine stamps its own time when it
    /// records): normally now. Rows dated after it are rejected.
    pub now: NaiveDateTime,
    /// The language of a refused row's reason when a rule of the ledger refused it (the
    /// domain's rejection) or it names another actor. A row that does not parse (a bad
    /// date, an unknown tier, a missing column) is described in English either way.
    pub language: Language,
}

/// The language of the reasons in the rejects file and the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Language {
    /// The English of the command line and the API.
    #[default]
    English,
    /// 简体中文, for clerks who import from the web workspace in Chinese.
    Chinese,
}

impl Language {
    /// A rejection's reason in this language.
    fn rejection(self, rejection: &Rejection) -> String {
        match self {
            Language::English => rejection.to_string(),
            Language::Chinese => rejection.detail_zh(),
        }
    }

    /// Why a row naming another actor is refused, in this language.
    fn other_actor(self, row: &UserId, importer: &UserId) -> String {
        match self {
            Language::English => format!(
                "the row names {row} as 经办人 actor, but the file is imported by {importer}; a member of staff records only as themselves"
            ),
            Language::Chinese => format!(
                "该行的经办人为 {row}，而导入本文件的是 {importer}；工作人员只能以本人身份记账"
            ),
        }
    }
}

impl ImportOptions {
    /// Options that dry-run at the system's current time (UTC).
    pub fn now(actor: UserId, skip_bad_rows: bool) -> ImportOptions {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let now = i64::try_from(since_epoch.as_millis())
            .ok()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .unwrap_or_default()
            .naive_utc();
        ImportOptions {
            actor,
            skip_bad_rows,
            now,
            language: Language::English,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Data rows in the file.
    pub rows: u64,
    /// Rows applied now.
    pub applied: u64,
    /// Rows an earlier run of the same file had applied already: not applied again.
    pub duplicates: u64,
    /// Rows not applied, in line order (with `skip_bad_rows`; also rows the engine
    /// refused while applying, when another user changed the state after the dry run).
    pub rejected: Vec<RowError>,
    /// Lines applied as payment requests that wait for a second person's approval
    /// (the fund's approval threshold): no money has left the fund for them yet.
    pub pending_approval: Vec<u64>,
}

/// Imports a CSV file of payments into the engine.
///
/// 1. Parses every row ([`parse_payments`]).
/// 2. Dry-runs every row that is not already in the log, in file order, through
///    `ledger_domain::decide` and `evolve` on a copy of the engine's current state, so
///    that a later row sees the effect of earlier ones (an overdraft in row N is
///    reported as row N).
/// 3. If any row is bad and [`ImportOptions::skip_bad_rows`] is off, writes the
///    rejects file and returns [`ExchangeError::RowsRejected`]: nothing is applied.
/// 4. Submits the other rows in file order, [`IMPORT_WINDOW_ROWS`] at a time, and
///    reports `(rows answered, rows to submit)` to `progress`; then writes the rejects
///    file if any row was not applied.
///
/// The rejects file, written once to `rejects` and only when some row is bad, is CSV
/// with a byte order mark: the file's header and every bad row as it was, plus the
/// columns `原行号 source_line` and `原因 reason`. The import ignores those two columns,
/// so a clerk can fix the rows in it and import it as it is.
///
/// Blocks the calling thread; do not call it from inside an async runtime. The dry
/// run sees the state when it starts: if another user changes it meanwhile, a row
/// can still be refused when applied, and is then reported in
/// [`ImportSummary::rejected`]. An operating error stops the import with
/// [`ExchangeError::Interrupted`]; running the same file again applies only the rows
/// that are missing.
pub fn import_payments<B: Backend>(
    engine: &Engine<B>,
    file: &[u8],
    options: &ImportOptions,
    rejects: &mut dyn Write,
    progress: Progress<'_>,
) -> Result<ImportSummary, ExchangeError> {
    let parsed = parse_payments(file, &options.actor)?;
    let mut errors = parsed.errors.clone();
    let (submit, pending_approval) = dry_run(engine, &parsed, options, &mut errors);
    errors.sort_by_key(|e| e.line);
    if !errors.is_empty() && !options.skip_bad_rows {
        write_rejects(&parsed, &errors, rejects)?;
        return Err(ExchangeError::RowsRejected { errors });
    }
    let mut summary = ImportSummary {
        rows: parsed.row_count,
        rejected: errors,
        pending_approval,
        ..ImportSummary::default()
    };
    let total = submit.len() as u64;
    progress(0, total);
    let mut late_rejects = Vec::new();
    let mut done = 0;
    for window in submit.chunks(IMPORT_WINDOW_ROWS) {
        let answers = block_on_all(
            window
                .iter()
                .map(|row| {
                    engine.submit_checked_async(Submission {
                        command_id: row.command_id.clone(),
                        command: row.command.clone(),
                        actor: row.actor.clone(),
                        effective_date: row.effective_date,
                        memo: row.memo.clone(),
                    })
                })
                .collect(),
        );
        for (row, answer) in window.iter().zip(answers) {
            match answer {
                Ok(Accepted {
                    duplicate: true, ..
                }) => summary.duplicates += 1,
                Ok(_) => summary.applied += 1,
                Err(EngineError::Rejected(rejection)) => late_rejects.push(RowError {
                    line: row.line,
                    reason: options.language.rejection(&rejection),
                }),
                Err(
                    e @ (EngineError::InvalidInput { .. } | EngineError::CommandIdConflict { .. }),
                ) => late_rejects.push(RowError {
                    line: row.line,
                    reason: e.to_string(),
                }),
                Err(cause) => {
                    let mut known = summary.rejected;
                    known.extend(late_rejects);
                    known.sort_by_key(|e| e.line);
                    if !known.is_empty() {
                        write_rejects(&parsed, &known, rejects)?;
                    }
                    return Err(ExchangeError::Interrupted {
                        applied: summary.applied,
                        line: row.line,
                        cause,
                    });
                }
            }
            done += 1;
            progress(done, total);
        }
    }
    if !late_rejects.is_empty() {
        summary.rejected.extend(late_rejects);
        summary.rejected.sort_by_key(|e| e.line);
        summary
            .pending_approval
            .retain(|line| !summary.rejected.iter().any(|e| e.line == *line));
    }
    if !summary.rejected.is_empty() {
        write_rejects(&parsed, &summary.rejected, rejects)?;
    }
    Ok(summary)
}

/// Decides every new row against a copy of the engine's state, in file order. Returns
/// the rows to submit (new rows that passed and rows already in the log, which the
/// engine answers as duplicates) and the lines that become approval requests.
fn dry_run<B: Backend>(
    engine: &Engine<B>,
    parsed: &PaymentFile,
    options: &ImportOptions,
    errors: &mut Vec<RowError>,
) -> (Vec<PaymentRow>, Vec<u64>) {
    let (mut state, mut position) =
        engine.read(|model| (model.state().clone(), model.next_position()));
    let mut submit = Vec::with_capacity(parsed.rows.len());
    let mut pending_approval = Vec::new();
    for row in &parsed.rows {
        let id = CommandId::new(row.command_id.as_str()).expect("checked when parsed");
        if engine.command_span(&id).is_some() {
            submit.push(row.clone());
            continue;
        }
        let context = CommandContext {
            actor: row.actor.clone(),
            effective_date: row.effective_date,
            recorded_at: options.now,
            command_id: row.command_id.clone(),
        };
        let decided = if row.actor == options.actor {
            authorize(&state, &row.actor, &row.command)
                .and_then(|()| decide(&state, &row.command, &context))
        } else {
            errors.push(RowError {
                line: row.line,
                reason: options.language.other_actor(&row.actor, &options.actor),
            });
            continue;
        };
        match decided {
            Ok(events) => {
                if events
                    .iter()
                    .any(|e| matches!(e, Event::PaymentRequested { .. }))
                {
                    pending_approval.push(row.line);
                }
                for event in events {
                    evolve(
                        &mut state,
                        &Recorded {
                            position,
                            command_id: row.command_id.as_str().into(),
                            actor: row.actor.clone(),
                            effective_date: row.effective_date,
                            recorded_at: options.now,
                            event,
                        },
                    );
                    position += 1;
                }
                submit.push(row.clone());
            }
            Err(rejection) => errors.push(RowError {
                line: row.line,
                reason: options.language.rejection(&rejection),
            }),
        }
    }
    (submit, pending_approval)
}

/// Writes the bad rows as they were in the file, with their line and reason, as CSV
/// with a byte order mark (finance staff open it in Excel and fix it there).
fn write_rejects(
    parsed: &PaymentFile,
    errors: &[RowError],
    out: &mut dyn Write,
) -> Result<(), ExchangeError> {
    // A rejects file imported again brings its own line and reason columns: replace them.
    let keep: Vec<usize> = parsed
        .headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !matches!(column_of(h), Some(Col::SourceLine | Col::Reason)))
        .map(|(i, _)| i)
        .collect();
    let mut out = std::io::BufWriter::new(out);
    out.write_all(b"\xEF\xBB\xBF")?;
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(out);
    let mut header: Vec<String> = keep
        .iter()
        .filter_map(|&i| parsed.headers.get(i).map(str::to_string))
        .collect();
    header.push(Col::SourceLine.label());
    header.push(Col::Reason.label());
    writer.write_record(&header)?;
    for error in errors {
        let mut fields: Vec<String> = match parsed.originals.get(&error.line) {
            Some(record) if record.len() == parsed.headers.len() => keep
                .iter()
                .filter_map(|&i| record.get(i).map(str::to_string))
                .collect(),
            Some(record) => record.iter().map(str::to_string).collect(),
            None => Vec::new(),
        };
        // A short row is padded so that line and reason stay in their columns; a long
        // one keeps every field, so that nothing the clerk typed is lost.
        if fields.len() < keep.len() {
            fields.resize(keep.len(), String::new());
        }
        fields.push(error.line.to_string());
        fields.push(error.reason.clone());
        writer.write_record(&fields)?;
    }
    writer.flush()?;
    Ok(())
}

/// Wakes the importing thread when an answer arrives.
struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Runs the futures to completion on this thread and returns their outputs in order.
/// Every future is first polled in order, so submissions enter the engine's queue
/// (a fair, first-come first-served channel) in file order.
fn block_on_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    loop {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(&mut context) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if !pending {
            break;
        }
        std::thread::park();
    }
    outputs
        .into_iter()
        .map(|output| output.expect("every future finished"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_is_named_at_its_own_index() {
        for (index, col) in ALL_COLS.into_iter().enumerate() {
            assert_eq!(col as usize, index);
            let (zh, en) = col.names();
            for header in [zh.to_string(), en.to_string(), format!("{zh} {en}")] {
                assert_eq!(column_of(&header), Some(col), "{header}");
            }
        }
        assert_eq!(column_of(" 金额  AMOUNT "), Some(Col::Amount));
        assert_eq!(column_of("Tax Exclusive"), Some(Col::TaxExclusive));
        assert_eq!(column_of("金额 interest"), None);
    }

    #[test]
    fn shares_parse_in_english_and_chinese_and_refuse_bad_parts() {
        let split = shares("province:600.00; city:400").unwrap();
        assert_eq!(split.total().plain(), "1000.00");
        assert_eq!(shares("省=600；市=400").unwrap(), split);
        for (bad, expected) in [
            ("province 600", "is not tier:amount"),
            ("planet:1.00", "unknown tier"),
            ("city:1.001", "more than two decimal places"),
            ("city:1.00;city:2.00", "more than once"),
            ("", "no tier shares"),
        ] {
            let error = shares(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
        }
    }

    #[test]
    fn long_digit_runs_are_refused_as_personal_information() {
        assert!(no_personal_digits("第十七批 2021-07", Col::Memo).is_ok());
        assert!(no_personal_digits("voucher 1234567890", Col::Memo).is_ok());
        assert!(no_personal_digits("tel 13912345678", Col::Memo).is_err());
        assert!(no_personal_digits("35020319800101123X", Col::Batch).is_err());
    }
}
