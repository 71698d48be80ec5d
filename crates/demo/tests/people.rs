//! The demo's generated personal data (`ledger_demo::personal_data`) covers every
//! beneficiary a plan registers, is valid for the registry, fits each beneficiary's kind,
//! is a pure function of the plan, and never appears in the plan's steps.
//!
//! How: the default plan (seed 0, 100%, 2021–2025) is generated once and its people
//! checked field by field against rules written out here, not taken from the generator:
//! the ID number's check character is recomputed with ISO 7064 MOD 11-2, the bank card's
//! Luhn digit recomputed, birth years and sexes compared with the categories each
//! beneficiary is registered with; the steps are serialised with serde_json and searched
//! for every name, ID number, phone and bank account.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::OnceLock;
use std::time::Instant;

use chrono::{Datelike, NaiveDate};
use ledger_demo::{generate, personal_data, DemoAction, DemoConfig, DemoPlan, Scale, YearSpan};
use ledger_domain::{BeneficiaryCategory, BeneficiaryId, BeneficiaryKind, Command, UnitCode};
use ledger_registry::{PersonalData, ResidentIdNumber, Sex};

fn config(seed: u64, percent: u32) -> DemoConfig {
    DemoConfig {
        seed,
        scale: Scale::percent(percent).unwrap(),
        years: YearSpan::DEFAULT,
    }
}

struct Generated {
    plan: DemoPlan,
    people: Vec<(BeneficiaryId, PersonalData)>,
}

/// The default plan and its people, generated once for the whole file.
fn default_plan() -> &'static Generated {
    static GENERATED: OnceLock<Generated> = OnceLock::new();
    GENERATED.get_or_init(|| {
        let plan = generate(&config(0, 100));
        let people = personal_data(&plan);
        Generated { plan, people }
    })
}

/// A registration step's beneficiary, unit, kind and categories.
struct Registered {
    unit: UnitCode,
    kind: BeneficiaryKind,
    categories: BTreeSet<BeneficiaryCategory>,
}

fn registrations(plan: &DemoPlan) -> Vec<(BeneficiaryId, Registered)> {
    plan.steps()
        .iter()
        .filter_map(|step| match &step.action {
            DemoAction::Command(Command::RegisterBeneficiary {
                beneficiary,
                unit,
                kind,
                categories,
            }) => Some((
                beneficiary.clone(),
                Registered {
                    unit: unit.clone(),
                    kind: *kind,
                    categories: categories.clone(),
                },
            )),
            _ => None,
        })
        .collect()
}

/// GB 11643's check character, written out again: weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5
/// 8 4 2, the weighted sum mod 11 indexing 1 0 X 9 8 7 6 5 4 3 2.
fn id_check_character(first17: &str) -> char {
    let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .chars()
        .zip(weights)
        .map(|(c, w)| c.to_digit(10).unwrap() * w)
        .sum();
    ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'][(sum % 11) as usize]
}

fn luhn_valid(number: &str) -> bool {
    let sum: u32 = number
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            match (i % 2, d * 2) {
                (0, _) => d,
                (_, doubled) if doubled > 9 => doubled - 9,
                (_, doubled) => doubled,
            }
        })
        .sum();
    sum % 10 == 0
}

/// The prefecture code (first four digits of the region code) of each demo city.
fn city_prefix(unit: &UnitCode) -> &'static str {
    match &unit.as_str()[3..5] {
        "FZ" => "3501",
        "XM" => "3502",
        "PT" => "3503",
        "SM" => "3504",
        "QZ" => "3505",
        "ZZ" => "3506",
        "NP" => "3507",
        "LY" => "3508",
        "ND" => "3509",
        other => panic!("unknown city {other}"),
    }
}

fn area_code(unit: &UnitCode) -> &'static str {
    match &unit.as_str()[3..5] {
        "FZ" => "0591",
        "XM" => "0592",
        "ND" => "0593",
        "PT" => "0594",
        "QZ" => "0595",
        "ZZ" => "0596",
        "LY" => "0597",
        "SM" => "0598",
        "NP" => "0599",
        other => panic!("unknown city {other}"),
    }
}

/// The county part of a unit code: `FJ-SM-SX` of `FJ-SM-SX-02-003`.
fn county_of(unit: &UnitCode) -> String {
    unit.as_str()
        .splitn(4, '-')
        .take(3)
        .collect::<Vec<_>>()
        .join("-")
}

#[test]
fn every_beneficiary_of_the_default_plan_gets_valid_unique_data() {
    let Generated { plan, people } = default_plan();
    let registered = registrations(plan);
    assert!(
        registered.len() > 9_000,
        "{} registrations",
        registered.len()
    );
    let registered_ids: Vec<&BeneficiaryId> = registered.iter().map(|(id, _)| id).collect();
    let people_ids: Vec<&BeneficiaryId> = people.iter().map(|(id, _)| id).collect();
    assert_eq!(
        people_ids, registered_ids,
        "one record per registration, in step order"
    );
    let registered: BTreeMap<&BeneficiaryId, &Registered> =
        registered.iter().map(|(id, r)| (id, r)).collect();

    let end = plan.config().years.end();
    let later = NaiveDate::from_ymd_opt(2075, 6, 30).unwrap();
    let mut id_numbers = HashSet::new();
    let mut region_of_county: BTreeMap<String, String> = BTreeMap::new();
    let (mut mobiles, mut landlines, mut no_phone) = (0, 0, 0);
    let (mut accounts, mut addresses) = (0, 0);
    for (beneficiary, data) in people {
        let r = registered[beneficiary];
        let number = data.id_number().as_str();
        assert_eq!(number.len(), 18);
        assert!(number[..17].bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(
            number.chars().nth(17),
            Some(id_check_character(&number[..17])),
            "check character of {beneficiary}"
        );
        for today in [end, later] {
            assert_eq!(
                ResidentIdNumber::parse(number, today).map(|n| n.as_str().to_owned()),
                Ok(number.to_owned())
            );
        }
        assert!(id_numbers.insert(number.to_owned()), "duplicate ID number");
        assert!(number.starts_with(city_prefix(&r.unit)), "{beneficiary}");
        let region = region_of_county
            .entry(county_of(&r.unit))
            .or_insert_with(|| number[..6].to_owned());
        assert_eq!(*region, number[..6], "one region code per county");

        let name = data.name().as_str();
        let chars = name.chars().count();
        assert!(
            (2..=4).contains(&chars),
            "{beneficiary}: {chars} characters"
        );
        assert!(
            name.chars().all(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c)),
            "{beneficiary}: a name of Chinese characters"
        );

        match data.phone() {
            Some(phone) if phone.is_mobile() => {
                mobiles += 1;
                let p = phone.as_str().as_bytes();
                assert!(p.len() == 11 && p[0] == b'1' && (b'3'..=b'9').contains(&p[1]));
            }
            Some(phone) => {
                landlines += 1;
                let (area, local) = phone.as_str().split_once('-').unwrap();
                assert_eq!(area, area_code(&r.unit), "{beneficiary}");
                assert!((7..=8).contains(&local.len()) && !local.starts_with(['0', '1']));
            }
            None => no_phone += 1,
        }
        if let Some(account) = data.bank_account() {
            accounts += 1;
            let digits = account.as_str();
            assert!((16..=19).contains(&digits.len()), "{beneficiary}");
            assert!(luhn_valid(digits), "{beneficiary}: Luhn check digit");
        }
        if let Some(address) = data.address() {
            addresses += 1;
            let address = address.as_str();
            assert!(address.starts_with("福建省"), "{beneficiary}");
            assert!(address.ends_with('号') || address.ends_with('室'));
        }
    }
    assert_eq!(region_of_county.len(), 36, "beneficiaries in every county");
    let regions: BTreeSet<&String> = region_of_county.values().collect();
    assert_eq!(regions.len(), 36, "a distinct region code per county");
    assert_eq!(
        region_of_county["FJ-SM-SX"], "350427",
        "沙县's code before 2021"
    );
    let n = people.len();
    assert!(mobiles > n * 6 / 10 && landlines > n / 50 && no_phone > n / 50);
    assert!(accounts > n * 6 / 10 && accounts < n);
    assert!(addresses > n * 8 / 10 && addresses < n);
}

#[test]
fn sexes_and_birth_years_fit_the_kinds() {
    use BeneficiaryCategory as C;
    let Generated { plan, people } = default_plan();
    let registered: BTreeMap<BeneficiaryId, Registered> = registrations(plan).into_iter().collect();
    let mut students_by_sex = [0usize; 2];
    let mut heads_by_sex = [0usize; 2];
    let mut kinds_seen = BTreeSet::new();
    for (beneficiary, data) in people {
        let r = &registered[beneficiary];
        let number = data.id_number();
        let year = number.birth_date().year();
        let sex_digit = number.as_str().as_bytes()[16] - b'0';
        let sex = number.sex();
        assert_eq!(sex == Sex::Male, sex_digit % 2 == 1, "odd sequence for men");
        let index = usize::from(sex == Sex::Female);
        let family_planning = r
            .categories
            .iter()
            .any(|c| matches!(c, C::OnlyChild | C::TwoDaughters | C::SpecialFamily));
        let (kind, years) = if r.categories.contains(&C::Student) {
            students_by_sex[index] += 1;
            ("student", 2003..=2012)
        } else if r.categories.contains(&C::Mother) {
            assert_eq!(sex, Sex::Female, "{beneficiary}: mothers are women");
            ("mother", 1975..=2000)
        } else if r.kind == BeneficiaryKind::Household && family_planning {
            heads_by_sex[index] += 1;
            ("family-planning parent", 1945..=1970)
        } else if r.kind == BeneficiaryKind::Household {
            heads_by_sex[index] += 1;
            ("household head", 1950..=1985)
        } else {
            ("other person", 1950..=1985)
        };
        assert!(
            years.contains(&year),
            "{beneficiary}, a {kind}, born {year}"
        );
        kinds_seen.insert(kind);
    }
    assert!(kinds_seen.len() >= 4, "{kinds_seen:?}");
    assert!(
        students_by_sex.iter().all(|&n| n > 100),
        "{students_by_sex:?}"
    );
    assert!(
        heads_by_sex[0] > 2 * heads_by_sex[1],
        "heads of household mostly men: {heads_by_sex:?}"
    );
}

#[test]
fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
    let plan = generate(&config(3, 10));
    let first = personal_data(&plan);
    assert_eq!(first, personal_data(&plan), "same plan, same data");
    assert_eq!(
        first,
        personal_data(&generate(&config(3, 10))),
        "same seed, same data"
    );
    let other = personal_data(&generate(&config(4, 10)));
    let numbers: HashSet<&str> = first.iter().map(|(_, d)| d.id_number().as_str()).collect();
    let shared = other
        .iter()
        .filter(|(_, d)| numbers.contains(d.id_number().as_str()))
        .count();
    assert!(shared * 100 < other.len(), "{shared} ID numbers shared");
    let other_by_id: BTreeMap<&BeneficiaryId, &PersonalData> =
        other.iter().map(|(id, d)| (id, d)).collect();
    let same_name = first
        .iter()
        .filter(|(id, d)| other_by_id.get(id).is_some_and(|o| o.name() == d.name()))
        .count();
    assert!(
        same_name * 20 < first.len(),
        "{same_name} of {} beneficiaries have the same name under another seed",
        first.len()
    );
}

/// Every maximal run of Chinese characters in `text`, cut into all pieces of two to four
/// characters (the length of any generated name).
fn han_pieces(text: &str, pieces: &mut HashSet<String>) {
    for run in text.split(|c: char| !('\u{3400}'..='\u{9FFF}').contains(&c)) {
        let chars: Vec<char> = run.chars().collect();
        for length in 2..=4.min(chars.len()) {
            for window in chars.windows(length) {
                pieces.insert(window.iter().collect());
            }
        }
    }
}

#[test]
fn no_generated_name_or_number_appears_in_the_plan() {
    let Generated { plan, people } = default_plan();
    let mut texts: HashSet<String> = HashSet::new();
    for step in plan.steps() {
        texts.insert(step.memo.clone());
        let json = match &step.action {
            DemoAction::Command(command) => serde_json::to_string(command).unwrap(),
            DemoAction::Reverse { reason, .. } | DemoAction::Reject { reason, .. } => {
                serde_json::to_string(reason).unwrap()
            }
            DemoAction::Approve { .. } => continue,
        };
        texts.insert(json);
    }
    assert!(
        texts.iter().any(|t| t.contains("计生协")),
        "unit names searched"
    );

    // Names: every piece of Chinese text the steps hold.
    let mut pieces = HashSet::new();
    for text in &texts {
        han_pieces(text, &mut pieces);
    }
    // Numbers: the tokens (letters, digits, hyphens) holding seven digits or more in a
    // row, the least any ID number, phone or account has.
    let tokens: HashSet<&str> = texts
        .iter()
        .flat_map(|t| t.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')))
        .filter(|token| {
            token
                .split(|c: char| !c.is_ascii_digit())
                .any(|digits| digits.len() >= 7)
        })
        .collect();
    for (beneficiary, data) in people {
        assert!(
            !pieces.contains(data.name().as_str()),
            "the name of {beneficiary} appears in the plan"
        );
        let mut numbers = vec![data.id_number().as_str()];
        numbers.extend(data.phone().map(|p| p.as_str()));
        numbers.extend(data.bank_account().map(|a| a.as_str()));
        for number in numbers {
            assert!(
                !tokens.iter().any(|token| token.contains(number)),
                "a number of {beneficiary} appears in the plan"
            );
        }
    }
}

#[test]
fn the_default_plan_s_people_are_generated_quickly() {
    let plan = &default_plan().plan;
    let started = Instant::now();
    let people = personal_data(plan);
    let elapsed = started.elapsed();
    eprintln!(
        "personal data for {} beneficiaries in {elapsed:?}",
        people.len()
    );
    // Milliseconds in release; a generous bound for unoptimised builds on a busy machine
    // that still catches anything quadratic in the plan's size.
    assert!(elapsed.as_secs() < 5, "{elapsed:?}");
}
