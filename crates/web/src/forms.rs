//! The clerk's payment forms: which fields each kind has, and turning what was typed
//! into domain commands. Parsing only builds the domain's own types (`Amount::parse`,
//! the ids' `new`, `TierSplit::new`): every rule beyond that is the ledger's, applied
//! when the command is submitted. A rejection is shown next to the field it concerns
//! ([`field_of_code`]), with what was typed kept. A field's own error (an id, an amount
//! or a tier split that does not parse, a date, a number) names what was typed in the
//! page's language.

use std::collections::HashMap;

use chrono::NaiveDate;
use ledger_domain::{
    Amount, AwardId, BeneficiaryCategory, BeneficiaryId, BursaryInstalment, CampaignId, ClaimPayer,
    ClaimPayment, Command, CondolenceForm, CondolencePayment, FundId, FundingTier, GrantModality,
    GrantPayment, HousingInstalment, LoanDisbursement, LoanId, PolicyLine, PremiumPayment,
    Programme, TierShare, TierSplit,
};

use crate::i18n::Lang;

/// Typed text of a form, by field name.
pub type Values = HashMap<String, String>;

/// How a field is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Text,
    Amount,
    Date,
    Number,
    Check,
    /// A fund of one of these programmes, chosen from the caller's funds.
    Fund(&'static [Programme]),
    /// One of these (value, i18n key).
    Choice(&'static [(&'static str, &'static str)]),
    /// An amount per tier: fields `share_<Tier>`.
    Shares(&'static [FundingTier]),
}

/// One field of a form.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub key: &'static str,
    pub input: Input,
    pub required: bool,
    pub hint: Option<&'static str>,
}

const fn field(name: &'static str, key: &'static str, input: Input, required: bool) -> Field {
    Field {
        name,
        key,
        input,
        required,
        hint: None,
    }
}

const fn hinted(
    name: &'static str,
    key: &'static str,
    input: Input,
    required: bool,
    hint: &'static str,
) -> Field {
    Field {
        name,
        key,
        input,
        required,
        hint: Some(hint),
    }
}

/// The kinds of record a clerk makes from the web.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Commit,
    Receive,
    Loan,
    Repayment,
    Grant,
    Bursary,
    BursaryInstalment,
    Housing,
    HousingInstalment,
    Premium,
    Claim,
    Campaign,
    Condolence,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::Commit,
        Kind::Receive,
        Kind::Loan,
        Kind::Repayment,
        Kind::Grant,
        Kind::Bursary,
        Kind::BursaryInstalment,
        Kind::Housing,
        Kind::HousingInstalment,
        Kind::Premium,
        Kind::Claim,
        Kind::Campaign,
        Kind::Condolence,
    ];

    /// The name in the page's address.
    pub fn slug(self) -> &'static str {
        match self {
            Kind::Commit => "commit",
            Kind::Receive => "receive",
            Kind::Loan => "loan",
            Kind::Repayment => "repayment",
            Kind::Grant => "grant",
            Kind::Bursary => "bursary",
            Kind::BursaryInstalment => "bursary_instalment",
            Kind::Housing => "housing",
            Kind::HousingInstalment => "housing_instalment",
            Kind::Premium => "premium",
            Kind::Claim => "claim",
            Kind::Campaign => "campaign",
            Kind::Condolence => "condolence",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.slug() == slug)
    }

    /// The i18n key of its title.
    pub fn title_key(self) -> &'static str {
        match self {
            Kind::Commit => "kind.commit",
            Kind::Receive => "kind.receive",
            Kind::Loan => "kind.loan",
            Kind::Repayment => "kind.repayment",
            Kind::Grant => "kind.grant",
            Kind::Bursary => "kind.bursary",
            Kind::BursaryInstalment => "kind.bursary_instalment",
            Kind::Housing => "kind.housing",
            Kind::HousingInstalment => "kind.housing_instalment",
            Kind::Premium => "kind.premium",
            Kind::Claim => "kind.claim",
            Kind::Campaign => "kind.campaign",
            Kind::Condolence => "kind.condolence",
        }
    }

    /// Its fields, in order; every form ends with the business date and the memo.
    pub fn fields(self) -> Vec<Field> {
        let mut fields = match self {
            Kind::Commit | Kind::Receive => vec![
                field("fund", "field.fund", Input::Fund(ALL_PROGRAMMES), true),
                field(
                    "tier",
                    "field.tier",
                    Input::Choice(APPROPRIATION_TIERS),
                    true,
                ),
                hinted(
                    "amount",
                    "field.amount",
                    Input::Amount,
                    true,
                    "field.amount_hint",
                ),
                field("reference", "field.reference", Input::Text, false),
            ],
            Kind::Loan => vec![
                field("fund", "field.fund", Input::Fund(LENDING), true),
                field("loan", "field.loan", Input::Text, true),
                hinted(
                    "beneficiary",
                    "field.beneficiary",
                    Input::Text,
                    true,
                    "field.beneficiary_hint",
                ),
                field("tier", "field.tier", Input::Choice(TIERS), true),
                hinted(
                    "principal",
                    "field.principal",
                    Input::Amount,
                    true,
                    "field.amount_hint",
                ),
                field("term_months", "field.term_months", Input::Number, true),
                field("grace_months", "field.grace_months", Input::Number, true),
                field(
                    "annual_rate_bp",
                    "field.annual_rate_bp",
                    Input::Number,
                    true,
                ),
                field("batch", "field.batch", Input::Text, false),
                field("migrant", "field.migrant", Input::Check, false),
            ],
            Kind::Repayment => vec![
                field("loan", "field.loan", Input::Text, true),
                hinted(
                    "principal",
                    "field.principal",
                    Input::Amount,
                    true,
                    "field.amount_hint",
                ),
                field("interest", "field.interest", Input::Amount, false),
            ],
            Kind::Grant => vec![
                field(
                    "fund",
                    "field.fund",
                    Input::Fund(&[Programme::HappinessProject]),
                    true,
                ),
                hinted(
                    "beneficiary",
                    "field.beneficiary",
                    Input::Text,
                    true,
                    "field.beneficiary_hint",
                ),
                field(
                    "modality",
                    "field.modality",
                    Input::Choice(MODALITIES),
                    true,
                ),
                field("batch", "field.batch", Input::Text, false),
                hinted(
                    "shares",
                    "field.shares",
                    Input::Shares(THREE_TIERS),
                    true,
                    "field.shares_hint",
                ),
            ],
            Kind::Bursary => vec![
                field(
                    "fund",
                    "field.fund",
                    Input::Fund(&[Programme::Bursary]),
                    true,
                ),
                hinted(
                    "award",
                    "field.award",
                    Input::Text,
                    true,
                    "field.award_bursary_hint",
                ),
                hinted(
                    "student",
                    "field.student",
                    Input::Text,
                    true,
                    "field.beneficiary_hint",
                ),
                field("academic_year", "field.academic_year", Input::Number, true),
                hinted(
                    "shares",
                    "field.shares",
                    Input::Shares(THREE_TIERS),
                    true,
                    "field.shares_hint",
                ),
            ],
            Kind::BursaryInstalment => vec![
                field("award", "field.award", Input::Text, true),
                hinted(
                    "amount",
                    "field.amount",
                    Input::Amount,
                    true,
                    "field.amount_hint",
                ),
            ],
            Kind::Housing => vec![
                field(
                    "fund",
                    "field.fund",
                    Input::Fund(&[Programme::Housing]),
                    true,
                ),
                field("award", "field.award", Input::Text, true),
                hinted(
                    "beneficiary",
                    "field.beneficiary",
                    Input::Text,
                    true,
                    "field.beneficiary_hint",
                ),
                hinted(
                    "shares",
                    "field.shares",
                    Input::Shares(THREE_TIERS),
                    true,
                    "field.shares_hint",
                ),
            ],
            Kind::HousingInstalment => vec![
                field("award", "field.award", Input::Text, true),
                hinted(
                    "shares",
                    "field.shares",
                    Input::Shares(THREE_TIERS),
                    true,
                    "field.shares_hint",
                ),
            ],
            Kind::Premium => vec![
                field(
                    "fund",
                    "field.fund",
                    Input::Fund(&[Programme::Insurance]),
                    true,
                ),
                field("line", "field.line", Input::Choice(LINES), true),
                field("coverage_start", "field.coverage_start", Input::Date, true),
                field("coverage_end", "field.coverage_end", Input::Date, true),
                field("households", "field.households", Input::Number, true),
                field("persons", "field.persons", Input::Number, true),
                hinted(
                    "tax_inclusive",
                    "field.tax_inclusive",
                    Input::Amount,
                    true,
                    "field.amount_hint",
                ),
                field("tax_exclusive", "field.tax_exclusive", Input::Amount, true),
                hinted(
                    "shares",
                    "field.shares",
                    Input::Shares(PREMIUM_TIERS),
                    true,
                    "field.shares_hint",
                ),
            ],
            Kind::Claim => vec![
                field(
                    "fund",
                    "field.fund",
                    Input::Fund(&[Programme::Insurance]),
                    true,
                ),
                field("line", "field.line", Input::Choice(LINES), true),
                hinted(
                    "beneficiary",
                    "field.beneficiary",
                    Input::Text,
                    true,
                    "field.beneficiary_hint",
                ),
                hinted(
                    "amount",
                    "field.amount",
                    Input::Amount,
                    true,
                    "field.amount_hint",
                ),
                field("payer", "field.payer", Input::Choice(PAYERS), true),
            ],
            Kind::Campaign => vec![
                field(
                    "fund",
                    "field.fund",
                    Input::Fund(&[Programme::Condolence]),
                    true,
                ),
                field("campaign", "field.campaign", Input::Text, true),
                field("name", "field.campaign_name", Input::Text, true),
            ],
            Kind::Condolence => vec![
                field("campaign", "field.campaign", Input::Text, true),
                hinted(
                    "beneficiary",
                    "field.beneficiary",
                    Input::Text,
                    true,
                    "field.beneficiary_hint",
                ),
                field(
                    "category",
                    "field.category",
                    Input::Choice(CATEGORIES),
                    true,
                ),
                field("form", "field.form", Input::Choice(FORMS), true),
                field("goods", "field.goods", Input::Text, false),
                hinted(
                    "shares",
                    "field.shares",
                    Input::Shares(THREE_TIERS),
                    true,
                    "field.shares_hint",
                ),
            ],
        };
        fields.push(hinted(
            "effective_date",
            "field.effective_date",
            Input::Date,
            false,
            "field.effective_date_hint",
        ));
        fields.push(hinted(
            "memo",
            "field.memo",
            Input::Text,
            false,
            "field.memo_hint",
        ));
        fields
    }

    /// Defaults shown in a new form.
    pub fn defaults(self, today: NaiveDate) -> Values {
        let mut v = Values::new();
        let mut set = |k: &str, x: String| {
            v.insert(k.to_string(), x);
        };
        match self {
            Kind::Loan => {
                set("term_months", "12".into());
                set("grace_months", "0".into());
                set("annual_rate_bp", "0".into());
            }
            Kind::Bursary => set("academic_year", chrono::Datelike::year(&today).to_string()),
            Kind::Repayment => set("interest", "0".into()),
            _ => {}
        }
        v
    }
}

const ALL_PROGRAMMES: &[Programme] = &Programme::ALL;
const APPROPRIATION_TIERS: &[(&str, &str)] = &[
    ("Province", "tier.Province"),
    ("City", "tier.City"),
    ("County", "tier.County"),
    ("Township", "tier.Township"),
    ("Village", "tier.Village"),
    ("Donation", "tier.Donation"),
];
const LENDING: &[Programme] = &[Programme::HappinessProject, Programme::RevolvingFund];
const THREE_TIERS: &[FundingTier] = &[
    FundingTier::Province,
    FundingTier::City,
    FundingTier::County,
];
const PREMIUM_TIERS: &[FundingTier] = &[
    FundingTier::Province,
    FundingTier::City,
    FundingTier::County,
    FundingTier::HouseholdContribution,
];
const TIERS: &[(&str, &str)] = &[
    ("Province", "tier.Province"),
    ("City", "tier.City"),
    ("County", "tier.County"),
    ("Township", "tier.Township"),
    ("Village", "tier.Village"),
];
const MODALITIES: &[(&str, &str)] = &[
    ("Relief", "modality.Relief"),
    ("Skills", "modality.Skills"),
    ("Health", "modality.Health"),
];
const LINES: &[(&str, &str)] = &[
    ("HouseholdAccident", "line.HouseholdAccident"),
    ("HospitalNursing", "line.HospitalNursing"),
    ("CriticalIllness", "line.CriticalIllness"),
];
const PAYERS: &[(&str, &str)] = &[
    ("insurer", "payer.insurer"),
    ("Province", "payer.Province"),
    ("City", "payer.City"),
    ("County", "payer.County"),
];
const CATEGORIES: &[(&str, &str)] = &[
    ("PoorHousehold", "category.PoorHousehold"),
    ("SpecialFamily", "category.SpecialFamily"),
    ("OnlyChild", "category.OnlyChild"),
    ("TwoDaughters", "category.TwoDaughters"),
    ("Migrant", "category.Migrant"),
    ("Student", "category.Student"),
    ("Mother", "category.Mother"),
];
const FORMS: &[(&str, &str)] = &[("Cash", "form.Cash"), ("Goods", "form.Goods")];

/// A message for one field (or for the form, with the field `""`): a code the page
/// translates, and the ledger's own detail naming the figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub code: String,
    pub detail: String,
}

/// What a form asks the ledger to record: one or more commands (each recorded with the
/// form's idempotency key and its index), the business date and the memo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub commands: Vec<Command>,
    pub effective_date: Option<NaiveDate>,
    pub memo: String,
    /// The fund whose balance the result page shows, when the form names one.
    pub fund: Option<FundId>,
}

/// Reads typed values, collecting an error per field.
struct Reader<'a> {
    values: &'a Values,
    errors: Vec<FieldError>,
    lang: Lang,
}

impl Reader<'_> {
    fn raw(&self, name: &str) -> &str {
        self.values.get(name).map_or("", |v| v.trim())
    }

    fn fail(&mut self, name: &str, code: &str, detail: impl Into<String>) {
        self.errors.push(FieldError {
            field: name.to_string(),
            code: code.to_string(),
            detail: detail.into(),
        });
    }

    fn present(&mut self, name: &str) -> Option<&str> {
        let text = self.values.get(name).map_or("", |v| v.trim());
        if text.is_empty() {
            self.errors.push(FieldError {
                field: name.to_string(),
                code: "required".to_string(),
                detail: format!("{name} is required"),
            });
            None
        } else {
            Some(text)
        }
    }

    fn id<T>(
        &mut self,
        name: &str,
        make: fn(&str) -> Result<T, ledger_domain::IdError>,
    ) -> Option<T> {
        let text = self.present(name)?.to_string();
        match make(&text) {
            Ok(id) => Some(id),
            Err(e) => {
                let detail = self.lang.pick(e.detail_zh(), e.to_string());
                self.fail(name, e.code(), detail);
                None
            }
        }
    }

    fn amount(&mut self, name: &str) -> Option<Amount> {
        let text = self.present(name)?.to_string();
        self.parse_amount(name, &text)
    }

    fn parse_amount(&mut self, name: &str, text: &str) -> Option<Amount> {
        match Amount::parse(text) {
            Ok(a) => Some(a),
            Err(e) => {
                let detail = self.lang.pick(e.detail_zh(), e.to_string());
                self.fail(name, e.code(), detail);
                None
            }
        }
    }

    fn optional_amount(&mut self, name: &str) -> Option<Amount> {
        let text = self.raw(name).to_string();
        if text.is_empty() {
            Amount::parse("0").ok()
        } else {
            self.parse_amount(name, &text)
        }
    }

    fn number<T: std::str::FromStr>(&mut self, name: &str) -> Option<T> {
        let text = self.present(name)?.to_string();
        match text.parse::<T>() {
            Ok(n) => Some(n),
            Err(_) => {
                let detail = self.lang.pick(
                    format!("{text} 不是允许范围内的整数"),
                    format!("{text} is not a whole number in range"),
                );
                self.fail(name, "invalid_number", detail);
                None
            }
        }
    }

    fn date(&mut self, name: &str) -> Option<NaiveDate> {
        let text = self.present(name)?.to_string();
        self.parse_date(name, &text)
    }

    fn parse_date(&mut self, name: &str, text: &str) -> Option<NaiveDate> {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                let detail = self.lang.pick(
                    format!("{text} 不是 YYYY-MM-DD 格式的日期"),
                    format!("{text} is not a date YYYY-MM-DD"),
                );
                self.fail(name, "invalid_date", detail);
                None
            }
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        let t = self.raw(name);
        (!t.is_empty()).then(|| t.to_string())
    }

    /// One of the choices, by its value (the enum's serde name).
    fn choice<T: serde::de::DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        let text = self.present(name)?.to_string();
        match serde_json::from_value::<T>(serde_json::Value::String(text.clone())) {
            Ok(v) => Some(v),
            Err(_) => {
                let detail = self.lang.pick(
                    format!("{text} 不是可选的一项"),
                    format!("{text} is not one of the choices"),
                );
                self.fail(name, "invalid_input", detail);
                None
            }
        }
    }

    /// The tier shares typed in `share_<Tier>` fields; errors go to `shares`.
    fn shares(&mut self, tiers: &[FundingTier]) -> Option<Vec<TierShare>> {
        let mut shares = Vec::new();
        let mut ok = true;
        for tier in tiers {
            let name = format!("share_{tier:?}");
            let text = self.raw(&name).to_string();
            if text.is_empty() {
                continue;
            }
            match Amount::parse(&text) {
                Ok(amount) => shares.push(TierShare {
                    tier: *tier,
                    amount,
                }),
                Err(e) => {
                    let detail = self.lang.pick(e.detail_zh(), e.to_string());
                    self.fail(&name, e.code(), detail);
                    ok = false;
                }
            }
        }
        if !ok {
            return None;
        }
        match TierSplit::new(shares.clone()) {
            Ok(_) => Some(shares),
            Err(e) => {
                let detail = self.lang.pick(e.detail_zh(), e.to_string());
                self.fail("shares", e.code(), detail);
                None
            }
        }
    }

    fn split(&mut self, tiers: &[FundingTier]) -> Option<(Amount, TierSplit)> {
        let shares = self.shares(tiers)?;
        let mut total = Amount::parse("0").ok()?;
        for share in &shares {
            match total.checked_add(share.amount) {
                Some(t) => total = t,
                None => {
                    let detail = self.lang.pick(
                        "各级承担金额合计超过金额上限",
                        "the shares add up to more than the maximum amount",
                    );
                    self.fail("shares", "amount_overflow", detail);
                    return None;
                }
            }
        }
        match TierSplit::new(shares) {
            Ok(split) => Some((total, split)),
            Err(e) => {
                let detail = self.lang.pick(e.detail_zh(), e.to_string());
                self.fail("shares", e.code(), detail);
                None
            }
        }
    }
}

fn fund_id(s: &str) -> Result<FundId, ledger_domain::IdError> {
    FundId::new(s)
}
fn beneficiary_id(s: &str) -> Result<BeneficiaryId, ledger_domain::IdError> {
    BeneficiaryId::new(s)
}
fn loan_id(s: &str) -> Result<LoanId, ledger_domain::IdError> {
    LoanId::new(s)
}
fn award_id(s: &str) -> Result<AwardId, ledger_domain::IdError> {
    AwardId::new(s)
}
fn campaign_id(s: &str) -> Result<CampaignId, ledger_domain::IdError> {
    CampaignId::new(s)
}

/// The tiers of a bursary, with the suffix of each tier's award id.
pub const BURSARY_TIERS: [(FundingTier, &str); 3] = [
    (FundingTier::Province, "province"),
    (FundingTier::City, "city"),
    (FundingTier::County, "county"),
];

/// Turns a form's typed values into the commands to record, or the errors per field
/// (their details in `lang`).
pub fn parse(kind: Kind, values: &Values, lang: Lang) -> Result<Parsed, Vec<FieldError>> {
    let mut r = Reader {
        values,
        errors: Vec::new(),
        lang,
    };
    let effective_date = match r.raw("effective_date").to_string() {
        text if text.is_empty() => None,
        text => r.parse_date("effective_date", &text),
    };
    let memo = r.text("memo").unwrap_or_default();
    let mut fund = None;
    let commands: Option<Vec<Command>> = match kind {
        Kind::Commit | Kind::Receive => {
            let f = r.id("fund", fund_id);
            let tier = r.choice::<FundingTier>("tier");
            let amount = r.amount("amount");
            let reference = r.text("reference");
            fund.clone_from(&f);
            (|| {
                let (fund, tier, amount) = (f?, tier?, amount?);
                Some(vec![if kind == Kind::Commit {
                    Command::CommitAppropriation {
                        fund,
                        tier,
                        amount,
                        reference,
                    }
                } else {
                    Command::ReceiveAppropriation {
                        fund,
                        tier,
                        amount,
                        reference,
                    }
                }])
            })()
        }
        Kind::Loan => {
            let f = r.id("fund", fund_id);
            let loan = r.id("loan", loan_id);
            let beneficiary = r.id("beneficiary", beneficiary_id);
            let tier = r.choice::<FundingTier>("tier");
            let principal = r.amount("principal");
            let term_months = r.number::<u16>("term_months");
            let grace_months = r.number::<u16>("grace_months");
            let annual_rate_bp = r.number::<u16>("annual_rate_bp");
            let batch = r.text("batch");
            let migrant = !r.raw("migrant").is_empty();
            fund.clone_from(&f);
            (|| {
                Some(vec![Command::DisburseLoan(LoanDisbursement {
                    loan: loan?,
                    fund: f?,
                    beneficiary: beneficiary?,
                    tier: tier?,
                    principal: principal?,
                    term_months: term_months?,
                    grace_months: grace_months?,
                    annual_rate_bp: annual_rate_bp?,
                    batch: batch.map(Into::into),
                    migrant,
                })])
            })()
        }
        Kind::Repayment => {
            let loan = r.id("loan", loan_id);
            let principal = r.amount("principal");
            let interest = r.optional_amount("interest");
            (|| {
                Some(vec![Command::RepayLoan {
                    loan: loan?,
                    principal: principal?,
                    interest: interest?,
                }])
            })()
        }
        Kind::Grant => {
            let f = r.id("fund", fund_id);
            let beneficiary = r.id("beneficiary", beneficiary_id);
            let modality = r.choice::<GrantModality>("modality");
            let batch = r.text("batch");
            let split = r.split(THREE_TIERS);
            fund.clone_from(&f);
            (|| {
                let (amount, shares) = split?;
                Some(vec![Command::PayGrant(GrantPayment {
                    fund: f?,
                    beneficiary: beneficiary?,
                    modality: modality?,
                    batch: batch.map(Into::into),
                    amount,
                    shares,
                })])
            })()
        }
        Kind::Bursary => {
            let f = r.id("fund", fund_id);
            let award = r.id("award", award_id);
            let student = r.id("student", beneficiary_id);
            let academic_year = r.number::<i32>("academic_year");
            let shares = r.shares(THREE_TIERS);
            // Each tier's award id is the typed id and a suffix: check they are ids.
            let awards: Option<Vec<AwardId>> = award.as_ref().and_then(|a| {
                BURSARY_TIERS
                    .iter()
                    .map(|(_, suffix)| AwardId::new(format!("{a}-{suffix}")).ok())
                    .collect()
            });
            if award.is_some() && awards.is_none() {
                let detail = r.lang.pick(
                    "核定编号加上 -province 后超过 64 个字符",
                    "the award id with -province appended is longer than 64 characters",
                );
                r.fail("award", "invalid_id", detail);
            }
            fund.clone_from(&f);
            (|| {
                let (f, student, academic_year, shares, awards) =
                    (f?, student?, academic_year?, shares?, awards?);
                let mut awarded = Vec::new();
                let mut paid = Vec::new();
                for share in shares {
                    let index = BURSARY_TIERS.iter().position(|(t, _)| *t == share.tier)?;
                    let award = awards[index].clone();
                    awarded.push(Command::AwardBursary {
                        award: award.clone(),
                        fund: f.clone(),
                        student: student.clone(),
                        academic_year,
                        tier: share.tier,
                        amount: share.amount,
                        years: 1,
                        supplement_reason: None,
                    });
                    paid.push(Command::PayBursaryInstalment(BursaryInstalment {
                        award,
                        amount: share.amount,
                    }));
                }
                awarded.extend(paid);
                Some(awarded)
            })()
        }
        Kind::BursaryInstalment => {
            let award = r.id("award", award_id);
            let amount = r.amount("amount");
            (|| {
                Some(vec![Command::PayBursaryInstalment(BursaryInstalment {
                    award: award?,
                    amount: amount?,
                })])
            })()
        }
        Kind::Housing => {
            let f = r.id("fund", fund_id);
            let award = r.id("award", award_id);
            let beneficiary = r.id("beneficiary", beneficiary_id);
            let split = r.split(THREE_TIERS);
            fund.clone_from(&f);
            (|| {
                let (amount, shares) = split?;
                Some(vec![Command::AwardHousingGrant {
                    award: award?,
                    fund: f?,
                    beneficiary: beneficiary?,
                    amount,
                    shares,
                }])
            })()
        }
        Kind::HousingInstalment => {
            let award = r.id("award", award_id);
            let split = r.split(THREE_TIERS);
            (|| {
                let (amount, shares) = split?;
                Some(vec![Command::PayHousingInstalment(HousingInstalment {
                    award: award?,
                    amount,
                    shares,
                })])
            })()
        }
        Kind::Premium => {
            let f = r.id("fund", fund_id);
            let line = r.choice::<PolicyLine>("line");
            let coverage_start = r.date("coverage_start");
            let coverage_end = r.date("coverage_end");
            let households = r.number::<u32>("households");
            let persons = r.number::<u32>("persons");
            let tax_inclusive = r.amount("tax_inclusive");
            let tax_exclusive = r.amount("tax_exclusive");
            let shares = r.shares(PREMIUM_TIERS).and_then(|s| TierSplit::new(s).ok());
            fund.clone_from(&f);
            (|| {
                Some(vec![Command::CollectPremium(PremiumPayment {
                    fund: f?,
                    line: line?,
                    coverage_start: coverage_start?,
                    coverage_end: coverage_end?,
                    households: households?,
                    persons: persons?,
                    tax_inclusive: tax_inclusive?,
                    tax_exclusive: tax_exclusive?,
                    shares: shares?,
                })])
            })()
        }
        Kind::Claim => {
            let f = r.id("fund", fund_id);
            let line = r.choice::<PolicyLine>("line");
            let beneficiary = r.id("beneficiary", beneficiary_id);
            let amount = r.amount("amount");
            let payer_text = r.present("payer").map(str::to_string);
            let payer = match (payer_text.as_deref(), amount) {
                (Some("insurer"), _) => Some(ClaimPayer::Insurer),
                (Some(tier), Some(amount)) => {
                    match serde_json::from_value::<FundingTier>(serde_json::Value::String(
                        tier.to_string(),
                    )) {
                        Ok(tier) => TierSplit::single(tier, amount)
                            .ok()
                            .map(|shares| ClaimPayer::Fund { shares }),
                        Err(_) => {
                            r.fail(
                                "payer",
                                "invalid_input",
                                format!("{tier} is not one of the choices"),
                            );
                            None
                        }
                    }
                }
                _ => None,
            };
            fund.clone_from(&f);
            (|| {
                Some(vec![Command::PayClaim(ClaimPayment {
                    fund: f?,
                    line: line?,
                    beneficiary: beneficiary?,
                    amount: amount?,
                    payer: payer?,
                })])
            })()
        }
        Kind::Campaign => {
            let f = r.id("fund", fund_id);
            let campaign = r.id("campaign", campaign_id);
            let name = r.present("name").map(str::to_string);
            fund.clone_from(&f);
            (|| {
                Some(vec![Command::OpenCampaign {
                    campaign: campaign?,
                    fund: f?,
                    name: name?,
                }])
            })()
        }
        Kind::Condolence => {
            let campaign = r.id("campaign", campaign_id);
            let beneficiary = r.id("beneficiary", beneficiary_id);
            let category = r.choice::<BeneficiaryCategory>("category");
            let form = match r.present("form").map(str::to_string).as_deref() {
                Some("Cash") => Some(CondolenceForm::Cash),
                Some("Goods") => match r.text("goods") {
                    Some(description) => Some(CondolenceForm::Goods { description }),
                    None => {
                        r.fail("goods", "required", "describe the goods given");
                        None
                    }
                },
                Some(other) => {
                    r.fail(
                        "form",
                        "invalid_input",
                        format!("{other} is not one of the choices"),
                    );
                    None
                }
                None => None,
            };
            let split = r.split(THREE_TIERS);
            (|| {
                let (amount, shares) = split?;
                Some(vec![Command::PayCondolence(CondolencePayment {
                    campaign: campaign?,
                    beneficiary: beneficiary?,
                    category: category?,
                    form: form?,
                    amount,
                    shares,
                })])
            })()
        }
    };
    match commands {
        Some(commands) if r.errors.is_empty() => Ok(Parsed {
            commands,
            effective_date,
            memo,
            fund,
        }),
        _ => {
            if r.errors.is_empty() {
                r.fail("", "invalid_input", "the form is incomplete");
            }
            Err(r.errors)
        }
    }
}

/// The field a ledger error code concerns, so that the page shows the message next to
/// it; `""` (the top of the form) when the form has no such field.
pub fn field_of_code(kind: Kind, code: &str) -> &'static str {
    let candidates: &[&'static str] = match code {
        "insufficient_funds"
        | "commitment_exceeded"
        | "tier_shares_mismatch"
        | "instalment_exceeds_award"
        | "repayment_exceeds_outstanding"
        | "amount_zero"
        | "claim_payer_mismatch" => &["shares", "principal", "amount", "tax_inclusive", "payer"],
        "premium_tax_inconsistent" => &["tax_exclusive"],
        "coverage_invalid" => &["coverage_end"],
        "unknown_fund" | "programme_mismatch" | "out_of_scope" => {
            &["fund", "award", "loan", "campaign"]
        }
        "unknown_beneficiary"
        | "beneficiary_outside_fund_unit"
        | "beneficiary_restricted"
        | "beneficiary_erased" => &["beneficiary", "student"],
        "duplicate_bursary" => &["student"],
        "unknown_loan" | "loan_exists" | "loan_not_active" => &["loan"],
        "unknown_award" | "award_exists" | "award_kind_mismatch" => &["award"],
        "unknown_campaign" | "campaign_exists" => &["campaign"],
        "loan_term_invalid" => &["term_months"],
        "loan_grace_invalid" => &["grace_months"],
        "loan_rate_invalid" => &["annual_rate_bp"],
        "year_invalid" => &["academic_year"],
        "effective_date_in_future" | "period_closed" | "before_disbursement" => &["effective_date"],
        "personal_digits" | "text_invalid" => &["memo", "name", "batch", "goods", "reference"],
        _ => &[],
    };
    let fields = kind.fields();
    candidates
        .iter()
        .find(|c| fields.iter().any(|f| f.name == **c))
        .copied()
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn amounts_are_typed_as_people_write_them() {
        // Given a grant whose shares are typed three ways,
        let v = values(&[
            ("fund", "FJ-SM-HAPPINESS"),
            ("beneficiary", "b-000001"),
            ("modality", "Relief"),
            ("share_Province", "1234.56"),
            ("share_City", "1,234.56"),
            ("share_County", "0.1万"),
        ]);
        // when it is parsed,
        let parsed = parse(Kind::Grant, &v, Lang::En).unwrap();
        // then the amount is their exact sum.
        let Command::PayGrant(grant) = &parsed.commands[0] else {
            panic!("not a grant")
        };
        assert_eq!(grant.amount, Amount::parse("3469.12").unwrap());
        assert_eq!(parsed.fund.unwrap().as_str(), "FJ-SM-HAPPINESS");
    }

    #[test]
    fn a_bad_amount_is_reported_at_its_field_with_the_domain_code() {
        let v = values(&[("loan", "L-1"), ("principal", "12.345")]);
        let errors = parse(Kind::Repayment, &v, Lang::En).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "principal");
        assert_eq!(errors[0].code, "amount_too_many_decimals");
        assert_eq!(
            errors[0].detail,
            "the amount 12.345 has more than two decimal places of yuan; amounts are never rounded"
        );
        // In a Chinese form, the same error names what was typed in Chinese.
        let errors = parse(Kind::Repayment, &v, Lang::Zh).unwrap_err();
        assert_eq!(errors[0].code, "amount_too_many_decimals");
        assert_eq!(
            errors[0].detail,
            "金额 12.345 超过两位小数（元以下只到分）；账本从不对金额四舍五入"
        );
    }

    #[test]
    fn missing_fields_and_personal_looking_ids_are_refused_per_field() {
        let v = values(&[
            ("fund", "FJ-SM-HAPPINESS"),
            ("beneficiary", "35042719850312002X"),
        ]);
        let errors = parse(Kind::Grant, &v, Lang::En).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"modality"), "{errors:?}");
        assert!(fields.contains(&"shares"), "{errors:?}");
        assert!(fields.contains(&"beneficiary"), "{errors:?}");
        assert!(errors
            .iter()
            .any(|e| e.field == "shares" && e.code == "shares_empty"));
    }

    #[test]
    fn a_bursary_with_three_shares_is_three_awards_then_three_instalments() {
        let v = values(&[
            ("fund", "FJ-SM-2025-BURSARY"),
            ("award", "SM-B-9"),
            ("student", "b-000042"),
            ("academic_year", "2025"),
            ("share_Province", "2500"),
            ("share_City", "1,200.00"),
            ("share_County", "1000"),
            ("effective_date", "2025-09-01"),
            ("memo", "2025 学年"),
        ]);
        let parsed = parse(Kind::Bursary, &v, Lang::En).unwrap();
        assert_eq!(parsed.commands.len(), 6);
        assert!(
            matches!(&parsed.commands[0], Command::AwardBursary { award, tier: FundingTier::Province, .. } if award.as_str() == "SM-B-9-province")
        );
        assert!(
            matches!(&parsed.commands[5], Command::PayBursaryInstalment(p) if p.award.as_str() == "SM-B-9-county" && p.amount == Amount::parse("1000").unwrap())
        );
        assert_eq!(parsed.effective_date, NaiveDate::from_ymd_opt(2025, 9, 1));
        assert_eq!(parsed.memo, "2025 学年");
    }

    #[test]
    fn every_kind_has_a_date_and_memo_and_a_known_slug() {
        for kind in Kind::ALL {
            assert_eq!(Kind::from_slug(kind.slug()), Some(kind));
            let names: Vec<&str> = kind.fields().iter().map(|f| f.name).collect();
            assert!(names.ends_with(&["effective_date", "memo"]), "{kind:?}");
        }
        assert_eq!(Kind::from_slug("nothing"), None);
    }

    #[test]
    fn every_label_hint_and_choice_of_every_form_has_its_texts() {
        for kind in Kind::ALL {
            assert!(crate::i18n::has(kind.title_key()), "{kind:?}");
            for f in kind.fields() {
                assert!(crate::i18n::has(f.key), "{}", f.key);
                if let Some(hint) = f.hint {
                    assert!(crate::i18n::has(hint), "{hint}");
                }
                match f.input {
                    Input::Choice(choices) => {
                        for (_, key) in choices {
                            assert!(crate::i18n::has(key), "{key}");
                        }
                    }
                    Input::Shares(tiers) => {
                        for tier in tiers {
                            assert!(crate::i18n::has(&format!("tier.{tier:?}")), "{tier:?}");
                        }
                    }
                    Input::Fund(programmes) => {
                        for p in programmes {
                            assert!(crate::i18n::has(&format!("programme.{p:?}")), "{p:?}");
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn rule_codes_land_on_the_field_they_concern() {
        assert_eq!(field_of_code(Kind::Bursary, "insufficient_funds"), "shares");
        assert_eq!(field_of_code(Kind::Loan, "insufficient_funds"), "principal");
        assert_eq!(field_of_code(Kind::Bursary, "duplicate_bursary"), "student");
        assert_eq!(field_of_code(Kind::Repayment, "unknown_loan"), "loan");
        assert_eq!(field_of_code(Kind::Loan, "not_permitted"), "");
    }

    #[test]
    fn a_claim_paid_by_a_tier_is_a_single_share_of_the_fund() {
        let v = values(&[
            ("fund", "F"),
            ("line", "CriticalIllness"),
            ("beneficiary", "b-1"),
            ("amount", "4.5万"),
            ("payer", "Province"),
        ]);
        let parsed = parse(Kind::Claim, &v, Lang::En).unwrap();
        let Command::PayClaim(claim) = &parsed.commands[0] else {
            panic!()
        };
        assert_eq!(claim.amount, Amount::parse("45000").unwrap());
        assert!(matches!(&claim.payer, ClaimPayer::Fund { .. }));
    }
}
