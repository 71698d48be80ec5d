//! Argument groups shared by many subcommands (flattened with `#[command(flatten)]`),
//! the domain's vocabulary as command-line values, and the parsers for amounts, tier
//! splits, periods and free text.

use chrono::NaiveDate;
use clap::{Args, ValueEnum};
use ledger_domain::{
    BeneficiaryCategory, BeneficiaryKind, FundingTier, GrantModality, InsuranceModel, Period,
    PolicyLine, Programme, TierShare, TierSplit, UnitLevel, VisitOutcome,
};

use crate::error::{rejected, Failure};

/// What every recording command takes besides its own fields.
#[derive(Args, Debug, Clone, Default)]
pub struct Recording {
    /// The command's id for safe retries: the same id with the same command (and the
    /// same effective date and memo) is answered as a duplicate and changes nothing.
    /// Generated and printed when absent.
    #[arg(long)]
    pub command_id: Option<String>,
    /// The business date on which the money moved (YYYY-MM-DD); default: today (UTC).
    #[arg(long)]
    pub effective_date: Option<NaiveDate>,
    /// Why: a memo or voucher reference. No personal information: a run of 11 or more
    /// digits (an ID-card, phone or bank-card number) is refused.
    #[arg(long, default_value = "")]
    pub memo: String,
}

/// A log position to answer at: the figures after the event at that position.
#[derive(Args, Debug, Clone, Default)]
pub struct AtPosition {
    /// Answer as the ledger stood after the event at this log position (inclusive).
    #[arg(long)]
    pub at_position: Option<u64>,
}

/// When to answer for: now, as of an effective date, or at a log position.
#[derive(Args, Debug, Clone, Default)]
pub struct When {
    /// The figures of every event dated on or before this effective date (YYYY-MM-DD).
    #[arg(long, conflicts_with = "at_position")]
    pub as_of: Option<NaiveDate>,
    #[command(flatten)]
    pub position: AtPosition,
}

/// A range of effective dates: a calendar year, or from/to (both ends included).
#[derive(Args, Debug, Clone, Default)]
pub struct Range {
    /// A calendar year: 1 January to 31 December.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub year: Option<i32>,
    /// The first effective date (default: the ledger's first year).
    #[arg(long)]
    pub from: Option<NaiveDate>,
    /// The last effective date (default: today).
    #[arg(long)]
    pub to: Option<NaiveDate>,
}

/// One page of a long result.
#[derive(Args, Debug, Clone)]
pub struct Paging {
    /// Items to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Most items to show (1 to 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

/// How human output shows money (JSON always carries yuan as decimal strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MoneyUnit {
    /// 元, with thousands separators: 1,234,567.89.
    #[default]
    Yuan,
    /// 万元, exact (amount ÷ 10,000, never rounded): 123.456789.
    Wan,
}

/// A funding tier.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier {
    #[value(alias = "省", alias = "省级")]
    Province,
    #[value(alias = "市", alias = "市级")]
    City,
    #[value(alias = "县", alias = "县级", alias = "区")]
    County,
    #[value(alias = "乡镇", alias = "街道")]
    Township,
    #[value(alias = "村", alias = "社区")]
    Village,
    /// The household's own contribution (个人缴费), for insurance premiums.
    #[value(alias = "household-contribution", alias = "个人缴费")]
    Household,
    #[value(alias = "保险公司")]
    Insurer,
    #[value(alias = "捐赠")]
    Donation,
    #[value(alias = "利息")]
    Interest,
}

impl From<Tier> for FundingTier {
    fn from(t: Tier) -> FundingTier {
        match t {
            Tier::Province => FundingTier::Province,
            Tier::City => FundingTier::City,
            Tier::County => FundingTier::County,
            Tier::Township => FundingTier::Township,
            Tier::Village => FundingTier::Village,
            Tier::Household => FundingTier::HouseholdContribution,
            Tier::Insurer => FundingTier::Insurer,
            Tier::Donation => FundingTier::Donation,
            Tier::Interest => FundingTier::Interest,
        }
    }
}

/// Maps a command-line enum onto the domain's one, variant for variant.
macro_rules! domain_enum {
    ($(#[$doc:meta])* $name:ident => $domain:ident { $($(#[$v:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $($(#[$v])* $variant),+ }

        impl From<$name> for $domain {
            fn from(v: $name) -> $domain {
                match v { $($name::$variant => $domain::$variant),+ }
            }
        }
    };
}

domain_enum!(
    /// A unit's level.
    Level => UnitLevel {
        #[value(alias = "省")] Province,
        #[value(alias = "市")] City,
        #[value(alias = "县", alias = "区")] County,
        #[value(alias = "乡镇", alias = "街道")] Township,
        #[value(alias = "村", alias = "社区")] Village,
    }
);

domain_enum!(
    /// A programme.
    ProgrammeArg => Programme {
        #[value(name = "happiness", alias = "幸福工程")] HappinessProject,
        #[value(name = "revolving", alias = "滚动资金")] RevolvingFund,
        #[value(alias = "安居工程")] Housing,
        #[value(alias = "金秋助学")] Bursary,
        #[value(alias = "计生保险")] Insurance,
        #[value(alias = "慰问金")] Condolence,
    }
);

domain_enum!(
    /// Who carries an insurance fund's risk.
    ModelArg => InsuranceModel {
        #[value(name = "insurer")] InsurerUnderwritten,
        #[value(name = "self")] SelfInsured,
    }
);

domain_enum!(
    /// Household or person.
    KindArg => BeneficiaryKind {
        #[value(alias = "户")] Household,
        #[value(alias = "个人")] Person,
    }
);

domain_enum!(
    /// A beneficiary category.
    CategoryArg => BeneficiaryCategory {
        #[value(alias = "贫困户")] PoorHousehold,
        #[value(alias = "计生特殊家庭")] SpecialFamily,
        #[value(alias = "独生子女户")] OnlyChild,
        #[value(alias = "二女户")] TwoDaughters,
        #[value(alias = "流动人口")] Migrant,
        #[value(alias = "学生")] Student,
        #[value(alias = "计生母亲")] Mother,
    }
);

domain_enum!(
    /// A Happiness Project grant modality.
    ModalityArg => GrantModality {
        #[value(alias = "扶弱济困")] Relief,
        #[value(alias = "扶智赋能")] Skills,
        #[value(alias = "扶助健康")] Health,
    }
);

domain_enum!(
    /// An insurance policy line.
    LineArg => PolicyLine {
        #[value(alias = "意外伤害")] HouseholdAccident,
        #[value(alias = "住院护理")] HospitalNursing,
        #[value(alias = "重大疾病")] CriticalIllness,
    }
);

domain_enum!(
    /// A housing follow-up visit's outcome.
    OutcomeArg => VisitOutcome {
        #[value(alias = "在建")] InProgress,
        #[value(alias = "已入住")] Completed,
        #[value(alias = "需帮扶")] NeedsHelp,
    }
);

/// A run of this many digits in free text looks like an ID-card, phone or bank-card
/// number (the importer's rule, docs/EXCHANGE.md).
pub const PERSONAL_DIGITS_MIN: usize = 11;

/// Refuses free text that holds a run of [`PERSONAL_DIGITS_MIN`] or more digits.
pub fn free_text(field: &str, text: &str) -> Result<String, Failure> {
    let mut run = 0;
    for c in text.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= PERSONAL_DIGITS_MIN {
            return Err(rejected(format!(
                "--{field} holds a run of {PERSONAL_DIGITS_MIN} or more digits, which looks like an \
                 ID-card, phone or bank-card number; personal information must not enter the ledger"
            )));
        }
    }
    Ok(text.to_string())
}

/// Like [`free_text`] for an optional field.
pub fn free_text_opt(field: &str, text: &Option<String>) -> Result<Option<String>, Failure> {
    text.as_deref().map(|t| free_text(field, t)).transpose()
}

/// Parses a tier split: `province:600.00,city:400.00` (also `;`, `=` and the Chinese
/// tier names, `省=600；市=400`). Amounts are typed as people type them (`1,000.00`,
/// `0.06万`); a comma inside an amount is told from a separator by what follows it.
pub fn parse_shares(text: &str) -> Result<TierSplit, String> {
    let normalized = text.replace(['；', '，'], ",").replace(';', ",");
    let mut parts: Vec<String> = Vec::new();
    for piece in normalized.split(',') {
        let piece = piece.trim();
        if piece.contains(':') || piece.contains('=') || parts.is_empty() {
            parts.push(piece.to_string());
        } else if let Some(last) = parts.last_mut() {
            // A thousands group of the amount before: "province:1,000.00".
            last.push(',');
            last.push_str(piece);
        }
    }
    let mut shares = Vec::new();
    for part in parts.iter().filter(|p| !p.is_empty()) {
        let (tier, amount) = part
            .split_once([':', '='])
            .ok_or_else(|| format!("{part:?} is not tier:amount (e.g. province:600.00)"))?;
        let tier = Tier::from_str(tier.trim(), true).map_err(|_| {
            format!(
                "unknown tier {:?}; use province, city, county, township, village, household, insurer, donation or interest",
                tier.trim()
            )
        })?;
        let amount = ledger_domain::Amount::parse(amount)
            .map_err(|e| format!("the {tier:?} share: {e}").to_lowercase())?;
        shares.push(TierShare {
            tier: tier.into(),
            amount,
        });
    }
    TierSplit::new(shares).map_err(|e| e.to_string())
}

/// Parses a period to close: `2021` (a year) or `2021-01` (a month).
pub fn parse_period(text: &str) -> Result<Period, String> {
    let bad = || format!("{text:?} is not a period; give a year (2021) or a month (2021-01)");
    let period = match text.split_once('-') {
        None => Period::Year {
            year: text.parse().map_err(|_| bad())?,
        },
        Some((year, month)) => Period::Month {
            year: year.parse().map_err(|_| bad())?,
            month: month.parse().map_err(|_| bad())?,
        },
    };
    if !period.is_valid() {
        return Err(bad());
    }
    Ok(period)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_parse_with_commas_inside_amounts_and_chinese_names() {
        let split = parse_shares("province:1,000.00,city:400").unwrap();
        assert_eq!(split.total().plain(), "1400.00");
        assert_eq!(
            parse_shares("省=1000；市=400").unwrap(),
            split,
            "Chinese names and separators"
        );
        assert_eq!(
            parse_shares("city:0.06万").unwrap().total().plain(),
            "600.00"
        );
        for (bad, expected) in [
            ("planet:1", "unknown tier"),
            ("city", "is not tier:amount"),
            ("city:1.001", "decimal"),
            ("city:1,city:2", "more than once"),
            ("", "no tier shares"),
        ] {
            let error = parse_shares(bad).unwrap_err();
            assert!(error.contains(expected), "{bad}: {error}");
        }
    }

    #[test]
    fn periods_are_years_or_months() {
        assert_eq!(parse_period("2021").unwrap(), Period::Year { year: 2021 });
        assert_eq!(
            parse_period("2021-01").unwrap(),
            Period::Month {
                year: 2021,
                month: 1
            }
        );
        assert!(parse_period("2021-13").is_err());
        assert!(parse_period("last year").is_err());
    }

    #[test]
    fn free_text_refuses_long_digit_runs() {
        assert!(free_text("memo", "voucher 2021-0042").is_ok());
        assert!(free_text("memo", "tel 13912345678").is_err());
    }
}
