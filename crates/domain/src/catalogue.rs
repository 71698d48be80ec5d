//! The domain's vocabulary: programmes, funding tiers and tier splits, unit levels, periods, and the small enums events carry.

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::money::{Amount, Money};

/// The six programmes whose money the ledger records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Programme {
    /// 幸福工程: loans and grants to family-planning mothers, in batches.
    HappinessProject,
    /// 滚动资金: loans repaid into the same fund and lent again.
    RevolvingFund,
    /// 安居工程: housing grants split across tiers, paid in instalments.
    Housing,
    /// 金秋助学: bursaries per student, academic year and tier.
    Bursary,
    /// 计生保险: premiums and claims.
    Insurance,
    /// 慰问金: festival condolence payments.
    Condolence,
}

impl Programme {
    /// Every programme, in the order the ledger lists them.
    pub const ALL: [Programme; 6] = [
        Programme::HappinessProject,
        Programme::RevolvingFund,
        Programme::Housing,
        Programme::Bursary,
        Programme::Insurance,
        Programme::Condolence,
    ];

    /// A short English label used in messages.
    pub fn label(self) -> &'static str {
        match self {
            Programme::HappinessProject => "Happiness Project",
            Programme::RevolvingFund => "revolving",
            Programme::Housing => "housing",
            Programme::Bursary => "bursary",
            Programme::Insurance => "insurance",
            Programme::Condolence => "condolence",
        }
    }

    /// The programme's Chinese name (the web workspace shows the same).
    pub const fn zh(self) -> &'static str {
        match self {
            Programme::HappinessProject => "幸福工程",
            Programme::RevolvingFund => "滚动资金",
            Programme::Housing => "安居工程",
            Programme::Bursary => "金秋助学",
            Programme::Insurance => "计生保险",
            Programme::Condolence => "慰问金",
        }
    }

    /// Whether the programme lends money (and so has loans, repayments and rounds).
    pub fn lends(self) -> bool {
        matches!(self, Programme::HappinessProject | Programme::RevolvingFund)
    }
}

impl fmt::Display for Programme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Where a fund's money comes from. Each tier is a separate sub-ledger of the fund so
/// that no tier can be overspent and each tier's arrival rate can be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum FundingTier {
    /// 省级.
    Province,
    /// 市级.
    City,
    /// 县/区级.
    County,
    /// 乡镇/街道.
    Township,
    /// 村/社区.
    Village,
    /// The household's own contribution (个人缴费), used by insurance premiums.
    HouseholdContribution,
    /// Money from an insurer.
    Insurer,
    /// 社会捐赠.
    Donation,
    /// Interest: bank interest appropriated to the fund and interest paid on loans.
    Interest,
}

impl FundingTier {
    /// Every tier, in the fixed order used for arrays and reports.
    pub const ALL: [FundingTier; 9] = [
        FundingTier::Province,
        FundingTier::City,
        FundingTier::County,
        FundingTier::Township,
        FundingTier::Village,
        FundingTier::HouseholdContribution,
        FundingTier::Insurer,
        FundingTier::Donation,
        FundingTier::Interest,
    ];

    /// Position in `ALL`.
    pub fn index(self) -> usize {
        match self {
            FundingTier::Province => 0,
            FundingTier::City => 1,
            FundingTier::County => 2,
            FundingTier::Township => 3,
            FundingTier::Village => 4,
            FundingTier::HouseholdContribution => 5,
            FundingTier::Insurer => 6,
            FundingTier::Donation => 7,
            FundingTier::Interest => 8,
        }
    }

    /// A lowercase label used in messages.
    pub fn label(self) -> &'static str {
        match self {
            FundingTier::Province => "province",
            FundingTier::City => "city",
            FundingTier::County => "county",
            FundingTier::Township => "township",
            FundingTier::Village => "village",
            FundingTier::HouseholdContribution => "household contribution",
            FundingTier::Insurer => "insurer",
            FundingTier::Donation => "donation",
            FundingTier::Interest => "interest",
        }
    }

    /// The tier's Chinese name (the web workspace shows the same).
    pub const fn zh(self) -> &'static str {
        match self {
            FundingTier::Province => "省级",
            FundingTier::City => "市级",
            FundingTier::County => "县级",
            FundingTier::Township => "乡镇级",
            FundingTier::Village => "村级",
            FundingTier::HouseholdContribution => "农户自缴",
            FundingTier::Insurer => "保险公司",
            FundingTier::Donation => "社会捐赠",
            FundingTier::Interest => "利息",
        }
    }
}

impl fmt::Display for FundingTier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// One tier's part of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TierShare {
    /// The tier charged.
    pub tier: FundingTier,
    /// Its share.
    pub amount: Amount,
}

/// Why a list of shares is not a valid split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TierSplitError {
    /// No shares at all.
    #[error("no tier shares were given; name at least one tier and its share")]
    Empty,
    /// The same tier twice.
    #[error("the {0} tier appears more than once in the shares")]
    DuplicateTier(FundingTier),
    /// A share of ¥0.00 would record a tier as paying without money moving.
    #[error("the {0} tier's share is ¥0.00; leave the tier out instead")]
    ZeroShare(FundingTier),
}

impl TierSplitError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            TierSplitError::Empty => "shares_empty",
            TierSplitError::DuplicateTier(_) => "shares_duplicate_tier",
            TierSplitError::ZeroShare(_) => "shares_zero",
        }
    }
}

/// A payment's division across funding tiers: non-empty, each tier at most once, each
/// share above zero, kept sorted by tier so that equal splits compare equal.
///
/// Stored and sent as the list of its shares. A split of one tier, the most common,
/// is held inline: decoding it allocates nothing, and a fold that reads it finds it in
/// the event instead of behind a pointer (docs/PERFORMANCE.md, "Fewer waits on memory
/// in a fold").
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = Vec<TierShare>)
)]
pub struct TierSplit(Shares);

/// A split's shares: one inline, or several (sorted, each tier once) on the heap.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shares {
    One(TierShare),
    Many(Box<[TierShare]>),
}

impl TierSplit {
    /// Validates and sorts the shares.
    pub fn new(mut shares: Vec<TierShare>) -> Result<TierSplit, TierSplitError> {
        if let [one] = shares[..] {
            return TierSplit::checked(Shares::One(one));
        }
        shares.sort_by_key(|s| s.tier);
        TierSplit::checked(Shares::Many(shares.into_boxed_slice()))
    }

    /// `shares` as a split, if they are one (sorted already).
    fn checked(shares: Shares) -> Result<TierSplit, TierSplitError> {
        let split = TierSplit(shares);
        let shares = split.shares();
        if shares.is_empty() {
            return Err(TierSplitError::Empty);
        }
        for pair in shares.windows(2) {
            if pair[0].tier == pair[1].tier {
                return Err(TierSplitError::DuplicateTier(pair[0].tier));
            }
        }
        if let Some(zero) = shares.iter().find(|s| s.amount.is_zero()) {
            return Err(TierSplitError::ZeroShare(zero.tier));
        }
        Ok(split)
    }

    /// A split with one tier paying everything.
    pub fn single(tier: FundingTier, amount: Amount) -> Result<TierSplit, TierSplitError> {
        TierSplit::checked(Shares::One(TierShare { tier, amount }))
    }

    /// Convenience for fixtures: `[(tier, amount), ...]`.
    pub fn of(pairs: &[(FundingTier, Amount)]) -> Result<TierSplit, TierSplitError> {
        TierSplit::new(
            pairs
                .iter()
                .map(|&(tier, amount)| TierShare { tier, amount })
                .collect(),
        )
    }

    /// The shares, sorted by tier.
    pub fn shares(&self) -> &[TierShare] {
        match &self.0 {
            Shares::One(one) => std::slice::from_ref(one),
            Shares::Many(many) => many,
        }
    }

    /// The sum of the shares (may exceed one `Amount`'s maximum, hence `Money`).
    pub fn total(&self) -> Money {
        self.shares().iter().map(|s| s.amount.to_money()).sum()
    }

    /// The share of one tier, if it pays.
    pub fn share_of(&self, tier: FundingTier) -> Option<Amount> {
        self.shares()
            .iter()
            .find(|s| s.tier == tier)
            .map(|s| s.amount)
    }

    /// The split without one tier (`None` if nothing is left).
    pub fn without(&self, tier: FundingTier) -> Option<TierSplit> {
        let rest: Vec<TierShare> = self
            .shares()
            .iter()
            .copied()
            .filter(|s| s.tier != tier)
            .collect();
        (!rest.is_empty()).then(|| TierSplit::new(rest).expect("part of a valid split"))
    }
}

impl TryFrom<Vec<TierShare>> for TierSplit {
    type Error = TierSplitError;
    fn try_from(value: Vec<TierShare>) -> Result<TierSplit, TierSplitError> {
        TierSplit::new(value)
    }
}

impl From<TierSplit> for Vec<TierShare> {
    fn from(value: TierSplit) -> Vec<TierShare> {
        match value.0 {
            Shares::One(one) => vec![one],
            Shares::Many(many) => many.into_vec(),
        }
    }
}

impl Serialize for TierSplit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.shares())
    }
}

impl<'de> Deserialize<'de> for TierSplit {
    /// The list of shares, as a `Vec<TierShare>` would be read, but a list of one is
    /// read into the split itself; then validated and sorted as [`TierSplit::new`] does.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<TierSplit, D::Error> {
        struct List;
        impl<'de> serde::de::Visitor<'de> for List {
            type Value = TierSplit;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of tier shares")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<TierSplit, A::Error> {
                let invalid = serde::de::Error::custom;
                let Some(first) = seq.next_element::<TierShare>()? else {
                    return Err(invalid(TierSplitError::Empty));
                };
                let Some(second) = seq.next_element::<TierShare>()? else {
                    return TierSplit::checked(Shares::One(first)).map_err(invalid);
                };
                // The length a list claims is the input's word, not a size to allocate:
                // a valid split has a tier at most once.
                let claimed = seq.size_hint().unwrap_or(0).saturating_add(2);
                let mut shares = Vec::with_capacity(claimed.min(FundingTier::ALL.len()));
                shares.extend([first, second]);
                // Past one share per tier, some tier is there twice: `new` says which.
                while shares.len() <= FundingTier::ALL.len() {
                    let Some(share) = seq.next_element()? else {
                        break;
                    };
                    shares.push(share);
                }
                TierSplit::new(shares).map_err(invalid)
            }
        }
        deserializer.deserialize_seq(List)
    }
}

/// The level of an organisational unit, from province down to village.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum UnitLevel {
    /// 省.
    Province,
    /// 市.
    City,
    /// 县/区.
    County,
    /// 乡镇/街道.
    Township,
    /// 村/社区.
    Village,
}

impl UnitLevel {
    /// The level a parent must have; `None` for a province (it has no parent).
    pub fn parent_level(self) -> Option<UnitLevel> {
        match self {
            UnitLevel::Province => None,
            UnitLevel::City => Some(UnitLevel::Province),
            UnitLevel::County => Some(UnitLevel::City),
            UnitLevel::Township => Some(UnitLevel::County),
            UnitLevel::Village => Some(UnitLevel::Township),
        }
    }

    /// A lowercase label used in messages.
    pub fn label(self) -> &'static str {
        match self {
            UnitLevel::Province => "province",
            UnitLevel::City => "city",
            UnitLevel::County => "county/district",
            UnitLevel::Township => "township/street",
            UnitLevel::Village => "village/community",
        }
    }

    /// The level's Chinese name, as in 市级单位.
    pub const fn zh(self) -> &'static str {
        match self {
            UnitLevel::Province => "省级",
            UnitLevel::City => "市级",
            UnitLevel::County => "县（区）级",
            UnitLevel::Township => "乡镇（街道）级",
            UnitLevel::Village => "村（社区）级",
        }
    }
}

impl fmt::Display for UnitLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// An accounting period that can be closed: a calendar month or a calendar year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Period {
    /// A calendar year.
    Year { year: i32 },
    /// A calendar month (1 to 12).
    Month { year: i32, month: u32 },
}

impl Period {
    /// Whether the date falls inside the period.
    pub fn contains(self, date: NaiveDate) -> bool {
        match self {
            Period::Year { year } => date.year() == year,
            Period::Month { year, month } => date.year() == year && date.month() == month,
        }
    }

    /// Whether the month is 1 to 12 and the year within the ledger's range.
    pub fn is_valid(self) -> bool {
        match self {
            Period::Year { year } => (YEAR_MIN..=YEAR_MAX).contains(&year),
            Period::Month { year, month } => {
                (YEAR_MIN..=YEAR_MAX).contains(&year) && (1..=12).contains(&month)
            }
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::Year { year } => write!(f, "{year}"),
            Period::Month { year, month } => write!(f, "{year}-{month:02}"),
        }
    }
}

/// The earliest year a period, academic year or fiscal year may name.
pub const YEAR_MIN: i32 = 1980;
/// The latest year a period, academic year or fiscal year may name.
pub const YEAR_MAX: i32 = 2200;

/// The three Happiness Project grant modalities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum GrantModality {
    /// 扶弱济困.
    Relief,
    /// 扶智赋能 (e.g. training classes).
    Skills,
    /// 扶助健康.
    Health,
}

/// Insurance policy lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum PolicyLine {
    /// 计生家庭意外伤害保险.
    HouseholdAccident,
    /// 住院护理补贴保险.
    HospitalNursing,
    /// 重大疾病保险.
    CriticalIllness,
}

impl PolicyLine {
    /// A lowercase label used in messages.
    pub fn label(self) -> &'static str {
        match self {
            PolicyLine::HouseholdAccident => "household accident",
            PolicyLine::HospitalNursing => "hospital nursing subsidy",
            PolicyLine::CriticalIllness => "critical illness",
        }
    }
}

/// Who carries the insurance risk of a fund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InsuranceModel {
    /// The association buys cover: premiums leave the fund for the insurer, and the
    /// insurer pays claims (recorded, but not charged to the fund).
    InsurerUnderwritten,
    /// The scheme pays claims from its own fund.
    SelfInsured,
}

impl InsuranceModel {
    /// A lowercase label used in messages.
    pub fn label(self) -> &'static str {
        match self {
            InsuranceModel::InsurerUnderwritten => "insurer-underwritten",
            InsuranceModel::SelfInsured => "self-insured",
        }
    }

    /// The model's Chinese name.
    pub const fn zh(self) -> &'static str {
        match self {
            InsuranceModel::InsurerUnderwritten => "保险公司承保",
            InsuranceModel::SelfInsured => "自保",
        }
    }
}

/// Whether a beneficiary is a household or one person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BeneficiaryKind {
    /// A household (户).
    Household,
    /// One person: a mother, a student, an insured member.
    Person,
}

/// Non-identifying categories a beneficiary can belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum BeneficiaryCategory {
    /// 贫困户.
    PoorHousehold,
    /// 计生特殊家庭.
    SpecialFamily,
    /// 独生子女户.
    OnlyChild,
    /// 二女户.
    TwoDaughters,
    /// 流动人口.
    Migrant,
    /// A student (金秋助学).
    Student,
    /// 计生母亲 (Happiness Project).
    Mother,
}

/// How a condolence payment was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CondolenceForm {
    /// Cash.
    Cash,
    /// Goods of the stated equal value, e.g. "rice and cooking oil".
    Goods { description: String },
}

/// The outcome of a housing follow-up visit (跟踪服务).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum VisitOutcome {
    /// Works under way.
    InProgress,
    /// Works finished and the family moved in.
    Completed,
    /// The family needs further help.
    NeedsHelp,
}

/// Who paid an insurance claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ClaimPayer {
    /// The insurer paid the family; the fund is not charged.
    Insurer,
    /// The fund paid, charged to these tiers (self-insured schemes).
    Fund { shares: TierSplit },
}
