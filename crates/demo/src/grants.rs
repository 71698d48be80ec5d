//! Grant programmes funded per city and year: housing grants (安居工程) and bursaries
//! (金秋助学) co-funded by province, city and county, and festival condolence
//! campaigns (慰问金).
//!
//! Each fund is appropriated exactly what it will pay, committed and received before
//! the first payment, so its cash never runs short; the final merge by date keeps
//! receipts ahead of payments.

use chrono::NaiveDate;
use ledger_domain::{
    AwardId, BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, BursaryInstalment, CampaignId,
    Command, CondolenceForm, CondolencePayment, FundId, FundingTier, HousingInstalment, Programme,
    TierSplit, UnitCode, UserId, VisitOutcome,
};
use rand::Rng;

use crate::generate::{day, fen, fund_id, plus_days, yuan, Draft, Gen};
use crate::lending::clerk_of;

/// Housing instalments above this need a second signature.
const HOUSING_THRESHOLD_FEN: i64 = yuan(30_000);

pub(crate) fn generate(gen: &mut Gen) {
    for year in gen.span.years() {
        for c in 0..gen.cities.len() {
            let city = CityRef::of(gen, c);
            housing(gen, &city, year);
            bursaries(gen, &city, year);
            condolence(gen, &city, year);
        }
    }
}

/// What the grant programmes need of a city (cloned out of the context).
struct CityRef {
    index: usize,
    code: UnitCode,
    name: &'static str,
    clerk: UserId,
    approver: UserId,
    counties: Vec<Vec<UnitCode>>,
}

impl CityRef {
    fn of(gen: &Gen, index: usize) -> CityRef {
        let city = &gen.cities[index];
        CityRef {
            index,
            code: city.code.clone(),
            name: city.name,
            clerk: city.clerk.clone(),
            approver: city.approver.clone(),
            counties: city.counties.iter().map(|k| k.villages.clone()).collect(),
        }
    }

    fn village(&self, gen: &mut Gen, county: usize) -> UnitCode {
        let villages = &self.counties[county];
        villages[gen.rng.gen_range(0..villages.len())].clone()
    }

    fn any_village(&self, gen: &mut Gen) -> UnitCode {
        let county = gen.rng.gen_range(0..self.counties.len());
        self.village(gen, county)
    }
}

/// Commits and receives each tier's total on the given dates.
fn fund_tiers(
    gen: &mut Gen,
    clerk: &UserId,
    programme: Programme,
    fund: &FundId,
    totals: &[(FundingTier, i64, NaiveDate, NaiveDate)],
) {
    for &(tier, total, commit_on, receive_on) in totals {
        if total > 0 {
            gen.appropriation(
                clerk, programme, fund, tier, commit_on, total, receive_on, total,
            );
        }
    }
}

fn split(pairs: &[(FundingTier, i64)]) -> TierSplit {
    let shares: Vec<(FundingTier, ledger_domain::Amount)> = pairs
        .iter()
        .filter(|(_, amount)| *amount > 0)
        .map(|&(tier, amount)| (tier, fen(amount)))
        .collect();
    TierSplit::of(&shares).expect("positive shares of distinct tiers")
}

fn housing(gen: &mut Gen, city: &CityRef, year: i32) {
    let programme = Programme::Housing;
    let fund = fund_id(&format!("{}-{year}-HOUSING", city.code));
    let opened = gen.date_between(day(year, 1, 5), day(year, 1, 15));
    gen.open_fund(
        opened,
        &fund,
        &city.code,
        programme,
        format!("{}{year}年安居工程省市县三级配套资金", city.name),
        Some(year),
        Some(HOUSING_THRESHOLD_FEN),
        None,
    );
    let clerk = city.clerk.clone();
    let approver = city.approver.clone();
    let count = gen.scale.of(4);
    let mut totals = [0i64; 3];
    let mut plans = Vec::new();
    for i in 0..count {
        let amount = gen.amount_between(50_000, 60_000, 500);
        let province = yuan(20_000);
        let city_share = gen.amount_between(15_000, 20_000, 500);
        let county = amount - province - city_share;
        totals[0] += province;
        totals[1] += city_share;
        totals[2] += county;
        let awarded = gen.date_between(day(year, 4, 1), day(year, 6, 15));
        plans.push((i, amount, province, city_share, county, awarded));
    }
    let committed = gen.date_between(day(year, 2, 10), day(year, 2, 20));
    let received = gen.date_between(day(year, 3, 1), day(year, 3, 15));
    let county_received = gen.date_between(day(year, 6, 1), day(year, 6, 20));
    // The first city records its first year's provincial money in two halves, enters
    // the first half twice by mistake and reverses the copy the next day.
    if city.index == 0 && year == gen.span.first() {
        let half = totals[0] / 2;
        gen.appropriation(
            &clerk,
            programme,
            &fund,
            FundingTier::Province,
            committed,
            totals[0],
            received,
            half,
        );
        let copy = gen.command(
            received,
            &clerk,
            Some(programme),
            "资金到位 银行回单",
            Command::ReceiveAppropriation {
                fund: fund.clone(),
                tier: FundingTier::Province,
                amount: fen(half),
                reference: None,
            },
        );
        gen.follow_up(
            plus_days(received, 1),
            &clerk,
            programme,
            "冲正",
            Draft::Reverse {
                of: copy,
                reason: "同一张银行回单重复入账，冲正".into(),
            },
        );
        gen.command(
            plus_days(received, 10),
            &clerk,
            Some(programme),
            "资金到位 银行回单（第二笔）",
            Command::ReceiveAppropriation {
                fund: fund.clone(),
                tier: FundingTier::Province,
                amount: fen(totals[0] - half),
                reference: None,
            },
        );
    } else {
        fund_tiers(
            gen,
            &clerk,
            programme,
            &fund,
            &[(FundingTier::Province, totals[0], committed, received)],
        );
    }
    fund_tiers(
        gen,
        &clerk,
        programme,
        &fund,
        &[
            (FundingTier::City, totals[1], committed, received),
            (FundingTier::County, totals[2], committed, county_received),
        ],
    );
    let memo = format!("{}{year}年安居工程", city.name);
    for (i, amount, province, city_share, county, awarded) in plans {
        let village = city.any_village(gen);
        let clerk_of_county = clerk_of(&village);
        let mut categories = vec![BeneficiaryCategory::PoorHousehold];
        if gen.rng.gen_ratio(1, 4) {
            categories.push(BeneficiaryCategory::SpecialFamily);
        }
        let family = gen.new_beneficiary(
            &village,
            BeneficiaryKind::Household,
            &categories,
            &clerk_of_county,
            programme,
        );
        gen.touch(&family, awarded);
        let award = AwardId::new(format!("{fund}-H{:03}", i + 1)).expect("a valid award id");
        gen.command(
            awarded,
            &clerk,
            Some(programme),
            &memo,
            Command::AwardHousingGrant {
                award: award.clone(),
                fund: fund.clone(),
                beneficiary: family,
                amount: fen(amount),
                shares: split(&[
                    (FundingTier::Province, province),
                    (FundingTier::City, city_share),
                    (FundingTier::County, county),
                ]),
            },
        );
        // The first instalment (province and city shares) needs a second signature.
        let first = HousingInstalment {
            award: award.clone(),
            amount: fen(province + city_share),
            shares: split(&[
                (FundingTier::Province, province),
                (FundingTier::City, city_share),
            ]),
        };
        let requested = plus_days(awarded, gen.rng.gen_range(7..=20));
        let mut request = gen.command(
            requested,
            &clerk,
            Some(programme),
            &format!("{memo} 第一期补助"),
            Command::PayHousingInstalment(first.clone()),
        );
        let mut decided = plus_days(requested, gen.rng.gen_range(1..=5));
        if gen.rng.gen_ratio(1, 12) {
            gen.follow_up(
                decided,
                &approver,
                programme,
                "审批退回",
                Draft::Reject {
                    of: request,
                    reason: "缺少房屋改造施工合同和验收照片，请补充后重新提交".into(),
                },
            );
            let again = plus_days(decided, gen.rng.gen_range(5..=12));
            request = gen.command(
                again,
                &clerk,
                Some(programme),
                &format!("{memo} 第一期补助（补充材料后重报）"),
                Command::PayHousingInstalment(first),
            );
            decided = plus_days(again, gen.rng.gen_range(1..=5));
        }
        gen.follow_up(
            decided,
            &approver,
            programme,
            "审批通过",
            Draft::Approve { of: request },
        );
        let visit = plus_days(decided, gen.rng.gen_range(30..=60));
        if visit <= gen.end {
            gen.command(
                visit,
                &clerk,
                Some(programme),
                "跟踪服务",
                Command::RecordFollowUpVisit {
                    award: award.clone(),
                    outcome: VisitOutcome::InProgress,
                },
            );
        }
        let second = plus_days(decided, gen.rng.gen_range(90..=150)).max(county_received);
        if second > gen.end {
            continue;
        }
        gen.command(
            second,
            &clerk,
            Some(programme),
            &format!("{memo} 第二期补助（竣工验收后）"),
            Command::PayHousingInstalment(HousingInstalment {
                award: award.clone(),
                amount: fen(county),
                shares: split(&[(FundingTier::County, county)]),
            }),
        );
        let visit = plus_days(second, gen.rng.gen_range(20..=40));
        if visit <= gen.end {
            let outcome = if gen.rng.gen_ratio(1, 10) {
                VisitOutcome::NeedsHelp
            } else {
                VisitOutcome::Completed
            };
            gen.command(
                visit,
                &clerk,
                Some(programme),
                "跟踪服务 入住回访",
                Command::RecordFollowUpVisit { award, outcome },
            );
        }
    }
    // Now and then an award is cancelled before anything is paid.
    if gen.rng.gen_ratio(1, 3) || (city.index == 0 && year == gen.span.first()) {
        let village = city.any_village(gen);
        let clerk_of_county = clerk_of(&village);
        let family = gen.new_beneficiary(
            &village,
            BeneficiaryKind::Household,
            &[BeneficiaryCategory::PoorHousehold],
            &clerk_of_county,
            programme,
        );
        let awarded = gen.date_between(day(year, 4, 1), day(year, 6, 15));
        gen.touch(&family, awarded);
        let award = AwardId::new(format!("{fund}-H{:03}", count + 1)).expect("a valid award id");
        let step = gen.command(
            awarded,
            &clerk,
            Some(programme),
            &memo,
            Command::AwardHousingGrant {
                award,
                fund: fund.clone(),
                beneficiary: family,
                amount: fen(yuan(50_000)),
                shares: split(&[
                    (FundingTier::Province, yuan(20_000)),
                    (FundingTier::City, yuan(15_000)),
                    (FundingTier::County, yuan(15_000)),
                ]),
            },
        );
        let on = plus_days(awarded, gen.rng.gen_range(2..=5));
        gen.follow_up(
            on,
            &clerk,
            programme,
            "撤销补助",
            Draft::Reverse {
                of: step,
                reason: "该户已纳入农村危房改造项目，不重复补助，撤销".into(),
            },
        );
    }
}

/// One student's award from one tier.
struct BursaryPlan {
    student: BeneficiaryId,
    tier: FundingTier,
    annual: i64,
    years: u8,
    supplement: bool,
    awarded: NaiveDate,
}

fn bursaries(gen: &mut Gen, city: &CityRef, year: i32) {
    let programme = Programme::Bursary;
    let fund = fund_id(&format!("{}-{year}-BURSARY", city.code));
    let opened = gen.date_between(day(year, 6, 1), day(year, 6, 10));
    gen.open_fund(
        opened,
        &fund,
        &city.code,
        programme,
        format!("{}{year}年金秋助学资金", city.name),
        Some(year),
        None,
        None,
    );
    let clerk = city.clerk.clone();
    let mut plans: Vec<BursaryPlan> = Vec::new();
    for county in 0..city.counties.len() {
        for _ in 0..gen.scale.of(8) {
            let village = city.village(gen, county);
            let county_clerk = clerk_of(&village);
            let mut categories = vec![
                BeneficiaryCategory::Student,
                BeneficiaryCategory::PoorHousehold,
            ];
            if gen.rng.gen_ratio(1, 10) {
                categories.push(BeneficiaryCategory::SpecialFamily);
            }
            let student = gen.new_beneficiary(
                &village,
                BeneficiaryKind::Person,
                &categories,
                &county_clerk,
                programme,
            );
            let awarded = gen.date_between(day(year, 8, 10), day(year, 8, 25));
            let mut award = |tier, annual, years| {
                plans.push(BursaryPlan {
                    student: student.clone(),
                    tier,
                    annual,
                    years,
                    supplement: false,
                    awarded,
                });
            };
            let county_amount = [yuan(1_000), yuan(1_500), yuan(2_000)][gen.rng.gen_range(0..3)];
            award(FundingTier::County, county_amount, 1);
            if gen.rng.gen_ratio(17, 20) {
                let amount = [yuan(1_000), yuan(1_500)][gen.rng.gen_range(0..2)];
                award(FundingTier::City, amount, 1);
            }
            if gen.rng.gen_ratio(7, 20) {
                let amount = [yuan(2_000), yuan(2_500), yuan(3_000)][gen.rng.gen_range(0..3)];
                // A few provincial awards are planned over the four years of study.
                let years = if gen.rng.gen_ratio(1, 7) { 4 } else { 1 };
                award(FundingTier::Province, amount, years);
            }
        }
    }
    // A supplement for a family hit by a crisis after the first award.
    if gen.rng.gen_ratio(1, 2) {
        if let Some(first) = plans.first() {
            let supplement = BursaryPlan {
                student: first.student.clone(),
                tier: first.tier,
                annual: yuan(1_000),
                years: 1,
                supplement: true,
                awarded: plus_days(first.awarded, 10),
            };
            plans.push(supplement);
        }
    }
    let mut totals = [0i64; 3];
    for p in &plans {
        let slot = match p.tier {
            FundingTier::Province => 0,
            FundingTier::City => 1,
            _ => 2,
        };
        totals[slot] += p.annual * i64::from(p.years);
    }
    let committed = gen.date_between(day(year, 6, 15), day(year, 6, 25));
    let received = gen.date_between(day(year, 7, 1), day(year, 7, 20));
    fund_tiers(
        gen,
        &clerk,
        programme,
        &fund,
        &[
            (FundingTier::Province, totals[0], committed, received),
            (FundingTier::City, totals[1], committed, received),
            (FundingTier::County, totals[2], committed, received),
        ],
    );
    let memo = format!("{}{year}年金秋助学", city.name);
    for (i, p) in plans.iter().enumerate() {
        gen.touch(&p.student, p.awarded);
        let tag = match p.tier {
            FundingTier::Province => "PRV",
            FundingTier::City => "CIT",
            _ => "CTY",
        };
        let award = AwardId::new(format!("{fund}-{tag}-{:04}", i + 1)).expect("a valid award id");
        gen.command(
            p.awarded,
            &clerk,
            Some(programme),
            &memo,
            Command::AwardBursary {
                award: award.clone(),
                fund: fund.clone(),
                student: p.student.clone(),
                academic_year: year,
                tier: p.tier,
                amount: fen(p.annual * i64::from(p.years)),
                years: p.years,
                supplement_reason: p
                    .supplement
                    .then(|| "家庭遭遇重大变故，经评议追加资助".to_owned()),
            },
        );
        for y in 0..p.years {
            let paid = if y == 0 {
                plus_days(p.awarded, gen.rng.gen_range(3..=15))
            } else {
                gen.date_between(
                    day(year + i32::from(y), 9, 1),
                    day(year + i32::from(y), 9, 20),
                )
            };
            if paid > gen.end {
                break;
            }
            gen.command(
                paid,
                &clerk,
                Some(programme),
                &format!("{memo} 资助金发放"),
                Command::PayBursaryInstalment(BursaryInstalment {
                    award: award.clone(),
                    amount: fen(p.annual),
                }),
            );
        }
    }
    // Now and then a student's award is cancelled before payment.
    if gen.rng.gen_ratio(1, 3) || (city.index == 0 && year == gen.span.first()) {
        let village = city.any_village(gen);
        let county_clerk = clerk_of(&village);
        let student = gen.new_beneficiary(
            &village,
            BeneficiaryKind::Person,
            &[
                BeneficiaryCategory::Student,
                BeneficiaryCategory::PoorHousehold,
            ],
            &county_clerk,
            programme,
        );
        let awarded = gen.date_between(day(year, 8, 10), day(year, 8, 25));
        gen.touch(&student, awarded);
        let award =
            AwardId::new(format!("{fund}-CTY-{:04}", plans.len() + 1)).expect("a valid award id");
        let step = gen.command(
            awarded,
            &clerk,
            Some(programme),
            &memo,
            Command::AwardBursary {
                award,
                fund: fund.clone(),
                student,
                academic_year: year,
                tier: FundingTier::County,
                amount: fen(yuan(1_500)),
                years: 1,
                supplement_reason: None,
            },
        );
        let on = plus_days(awarded, gen.rng.gen_range(1..=3));
        gen.follow_up(
            on,
            &clerk,
            programme,
            "撤销资助",
            Draft::Reverse {
                of: step,
                reason: "该生已获得其他同类资助，撤销本项资助".into(),
            },
        );
    }
}

fn condolence(gen: &mut Gen, city: &CityRef, year: i32) {
    let programme = Programme::Condolence;
    let fund = fund_id(&format!("{}-{year}-CONDOLENCE", city.code));
    let opened = gen.date_between(day(year, 1, 3), day(year, 1, 5));
    gen.open_fund(
        opened,
        &fund,
        &city.code,
        programme,
        format!("{}{year}年慰问金", city.name),
        Some(year),
        None,
        None,
    );
    let clerk = city.clerk.clone();
    struct Visit {
        household: BeneficiaryId,
        category: BeneficiaryCategory,
        amount: i64,
        county_share: i64,
        date: NaiveDate,
        spring: bool,
    }
    let mut visits = Vec::new();
    for county in 0..city.counties.len() {
        for spring in [true, false] {
            let count = gen.scale.of(if spring { 5 } else { 3 });
            for _ in 0..count {
                let village = city.village(gen, county);
                let county_clerk = clerk_of(&village);
                let (kind, category, amounts, from, to) = if spring {
                    let category = if gen.rng.gen_ratio(1, 3) {
                        BeneficiaryCategory::SpecialFamily
                    } else {
                        BeneficiaryCategory::PoorHousehold
                    };
                    (
                        BeneficiaryKind::Household,
                        category,
                        &[500, 600, 800, 1_000][..],
                        day(year, 1, 10),
                        day(year, 1, 28),
                    )
                } else {
                    (
                        BeneficiaryKind::Person,
                        BeneficiaryCategory::Mother,
                        &[300, 500][..],
                        day(year, 5, 5),
                        day(year, 5, 12),
                    )
                };
                let household =
                    gen.new_beneficiary(&village, kind, &[category], &county_clerk, programme);
                let amount = yuan(amounts[gen.rng.gen_range(0..amounts.len())]);
                let county_share = if gen.rng.gen_ratio(3, 10) {
                    amount / 2
                } else {
                    0
                };
                let date = gen.date_between(from, to);
                visits.push(Visit {
                    household,
                    category,
                    amount,
                    county_share,
                    date,
                    spring,
                });
            }
        }
    }
    let duplicate = gen.rng.gen_ratio(1, 3) || (city.index == 0 && year == gen.span.first());
    let duplicate_amount = visits.first().map_or(0, |v| v.amount - v.county_share);
    let county_total: i64 = visits.iter().map(|v| v.county_share).sum();
    let city_total: i64 = visits
        .iter()
        .map(|v| v.amount - v.county_share)
        .sum::<i64>()
        + if duplicate { duplicate_amount } else { 0 };
    let received = plus_days(opened, gen.rng.gen_range(1..=3));
    fund_tiers(
        gen,
        &clerk,
        programme,
        &fund,
        &[
            (FundingTier::City, city_total, opened, received),
            (FundingTier::County, county_total, opened, received),
        ],
    );
    let spring = CampaignId::new(format!("{}-{year}-SPRING", city.code)).expect("a campaign id");
    let mothers = CampaignId::new(format!("{}-{year}-MOTHERS", city.code)).expect("a campaign id");
    gen.command(
        plus_days(received, 1),
        &clerk,
        Some(programme),
        "慰问活动方案",
        Command::OpenCampaign {
            campaign: spring.clone(),
            fund: fund.clone(),
            name: format!("{}{year}年元旦春节\"两节\"走访慰问", city.name),
        },
    );
    let mothers_opened = gen.date_between(day(year, 4, 25), day(year, 4, 28));
    gen.command(
        mothers_opened,
        &clerk,
        Some(programme),
        "慰问活动方案",
        Command::OpenCampaign {
            campaign: mothers.clone(),
            fund: fund.clone(),
            name: format!("{}{year}年母亲节关爱贫困母亲慰问", city.name),
        },
    );
    for (i, v) in visits.iter().enumerate() {
        gen.touch(&v.household, v.date);
        let form = if gen.rng.gen_ratio(3, 5) {
            CondolenceForm::Cash
        } else {
            CondolenceForm::Goods {
                description: if v.spring {
                    "大米和食用油".into()
                } else {
                    "慰问品：牛奶、食用油".into()
                },
            }
        };
        let payment = CondolencePayment {
            campaign: if v.spring {
                spring.clone()
            } else {
                mothers.clone()
            },
            beneficiary: v.household.clone(),
            category: v.category,
            form,
            amount: fen(v.amount),
            shares: split(&[
                (FundingTier::City, v.amount - v.county_share),
                (FundingTier::County, v.county_share),
            ]),
        };
        let memo = if v.spring {
            "两节走访慰问"
        } else {
            "母亲节慰问"
        };
        gen.command(
            v.date,
            &clerk,
            Some(programme),
            memo,
            Command::PayCondolence(payment.clone()),
        );
        if i == 0 && duplicate {
            // The same household paid twice in one visit round; the copy is reversed.
            let copy = CondolencePayment {
                amount: fen(duplicate_amount),
                shares: split(&[(FundingTier::City, duplicate_amount)]),
                ..payment
            };
            let step = gen.command(
                v.date,
                &clerk,
                Some(programme),
                memo,
                Command::PayCondolence(copy),
            );
            let on = plus_days(v.date, gen.rng.gen_range(2..=10));
            gen.follow_up(
                on,
                &clerk,
                programme,
                "冲正",
                Draft::Reverse {
                    of: step,
                    reason: "同一户重复发放，已收回，冲正".into(),
                },
            );
        }
    }
}
