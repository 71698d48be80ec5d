//! Family-planning insurance (计生保险): per city and year an insurer-underwritten fund
//! buying household accident cover (计生家庭意外伤害保险, ¥100 a household of which the
//! household pays ¥10) and hospital nursing-subsidy cover (住院护理补贴保险, ¥258 a
//! person) county by county, with claims paid by the insurer at a simple loss ratio
//! of 60–80% and reserve estimates at mid-year and year end; and per year a
//! provincial self-insured critical-illness scheme (重大疾病保险) for special families
//! whose larger claims need a second signature.

use chrono::NaiveDate;
use ledger_domain::{
    BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, ClaimPayer, ClaimPayment, Command,
    FundingTier, InsuranceModel, PolicyLine, PremiumPayment, Programme, TierSplit, UnitCode,
};
use rand::Rng;

use crate::generate::{day, fen, fund_id, plus_days, yuan, Cash, Draft, Gen};
use crate::lending::clerk_of;

/// Critical-illness claims above this need a second signature.
const CRITICAL_THRESHOLD_FEN: i64 = yuan(30_000);

pub(crate) fn generate(gen: &mut Gen) {
    for c in 0..gen.cities.len() {
        city_insurance(gen, c);
    }
    critical_illness(gen);
}

/// Premium excluding 6% VAT, rounded half up to the fen.
fn tax_exclusive(tax_inclusive: i64) -> i64 {
    (tax_inclusive * 200 + 106) / 212
}

fn split(pairs: &[(FundingTier, i64)]) -> TierSplit {
    let shares: Vec<(FundingTier, ledger_domain::Amount)> = pairs
        .iter()
        .filter(|(_, amount)| *amount > 0)
        .map(|&(tier, amount)| (tier, fen(amount)))
        .collect();
    TierSplit::of(&shares).expect("positive shares of distinct tiers")
}

/// A loss ratio target in basis points, 60% to 80%.
fn loss_ratio_bp(gen: &mut Gen) -> i64 {
    gen.rng.gen_range(6_000..=8_000)
}

struct CountyCover {
    villages: Vec<UnitCode>,
    households: i64,
    persons: i64,
    /// Families who have claimed before (claims recur).
    claimants: Vec<BeneficiaryId>,
}

fn claimant(gen: &mut Gen, county: &mut CountyCover) -> BeneficiaryId {
    if !county.claimants.is_empty() && gen.rng.gen_ratio(3, 10) {
        let i = gen.rng.gen_range(0..county.claimants.len());
        return county.claimants[i].clone();
    }
    let village = county.villages[gen.rng.gen_range(0..county.villages.len())].clone();
    let clerk = clerk_of(&village);
    let category = match gen.rng.gen_range(0..10) {
        0..=5 => BeneficiaryCategory::OnlyChild,
        6..=7 => BeneficiaryCategory::TwoDaughters,
        _ => BeneficiaryCategory::SpecialFamily,
    };
    let family = gen.new_beneficiary(
        &village,
        BeneficiaryKind::Household,
        &[category],
        &clerk,
        Programme::Insurance,
    );
    county.claimants.push(family.clone());
    family
}

fn accident_claim(gen: &mut Gen) -> i64 {
    match gen.rng.gen_range(0..20) {
        0..=13 => gen.amount_between(500, 3_000, 10),
        14..=18 => gen.amount_between(3_000, 10_000, 50),
        _ => gen.amount_between(10_000, 40_000, 100),
    }
}

fn nursing_claim(gen: &mut Gen) -> i64 {
    gen.amount_between(600, 4_000, 50)
}

fn city_insurance(gen: &mut Gen, c: usize) {
    let city = &gen.cities[c];
    let code = city.code.clone();
    let name = city.name;
    let clerk = city.clerk.clone();
    let villages: Vec<Vec<UnitCode>> = city.counties.iter().map(|k| k.villages.clone()).collect();
    let mut counties: Vec<CountyCover> = villages
        .into_iter()
        .map(|villages| CountyCover {
            villages,
            households: i64::from(gen.scale.of(gen.rng.gen_range(1_200..=2_000))),
            persons: i64::from(gen.scale.of(gen.rng.gen_range(40..=100))),
            claimants: Vec::new(),
        })
        .collect();
    let programme = Programme::Insurance;
    for year in gen.span.years() {
        if year > gen.span.first() {
            for county in &mut counties {
                county.households = county.households * gen.rng.gen_range(103..=112) / 100;
                county.persons = county.persons * gen.rng.gen_range(100..=108) / 100;
            }
        }
        let fund = fund_id(&format!("{code}-{year}-INSURANCE"));
        let opened = gen.date_between(day(year, 1, 3), day(year, 1, 5));
        gen.open_fund(
            opened,
            &fund,
            &code,
            programme,
            format!("{name}{year}年计生保险资金"),
            Some(year),
            None,
            Some(InsuranceModel::InsurerUnderwritten),
        );
        // Accident: province, city and county ¥30 each, the household ¥10.
        // Nursing subsidy: province ¥150 and city ¥108 a person.
        let households: i64 = counties.iter().map(|k| k.households).sum();
        let persons: i64 = counties.iter().map(|k| k.persons).sum();
        let province = households * yuan(30) + persons * yuan(150);
        let city_total = households * yuan(30) + persons * yuan(108);
        let county_total = households * yuan(30);
        let received = plus_days(opened, gen.rng.gen_range(2..=4));
        for (tier, total) in [
            (FundingTier::Province, province),
            (FundingTier::City, city_total),
            (FundingTier::County, county_total),
        ] {
            gen.appropriation(
                &clerk, programme, &fund, tier, opened, total, received, total,
            );
        }
        let premium_on = gen.date_between(plus_days(received, 1), day(year, 1, 20));
        let mut premium = [0i64; 2];
        for county in &counties {
            let h = county.households;
            let incl = h * yuan(100);
            premium[0] += tax_exclusive(incl);
            gen.command(
                premium_on,
                &clerk,
                Some(programme),
                "计生家庭意外伤害保险 年度保费",
                Command::CollectPremium(PremiumPayment {
                    fund: fund.clone(),
                    line: PolicyLine::HouseholdAccident,
                    coverage_start: day(year, 1, 1),
                    coverage_end: day(year, 12, 31),
                    households: u32::try_from(h).expect("households fit"),
                    persons: u32::try_from(h * 3).expect("persons fit"),
                    tax_inclusive: fen(incl),
                    tax_exclusive: fen(tax_exclusive(incl)),
                    shares: split(&[
                        (FundingTier::Province, h * yuan(30)),
                        (FundingTier::City, h * yuan(30)),
                        (FundingTier::County, h * yuan(30)),
                        (FundingTier::HouseholdContribution, h * yuan(10)),
                    ]),
                }),
            );
            let p = county.persons;
            let incl = p * yuan(258);
            premium[1] += tax_exclusive(incl);
            gen.command(
                premium_on,
                &clerk,
                Some(programme),
                "住院护理补贴保险 计生特殊家庭成员",
                Command::CollectPremium(PremiumPayment {
                    fund: fund.clone(),
                    line: PolicyLine::HospitalNursing,
                    coverage_start: day(year, 1, 1),
                    coverage_end: day(year, 12, 31),
                    households: u32::try_from((p * 2 / 3).max(1)).expect("households fit"),
                    persons: u32::try_from(p).expect("persons fit"),
                    tax_inclusive: fen(incl),
                    tax_exclusive: fen(tax_exclusive(incl)),
                    shares: split(&[
                        (FundingTier::Province, p * yuan(150)),
                        (FundingTier::City, p * yuan(108)),
                    ]),
                }),
            );
        }
        // Claims paid by the insurer through the year, up to the loss-ratio target.
        let mut duplicate = gen.rng.gen_ratio(1, 4) || (c == 0 && year == gen.span.first());
        for (line, premium_excl) in [
            (PolicyLine::HouseholdAccident, premium[0]),
            (PolicyLine::HospitalNursing, premium[1]),
        ] {
            let target = premium_excl * loss_ratio_bp(gen) / 10_000;
            let mut claims: Vec<(NaiveDate, usize, i64)> = Vec::new();
            let mut total = 0;
            while total < target {
                let amount = match line {
                    PolicyLine::HouseholdAccident => accident_claim(gen),
                    _ => nursing_claim(gen),
                };
                let amount = amount.min(target - total);
                if amount < yuan(100) {
                    break;
                }
                total += amount;
                let date = gen.date_between(day(year, 2, 1), day(year, 12, 28));
                let county = gen.rng.gen_range(0..counties.len());
                claims.push((date, county, amount));
            }
            claims.sort();
            let mut half_year = 0;
            let memo = match line {
                PolicyLine::HouseholdAccident => "意外伤害保险理赔（保险公司赔付）",
                _ => "住院护理补贴理赔（保险公司赔付）",
            };
            for (date, county, amount) in claims {
                if date <= day(year, 6, 30) {
                    half_year += amount;
                }
                let family = claimant(gen, &mut counties[county]);
                gen.touch(&family, date);
                let claim = ClaimPayment {
                    fund: fund.clone(),
                    line,
                    beneficiary: family,
                    amount: fen(amount),
                    payer: ClaimPayer::Insurer,
                };
                gen.command(
                    date,
                    &clerk,
                    Some(programme),
                    memo,
                    Command::PayClaim(claim.clone()),
                );
                if duplicate {
                    duplicate = false;
                    let copy = gen.command(
                        date,
                        &clerk,
                        Some(programme),
                        memo,
                        Command::PayClaim(claim),
                    );
                    let on = plus_days(date, gen.rng.gen_range(1..=7));
                    gen.follow_up(
                        on,
                        &clerk,
                        programme,
                        "冲正",
                        Draft::Reverse {
                            of: copy,
                            reason: "同一赔案重复登记，冲正".into(),
                        },
                    );
                }
            }
            // Outstanding-claims reserve (未决): at mid-year and at year end.
            for (on, base, low, high) in [
                (day(year, 6, 30), half_year, 15, 25),
                (day(year, 12, 31), total, 5, 12),
            ] {
                let reserve =
                    (base / 100 * gen.rng.gen_range(low..=high) / 100 * 100).max(yuan(100));
                gen.command(
                    on,
                    &clerk,
                    Some(programme),
                    "未决赔款准备金评估（保险公司提供）",
                    Command::EstimateClaimsReserve {
                        fund: fund.clone(),
                        line,
                        amount: fen(reserve),
                    },
                );
            }
        }
    }
}

/// The provincial self-insured critical-illness scheme for special families.
fn critical_illness(gen: &mut Gen) {
    let programme = Programme::Insurance;
    let province = gen.province.clone();
    let clerk = gen.province_clerk.clone();
    let approver = gen.province_approver.clone();
    let villages: Vec<UnitCode> = gen
        .cities
        .iter()
        .flat_map(|c| c.counties.iter().flat_map(|k| k.villages.iter().cloned()))
        .collect();
    let mut county = CountyCover {
        villages,
        households: 0,
        persons: i64::from(gen.scale.of(3_000)),
        claimants: Vec::new(),
    };
    for year in gen.span.years() {
        if year > gen.span.first() {
            county.persons = county.persons * gen.rng.gen_range(102..=108) / 100;
        }
        let fund = fund_id(&format!("FJ-{year}-CRITICAL"));
        let opened = gen.date_between(day(year, 1, 4), day(year, 1, 8));
        gen.open_fund(
            opened,
            &fund,
            &province,
            programme,
            format!("福建省{year}年计生特殊家庭重大疾病保险（自保）"),
            Some(year),
            Some(CRITICAL_THRESHOLD_FEN),
            Some(InsuranceModel::SelfInsured),
        );
        let persons = county.persons;
        let province_share = persons * yuan(100);
        let households_share = persons * yuan(50);
        // The province also pays in a risk reserve (风险准备金) for bad years.
        let risk_reserve = yuan(100_000);
        let received = plus_days(opened, gen.rng.gen_range(2..=5));
        gen.appropriation(
            &clerk,
            programme,
            &fund,
            FundingTier::Province,
            opened,
            province_share + risk_reserve,
            received,
            province_share + risk_reserve,
        );
        let premium_on = plus_days(received, gen.rng.gen_range(1..=5));
        let incl = province_share + households_share;
        gen.command(
            premium_on,
            &clerk,
            Some(programme),
            "重大疾病保险 年度保费（自保）",
            Command::CollectPremium(PremiumPayment {
                fund: fund.clone(),
                line: PolicyLine::CriticalIllness,
                coverage_start: day(year, 1, 1),
                coverage_end: day(year, 12, 31),
                households: u32::try_from(persons * 2 / 3).expect("households fit"),
                persons: u32::try_from(persons).expect("persons fit"),
                tax_inclusive: fen(incl),
                tax_exclusive: fen(incl),
                shares: split(&[
                    (FundingTier::Province, province_share),
                    (FundingTier::HouseholdContribution, households_share),
                ]),
            }),
        );
        let mut cash = Cash::default();
        cash.add(FundingTier::Province, province_share + risk_reserve);
        cash.add(FundingTier::HouseholdContribution, households_share);
        let target = incl * loss_ratio_bp(gen) / 10_000;
        let mut claims: Vec<(NaiveDate, i64, bool)> = Vec::new();
        let mut total = 0;
        while total < target {
            let amount = gen
                .amount_between(10_000, 50_000, 1_000)
                .min(target - total);
            if amount < yuan(1_000) {
                break;
            }
            total += amount;
            let date = gen.date_between(day(year, 3, 1), day(year, 12, 20));
            claims.push((date, amount, false));
        }
        // The last year ends with a large claim still waiting for its second signature.
        if year == gen.span.last() {
            let date = gen.date_between(day(year, 12, 22), day(year, 12, 28));
            claims.push((date, yuan(45_000), true));
        }
        claims.sort();
        for (date, amount, left_pending) in claims {
            let from_households = amount.min(cash.available(FundingTier::HouseholdContribution));
            let from_province = amount - from_households;
            if from_province > cash.available(FundingTier::Province) {
                break;
            }
            cash.take(FundingTier::HouseholdContribution, from_households);
            cash.take(FundingTier::Province, from_province);
            let family = claimant(gen, &mut county);
            gen.touch(&family, date);
            let step = gen.command(
                date,
                &clerk,
                Some(programme),
                "重大疾病保险理赔（自保基金支付）",
                Command::PayClaim(ClaimPayment {
                    fund: fund.clone(),
                    line: PolicyLine::CriticalIllness,
                    beneficiary: family,
                    amount: fen(amount),
                    payer: ClaimPayer::Fund {
                        shares: split(&[
                            (FundingTier::Province, from_province),
                            (FundingTier::HouseholdContribution, from_households),
                        ]),
                    },
                }),
            );
            if amount <= CRITICAL_THRESHOLD_FEN {
                continue;
            }
            let decided = plus_days(date, gen.rng.gen_range(2..=7));
            if left_pending || decided > gen.end {
                gen.pending_left += 1;
                continue;
            }
            // Rejected money is not counted as available again: the shadow stays
            // below the real balance, which is safe.
            let draft = if gen.rng.gen_ratio(1, 10) {
                Draft::Reject {
                    of: step,
                    reason: "经复核，属于投保前已确诊疾病，不在保险责任范围内".into(),
                }
            } else {
                Draft::Approve { of: step }
            };
            gen.follow_up(decided, &approver, programme, "理赔审批", draft);
        }
        for (on, low, high) in [(day(year, 6, 30), 10, 20), (day(year, 12, 31), 5, 15)] {
            let reserve = (total / 100 * gen.rng.gen_range(low..=high) / 100 * 100).max(yuan(100));
            gen.command(
                on,
                &clerk,
                Some(programme),
                "未决赔款准备金评估",
                Command::EstimateClaimsReserve {
                    fund: fund.clone(),
                    line: PolicyLine::CriticalIllness,
                    amount: fen(reserve),
                },
            );
        }
    }
}
